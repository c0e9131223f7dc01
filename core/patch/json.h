/* RFC 6902 JSON Patch (`patch_type = "json"`): a list of operations
 *   { "op": "add" | "remove" | "replace" | "move" | "copy" | "test",
 *     "path": <RFC 6901 pointer>, "value": ..., "from": <pointer> }
 * applied in order; "-" as the last token of an add path appends to a list.
 * Members an operation does not use are ignored (RFC 6902 section 4).
 */
#ifndef LUNAR_PATCH_JSON_H
#define LUNAR_PATCH_JSON_H

#include <jansson.h>

#include "util/error.h"

/* Applies the operations `ops` to `doc`; both are borrowed and left unchanged
 * (a failing patch changes nothing). On success *out is a new document owned
 * by the caller (json_decref).
 * Errors: LUNAR_EINVAL when `ops` is not a list of operations or an operation
 * fails, with a message naming the operation by its index in the list
 * (counting from 0) and its op, e.g.
 *   json patch operation 2 (test): /spec/dnsPolicy is "ClusterFirst", expected "None"
 *   json patch operation 0 (add): cannot add /baz/bat: /baz does not exist
 * LUNAR_ENOMEM. */
int lunar_patch_json(const json_t *doc, const json_t *ops, json_t **out, lunar_error *err);

#endif
