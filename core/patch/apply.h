/* One pod_spec entry: a patch of a given type applied to a PodSpec, then the
 * type check of the result. What lunar.patch.apply and the renderer use.
 */
#ifndef LUNAR_PATCH_APPLY_H
#define LUNAR_PATCH_APPLY_H

#include <jansson.h>
#include <stddef.h>

#include "util/error.h"

/* Parses patch text, YAML or JSON (JSON is YAML). `name` labels positions in
 * messages ("patch" when NULL): `patch:3:7: mapping values are not allowed in
 * this context`. A JSON object with a key given twice is an error. On success *out is owned by the caller. Returns LUNAR_OK,
 * LUNAR_EINVAL or LUNAR_ENOMEM. */
int lunar_patch_parse(const char *text, size_t len, const char *name, json_t **out,
                      lunar_error *err);

/* Applies `patch` of type `patch_type` ("strategic", "merge" or "json") to
 * `spec`, a PodSpec, and checks the types of the result. Both are borrowed.
 * On success *out is a new PodSpec owned by the caller. Errors (LUNAR_EINVAL):
 *   unknown patch_type "foo" (use "strategic", "merge" or "json")
 *   json patch operation 2 (test): /dnsPolicy is "ClusterFirst", expected "None"
 *   strategic merge patch: spec.containers: ...
 *   spec.containers[0].env: expected a list, got a string ("A=1")
 * or LUNAR_ENOMEM. */
int lunar_patch_apply(const json_t *spec, const char *patch_type, const json_t *patch,
                      json_t **out, lunar_error *err);

#endif
