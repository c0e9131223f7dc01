/* Helpers shared by the fuzz targets of spec/fuzz/ (one target per file, each
 * defining the libFuzzer entry point LLVMFuzzerTestOneInput).
 *
 * The targets build two ways: with spec/fuzz/driver.c (gcc, what `make test`
 * and `make fuzz` run: corpus replay and a seeded mutation loop), or as real
 * libFuzzer binaries (clang, -DLUNAR_LIBFUZZER=ON). Either way a target must
 * free everything it made for one input: leaks are findings.
 */
#ifndef LUNAR_SPEC_FUZZ_H
#define LUNAR_SPEC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The separator of inputs that carry several texts (a document and a patch,
 * a pattern and a subject): a line of its own. */
#define FUZZ_SEP "\n--8<--\n"

/* Splits data at FUZZ_SEP into at most n NUL-terminated copies (parts[i],
 * lens[i]); missing parts are empty. Returns 0, or -1 when out of memory.
 * The caller frees with fuzz_free_parts. */
static inline int fuzz_split(const uint8_t *data, size_t size, char **parts, size_t *lens, size_t n) {
  const size_t sl = sizeof FUZZ_SEP - 1;
  const char *p = (const char *)data, *end = p + size;
  for (size_t i = 0; i < n; i++) {
    const char *q = end;
    if (i + 1 < n) {
      q = memmem(p, (size_t)(end - p), FUZZ_SEP, sl);
      if (!q) q = end;
    }
    size_t len = (size_t)(q - p);
    parts[i] = malloc(len + 1);
    if (!parts[i]) {
      while (i--) free(parts[i]);
      return -1;
    }
    memcpy(parts[i], p, len);
    parts[i][len] = '\0';
    lens[i] = len;
    p = q < end ? q + sl : end;
  }
  return 0;
}

static inline void fuzz_free_parts(char **parts, size_t n) {
  for (size_t i = 0; i < n; i++) free(parts[i]);
}

/* A NUL-terminated copy of the input (NULL when out of memory). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) return NULL;
  memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

#endif
