#include "bind/http.h"

#include <lauxlib.h>
#include <stdlib.h>

#include "util/http.h"

/* The response body while it is copied into Lua: freed by __gc if that copy
 * raises (out of memory), so no C frame owns it across a Lua call. */
typedef struct body_box {
  char *p;
} body_box;

static int box_gc(lua_State *L) {
  body_box *b = luaL_checkudata(L, 1, "lunar.http.body");
  free(b->p);
  b->p = NULL;
  return 0;
}

/* A string field of the options table (borrowed from the table). */
static const char *field(lua_State *L, const char *key, size_t *len) {
  lua_getfield(L, 1, key);
  const char *s = lua_isnil(L, -1) ? NULL : luaL_checklstring(L, -1, len);
  lua_pop(L, 1); /* the table keeps the string alive */
  return s;
}

/* lunar.http.request{ method, url, body, content_type, ca_file, timeout } ->
 * status, body | nil, message */
static int l_request(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lunar_http_request req = {0};
  req.method = field(L, "method", NULL);
  req.url = field(L, "url", NULL);
  if (!req.url) return luaL_argerror(L, 1, "url is required");
  req.body = field(L, "body", &req.body_len);
  req.content_type = field(L, "content_type", NULL);
  req.ca_file = field(L, "ca_file", NULL);
  lua_getfield(L, 1, "timeout");
  req.timeout_ms = (long)(luaL_optnumber(L, -1, 30) * 1000);
  lua_pop(L, 1);
  body_box *box = lua_newuserdatauv(L, sizeof *box, 0); /* the box first, then the body */
  box->p = NULL;
  if (luaL_newmetatable(L, "lunar.http.body")) {
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  long status;
  size_t len;
  lunar_error err;
  if (lunar_http_send(&req, &status, &box->p, &len, &err) != LUNAR_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  lua_pushinteger(L, status);
  lua_pushlstring(L, box->p, len);
  free(box->p);
  box->p = NULL;
  return 2;
}

int lunar_http_open(lua_State *L) {
  static const luaL_Reg fns[] = {{"request", l_request}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
