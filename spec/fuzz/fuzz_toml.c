/* GitLab Runner's config.toml, as `lunar migrate` reads it (toml++). */
#include "fuzz.h"
#include "toml/toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *v = NULL, *lines = NULL;
  lunar_error err;
  if (lunar_toml_parse((const char *)data, size, "config.toml", &v, &lines, &err) == LUNAR_OK) {
    json_decref(v);
    json_decref(lines);
  }
  return 0;
}
