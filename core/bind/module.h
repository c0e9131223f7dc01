/* The `lunar` Lua module: luaopen_lunar builds the library table from the C
 * submodules listed in module.c, publishes it as package.loaded.lunar, then
 * runs the Lua half (`lunar.api`) which adds the configuration DSL on top.
 *
 * The root of the Lua-facing C: module.c and run.c (lunar.run, which starts
 * the runner) sit above core/runner, every other file of core/bind below it.
 * The runner opens `lunar` in its own Lua states through the function it is
 * given (lunar_runner_options.open_lunar), never by including this header.
 * The include order is checked by spec/layout/includes.sh. */
#ifndef LUNAR_BIND_MODULE_H
#define LUNAR_BIND_MODULE_H

#include <lua.h>

/* Opens `lunar` and leaves it on the stack. stack: +1 */
int luaopen_lunar(lua_State *L);

#endif
