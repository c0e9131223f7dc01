#include "bind/entry.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "bind/call.h"
#include "bind/json.h"

struct lunar_entry {
  lua_State *L;
  int refs;
  int runner;    /* registry ref of the runner view */
  int lifecycle; /* registry ref of require "lunar.lifecycle" */
  json_t *settings;
  char *path;
};

static void copy_path(lua_State *from, lua_State *to, const char *field) {
  if (!from) return;
  lua_getglobal(from, "package");
  if (!lua_istable(from, -1)) {
    lua_pop(from, 1);
    return;
  }
  lua_getfield(from, -1, field);
  const char *v = lua_tostring(from, -1);
  if (v) {
    lua_getglobal(to, "package");
    lua_pushstring(to, v);
    lua_setfield(to, -2, field);
    lua_pop(to, 1);
  }
  lua_pop(from, 2);
}

/* Sets err from the Lua error message on top of the stack (without its
 * traceback) and pops it. */
static int lua_failure(lua_State *L, lunar_error *err) {
  const char *msg = lua_tostring(L, -1);
  if (!msg) msg = "error (not a string)";
  const char *tb = strstr(msg, "\nstack traceback:");
  int len = tb ? (int)(tb - msg) : (int)strlen(msg);
  lunar_error_set(err, LUNAR_EINVAL, "%.*s", len, msg);
  lua_pop(L, 1);
  return LUNAR_EINVAL;
}

/* Calls lifecycle[fn](runner, nargs more on the stack). stack: -nargs, +1 result | error */
static int call_lifecycle(lunar_entry *e, const char *fn, int nargs, int nresults,
                          lunar_error *err) {
  lua_State *L = e->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, e->lifecycle);
  lua_getfield(L, -1, fn);
  lua_remove(L, -2);
  lua_rawgeti(L, LUA_REGISTRYINDEX, e->runner);
  /* stack: args..., fn, runner -> fn, runner, args... */
  lua_rotate(L, -(nargs + 2), 2);
  if (lunar_call(L, nargs + 1, nresults, -1) != 0) return lua_failure(L, err);
  return LUNAR_OK;
}

int lunar_entry_load(lua_State *parent, lua_CFunction open_lunar, const char *path,
                     lunar_entry **out, lunar_error *err) {
  *out = NULL;
  lunar_entry *e = calloc(1, sizeof *e);
  if (!e) return lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  e->refs = 1;
  e->runner = e->lifecycle = LUA_NOREF;
  e->path = strdup(path);
  e->L = luaL_newstate();
  if (!e->L || !e->path) {
    lunar_entry_release(e);
    return lunar_error_set(err, LUNAR_ENOMEM, "cannot create a Lua state (out of memory)");
  }
  lua_State *L = e->L;
  luaL_openlibs(L);
  lua_pushboolean(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, LUNAR_RUNNER_STATE_KEY);
  copy_path(parent, L, "path");
  copy_path(parent, L, "cpath");
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, open_lunar);
  lua_setfield(L, -2, "lunar");
  lua_pop(L, 1);

  /* runner = require("lunar.config").load(path) */
  lua_getglobal(L, "require");
  lua_pushliteral(L, "lunar.config");
  int rc = LUNAR_OK;
  if (lunar_call(L, 1, 1, -1) != 0) goto lua_fail;
  lua_getfield(L, -1, "load");
  lua_remove(L, -2);
  lua_pushstring(L, path);
  if (lunar_call(L, 1, 2, -1) != 0) goto lua_fail;
  if (lua_isnil(L, -2)) {
    rc = lunar_error_set(err, LUNAR_EINVAL, "%s", lua_tostring(L, -1));
    lua_pop(L, 2);
    goto fail;
  }
  lua_pop(L, 1);
  e->runner = luaL_ref(L, LUA_REGISTRYINDEX);

  lua_getglobal(L, "require");
  lua_pushliteral(L, "lunar.lifecycle");
  if (lunar_call(L, 1, 1, -1) != 0) goto lua_fail;
  e->lifecycle = luaL_ref(L, LUA_REGISTRYINDEX);

  if ((rc = call_lifecycle(e, "settings", 0, 2, err)) != LUNAR_OK) goto fail;
  if (lua_isnil(L, -2)) {
    rc = lunar_error_set(err, LUNAR_EINVAL, "%s", lua_tostring(L, -1));
    lua_pop(L, 2);
    goto fail;
  }
  lua_pop(L, 1);
  rc = lunar_json_from_lua(L, -1, "settings", &e->settings, err);
  lua_pop(L, 1);
  if (rc != LUNAR_OK) goto fail;
  lua_gc(L, LUA_GCCOLLECT);
  *out = e;
  return LUNAR_OK;

lua_fail:
  rc = lua_failure(L, err);
fail:
  lunar_entry_release(e);
  return rc;
}

void lunar_entry_hold(lunar_entry *e) {
  if (e) e->refs++;
}

void lunar_entry_release(lunar_entry *e) {
  if (!e || --e->refs > 0) return;
  if (e->L) lua_close(e->L);
  json_decref(e->settings);
  free(e->path);
  free(e);
}

const json_t *lunar_entry_settings(const lunar_entry *e) { return e->settings; }
const char *lunar_entry_path(const lunar_entry *e) { return e->path; }

int lunar_entry_prepare(lunar_entry *e, const char *payload, size_t len, const json_t *opts,
                        json_t **out, lunar_error *err) {
  lua_State *L = e->L;
  *out = NULL;
  lua_pushlstring(L, payload, len);
  lunar_json_push(L, opts);
  int rc = call_lifecycle(e, "prepare", 2, 2, err);
  if (rc != LUNAR_OK) return rc;
  /* stack: plan | nil, message */
  if (lua_isnil(L, -2)) {
    rc = lunar_error_set(err, LUNAR_EINVAL, "%s", lua_tostring(L, -1));
  } else {
    rc = lunar_json_from_lua(L, -2, "plan", out, err);
  }
  lua_pop(L, 2);
  lua_gc(L, LUA_GCSTEP, 0);
  return rc;
}

int lunar_entry_handles(const lunar_entry *e, const char *event) {
  const json_t *h = json_object_get(e->settings, "handlers");
  size_t i;
  json_t *v;
  json_array_foreach(h, i, v) {
    if (json_is_string(v) && !strcmp(json_string_value(v), event)) return 1;
  }
  return 0;
}

int lunar_entry_emit(lunar_entry *e, const char *event, const json_t *job, const json_t *data,
                     lunar_error *err) {
  if (!lunar_entry_handles(e, event)) return LUNAR_OK;
  lua_State *L = e->L;
  lua_pushstring(L, event);
  lunar_json_push(L, job);
  lunar_json_push(L, data);
  int rc = call_lifecycle(e, "emit", 3, 2, err);
  if (rc != LUNAR_OK) return rc;
  if (lua_isnil(L, -2)) rc = lunar_error_set(err, LUNAR_EINVAL, "%s", lua_tostring(L, -1));
  lua_pop(L, 2);
  return rc;
}

size_t lunar_entry_memory(const lunar_entry *e) {
  return (size_t)lua_gc(e->L, LUA_GCCOUNT, 0) * 1024u + (size_t)lua_gc(e->L, LUA_GCCOUNTB, 0);
}
