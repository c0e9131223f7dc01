/* lunar.run: the Lua face of `lunar run` (core/runner/runner.h). */
#ifndef LUNAR_BIND_RUN_H
#define LUNAR_BIND_RUN_H

#include <lua.h>

/* Pushes the function lunar.run (see run.c). stack: +1 */
int lunar_run_open(lua_State *L);

#endif
