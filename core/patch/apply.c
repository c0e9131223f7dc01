#include "patch/apply.h"

#include <string.h>

#include "patch/check.h"
#include "patch/json.h"
#include "patch/merge.h"
#include "patch/podtypes.h"
#include "patch/strategic.h"
#include "yaml/yaml.h"

/* Where a PodSpec sits in its Pod: the root of paths in messages. */
#define SPEC_ROOT "spec"

int lunar_patch_parse(const char *text, size_t len, const char *name, json_t **out,
                      lunar_error *err) {
  if (!name) name = "patch";
  /* JSON first, strictly: a key given twice (RFC 6902 A.13: two "op"s) is an
   * error there, while YAML parsing would keep the last one silently. */
  json_error_t jerr;
  json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
  if (v) {
    *out = v;
    return LUNAR_OK;
  }
  if (json_error_code(&jerr) == json_error_duplicate_key)
    return lunar_error_set(err, LUNAR_EINVAL, "%s:%d:%d: %s", name, jerr.line, jerr.column, jerr.text);
  return lunar_yaml_parse(text, len, name, out, err);
}

int lunar_patch_apply(const json_t *spec, const char *patch_type, const json_t *patch,
                      json_t **out, lunar_error *err) {
  json_t *result = NULL;
  int rc;
  if (strcmp(patch_type, "strategic") == 0)
    rc = lunar_patch_strategic(spec, patch, lunar_podtypes_podspec(), SPEC_ROOT, &result, err);
  else if (strcmp(patch_type, "merge") == 0)
    rc = lunar_patch_merge(spec, patch, &result, err);
  else if (strcmp(patch_type, "json") == 0)
    rc = lunar_patch_json(spec, patch, &result, err);
  else
    return lunar_error_set(err, LUNAR_EINVAL,
                           "unknown patch_type \"%s\" (use \"strategic\", \"merge\" or \"json\")",
                           patch_type);
  if (rc) return rc;
  if ((rc = lunar_patch_check(result, lunar_podtypes_podspec(), SPEC_ROOT, err))) {
    json_decref(result);
    return rc;
  }
  *out = result;
  return LUNAR_OK;
}
