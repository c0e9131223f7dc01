/* The `lunar` executable: an embedded Lua 5.4 with the `lunar` module
 * preloaded. Command handling lives in Lua (`lunar.cli`); this file only sets
 * up the interpreter, and offers `lunar lua SCRIPT [ARGS]` so that tools such as
 * busted can run inside the same (possibly sanitizer-instrumented) binary. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bind/call.h"
#include "bind/module.h"

#ifndef LUNAR_LUA_DIR
#define LUNAR_LUA_DIR "/usr/share/lunar/lua"
#endif

/* Puts lunar's Lua directory in front of package.path. LUNAR_LUA_DIR in the
 * environment overrides the compiled-in location. */
static void set_lua_path(lua_State *L) {
  const char *dir = getenv("LUNAR_LUA_DIR");
  if (!dir || !*dir) dir = LUNAR_LUA_DIR;
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);
}

static void preload_lunar(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_lunar);
  lua_setfield(L, -2, "lunar");
  lua_pop(L, 1);
}

/* Builds the global `arg` table the way lua.c does: arg[0] is the script. */
static void set_arg(lua_State *L, int argc, char **argv, int script) {
  lua_createtable(L, argc - script, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int report(lua_State *L) {
  fprintf(stderr, "lunar: %s\n", lua_tostring(L, -1));
  lua_pop(L, 1);
  return 1;
}

/* `lunar lua SCRIPT [ARGS...]` */
static int run_script(lua_State *L, int argc, char **argv) {
  if (argc < 3) {
    fputs("usage: lunar lua SCRIPT [ARGS...]\n", stderr);
    return 2;
  }
  set_arg(L, argc, argv, 2);
  if (luaL_loadfile(L, argv[2]) != LUA_OK) return report(L);
  for (int i = 3; i < argc; i++) lua_pushstring(L, argv[i]);
  if (lunar_call(L, argc - 3, 0, -1) != 0) return report(L);
  return 0;
}

/* Everything else: require("lunar.cli").main(args) -> exit status */
static int run_cli(lua_State *L, int argc, char **argv) {
  set_arg(L, argc, argv, 0);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "lunar.cli");
  if (lunar_call(L, 1, 1, -1) != 0) return report(L);
  lua_getfield(L, -1, "main");
  lua_createtable(L, argc - 1, 0);
  for (int i = 1; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  if (lunar_call(L, 1, 1, -1) != 0) return report(L);
  int status = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 0;
  lua_pop(L, 2);
  return status;
}

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  if (!L) {
    fputs("lunar: cannot create the Lua state (out of memory)\n", stderr);
    return 1;
  }
  luaL_openlibs(L);
  set_lua_path(L);
  preload_lunar(L);
  int status = (argc >= 2 && strcmp(argv[1], "lua") == 0) ? run_script(L, argc, argv)
                                                          : run_cli(L, argc, argv);
  lua_close(L);
  return status;
}
