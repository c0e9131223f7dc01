/* Kubernetes strategic merge patches (`patch_type = "strategic"`) on a PodSpec
 * and on a Pod: merge keys, directives ($patch, $retainKeys, ...). */
#include "patch/strategic.h"
#include "patch_common.h"

static int on_podspec(const json_t *doc, const json_t *patch, json_t **out, lunar_error *err) {
  int rc = lunar_patch_strategic(doc, patch, lunar_podtypes_podspec(), "spec", out, err);
  /* the same patch under a Pod's spec, against the document as a Pod */
  json_t *pod = json_pack("{s:O}", "spec", doc), *pp = json_pack("{s:O}", "spec", patch), *o = NULL;
  if (pod && pp && lunar_patch_strategic(pod, pp, lunar_podtypes_pod(), NULL, &o, err) == LUNAR_OK)
    json_decref(o);
  json_decref(pod);
  json_decref(pp);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_patch(data, size, on_podspec, "strategic");
}
