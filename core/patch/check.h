/* The Pod type check: after patches, every field of a Pod or PodSpec must
 * still have the JSON type Kubernetes decodes it into, and be a field
 * Kubernetes knows. Checked against core/patch/podtypes.h.
 *
 * null is accepted anywhere (Kubernetes reads it as "not set"); Quantity
 * fields take a string or a number, IntOrString fields a string or an
 * integer; integer fields reject 1.5 and 1.0 alike, as Go's decoder does.
 */
#ifndef LUNAR_PATCH_CHECK_H
#define LUNAR_PATCH_CHECK_H

#include <jansson.h>

#include "patch/podtypes.h"
#include "util/error.h"

/* Checks `doc` (borrowed) as a value of `type`. `root` names the document in
 * messages ("spec" for a PodSpec; NULL or "" for a whole Pod). Returns
 * LUNAR_OK, or LUNAR_EINVAL with a message naming the first bad field:
 *   spec.containers[0].env: expected a list, got a string
 *   spec.nodeSelecter: unknown field (did you mean "nodeSelector"?) */
int lunar_patch_check(const json_t *doc, const lunar_podtype *type, const char *root,
                      lunar_error *err);

#endif
