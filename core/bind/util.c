#include "bind/util.h"

#include <lauxlib.h>
#include <stdint.h>
#include <stdlib.h>

#include "util/base64.h"
#include "util/expand.h"
#include "util/glob.h"
#include "util/names.h"
#include "util/quantity.h"
#include "util/regex.h"

static int fail(lua_State *L, const lunar_error *err) {
  lua_pushnil(L);
  lua_pushstring(L, err->msg);
  return 2;
}

/* quantity_valid(s) -> true | false, message */
static int l_quantity_valid(lua_State *L) {
  lunar_quantity q;
  lunar_error err;
  if (lunar_quantity_parse(luaL_checkstring(L, 1), &q, &err)) {
    lua_pushboolean(L, 0);
    lua_pushstring(L, err.msg);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* quantity_cmp(a, b) -> -1 | 0 | 1, or nil, message */
static int l_quantity_cmp(lua_State *L) {
  lunar_quantity a, b;
  lunar_error err;
  if (lunar_quantity_parse(luaL_checkstring(L, 1), &a, &err) ||
      lunar_quantity_parse(luaL_checkstring(L, 2), &b, &err))
    return fail(L, &err);
  lua_pushinteger(L, lunar_quantity_cmp(&a, &b));
  return 1;
}

/* glob_match(pattern, name) -> boolean | nil, message */
static int l_glob_match(lua_State *L) {
  lunar_error err;
  int r = lunar_glob_match(luaL_checkstring(L, 1), luaL_checkstring(L, 2), &err);
  if (r < 0) return fail(L, &err);
  lua_pushboolean(L, r);
  return 1;
}

/* regex_valid(pattern) -> true | false, message */
static int l_regex_valid(lua_State *L) {
  lunar_error err;
  if (lunar_regex_check(luaL_checkstring(L, 1), &err)) {
    lua_pushboolean(L, 0);
    lua_pushstring(L, err.msg);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* regex_match(pattern, subject) -> boolean | nil, message */
static int l_regex_match(lua_State *L) {
  lunar_error err;
  int r = lunar_regex_match(luaL_checkstring(L, 1), luaL_checkstring(L, 2), &err);
  if (r < 0) return fail(L, &err);
  lua_pushboolean(L, r);
  return 1;
}

/* label_value(s) -> the sanitised label value */
static int l_label_value(lua_State *L) {
  char out[LUNAR_NAMES_LABEL_MAX + 1];
  lunar_names_label_value(luaL_checkstring(L, 1), out);
  lua_pushstring(L, out);
  return 1;
}

/* rfc1123(s [, max]) -> an RFC 1123 label made from s */
static int l_rfc1123(lua_State *L) {
  char out[64];
  lua_Integer max = luaL_optinteger(L, 2, 63);
  luaL_argcheck(L, max >= 1 && max <= 63, 2, "must be between 1 and 63");
  lunar_names_rfc1123(luaL_checkstring(L, 1), out, (size_t)max);
  lua_pushstring(L, out);
  return 1;
}

/* dns_label_problem(s) / dns_subdomain_problem(s) -> nil | why not */
static int l_dns_label_problem(lua_State *L) {
  const char *why = lunar_names_dns_label_problem(luaL_checkstring(L, 1));
  if (why) lua_pushstring(L, why);
  else lua_pushnil(L);
  return 1;
}

static int l_dns_subdomain_problem(lua_State *L) {
  const char *why = lunar_names_dns_subdomain_problem(luaL_checkstring(L, 1));
  if (why) lua_pushstring(L, why);
  else lua_pushnil(L);
  return 1;
}

/* The lookup for expand(): the table at index 2, indexed by name; the value
 * must be a string (stays referenced by the table while expanding). */
static const char *table_lookup(void *ctx, const char *name, size_t len) {
  lua_State *L = ctx;
  lua_pushlstring(L, name, len);
  lua_gettable(L, 2);
  const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
  lua_pop(L, 1);
  return v;
}

/* expand(text, vars) -> text: GitLab's variable expansion (see util/expand.h);
 * vars maps names to string values. */
static int l_expand(lua_State *L) {
  const char *text = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  char *out = NULL;
  lunar_error err;
  if (lunar_expand(text, table_lookup, L, &out, &err)) return luaL_error(L, "%s", err.msg);
  lua_pushstring(L, out);
  free(out);
  return 1;
}

/* base64(s) -> the standard base64 encoding of s (Secret data, docker auth) */
static int l_base64(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  if (n > (size_t)INT32_MAX / 2) return luaL_argerror(L, 1, "too long");
  luaL_Buffer b;
  char *out = luaL_buffinitsize(L, &b, LUNAR_BASE64_ENCODED_SIZE(n));
  luaL_pushresultsize(&b, lunar_base64_encode(s, n, out));
  return 1;
}

int lunar_util_open(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"quantity_valid", l_quantity_valid}, {"quantity_cmp", l_quantity_cmp},
      {"glob_match", l_glob_match},         {"regex_valid", l_regex_valid},
      {"regex_match", l_regex_match},       {"label_value", l_label_value},
      {"rfc1123", l_rfc1123},               {"dns_label_problem", l_dns_label_problem},
      {"dns_subdomain_problem", l_dns_subdomain_problem},
      {"expand", l_expand},                 {"base64", l_base64},
      {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
