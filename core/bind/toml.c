#include "bind/toml.h"

#include <lauxlib.h>

#include "bind/json.h"
#include "toml/toml.h"

/* lunar.toml.decode(text [, name]) -> value, lines | nil, message
 * `lines` maps each key's path ("runners[1].kubernetes.image") to its line. */
static int l_decode(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  const char *name = luaL_optstring(L, 2, "TOML");
  json_t *v = NULL, *lines = NULL;
  lunar_error err;
  if (lunar_toml_parse(text, len, name, &v, &lines, &err)) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  lunar_json_push(L, v);
  json_decref(v);
  lunar_json_push(L, lines);
  json_decref(lines);
  return 2;
}

int lunar_toml_open(lua_State *L) {
  static const luaL_Reg fns[] = {{"decode", l_decode}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
