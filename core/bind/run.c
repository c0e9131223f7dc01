/* lunar.run(path [, {max_jobs = N}]) -> exit status, message|nil
 * The Lua face of `lunar run` (lunar.cli calls it). It blocks until the
 * runner stops; the runner runs its own Lua state (bind/entry.h), never this
 * one. */
#include "bind/run.h"

#include <lauxlib.h>

#include "bind/module.h"
#include "runner/runner.h"

static int l_run(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lunar_runner_options o = {.entry_path = path, .parent = L, .open_lunar = luaopen_lunar};
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "max_jobs");
    o.max_jobs = (int)luaL_optinteger(L, -1, 0);
    lua_pop(L, 1);
  }
  lunar_error err;
  err.msg[0] = '\0';
  lua_gc(L, LUA_GCCOLLECT); /* this state only waits from now on */
  int status = lunar_runner_main(&o, &err);
  lua_pushinteger(L, status);
  if (status != 0) lua_pushstring(L, err.msg);
  else lua_pushnil(L);
  return 2;
}

int lunar_run_open(lua_State *L) {
  lua_pushcfunction(L, l_run);
  return 1;
}
