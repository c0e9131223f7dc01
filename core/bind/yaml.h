/* lunar.yaml: the Lua face of core/yaml (values cross through bind/json.h).
 *
 *   lunar.yaml.decode(text [, name]) -> value | nil, message
 *   lunar.yaml.encode(value)         -> text | nil, message
 */
#ifndef LUNAR_BIND_YAML_H
#define LUNAR_BIND_YAML_H

#include <lua.h>

/* Opens `lunar.yaml` and leaves it on the stack. stack: +1 */
int lunar_yaml_open(lua_State *L);

#endif
