/* lunar.pod: the Lua face of the Pod builder. */
#include <lauxlib.h>

#include "json/luajson.h"
#include "pod/pod.h"

/* lunar.pod.build(input) -> pod, warnings | nil, message */
static int l_build(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  json_t *input = NULL, *pod = NULL, *warnings = NULL;
  lunar_error err = {0};
  if (lunar_json_from_lua(L, 1, "input", &input, &err) || lunar_pod_build(input, &pod, &warnings, &err)) {
    json_decref(input);
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  json_decref(input);
  lunar_json_push(L, pod);
  lunar_json_push(L, warnings);
  json_decref(pod);
  json_decref(warnings);
  return 2;
}

int lunar_pod_open(lua_State *L) {
  static const luaL_Reg fns[] = {{"build", l_build}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
