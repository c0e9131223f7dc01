/* Small helpers on jansson values shared by the modules that report on or
 * compare documents (the patch algorithms, the Pod type check).
 * All functions borrow their arguments.
 */
#ifndef LUNAR_JSON_VALUE_H
#define LUNAR_JSON_VALUE_H

#include <jansson.h>
#include <stddef.h>

/* How a message names the kind of `v`: "an object", "a list", "a string",
 * "an integer", "a number", "a boolean", "null". */
const char *lunar_json_kind_name(const json_t *v);

/* Writes `v` as compact JSON into buf (NUL-terminated), cut with "..." when
 * longer than the buffer, and returns buf. For messages: `"ClusterFirst"`,
 * `{"name":"build"}`. size must be at least 8. */
const char *lunar_json_snippet(const json_t *v, char *buf, size_t size);

/* JSON equality as RFC 6902 `test` defines it: numbers compare by value (1 and
 * 1.0 are equal), objects by their members whatever the order, arrays item by
 * item. Returns 1 when equal, 0 otherwise. */
int lunar_json_equal(const json_t *a, const json_t *b);

#endif
