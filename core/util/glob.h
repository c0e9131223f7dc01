/* Image allow-list patterns, matched the way GitLab Runner's doublestar does:
 * `*` matches any run of characters within one `/`-separated segment, `**`
 * any run across segments, `?` one character other than `/`, `[abc]`,
 * `[a-z]`, `[^a]`/`[!a]` one character of a class, `{a,b}` alternatives
 * (nesting allowed), and `\` escapes the next character. The image string is
 * used as is: `alpine` does not match the pattern `docker.io/library/` + `*`.
 */
#ifndef LUNAR_UTIL_GLOB_H
#define LUNAR_UTIL_GLOB_H

#include "util/error.h"

/* 1 when `name` matches `pattern`, 0 when not, LUNAR_EINVAL (with a message
 * naming the pattern) when the pattern is malformed (an unclosed `[` or `{`;
 * `,` `{` `}` inside a class are class characters), LUNAR_ENOMEM. Time and
 * memory are polynomial in the lengths whatever the pattern (one bit per name
 * position for each `*` and alternative of the pattern). */
int lunar_glob_match(const char *pattern, const char *name, lunar_error *err);

#endif
