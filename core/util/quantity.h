/* Kubernetes resource quantities ("500m", "1.5Gi", "2e3", "128974848").
 *
 * The grammar is Kubernetes' own: a signed decimal number followed by one
 * suffix: a binary SI suffix (Ki Mi Gi Ti Pi Ei), a decimal SI suffix
 * (n u m "" k M G T P E) or a decimal exponent (e3, E-2). Values are kept
 * exactly, in units of 10^-9, rounded up to the next nano as Kubernetes does;
 * magnitudes beyond what that holds (about 1.7e29) are refused.
 */
#ifndef LUNAR_UTIL_QUANTITY_H
#define LUNAR_UTIL_QUANTITY_H

#include "util/error.h"

typedef struct lunar_quantity {
  __int128 nanos; /* the value times 10^9 */
} lunar_quantity;

/* Parses `text`. Returns LUNAR_OK, or LUNAR_EINVAL with a message that says
 * what is wrong and what a valid quantity looks like, e.g.
 *   quantity "1.5x" is not valid: unknown suffix "x" (use m, k, M, G, T, Ki, Mi, Gi, Ti, ... or e<exponent>) */
int lunar_quantity_parse(const char *text, lunar_quantity *out, lunar_error *err);

/* -1, 0 or 1 as a is less than, equal to or greater than b ("1" > "500m",
 * "1Gi" > "1000Mi", "1000m" == "1"). */
int lunar_quantity_cmp(const lunar_quantity *a, const lunar_quantity *b);

#endif
