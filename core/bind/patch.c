#include "bind/patch.h"

#include <lauxlib.h>
#include <string.h>

#include "bind/json.h"
#include "patch/apply.h"
#include "patch/check.h"
#include "patch/json.h"
#include "patch/merge.h"
#include "patch/podtypes.h"
#include "patch/strategic.h"

typedef int (*patch_fn)(const json_t *doc, const json_t *patch, const lunar_podtype *type,
                        json_t **out, lunar_error *err);

/* Converts argument `idx` into *out (a new reference). A value with no JSON
 * form is the caller's mistake: raises, after releasing `held` (a value
 * converted before, or NULL). */
static json_t *arg_json(lua_State *L, int idx, const char *what, json_t *held) {
  json_t *v = NULL;
  lunar_error err;
  if (lunar_json_from_lua(L, idx, what, &v, &err)) {
    json_decref(held);
    luaL_argerror(L, idx, err.msg);
  }
  return v;
}

static const lunar_podtype *arg_kind(lua_State *L, int idx) {
  static const char *const kinds[] = {"PodSpec", "Pod", NULL};
  return luaL_checkoption(L, idx, "PodSpec", kinds) == 0 ? lunar_podtypes_podspec()
                                                        : lunar_podtypes_pod();
}

static const char *root_of(const lunar_podtype *type) {
  return type == lunar_podtypes_podspec() ? "spec" : NULL;
}

/* Pushes the result (and releases it), or nil and the message. */
static int push_result(lua_State *L, int rc, json_t *result, const lunar_error *err) {
  if (rc) {
    if (rc == LUNAR_ENOMEM) return luaL_error(L, "%s", err->msg);
    lua_pushnil(L);
    lua_pushstring(L, err->msg);
    return 2;
  }
  lunar_json_push(L, result);
  json_decref(result);
  return 1;
}

static int run(lua_State *L, patch_fn fn, const lunar_podtype *type) {
  json_t *doc = arg_json(L, 1, "doc", NULL);
  json_t *patch = lua_isnoneornil(L, 2) ? NULL : arg_json(L, 2, "patch", doc);
  if (!patch) {
    json_decref(doc);
    return luaL_argerror(L, 2, "a patch is required");
  }
  json_t *result = NULL;
  lunar_error err;
  int rc = fn(doc, patch, type, &result, &err);
  json_decref(doc);
  json_decref(patch);
  return push_result(L, rc, result, &err);
}

static int do_merge(const json_t *doc, const json_t *patch, const lunar_podtype *type,
                    json_t **out, lunar_error *err) {
  (void)type;
  return lunar_patch_merge(doc, patch, out, err);
}

static int do_json(const json_t *doc, const json_t *patch, const lunar_podtype *type,
                   json_t **out, lunar_error *err) {
  (void)type;
  return lunar_patch_json(doc, patch, out, err);
}

static int do_strategic(const json_t *doc, const json_t *patch, const lunar_podtype *type,
                        json_t **out, lunar_error *err) {
  return lunar_patch_strategic(doc, patch, type, root_of(type), out, err);
}

static int l_merge(lua_State *L) {
  luaL_checkany(L, 1);
  return run(L, do_merge, NULL);
}

static int l_json(lua_State *L) {
  luaL_checkany(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  return run(L, do_json, NULL);
}

static int l_strategic(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  return run(L, do_strategic, arg_kind(L, 3));
}

static int l_check(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const lunar_podtype *type = arg_kind(L, 2);
  json_t *doc = arg_json(L, 1, root_of(type), NULL);
  lunar_error err;
  int rc = lunar_patch_check(doc, type, root_of(type), &err);
  json_decref(doc);
  if (rc) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* The string field `key` of the table at `idx`, or `def` when absent;
 * NULL when it is there but not a string. stack: unchanged */
static const char *opt_field(lua_State *L, int idx, const char *key, const char *def) {
  int t = lua_getfield(L, idx, key);
  const char *s = t == LUA_TNIL ? def : t == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
  lua_pop(L, 1); /* the string stays alive in the options table */
  return s;
}

static int fail(lua_State *L, const char *name, const char *msg) {
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", name, msg);
  return 2;
}

/* lunar.patch.apply(spec, opts) */
static int l_apply(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  const char *name = opt_field(L, 2, "name", "patch");
  if (!name) return luaL_argerror(L, 2, "name must be a string");
  const char *type = opt_field(L, 2, "patch_type", "strategic");
  if (!type) return fail(L, name, "patch_type must be a string: \"strategic\", \"merge\" or \"json\"");
  const char *source = opt_field(L, 2, "source", "patch");
  if (!source) return luaL_argerror(L, 2, "source must be a string");

  lunar_error err;
  json_t *patch = NULL, *spec = NULL, *result = NULL;
  int rc;
  switch (lua_getfield(L, 2, "patch")) { /* stack: spec opts patch */
  case LUA_TSTRING: {
    size_t len;
    const char *text = lua_tolstring(L, -1, &len);
    rc = lunar_patch_parse(text, len, source, &patch, &err);
    break;
  }
  case LUA_TTABLE:
    rc = lunar_json_from_lua(L, -1, "patch", &patch, &err);
    break;
  case LUA_TNIL:
    return fail(L, name, "no patch: set patch (YAML or JSON text, or a table) or patch_path");
  default:
    return fail(L, name, lua_pushfstring(L, "patch must be YAML or JSON text or a table, not a %s",
                                         luaL_typename(L, -1)));
  }
  if (!rc) rc = lunar_json_from_lua(L, 1, "spec", &spec, &err);
  if (!rc) rc = lunar_patch_apply(spec, type, patch, &result, &err);
  json_decref(patch);
  json_decref(spec);
  if (rc == LUNAR_ENOMEM) return luaL_error(L, "%s", err.msg);
  if (rc) return fail(L, name, err.msg);
  lunar_json_push(L, result);
  json_decref(result);
  return 1;
}

int lunar_patch_open(lua_State *L) {
  static const luaL_Reg fns[] = {{"merge", l_merge}, {"json", l_json}, {"strategic", l_strategic},
                                 {"check", l_check}, {"apply", l_apply}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
