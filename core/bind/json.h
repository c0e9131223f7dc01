/* Conversion between jansson values and Lua values.
 *
 * Mapping:
 *   JSON object  <-> Lua table with string keys (no metatable)
 *   JSON array   <-> Lua sequence; decoded arrays carry the metatable
 *                    registered as LUNAR_JSON_ARRAY_MT so that an empty array
 *                    stays `[]` on the way back (an empty plain table encodes
 *                    as `{}`)
 *   JSON null    <-> the light userdata `lunar.json.null`
 *   integer      <-> Lua integer; real <-> Lua float
 *
 * A Lua table encodes as an array when it has the array metatable, or when it
 * is non-empty and its keys are exactly 1..n. Otherwise every key must be a
 * string. Functions, userdata (other than null), cycles and nesting deeper than
 * LUNAR_JSON_MAX_DEPTH are errors naming the offending key path.
 */
#ifndef LUNAR_BIND_JSON_H
#define LUNAR_BIND_JSON_H

#include <jansson.h>
#include <lua.h>

#include "util/error.h"

#define LUNAR_JSON_ARRAY_MT "lunar.json.array"
#define LUNAR_JSON_MAX_DEPTH 64

/* Registers the array metatable and the null sentinel in the registry. Idempotent.
 * Must run before the functions below (luaopen_lunar does it). */
void lunar_json_init(lua_State *L);

/* Pushes the Lua value for `v` (borrowed). Never fails except by memory error,
 * which raises a Lua error. stack: +1 */
void lunar_json_push(lua_State *L, const json_t *v);

/* Pushes the null sentinel. stack: +1 */
void lunar_json_push_null(lua_State *L);

/* Sets the array metatable on the table at `idx`. */
void lunar_json_mark_array(lua_State *L, int idx);

/* Converts the Lua value at `idx`. On success *out is a new reference owned by
 * the caller (json_decref). On failure returns LUNAR_EINVAL with a message such
 * as "spec.containers[1].env: a function cannot be converted to JSON"; `what`
 * names the root in that path (e.g. "pod"). stack: unchanged */
int lunar_json_from_lua(lua_State *L, int idx, const char *what, json_t **out,
                        lunar_error *err);

/* Opens `lunar.json` (encode, decode, null, array) and leaves it on the stack.
 * stack: +1 */
int lunar_json_open(lua_State *L);

#endif
