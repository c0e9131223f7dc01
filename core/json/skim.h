/* Drops members of a JSON text before it is parsed, so that a reader that
 * needs a small part of a large object (the Pod watch reads a Pod's status,
 * not its spec) does not pay for building the rest.
 *
 * `paths` is a NULL-terminated list of member paths from the root object,
 * keys joined by '.' ("object.spec", "object.metadata.managedFields"); a
 * path never goes through a list. Keys are compared as written in the text
 * (a key spelled with escapes does not match). Nothing is allocated.
 */
#ifndef LUNAR_JSON_SKIM_H
#define LUNAR_JSON_SKIM_H

#include <stddef.h>

/* Writes `in` without the members at `paths` into `out` (room for `len`
 * bytes) and returns the length written; returns (size_t)-1 when the text
 * cannot be scanned (an unterminated string, nesting deeper than 64): the
 * caller then parses `in` as it is and lets the parser say what is wrong. */
size_t lunar_json_skim(const char *in, size_t len, char *out, const char *const *paths);

#endif
