/* YAML text (patch text, kubeconfig files, `lunar.yaml.decode`): parse, and
 * what parses is emitted and must read back. */
#include <jansson.h>

#include "fuzz.h"
#include "json/value.h"
#include "yaml/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *v = NULL, *back = NULL;
  char *text = NULL;
  lunar_error err;
  if (lunar_yaml_parse((const char *)data, size, "fuzz", &v, &err) != LUNAR_OK) return 0;
  char snip[64];
  lunar_json_snippet(v, snip, sizeof snip);
  if (lunar_yaml_emit(v, &text, &err) == LUNAR_OK &&
      lunar_yaml_parse(text, strlen(text), "emitted", &back, &err) == LUNAR_OK) {
    /* what lunar writes, lunar reads back the same (NaN is not equal to itself) */
    if (!lunar_json_equal(v, back) && !strstr(text, ".nan")) {
      fprintf(stderr, "YAML round trip changed the value:\n%s\n", text);
      abort();
    }
  }
  json_decref(back);
  free(text);
  json_decref(v);
  return 0;
}
