#include "bind/json.h"

#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* The address of this variable is the registry key of the null sentinel and
 * the sentinel itself (a light userdata). */
static const char null_sentinel = 0;

void lunar_json_init(lua_State *L) {
  if (luaL_newmetatable(L, LUNAR_JSON_ARRAY_MT)) {
    lua_pushliteral(L, "array");
    lua_setfield(L, -2, "__name");
  }
  lua_pop(L, 1);
}

void lunar_json_push_null(lua_State *L) {
  lua_pushlightuserdata(L, (void *)&null_sentinel);
}

void lunar_json_mark_array(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  luaL_getmetatable(L, LUNAR_JSON_ARRAY_MT);
  lua_setmetatable(L, idx);
}

void lunar_json_push(lua_State *L, const json_t *v) {
  luaL_checkstack(L, 4, "JSON value nested too deeply");
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    const char *key;
    json_t *val;
    lua_createtable(L, 0, (int)json_object_size(v));
    json_object_foreach((json_t *)v, key, val) {
      lunar_json_push(L, val);
      lua_setfield(L, -2, key);
    }
    break;
  }
  case JSON_ARRAY: {
    size_t i;
    json_t *val;
    lua_createtable(L, (int)json_array_size(v), 0);
    json_array_foreach(v, i, val) {
      lunar_json_push(L, val);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lunar_json_mark_array(L, -1);
    break;
  }
  case JSON_STRING:
    lua_pushlstring(L, json_string_value(v), json_string_length(v));
    break;
  case JSON_INTEGER:
    lua_pushinteger(L, (lua_Integer)json_integer_value(v));
    break;
  case JSON_REAL:
    lua_pushnumber(L, json_real_value(v));
    break;
  case JSON_TRUE:
    lua_pushboolean(L, 1);
    break;
  case JSON_FALSE:
    lua_pushboolean(L, 0);
    break;
  case JSON_NULL:
  default:
    lunar_json_push_null(L);
    break;
  }
}

/* Key path of the value being converted, for messages: "pod.spec.containers[2]".
 * Frames are recorded as pointers and formatted only when a message needs
 * them: conversions are on the hot path of every render. */
typedef struct path {
  struct {
    const char *key; /* NULL for a list index */
    lua_Integer index;
  } f[LUNAR_JSON_MAX_DEPTH + 4];
  int n;
  char buf[512];
} path;

static int path_push_key(path *p, const char *key) {
  int old = p->n;
  if (p->n < (int)(sizeof p->f / sizeof *p->f)) p->f[p->n].key = key, p->f[p->n].index = 0, p->n++;
  return old;
}

static int path_push_index(path *p, lua_Integer i) {
  int old = p->n;
  if (p->n < (int)(sizeof p->f / sizeof *p->f)) p->f[p->n].key = NULL, p->f[p->n].index = i, p->n++;
  return old;
}

static void path_pop(path *p, int old) { p->n = old; }

/* The path as text ("value" for the root without a name). */
static const char *path_text(path *p) {
  size_t len = 0;
  p->buf[0] = '\0';
  for (int i = 0; i < p->n && len < sizeof p->buf - 1; i++) {
    int w = p->f[i].key ? snprintf(p->buf + len, sizeof p->buf - len, "%s%s", len ? "." : "", p->f[i].key)
                        : snprintf(p->buf + len, sizeof p->buf - len, "[%lld]", (long long)p->f[i].index);
    if (w > 0) len += (size_t)w < sizeof p->buf - len ? (size_t)w : sizeof p->buf - len - 1;
  }
  return len ? p->buf : "value";
}

/* Returns the sequence length n when the table's keys are exactly 1..n, n > 0;
 * 0 otherwise. stack: unchanged */
static lua_Integer sequence_length(lua_State *L, int idx) {
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
  if (n == 0) return 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (!lua_isinteger(L, -1)) { lua_pop(L, 1); return 0; }
    count++;
  }
  return count == n ? n : 0;
}

static int is_marked_array(lua_State *L, int idx) {
  if (!lua_getmetatable(L, idx)) return 0;
  luaL_getmetatable(L, LUNAR_JSON_ARRAY_MT);
  int same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same;
}

static int convert(lua_State *L, int idx, path *p, int depth, json_t **out,
                   lunar_error *err);

static int compare_keys(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int convert_table(lua_State *L, int idx, path *p, int depth, json_t **out,
                         lunar_error *err) {
  if (depth > LUNAR_JSON_MAX_DEPTH)
    return lunar_error_set(err, LUNAR_EINVAL, "%s: nested deeper than %d levels (a cycle?)",
                           path_text(p), LUNAR_JSON_MAX_DEPTH);
  luaL_checkstack(L, 6, "table nested too deeply");
  lua_Integer n = sequence_length(L, idx);
  if (n > 0 || is_marked_array(L, idx)) {
    json_t *arr = json_array();
    lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
    for (lua_Integer i = 1; i <= len; i++) {
      json_t *item = NULL;
      int old = path_push_index(p, i);
      lua_rawgeti(L, idx, i);
      int rc = convert(L, lua_gettop(L), p, depth + 1, &item, err);
      lua_pop(L, 1);
      path_pop(p, old);
      if (rc) { json_decref(arr); return rc; }
      json_array_append_new(arr, item);
    }
    *out = arr;
    return LUNAR_OK;
  }
  /* Keys are inserted in sorted order so that the same table always encodes
   * to the same text (Lua's traversal order is not stable). */
  size_t nkeys = 0, cap = 16;
  const char **keys = malloc(cap * sizeof *keys);
  if (!keys) return lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    /* stack: ... key value */
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) {
      char keydesc[64];
      if (lua_isinteger(L, -1))
        snprintf(keydesc, sizeof keydesc, "%lld", (long long)lua_tointeger(L, -1));
      else
        snprintf(keydesc, sizeof keydesc, "a %s", luaL_typename(L, -1));
      lua_pop(L, 1);
      free(keys);
      return lunar_error_set(err, LUNAR_EINVAL,
                             "%s: key %s is not a string (a table is either a list or a map with string keys)",
                             path_text(p), keydesc);
    }
    if (nkeys == cap) {
      const char **grown = realloc(keys, (cap *= 2) * sizeof *keys);
      if (!grown) { lua_pop(L, 1); free(keys); return lunar_error_set(err, LUNAR_ENOMEM, "out of memory"); }
      keys = grown;
    }
    keys[nkeys++] = lua_tostring(L, -1); /* anchored by the table itself */
  }
  qsort(keys, nkeys, sizeof *keys, compare_keys);
  json_t *obj = json_object();
  for (size_t k = 0; k < nkeys; k++) {
    json_t *item = NULL;
    int old = path_push_key(p, keys[k]);
    lua_getfield(L, idx, keys[k]);
    int rc = convert(L, lua_gettop(L), p, depth + 1, &item, err);
    lua_pop(L, 1);
    path_pop(p, old);
    if (rc) { free(keys); json_decref(obj); return rc; }
    json_object_set_new(obj, keys[k], item);
  }
  free(keys);
  *out = obj;
  return LUNAR_OK;
}

static int convert(lua_State *L, int idx, path *p, int depth, json_t **out,
                   lunar_error *err) {
  switch (lua_type(L, idx)) {
  case LUA_TNIL:
    *out = json_null();
    return LUNAR_OK;
  case LUA_TBOOLEAN:
    *out = json_boolean(lua_toboolean(L, idx));
    return LUNAR_OK;
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) {
      *out = json_integer((json_int_t)lua_tointeger(L, idx));
    } else {
      lua_Number d = lua_tonumber(L, idx);
      if (!isfinite(d))
        return lunar_error_set(err, LUNAR_EINVAL, "%s: %g cannot be represented in JSON",
                               path_text(p), d);
      *out = json_real(d);
    }
    return LUNAR_OK;
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    *out = json_stringn(s, len);
    if (!*out)
      return lunar_error_set(err, LUNAR_EINVAL, "%s: string is not valid UTF-8",
                             path_text(p));
    return LUNAR_OK;
  }
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == (void *)&null_sentinel) {
      *out = json_null();
      return LUNAR_OK;
    }
    break;
  case LUA_TTABLE:
    return convert_table(L, idx, p, depth, out, err);
  default:
    break;
  }
  return lunar_error_set(err, LUNAR_EINVAL, "%s: a %s cannot be converted to JSON",
                         path_text(p), luaL_typename(L, idx));
}

int lunar_json_from_lua(lua_State *L, int idx, const char *what, json_t **out,
                        lunar_error *err) {
  path p;
  p.n = 0;
  if (what && *what) path_push_key(&p, what);
  *out = NULL;
  return convert(L, lua_absindex(L, idx), &p, 0, out, err);
}

/* ---- lunar.json ---------------------------------------------------------- */

/* lunar.json.decode(text [, name]) -> value | nil, message */
static int l_decode(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  const char *name = luaL_optstring(L, 2, "JSON");
  json_error_t jerr;
  json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  if (!v) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s:%d:%d: invalid JSON: %s", name, jerr.line, jerr.column, jerr.text);
    return 2;
  }
  lunar_json_push(L, v);
  json_decref(v);
  return 1;
}

/* lunar.json.encode(value [, {pretty = bool}]) -> text | nil, message */
static int l_encode(lua_State *L) {
  int pretty = 0;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "pretty");
    pretty = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  json_t *v = NULL;
  lunar_error err;
  if (lunar_json_from_lua(L, 1, NULL, &v, &err)) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  size_t flags = JSON_ENCODE_ANY | JSON_PRESERVE_ORDER | (pretty ? JSON_INDENT(2) : JSON_COMPACT);
  char *s = json_dumps(v, flags);
  json_decref(v);
  if (!s) return luaL_error(L, "out of memory encoding JSON");
  lua_pushstring(L, s);
  free(s);
  return 1;
}

/* lunar.json.array([t]) -> t, marked as a JSON array */
static int l_array(lua_State *L) {
  if (lua_isnoneornil(L, 1)) lua_newtable(L);
  else luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lunar_json_mark_array(L, 1);
  return 1;
}

/* lunar.json.is_array(t) -> boolean: marked, or a non-empty sequence */
static int l_is_array(lua_State *L) {
  if (!lua_istable(L, 1)) { lua_pushboolean(L, 0); return 1; }
  lua_pushboolean(L, is_marked_array(L, 1) || sequence_length(L, 1) > 0);
  return 1;
}

int lunar_json_open(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"decode", l_decode}, {"encode", l_encode}, {"array", l_array},
      {"is_array", l_is_array}, {NULL, NULL}};
  lunar_json_init(L);
  luaL_newlib(L, fns);
  lunar_json_push_null(L);
  lua_setfield(L, -2, "null");
  return 1;
}
