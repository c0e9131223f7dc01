#include "util/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lunar_read_file(const char *path, const char *what, char **out, size_t *len, lunar_error *err) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return lunar_error_set(err, LUNAR_EIO, "%s %s: %s", what, path, strerror(errno));
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  int rc = LUNAR_OK;
  while (buf) {
    n += fread(buf + n, 1, cap - n - 1, f);
    if (n < cap - 1) break;
    if (cap >= LUNAR_FILE_MAX) {
      rc = lunar_error_set(err, LUNAR_EIO, "%s %s: larger than 64 MiB", what, path);
      goto done;
    }
    char *bigger = realloc(buf, cap * 2);
    if (!bigger) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = bigger;
    cap *= 2;
  }
  if (!buf) {
    rc = lunar_error_set(err, LUNAR_ENOMEM, "%s %s: out of memory", what, path);
    goto done;
  }
  if (ferror(f)) {
    rc = lunar_error_set(err, LUNAR_EIO, "%s %s: %s", what, path, strerror(errno));
    goto done;
  }
  buf[n] = '\0';
  *out = buf;
  if (len) *len = n;
  buf = NULL;
done:
  free(buf);
  fclose(f);
  return rc;
}
