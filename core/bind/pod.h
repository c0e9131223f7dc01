/* lunar.pod: the Lua face of the Pod builder (core/pod/pod.h).
 *
 *   lunar.pod.build(input) -> pod, warnings | nil, message
 */
#ifndef LUNAR_BIND_POD_H
#define LUNAR_BIND_POD_H

#include <lua.h>

/* Opens `lunar.pod` and leaves it on the stack. stack: +1 */
int lunar_pod_open(lua_State *L);

#endif
