/* Reading a whole file: kubeconfigs, CA and token files, the service
 * account's namespace. One reader, so every caller gets the same size limit
 * and the same messages.
 */
#ifndef LUNAR_UTIL_FILE_H
#define LUNAR_UTIL_FILE_H

#include <stddef.h>

#include "util/error.h"

#define LUNAR_FILE_MAX (64u << 20) /* larger files are refused */

/* Reads the file at `path` into a NUL-terminated buffer. *out belongs to the
 * caller (free()); *len (when len is not NULL) is the number of bytes read.
 * `what` names the file in messages, e.g. "kubernetes.ca_file" gives
 * "kubernetes.ca_file /x: No such file or directory". On failure *out is NULL.
 * Errors: LUNAR_EIO (cannot open or read, larger than LUNAR_FILE_MAX),
 * LUNAR_ENOMEM. */
int lunar_read_file(const char *path, const char *what, char **out, size_t *len, lunar_error *err);

#endif
