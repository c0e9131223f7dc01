/* JSON from the API server and GitLab, as jansson reads it, and lunar's own
 * helpers over the values (messages, RFC 6902 equality). */
#include <jansson.h>

#include "fuzz.h"
#include "json/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_error_t jerr;
  json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  if (!v) return 0;
  char snip[48];
  lunar_json_snippet(v, snip, sizeof snip);
  (void)lunar_json_kind_name(v);
  json_t *copy = json_deep_copy(v);
  if (copy && !lunar_json_equal(v, copy) && !strstr(snip, "nan")) {
    fprintf(stderr, "a value is not equal to its copy: %s\n", snip);
    abort();
  }
  json_decref(copy);
  json_decref(v);
  return 0;
}
