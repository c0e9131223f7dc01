/* A Lua state with `require "lunar"` from the source tree, for the targets
 * that go through lunar's Lua half (payload render, sandboxed patterns). */
#ifndef LUNAR_SPEC_FUZZ_LUA_COMMON_H
#define LUNAR_SPEC_FUZZ_LUA_COMMON_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>

#include "bind/module.h"

#ifndef LUNAR_SOURCE_DIR
#define LUNAR_SOURCE_DIR "."
#endif

/* Runs `setup` (Lua source returning one function) in a new state and leaves
 * that function in the registry under `fuzz_fn`. Aborts on failure: a setup
 * that does not load is a broken target, not a finding. */
static inline lua_State *fuzz_lua_state(const char *setup) {
  lua_State *L = luaL_newstate();
  if (!L) abort();
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_pushstring(L, LUNAR_SOURCE_DIR "/lua/?.lua;" LUNAR_SOURCE_DIR "/lua/?/init.lua");
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_lunar);
  lua_setfield(L, -2, "lunar");
  lua_pop(L, 1);
  if (luaL_loadstring(L, setup) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
    fprintf(stderr, "fuzz: the Lua setup failed: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_fn");
  return L;
}

/* Calls the setup's function with the input as a string under lua_pcall; a
 * Lua error means the target found a fault: print it and abort. */
static inline void fuzz_lua_call(lua_State *L, const uint8_t *data, size_t size) {
  lua_getfield(L, LUA_REGISTRYINDEX, "fuzz_fn");
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    const char *m = lua_tostring(L, -1);
    fprintf(stderr, "fuzz: %s\n", m ? m : "(an error that is not a string)");
    abort();
  }
  /* A full cycle after each input frees what it left, so the driver's leak
   * check (which runs when an input allocated more than it freed) only runs
   * when C code kept something. */
  lua_gc(L, LUA_GCCOLLECT);
}

/* The entry points of a target whose whole work is the setup's function
 * called with the input. */
#define FUZZ_LUA_TARGET(setup)                                             \
  static lua_State *L;                                                     \
  int LLVMFuzzerInitialize(int *argc, char ***argv) {                      \
    (void)argc, (void)argv;                                                \
    L = fuzz_lua_state(setup);                                             \
    return 0;                                                              \
  }                                                                        \
  int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {           \
    fuzz_lua_call(L, data, size);                                          \
    return 0;                                                              \
  }

#endif
