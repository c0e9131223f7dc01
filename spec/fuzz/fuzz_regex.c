/* The *_overwrite_allowed regular expressions (PCRE2): pattern FUZZ_SEP subject. */
#include "fuzz.h"
#include "util/regex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *parts[2];
  size_t lens[2];
  if (fuzz_split(data, size, parts, lens, 2)) return 0;
  lunar_error err;
  if (lunar_regex_check(parts[0], &err) == LUNAR_OK) (void)lunar_regex_match(parts[0], parts[1], &err);
  fuzz_free_parts(parts, 2);
  return 0;
}
