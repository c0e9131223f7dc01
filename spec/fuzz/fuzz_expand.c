/* GitLab's variable expansion ($NAME, ${NAME}, $$) with a fixed lookup. */
#include <stdio.h>

#include "fuzz.h"
#include "util/expand.h"

static const char *lookup(void *ctx, const char *name, size_t len) {
  (void)ctx;
  static const char *vars[][2] = {
      {"CI", "true"}, {"A", "$B"}, {"B", "${A}"}, {"EMPTY", ""}, {"1", "one"}, {"*", "star"},
      {"LONG", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
  };
  for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
    if (strlen(vars[i][0]) == len && memcmp(vars[i][0], name, len) == 0) return vars[i][1];
  return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_cstr(data, size), *out = NULL;
  lunar_error err;
  if (text && lunar_expand(text, lookup, NULL, &out, &err) == LUNAR_OK) free(out);
  free(text);
  return 0;
}
