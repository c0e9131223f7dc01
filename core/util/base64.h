/* Standard base64 (RFC 4648, with padding): Secret data, docker auth
 * entries, a kubeconfig's *-data fields.
 */
#ifndef LUNAR_UTIL_BASE64_H
#define LUNAR_UTIL_BASE64_H

#include <stddef.h>

#include "util/error.h"

/* Bytes lunar_base64_encode writes for `n` input bytes, the NUL included. */
#define LUNAR_BASE64_ENCODED_SIZE(n) (4 * (((size_t)(n) + 2) / 3) + 1)

/* Encodes `n` bytes of `in` into `out`, which has room for
 * LUNAR_BASE64_ENCODED_SIZE(n) bytes (NUL-terminated). Returns the length
 * written, without the NUL. `n` must be at most INT32_MAX / 2 (the caller
 * checks: an argument error of its own). Cannot fail. */
size_t lunar_base64_encode(const void *in, size_t n, char *out);

/* Decodes standard base64; whitespace is ignored. *out belongs to the caller
 * (free()), NUL-terminated for convenience, *len its length. On failure *out
 * is untouched. Errors: LUNAR_EINVAL ("not valid base64"), LUNAR_ENOMEM. */
int lunar_base64_decode(const char *in, char **out, size_t *len, lunar_error *err);

#endif
