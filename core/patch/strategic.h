/* Kubernetes strategic merge patch (`patch_type = "strategic"`), as
 * k8s.io/apimachinery/pkg/util/strategicpatch applies it (StrategicMergePatch)
 * to a Pod or a PodSpec, driven by the patch metadata of core/patch/podtypes.h.
 *
 * Like a JSON merge patch, objects merge key by key and null deletes; but a
 * list whose field declares the merge strategy merges with the list in the
 * document: items of lists of objects are matched by the field's merge key
 * (containers by name, volumeMounts by mountPath, ports by containerPort,
 * ...) and merged recursively, new ones added; lists of scalars (finalizers)
 * merge as sets. Every other list is replaced. Directives:
 *   $patch: replace | delete      in an object: replace it, or empty it
 *   $patch: delete | replace      in a list item: delete the item with that
 *                                 merge key, or replace the whole list
 *   $deleteFromPrimitiveList/<f>  scalars to remove from the list f
 *   $setElementOrder/<f>          the order of the list f after the merge
 *   $retainKeys: [...]            the only keys the object may keep
 * Item order, null handling and every error case follow Kubernetes 1.33.
 */
#ifndef LUNAR_PATCH_STRATEGIC_H
#define LUNAR_PATCH_STRATEGIC_H

#include <jansson.h>

#include "patch/podtypes.h"
#include "util/error.h"

/* Applies `patch` to `doc`, a document of type `type`
 * (lunar_podtypes_podspec() or lunar_podtypes_pod()). Both are
 * borrowed and left unchanged. `root` names the document in messages ("spec"
 * for a PodSpec taken from a Pod; NULL or "" for none). On success *out is a
 * new document owned by the caller (json_decref).
 * Errors: LUNAR_EINVAL for a patch Kubernetes rejects, with a message such as
 *   strategic merge patch: spec.containers: item 1 of the patch has no "name" (the merge key of this list)
 *   strategic merge patch: spec.securityContext: "$patch: merge" is not valid on an object ...
 * LUNAR_ENOMEM. */
int lunar_patch_strategic(const json_t *doc, const json_t *patch, const lunar_podtype *type,
                          const char *root, json_t **out, lunar_error *err);

#endif
