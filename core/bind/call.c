#include "bind/call.h"

#include <lauxlib.h>

#include "util/error.h"

/* Instructions are counted in steps of HOOK_STEP: the count hook fires every
 * HOOK_STEP VM instructions and the remaining budget lives in the registry. */
#define HOOK_STEP 10000
static const char budget_key = 0;

static void count_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &budget_key);
  lua_Integer left = lua_tointeger(L, -1) - HOOK_STEP;
  lua_pop(L, 1);
  lua_pushinteger(L, left);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &budget_key);
  if (left <= 0) {
    luaL_where(L, 0); /* the Lua function that was running */
    lua_pushliteral(L, "instruction budget exhausted (an endless loop in a policy?)");
    lua_concat(L, 2);
    lua_error(L);
  }
}

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

int lunar_call(lua_State *L, int nargs, int nresults, long budget) {
  int base = lua_gettop(L) - nargs; /* index of the function */
  lua_pushcfunction(L, traceback);
  lua_insert(L, base);
  /* Budgets nest: an inner call never gets more than the outer has left. */
  lua_Hook old_hook = lua_gethook(L);
  int old_mask = lua_gethookmask(L), old_count = lua_gethookcount(L);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &budget_key);
  int had_outer = old_hook == count_hook;
  lua_Integer outer = lua_tointeger(L, -1);
  lua_pop(L, 1);
  int unlimited = budget < 0 && !had_outer;
  if (budget <= 0) budget = LUNAR_CALL_DEFAULT_BUDGET;
  if (had_outer && outer < budget) budget = (long)outer;
  if (!unlimited) {
    lua_pushinteger(L, budget);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &budget_key);
    lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_STEP);
  }

  int rc = lua_pcall(L, nargs, nresults, base);

  lua_sethook(L, old_hook, old_mask, old_count);
  if (had_outer) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &budget_key);
    lua_Integer used = budget - lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_pushinteger(L, outer - used);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &budget_key);
  }
  lua_remove(L, base); /* the traceback handler */
  return rc == LUA_OK ? LUNAR_OK : LUNAR_EINVAL;
}

int lunar_bind_call(lua_State *L) {
  long budget = (long)luaL_optinteger(L, 1, 0);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  int nargs = lua_gettop(L) - 2;
  lua_remove(L, 1); /* stack: fn args... */
  if (lunar_call(L, nargs, LUA_MULTRET, budget) != LUNAR_OK) {
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushboolean(L, 1);
  lua_insert(L, 1);
  return lua_gettop(L);
}
