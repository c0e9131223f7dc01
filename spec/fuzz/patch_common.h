/* The patch targets: the input is a document and patch text separated by a
 * FUZZ_SEP line. The document is YAML/JSON (a default PodSpec when it does not
 * parse); the patch text goes through lunar_patch_parse, then through the raw
 * algorithm and through lunar_patch_apply (algorithm + type check). */
#ifndef LUNAR_SPEC_FUZZ_PATCH_COMMON_H
#define LUNAR_SPEC_FUZZ_PATCH_COMMON_H

#include <jansson.h>

#include "fuzz.h"
#include "patch/apply.h"
#include "yaml/yaml.h"

typedef int (*patch_algo)(const json_t *doc, const json_t *patch, json_t **out, lunar_error *err);

static const char default_spec[] =
    "{\"containers\":[{\"name\":\"build\",\"image\":\"alpine\",\"env\":[{\"name\":\"A\",\"value\":\"1\"}],"
    "\"volumeMounts\":[{\"name\":\"repo\",\"mountPath\":\"/builds\"}]},{\"name\":\"helper\",\"image\":\"h\"}],"
    "\"volumes\":[{\"name\":\"repo\",\"emptyDir\":{}}],\"tolerations\":[{\"key\":\"k\",\"operator\":\"Exists\"}],"
    "\"securityContext\":{\"runAsUser\":1000},\"nodeSelector\":{\"a\":\"b\"}}";

static inline int fuzz_patch(const uint8_t *data, size_t size, patch_algo algo, const char *type) {
  char *parts[2];
  size_t lens[2];
  if (fuzz_split(data, size, parts, lens, 2)) return 0;
  lunar_error err;
  json_t *doc = NULL, *patch = NULL, *out = NULL, *out2 = NULL;
  if (lunar_yaml_parse(parts[0], lens[0], "doc", &doc, &err) != LUNAR_OK || !doc) {
    json_decref(doc);
    doc = json_loads(default_spec, 0, NULL);
  }
  if (lunar_patch_parse(parts[1], lens[1], "patch", &patch, &err) == LUNAR_OK && patch) {
    if (algo(doc, patch, &out, &err) == LUNAR_OK) json_decref(out);
    if (lunar_patch_apply(doc, type, patch, &out2, &err) == LUNAR_OK) json_decref(out2);
  }
  json_decref(patch);
  json_decref(doc);
  fuzz_free_parts(parts, 2);
  return 0;
}

#endif
