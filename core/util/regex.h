/* The regular expressions of the *_overwrite_allowed gates, through PCRE2,
 * whose syntax covers what GitLab Runner's Go (RE2) patterns use: classes such
 * as \d and \w, (?i), non-greedy repeats. As upstream, a match anywhere in the
 * value counts: anchor with ^...$ to require the whole value. */
#ifndef LUNAR_UTIL_REGEX_H
#define LUNAR_UTIL_REGEX_H

#include "util/error.h"

/* LUNAR_OK when `pattern` compiles; else LUNAR_EINVAL with the compiler's
 * message and offset: `regular expression "ci-(" is not valid at offset 4: missing closing parenthesis`. */
int lunar_regex_check(const char *pattern, lunar_error *err);

/* 1 when `pattern` matches somewhere in `subject`, 0 when not, LUNAR_EINVAL
 * when the pattern does not compile. */
int lunar_regex_match(const char *pattern, const char *subject, lunar_error *err);

#endif
