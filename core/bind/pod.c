#include "bind/pod.h"

#include <lauxlib.h>

#include "bind/json.h"
#include "pod/pod.h"

/* lunar.pod.build(input) -> pod, warnings | nil, message */
static int l_build(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  luaL_getmetatable(L, LUNAR_JSON_ARRAY_MT); /* stack: input, array_mt */
  lunar_error err = {0};
  if (lunar_pod_build(L, 1, 2, &err)) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
  }
  return 2;
}

int lunar_pod_open(lua_State *L) {
  static const luaL_Reg fns[] = {{"build", l_build}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
