/* Kubernetes object names and label values.
 *
 * Label values are sanitised the way GitLab Runner does it, so that the same
 * job gets the same labels under lunar: characters outside [A-Za-z0-9._-]
 * become `_`, leading and trailing `-`, `_`, `.` are trimmed, the result is cut
 * to 63 characters and trimmed again.
 */
#ifndef LUNAR_UTIL_NAMES_H
#define LUNAR_UTIL_NAMES_H

#include <stddef.h>

#define LUNAR_NAMES_LABEL_MAX 63

/* Writes the sanitised label value of `in` to `out` (at least 64 bytes). */
void lunar_names_label_value(const char *in, char out[LUNAR_NAMES_LABEL_MAX + 1]);

/* Writes an RFC 1123 label made from `in` to `out` (at least max + 1 bytes,
 * max <= 63): lower case, characters outside [a-z0-9-] become `-`, cut to
 * `max`, leading and trailing `-` trimmed. May be empty. */
void lunar_names_rfc1123(const char *in, char *out, size_t max);

/* NULL when `s` is a valid DNS-1123 label ([a-z0-9]([-a-z0-9]*[a-z0-9])?, at
 * most 63 characters), else a static sentence saying why not. */
const char *lunar_names_dns_label_problem(const char *s);

/* The same for a DNS-1123 subdomain: labels joined by `.`, at most 253
 * characters. */
const char *lunar_names_dns_subdomain_problem(const char *s);

#endif
