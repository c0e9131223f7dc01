/* Variable expansion as GitLab Runner does it for image names, service
 * aliases, cache keys, label values, volume paths and variable values: Go's
 * os.Expand with GitLab's lookup. `$NAME` (the longest run of [A-Za-z0-9_]) and
 * `${NAME}` (up to the next `}`) are replaced by the value, undefined names by
 * nothing; `$$` is `$`; `$0`-`$9`, `$*`, `$#`, `$@`, `$!`, `$?`, `$-` are
 * looked up under that one-character name; a `$` before any other character or
 * at the end stays; `${}` is deleted; an unterminated `${` loses those two
 * characters. Not recursive: an expanded value is not expanded again.
 */
#ifndef LUNAR_UTIL_EXPAND_H
#define LUNAR_UTIL_EXPAND_H

#include <stddef.h>

#include "util/error.h"

/* Returns the value of the variable `name` (`len` bytes, not NUL-terminated),
 * borrowed, or NULL when it is not defined. */
typedef const char *(*lunar_expand_lookup)(void *ctx, const char *name, size_t len);

/* Expands `text`. On success *out is a new string the caller frees. Returns
 * LUNAR_OK or LUNAR_ENOMEM. */
int lunar_expand(const char *text, lunar_expand_lookup lookup, void *ctx, char **out,
                 lunar_error *err);

#endif
