/* RFC 6901 JSON Pointers ("/spec/containers/0/env", "~0" for "~" and "~1"
 * for "/"), as JSON Patch uses them.
 *
 * A parsed pointer owns its tokens: release it with lunar_patch_pointer_clear.
 * Resolution borrows: the values returned point into the document.
 */
#ifndef LUNAR_PATCH_POINTER_H
#define LUNAR_PATCH_POINTER_H

#include <jansson.h>
#include <stddef.h>

#include "util/error.h"

typedef struct lunar_pointer {
  const char *text; /* the pointer as written (borrowed from the caller) */
  size_t count;     /* number of reference tokens; 0 is the whole document */
  char **tokens;    /* unescaped tokens, owned */
  size_t *ends;     /* ends[i]: length of the text of the first i+1 tokens */
} lunar_pointer;

/* Parses `text`, which the pointer borrows (keep it alive as long as `p`).
 * Returns LUNAR_OK, or LUNAR_EINVAL with a message such as
 * `invalid JSON pointer "a/b": it must be empty or start with "/"`, or
 * LUNAR_ENOMEM. On failure `p` needs no clear. */
int lunar_patch_pointer_parse(const char *text, lunar_pointer *p, lunar_error *err);

/* Frees the tokens. NULL-safe and idempotent. */
void lunar_patch_pointer_clear(lunar_pointer *p);

/* Parses a token as an array index: decimal digits without a leading zero
 * (RFC 6901 section 4). "-" and anything else is not an index: returns -1. */
int lunar_patch_pointer_index(const char *token, size_t *index);

/* The index a token names in a list of `size` items, as the JSON patch
 * library of the API server reads it: an index, or a negative one counting
 * from the end ("-1" is the last item; for an add, the new last slot).
 * Returns -1 when it names none. */
int lunar_patch_pointer_index_in(const char *token, size_t size, int for_add, size_t *index);

/* Resolves the first `depth` tokens of `p` in `doc` and returns the value
 * there (borrowed), or NULL with a message naming the first location that does
 * not exist, e.g. "/spec/foo does not exist" or
 * "/spec/containers/7: index 7 is out of range (the list has 2 items)". */
json_t *lunar_patch_pointer_get(json_t *doc, const lunar_pointer *p, size_t depth,
                                lunar_error *err);

/* Formats the first `depth` tokens as pointer text into buf (NUL-terminated,
 * truncated to fit) and returns buf. */
const char *lunar_patch_pointer_prefix(const lunar_pointer *p, size_t depth, char *buf,
                                       size_t size);

#endif
