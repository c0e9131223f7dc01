/* Accessors and conversions shared by the Pod builder's files. */
#include <ctype.h>
#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pod/internal.h"
#include "util/expand.h"

const char *pod_str(pod_ctx *c, int t, const char *key) {
  if (!t) return "";
  lua_State *L = c->L;
  const char *s = lua_getfield(L, t, key) == LUA_TSTRING ? lua_tostring(L, -1) : "";
  lua_pop(L, 1); /* the table anchors the string */
  return s;
}

const char *pod_kstr(pod_ctx *c, const char *key) { return pod_str(c, c->k, key); }

int pod_table(pod_ctx *c, int t, const char *key) {
  if (!t) return 0;
  if (lua_getfield(c->L, t, key) == LUA_TTABLE) return lua_gettop(c->L);
  lua_pop(c->L, 1);
  return 0;
}

int pod_bool(pod_ctx *c, int t, const char *key, int *value) {
  if (!t) return 0;
  int ok = lua_getfield(c->L, t, key) == LUA_TBOOLEAN;
  if (ok) *value = lua_toboolean(c->L, -1);
  lua_pop(c->L, 1);
  return ok;
}

int pod_int(pod_ctx *c, int t, const char *key, lua_Integer *value) {
  if (!t) return 0;
  lua_getfield(c->L, t, key);
  int ok = lua_isinteger(c->L, -1);
  if (ok) *value = lua_tointeger(c->L, -1);
  lua_pop(c->L, 1);
  return ok;
}

int pod_len(pod_ctx *c, int t, const char *key) {
  int tbl = pod_table(c, t, key);
  if (!tbl) return 0;
  int n = (int)lua_rawlen(c->L, tbl);
  lua_pop(c->L, 1);
  return n;
}

int pod_new_obj(pod_ctx *c) {
  lua_newtable(c->L);
  return lua_gettop(c->L);
}

int pod_new_sized(pod_ctx *c, int fields) {
  lua_createtable(c->L, 0, fields);
  return lua_gettop(c->L);
}

int pod_new_list(pod_ctx *c) {
  lua_newtable(c->L);
  lua_pushvalue(c->L, c->array_mt);
  lua_setmetatable(c->L, -2);
  return lua_gettop(c->L);
}

void pod_set_str(pod_ctx *c, int obj, const char *key, const char *s) {
  if (!s || !*s) return;
  lua_pushstring(c->L, s);
  lua_setfield(c->L, obj, key);
}

void pod_set_int(pod_ctx *c, int obj, const char *key, lua_Integer v) {
  lua_pushinteger(c->L, v);
  lua_setfield(c->L, obj, key);
}

void pod_set_bool(pod_ctx *c, int obj, const char *key, int v) {
  lua_pushboolean(c->L, v);
  lua_setfield(c->L, obj, key);
}

void pod_set(pod_ctx *c, int obj, const char *key) { lua_setfield(c->L, obj, key); }

void pod_append(pod_ctx *c, int list) { lua_rawseti(c->L, list, (lua_Integer)lua_rawlen(c->L, list) + 1); }

int pod_empty(pod_ctx *c, int t) {
  lua_pushnil(c->L);
  if (!lua_next(c->L, t)) return 1;
  lua_pop(c->L, 2);
  return 0;
}

void pod_set_nonempty(pod_ctx *c, int obj, const char *key, int t) {
  if (pod_empty(c, t)) return;
  lua_pushvalue(c->L, t);
  lua_setfield(c->L, obj, key);
}

int pod_sorted_keys(pod_ctx *c, int m) {
  lua_State *L = c->L;
  int keys = pod_new_list(c);
  lua_pushnil(L);
  while (lua_next(L, m)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      lua_pushvalue(L, -1);
      pod_append(c, keys);
    }
  }
  lua_getglobal(L, "table");
  lua_getfield(L, -1, "sort");
  lua_pushvalue(L, keys);
  lua_call(L, 1, 0);
  lua_pop(L, 1);
  return keys;
}

/* A table whose keys are exactly 1..n (n > 0), or one marked as a list. */
static int is_list(pod_ctx *c, int idx) {
  lua_State *L = c->L;
  if (lua_getmetatable(L, idx)) {
    int marked = lua_rawequal(L, -1, c->array_mt);
    lua_pop(L, 1);
    if (marked) return 1;
  }
  return lua_rawlen(L, idx) > 0;
}

static void copy(pod_ctx *c, int idx, int camel, int depth) {
  lua_State *L = c->L;
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) != LUA_TTABLE || depth > 64) {
    lua_pushvalue(L, idx);
    return;
  }
  luaL_checkstack(L, 4, "settings nested too deeply");
  if (is_list(c, idx)) {
    int out = pod_new_list(c);
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, idx, i);
      copy(c, -1, camel, depth + 1);
      lua_rawseti(L, out, i);
      lua_pop(L, 1);
    }
    return;
  }
  int out = pod_new_sized(c, 4);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    /* stack: out key value */
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    /* settings whose values are maps with the user's keys keep those keys */
    int keep = !camel || !key || !strcmp(key, "match_labels") || !strcmp(key, "volume_attributes");
    copy(c, -1, keep ? 0 : camel, depth + 1);
    if (camel && key) {
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (const char *p = key; *p; p++) {
        if (*p == '_' && p[1]) luaL_addchar(&b, (char)toupper((unsigned char)*++p));
        else luaL_addchar(&b, *p);
      }
      luaL_pushresult(&b);
      lua_insert(L, -2); /* stack: out key value camelkey copy */
      lua_rawset(L, out);
    } else {
      lua_pushvalue(L, -3);
      lua_insert(L, -2);
      lua_rawset(L, out);
    }
    lua_pop(L, 1);
  }
}

void pod_copy(pod_ctx *c, int idx) { copy(c, idx, 0, 0); }
void pod_camelize(pod_ctx *c, int idx) { copy(c, idx, 1, 0); }

int pod_server_at_least(pod_ctx *c, int minor, const char *otherwise) {
  const char *v = pod_str(c, c->in, "server_version");
  if (!*v) return 1;
  int major = 0, got = 0;
  if (sscanf(v, "%d.%d", &major, &got) != 2) {
    pod_warn(c, "cannot read the Kubernetes version \"%s\"; %s", v, otherwise);
    return 0;
  }
  if (major > 1 || (major == 1 && got >= minor)) return 1;
  pod_warn(c, "Kubernetes %s is older than 1.%d: %s", v, minor, otherwise);
  return 0;
}

void pod_warn(pod_ctx *c, const char *fmt, ...) {
  char buf[LUNAR_ERROR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  lua_pushstring(c->L, buf);
  pod_append(c, c->warnings);
}

static const char *var_lookup(void *ctx, const char *name, size_t len) {
  pod_ctx *c = ctx;
  lua_pushlstring(c->L, name, len);
  const char *v = lua_rawget(c->L, c->vars) == LUA_TSTRING ? lua_tostring(c->L, -1) : NULL;
  lua_pop(c->L, 1); /* the vars table anchors the value */
  return v;
}

const char *pod_expand(pod_ctx *c, const char *s) {
  if (!s || !strchr(s, '$')) { /* the common case: nothing to expand */
    lua_pushstring(c->L, s ? s : "");
    return lua_tostring(c->L, -1);
  }
  char *out = NULL;
  if (lunar_expand(s, var_lookup, c, &out, c->err)) return NULL;
  lua_pushstring(c->L, out);
  free(out);
  return lua_tostring(c->L, -1);
}
