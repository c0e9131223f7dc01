/* lunar error values.
 *
 * Functions that can fail return an int: LUNAR_OK (0) or a negative
 * LUNAR_E* code, and fill a caller-provided `lunar_error` with a message that
 * says what was attempted, on what, and what went wrong, e.g.
 *   "pod_spec[2] (add-sidecar): json patch op 1 (add): path /spec/foo not found".
 * A NULL `err` is allowed: the message is then dropped.
 *
 * Messages are plain text without a trailing newline or period.
 */
#ifndef LUNAR_UTIL_ERROR_H
#define LUNAR_UTIL_ERROR_H

#include <stddef.h>

enum {
  LUNAR_OK = 0,
  LUNAR_EINVAL = -1,   /* invalid input (config, payload, patch, quantity...) */
  LUNAR_ENOMEM = -2,   /* allocation failed */
  LUNAR_EIO = -3,      /* file or network I/O failed */
  LUNAR_ENOTFOUND = -4 /* the named thing does not exist */
};

#define LUNAR_ERROR_MAX 1024

typedef struct lunar_error {
  int code;
  char msg[LUNAR_ERROR_MAX];
} lunar_error;

/* Sets err->code and formats err->msg (truncated to fit). Returns `code`, so
 * callers can write `return lunar_error_set(err, LUNAR_EINVAL, "...", ...)`. */
int lunar_error_set(lunar_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "<prefix>: " to an existing message (adds context on the way up).
 * Returns err->code (or LUNAR_EINVAL when err is NULL). */
int lunar_error_wrap(lunar_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Clears err (code 0, empty message). NULL-safe. */
void lunar_error_clear(lunar_error *err);

#endif
