#include "patch/merge.h"

/* Merges the object `patch` into the object `target` (owned by the caller,
 * modified in place; keys keep their order). Returns LUNAR_OK or
 * LUNAR_ENOMEM. */
static int merge_object(json_t *target, const json_t *patch) {
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)patch, key, value) {
    if (json_is_null(value)) {
      json_object_del(target, key);
      continue;
    }
    json_t *existing = json_object_get(target, key);
    if (json_is_object(value) && json_is_object(existing)) {
      if (merge_object(existing, value)) return LUNAR_ENOMEM;
      continue;
    }
    json_t *replacement = json_is_object(value) ? json_object() : json_deep_copy(value);
    if (!replacement) return LUNAR_ENOMEM;
    if (json_is_object(value) && merge_object(replacement, value)) {
      json_decref(replacement);
      return LUNAR_ENOMEM;
    }
    if (json_object_set_new(target, key, replacement)) return LUNAR_ENOMEM;
  }
  return LUNAR_OK;
}

int lunar_patch_merge(const json_t *doc, const json_t *patch, json_t **out, lunar_error *err) {
  json_t *result;
  if (!json_is_object(patch)) {
    result = json_deep_copy(patch);
  } else {
    result = json_is_object(doc) ? json_deep_copy(doc) : json_object();
    if (result && merge_object(result, patch)) {
      json_decref(result);
      result = NULL;
    }
  }
  if (!result) return lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  *out = result;
  return LUNAR_OK;
}
