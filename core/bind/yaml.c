#include "bind/yaml.h"

#include <lauxlib.h>
#include <stdlib.h>

#include "bind/json.h"
#include "yaml/yaml.h"

/* lunar.yaml.decode(text [, name]) -> value | nil, message */
static int l_decode(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  const char *name = luaL_optstring(L, 2, "YAML");
  json_t *v = NULL;
  lunar_error err;
  if (lunar_yaml_parse(text, len, name, &v, &err)) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  lunar_json_push(L, v);
  json_decref(v);
  return 1;
}

/* lunar.yaml.encode(value) -> text | nil, message */
static int l_encode(lua_State *L) {
  luaL_checkany(L, 1);
  json_t *v = NULL;
  char *text = NULL;
  lunar_error err;
  if (lunar_json_from_lua(L, 1, NULL, &v, &err) || lunar_yaml_emit(v, &text, &err)) {
    json_decref(v);
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  json_decref(v);
  lua_pushstring(L, text);
  free(text);
  return 1;
}

int lunar_yaml_open(lua_State *L) {
  static const luaL_Reg fns[] = {{"decode", l_decode}, {"encode", l_encode}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
