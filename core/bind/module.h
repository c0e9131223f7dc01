/* The `lunar` Lua module: luaopen_lunar builds the library table from the C
 * submodules listed in module.c, publishes it as package.loaded.lunar, then
 * runs the Lua half (`lunar.api`) which adds the configuration DSL on top. */
#ifndef LUNAR_BIND_MODULE_H
#define LUNAR_BIND_MODULE_H

#include <lua.h>

int luaopen_lunar(lua_State *L);

#endif
