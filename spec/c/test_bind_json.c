/* Round trips between jansson and Lua values. */
#include <lauxlib.h>
#include <lualib.h>

#include "check.h"
#include "bind/json.h"

static char *roundtrip(lua_State *L, const char *text) {
  json_error_t jerr;
  json_t *in = json_loads(text, JSON_DECODE_ANY, &jerr);
  if (!in) return NULL;
  lunar_json_push(L, in);
  json_decref(in);
  json_t *out = NULL;
  lunar_error err;
  int rc = lunar_json_from_lua(L, -1, "doc", &out, &err);
  lua_pop(L, 1);
  if (rc) return NULL;
  char *s = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(out);
  return s;
}

static void test_roundtrip_keeps_empty_arrays_and_nulls(void) {
  lua_State *L = luaL_newstate();
  lunar_json_init(L);
  char *s = roundtrip(L, "{\"a\":[],\"b\":{},\"c\":null,\"d\":[1,2.5,\"x\",true]}");
  CHECK_STR(s, "{\"a\":[],\"b\":{},\"c\":null,\"d\":[1,2.5,\"x\",true]}");
  free(s);
  lua_close(L);
}

static void test_keys_are_sorted_for_stable_output(void) {
  lua_State *L = luaL_newstate();
  lunar_json_init(L);
  luaL_dostring(L, "return { zeta = 1, alpha = 2, mid = { y = 1, x = 2 } }");
  json_t *out = NULL;
  lunar_error err;
  CHECK_INT(lunar_json_from_lua(L, -1, NULL, &out, &err), LUNAR_OK);
  char *s = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
  CHECK_STR(s, "{\"alpha\":2,\"mid\":{\"x\":2,\"y\":1},\"zeta\":1}");
  free(s);
  json_decref(out);
  lua_close(L);
}

static void test_errors_name_the_key_path(void) {
  lua_State *L = luaL_newstate();
  lunar_json_init(L);
  luaL_dostring(L, "return { spec = { containers = { { name = 'a', env = function() end } } } }");
  json_t *out = NULL;
  lunar_error err;
  CHECK_INT(lunar_json_from_lua(L, -1, "pod", &out, &err), LUNAR_EINVAL);
  CHECK_STR(err.msg, "pod.spec.containers[1].env: a function cannot be converted to JSON");
  lua_pop(L, 1);
  luaL_dostring(L, "local t = {} t.self = t return t");
  CHECK_INT(lunar_json_from_lua(L, -1, "x", &out, &err), LUNAR_EINVAL);
  CHECK(strstr(err.msg, "nested deeper than") != NULL);
  lua_pop(L, 1);
  luaL_dostring(L, "return { [1] = 'a', name = 'b' }");
  CHECK_INT(lunar_json_from_lua(L, -1, "m", &out, &err), LUNAR_EINVAL);
  CHECK(strstr(err.msg, "key 1 is not a string") != NULL);
  lua_close(L);
}

int main(void) {
  RUN(test_roundtrip_keeps_empty_arrays_and_nulls);
  RUN(test_keys_are_sorted_for_stable_output);
  RUN(test_errors_name_the_key_path);
  return check_summary();
}
