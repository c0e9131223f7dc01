#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int lunar_error_set(lunar_error *err, int code, const char *fmt, ...) {
  if (!err) return code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  err->code = code;
  return code;
}

int lunar_error_wrap(lunar_error *err, const char *fmt, ...) {
  if (!err) return LUNAR_EINVAL;
  char prefix[LUNAR_ERROR_MAX];
  char old[LUNAR_ERROR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, err->msg, sizeof old);
  /* Build "prefix: old" piecewise; truncation is intended when too long. */
  size_t n = strlen(prefix);
  if (n > sizeof err->msg - 3) n = sizeof err->msg - 3;
  memcpy(err->msg, prefix, n);
  memcpy(err->msg + n, ": ", 2);
  size_t room = sizeof err->msg - n - 3;
  size_t m = strlen(old);
  if (m > room) m = room;
  memcpy(err->msg + n + 2, old, m);
  err->msg[n + 2 + m] = '\0';
  if (err->code == 0) err->code = LUNAR_EINVAL;
  return err->code;
}

void lunar_error_clear(lunar_error *err) {
  if (!err) return;
  err->code = 0;
  err->msg[0] = '\0';
}
