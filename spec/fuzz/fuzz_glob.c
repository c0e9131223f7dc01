/* Image allow-list globs (doublestar): pattern FUZZ_SEP name. */
#include "fuzz.h"
#include "util/glob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *parts[2];
  size_t lens[2];
  if (fuzz_split(data, size, parts, lens, 2)) return 0;
  lunar_error err;
  (void)lunar_glob_match(parts[0], parts[1], &err);
  fuzz_free_parts(parts, 2);
  return 0;
}
