#include "bind/module.h"

#include <lauxlib.h>

#include "bind/call.h"
#include "bind/http.h"
#include "bind/json.h"
#include "bind/kube.h"
#include "bind/patch.h"
#include "bind/pattern.h"
#include "bind/pod.h"
#include "bind/run.h"
#include "bind/sandbox.h"
#include "bind/toml.h"
#include "bind/util.h"
#include "bind/yaml.h"

/* Each submodule opener pushes one table, stored as lunar.<name>.
 * Add a line here when a module gains a Lua face. */
static const luaL_Reg submodules[] = {
    {"json", lunar_json_open},
    {"yaml", lunar_yaml_open},
    {"util", lunar_util_open},
    {"pod", lunar_pod_open},
    {"patch", lunar_patch_open},
    {"kube", lunar_kube_open},
    {"run", lunar_run_open},
    {"toml", lunar_toml_open},
    {"http", lunar_http_open},
    {NULL, NULL}};

static const luaL_Reg functions[] = {
    {"call", lunar_bind_call},
    {"sandboxed", lunar_bind_sandboxed},
    {NULL, NULL}};

int luaopen_lunar(lua_State *L) {
  lunar_json_init(L);
  lunar_call_install(L);
  luaL_newlib(L, functions);
  for (const luaL_Reg *m = submodules; m->name; m++) {
    m->func(L);
    lua_setfield(L, -2, m->name);
  }
  lunar_pattern_install(L);
  lunar_sandbox_install(L); /* before any entrypoint can capture a library function */
  lua_pushliteral(L, LUNAR_VERSION);
  lua_setfield(L, -2, "version");

  /* Publish before loading the Lua half, so that `require "lunar"` inside it
   * returns this table instead of recursing into the loader. */
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "lunar");
  lua_pop(L, 1);

  lua_getglobal(L, "require");
  lua_pushliteral(L, "lunar.api");
  lua_call(L, 1, 0); /* lunar.api extends package.loaded.lunar */
  return 1;
}
