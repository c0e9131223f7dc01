/* RFC 7386 JSON Merge Patch (`patch_type = "merge"`).
 *
 * An object in the patch merges into the object at the same place in the
 * document (created when missing), key by key; a null deletes the key; any
 * other value, lists included, replaces what was there.
 */
#ifndef LUNAR_PATCH_MERGE_H
#define LUNAR_PATCH_MERGE_H

#include <jansson.h>

#include "util/error.h"

/* Applies `patch` to `doc`; both are borrowed and left unchanged. On success
 * *out is a new document owned by the caller (json_decref). Every JSON value
 * is a valid merge patch, so the only error is LUNAR_ENOMEM. */
int lunar_patch_merge(const json_t *doc, const json_t *patch, json_t **out, lunar_error *err);

#endif
