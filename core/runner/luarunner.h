/* Pushes the function lunar.run (see luarunner.c). stack: +1 */
#ifndef LUNAR_RUNNER_LUARUNNER_H
#define LUNAR_RUNNER_LUARUNNER_H

#include <lua.h>

int lunar_runner_open_run(lua_State *L);

#endif
