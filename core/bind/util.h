/* lunar.util: the Lua face of the pure helpers in core/util (quantities,
 * image globs, regular expressions, names, variable expansion, base64). */
#ifndef LUNAR_BIND_UTIL_H
#define LUNAR_BIND_UTIL_H

#include <lua.h>

/* Opens `lunar.util` and leaves it on the stack. stack: +1 */
int lunar_util_open(lua_State *L);

#endif
