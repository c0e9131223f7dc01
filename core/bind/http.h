/* lunar.http: the Lua face of the synchronous HTTP request (util/http.h),
 * for the command line only (`lunar doctor`).
 *
 *   lunar.http.request{ method, url, body, content_type, ca_file, timeout }
 *     -> status, body | nil, message
 */
#ifndef LUNAR_BIND_HTTP_H
#define LUNAR_BIND_HTTP_H

#include <lua.h>

/* Opens `lunar.http` and leaves it on the stack. stack: +1 */
int lunar_http_open(lua_State *L);

#endif
