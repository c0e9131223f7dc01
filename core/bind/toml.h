/* lunar.toml: the Lua face of core/toml (values cross through bind/json.h).
 *
 *   lunar.toml.decode(text [, name]) -> value, lines | nil, message
 */
#ifndef LUNAR_BIND_TOML_H
#define LUNAR_BIND_TOML_H

#include <lua.h>

/* Opens `lunar.toml` and leaves it on the stack. stack: +1 */
int lunar_toml_open(lua_State *L);

#endif
