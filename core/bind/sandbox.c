#include "bind/sandbox.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

#include "bind/call.h"

/* What a guard checks before it calls the original function. */
enum kind {
  DENY,        /* refused */
  DENY_ARGS,   /* refused with arguments (io.output(f), os.setlocale(l)) */
  OPEN,        /* io.open: read modes only */
  LOAD,        /* load: text chunks only (the mode is argument 3) */
  LOADFILE,    /* loadfile: text chunks only (the mode is argument 2) */
  FWRITE,      /* file methods that write: stderr only */
  REQUIRE,     /* modules already loaded only */
  GC,          /* collectgarbage: options that do not change the collector */
  SETMT,       /* setmetatable: no finalizers */
  RAWSET,      /* rawset: not on read-only views */
  LEVEL        /* debug functions whose level argument shifts by our frame */
};

static int deny(lua_State *L, const char *name, const char *why) {
  return luaL_error(L, "%s is not available to per-job code (lunar's sandbox: %s)", name, why);
}

static int call_original(lua_State *L) {
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}

static int guard(lua_State *L) {
  if (!lunar_call_sandboxed(L)) {
    if ((int)lua_tointeger(L, lua_upvalueindex(3)) == LEVEL) goto shift;
    return call_original(L);
  }
  const char *name = lua_tostring(L, lua_upvalueindex(2));
  switch ((int)lua_tointeger(L, lua_upvalueindex(3))) {
  case DENY:
    return deny(L, name, "policies, stage overrides and handlers may not end, spawn or change the process");
  case DENY_ARGS:
    if (lua_gettop(L) > 0 && !lua_isnil(L, 1)) return deny(L, name, "it changes the whole process");
    break;
  case OPEN: {
    const char *mode = luaL_optstring(L, 2, "r");
    if (strcmp(mode, "r") != 0 && strcmp(mode, "rb") != 0)
      return deny(L, lua_pushfstring(L, "%s in mode \"%s\"", name, mode), "files may be read, not written");
    break;
  }
  case LOAD:
  case LOADFILE: {
    int at = (int)lua_tointeger(L, lua_upvalueindex(3)) == LOAD ? 3 : 2;
    if (lua_gettop(L) < at) lua_settop(L, at);
    if (lua_isnil(L, at)) {
      lua_pushliteral(L, "t");
      lua_replace(L, at);
    } else if (!lua_isstring(L, at) || strcmp(lua_tostring(L, at), "t") != 0) {
      return deny(L, lua_pushfstring(L, "%s of binary chunks", name), "only text chunks may be loaded");
    }
    break;
  }
  case FWRITE:
    if (!lua_rawequal(L, 1, lua_upvalueindex(4))) return deny(L, name, "only stderr may be written");
    break;
  case REQUIRE: {
    const char *mod = luaL_checkstring(L, 1);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, mod);
    if (!lua_isnil(L, -1)) return 1;
    return deny(L, lua_pushfstring(L, "require \"%s\"", mod),
                "require modules when the entrypoint loads, not per job");
  }
  case GC: {
    const char *opt = luaL_optstring(L, 1, "collect");
    if (strcmp(opt, "count") && strcmp(opt, "collect") && strcmp(opt, "step") && strcmp(opt, "isrunning"))
      return deny(L, lua_pushfstring(L, "collectgarbage(\"%s\")", opt), "the collector is the runner's");
    break;
  }
  case SETMT:
    if (lua_type(L, 2) == LUA_TTABLE) {
      lua_pushliteral(L, "__gc");
      int has_gc = lua_rawget(L, 2) != LUA_TNIL;
      lua_pop(L, 1);
      if (has_gc) return deny(L, "a metatable with __gc", "finalizers would run outside any budget");
    }
    break;
  case RAWSET:
    if (lua_getmetatable(L, 1)) {
      lua_pushliteral(L, "__readonly");
      int ro = lua_rawget(L, -2) != LUA_TNIL;
      lua_pop(L, 2);
      if (ro) return luaL_error(L, "rawset: the job and the runner's settings are read-only");
    }
    break;
  case LEVEL:
    return deny(L, name, "the debug library could reach past the sandbox");
  }
  return call_original(L);

shift:
  /* debug.getinfo/getlocal/setlocal([thread,] level, ...): the level counts
   * from the caller, and this guard is one frame more. */
  {
    int at = lua_type(L, 1) == LUA_TTHREAD ? 2 : 1;
    if ((at == 1 || lua_tothread(L, 1) == L) && lua_isinteger(L, at)) {
      lua_pushinteger(L, lua_tointeger(L, at) + 1);
      lua_replace(L, at);
    }
    return call_original(L);
  }
}

/* Replaces t[field] (t at index `t`) by a guard of the given kind. */
static void wrap(lua_State *L, int t, const char *field, const char *name, int kind) {
  t = lua_absindex(L, t);
  if (lua_getfield(L, t, field) != LUA_TFUNCTION) {
    lua_pop(L, 1);
    return;
  }
  if (lua_tocfunction(L, -1) == guard) { /* installed already */
    lua_pop(L, 1);
    return;
  }
  lua_pushstring(L, name);
  lua_pushinteger(L, kind);
  if (kind == FWRITE) {
    lua_getglobal(L, "io");
    if (lua_istable(L, -1)) lua_getfield(L, -1, "stderr");
    else lua_pushnil(L);
    lua_remove(L, -2);
  } else {
    lua_pushnil(L);
  }
  lua_pushcclosure(L, guard, 4);
  lua_setfield(L, t, field);
}

/* Wraps the listed fields of global table `lib` (when present). */
static void wrap_lib(lua_State *L, const char *lib, const char *const *fields, int kind) {
  if (lua_getglobal(L, lib) != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  for (; *fields; fields++) {
    char name[64];
    snprintf(name, sizeof name, "%s.%s", lib, *fields);
    wrap(L, -1, *fields, name, kind);
  }
  lua_pop(L, 1);
}

/* coroutine.resume(co, ...) with the budget armed on co */
static int co_resume(lua_State *L) {
  lua_State *co = lua_tothread(L, 1);
  if (co) lunar_call_arm(L, co);
  return call_original(L);
}

/* The function coroutine.wrap returns: upvalues 1 the thread, 2 the original
 * coroutine.resume. Errors propagate like the original wrap's. */
static int co_wrap_call(lua_State *L) {
  lua_State *co = lua_tothread(L, lua_upvalueindex(1));
  lunar_call_arm(L, co);
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_rotate(L, 1, 2); /* stack: resume co args... */
  lua_call(L, n + 1, LUA_MULTRET);
  if (!lua_toboolean(L, 1)) {
    if (lua_type(L, 2) == LUA_TSTRING) {
      luaL_where(L, 1);
      lua_insert(L, 2);
      lua_concat(L, 2);
    }
    lua_settop(L, 2);
    return lua_error(L);
  }
  return lua_gettop(L) - 1;
}

/* coroutine.wrap(f): upvalues 1 coroutine.create, 2 coroutine.resume */
static int co_wrap(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1); /* stack: f co */
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_pushcclosure(L, co_wrap_call, 2);
  return 1;
}

static void install_coroutine(lua_State *L) {
  if (lua_getglobal(L, "coroutine") != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  lua_getfield(L, -1, "resume");
  if (lua_tocfunction(L, -1) == co_resume) { /* installed already */
    lua_pop(L, 2);
    return;
  }
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, co_resume, 1);
  lua_setfield(L, -3, "resume"); /* stack: coroutine resume */
  lua_getfield(L, -2, "create");
  lua_insert(L, -2); /* stack: coroutine create resume */
  lua_pushcclosure(L, co_wrap, 2);
  lua_setfield(L, -2, "wrap");
  lua_pop(L, 1);
}

void lunar_sandbox_install(lua_State *L) {
  static const char *const os_deny[] = {"exit", "execute", "remove", "rename", "tmpname", NULL};
  static const char *const os_args[] = {"setlocale", NULL};
  static const char *const io_deny[] = {"popen", "tmpfile", "write", NULL};
  static const char *const io_args[] = {"output", NULL};
  static const char *const io_open[] = {"open", NULL};
  static const char *const pkg_deny[] = {"loadlib", NULL};
  static const char *const dbg_deny[] = {"sethook", "gethook", "getregistry", "getupvalue", "setupvalue",
                                         "upvalueid", "upvaluejoin", "getmetatable", "setmetatable",
                                         "getuservalue", "setuservalue", "setcstacklimit", NULL};
  static const char *const dbg_level[] = {"getinfo", "getlocal", "setlocal", NULL};
  int top = lua_gettop(L);
  wrap_lib(L, "os", os_deny, DENY);
  wrap_lib(L, "os", os_args, DENY_ARGS);
  wrap_lib(L, "io", io_deny, DENY);
  wrap_lib(L, "io", io_args, DENY_ARGS);
  wrap_lib(L, "io", io_open, OPEN);
  wrap_lib(L, "package", pkg_deny, DENY);
  wrap_lib(L, "debug", dbg_deny, DENY);
  wrap_lib(L, "debug", dbg_level, LEVEL);

  lua_pushglobaltable(L);
  wrap(L, -1, "dofile", "dofile", DENY);
  wrap(L, -1, "load", "load", LOAD);
  wrap(L, -1, "loadfile", "loadfile", LOADFILE);
  wrap(L, -1, "require", "require", REQUIRE);
  wrap(L, -1, "collectgarbage", "collectgarbage", GC);
  wrap(L, -1, "setmetatable", "setmetatable", SETMT);
  wrap(L, -1, "rawset", "rawset", RAWSET);
  lua_pop(L, 1);

  /* package.searchers[i]: the C searchers load native code */
  if (lua_getglobal(L, "package") == LUA_TTABLE && lua_getfield(L, -1, "searchers") == LUA_TTABLE) {
    for (lua_Integer i = 1; i <= (lua_Integer)luaL_len(L, -1); i++) {
      lua_rawgeti(L, -1, i);
      if (lua_tocfunction(L, -1) == guard) {
        lua_pop(L, 1);
        continue;
      }
      lua_pushliteral(L, "package.searchers");
      lua_pushinteger(L, DENY);
      lua_pushnil(L);
      lua_pushcclosure(L, guard, 4);
      lua_rawseti(L, -2, i);
    }
  }
  lua_settop(L, top);

  /* file methods: writes go to stderr only */
  if (luaL_getmetatable(L, LUA_FILEHANDLE) == LUA_TTABLE) {
    if (lua_getfield(L, -1, "__index") == LUA_TTABLE) {
      wrap(L, -1, "write", "file:write", FWRITE);
      wrap(L, -1, "setvbuf", "file:setvbuf", FWRITE);
    }
  }
  lua_settop(L, top);

  install_coroutine(L);

  /* the synchronous Kubernetes client: the CLI's and the specs', not per-job code's */
  if (lua_istable(L, -1) && lua_getfield(L, -1, "kube") == LUA_TTABLE) wrap(L, -1, "client", "lunar.kube.client", DENY);
  lua_settop(L, top);
}
