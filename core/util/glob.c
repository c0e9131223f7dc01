#include "util/glob.h"

#include <stdlib.h>
#include <string.h>

#define BAD (-2)

/* Matches one character class starting after '['; *end gets the position
 * after ']'. Returns 1/0, or BAD when the class is unclosed. */
static int match_class(const char *p, char c, const char **end) {
  int negate = 0, hit = 0, first = 1;
  if (*p == '^' || *p == '!') negate = 1, p++;
  while (*p && (*p != ']' || first)) {
    first = 0;
    if (*p == '\\' && p[1]) p++;
    char lo = *p++, hi = lo;
    if (p[0] == '-' && p[1] && p[1] != ']') {
      p++;
      if (*p == '\\' && p[1]) p++;
      hi = *p++;
    }
    if (c >= lo && c <= hi) hit = 1;
  }
  if (*p != ']') return BAD;
  *end = p + 1;
  return hit != negate;
}

/* End of the `{...}` group starting at p ('{'), or NULL when unclosed. */
static const char *group_end(const char *p) {
  int depth = 0;
  for (; *p; p++) {
    if (*p == '\\' && p[1]) p++;
    else if (*p == '{') depth++;
    else if (*p == '}' && --depth == 0) return p;
  }
  return NULL;
}

static int match(const char *p, const char *s);

/* Tries each alternative of the group at p followed by the rest of the
 * pattern. */
static int match_group(const char *p, const char *s) {
  const char *close = group_end(p); /* well_formed() checked it exists */
  const char *alt = p + 1;
  size_t rest_len = strlen(close + 1);
  while (alt <= close) {
    /* find the end of this alternative at depth 0 */
    const char *q = alt;
    int depth = 0;
    for (; q < close; q++) {
      if (*q == '\\' && q[1]) q++;
      else if (*q == '{') depth++;
      else if (*q == '}') depth--;
      else if (*q == ',' && depth == 0) break;
    }
    size_t alen = (size_t)(q - alt);
    char *buf = malloc(alen + rest_len + 1);
    if (!buf) return 0;
    memcpy(buf, alt, alen);
    memcpy(buf + alen, close + 1, rest_len + 1);
    int r = match(buf, s);
    free(buf);
    if (r != 0) return r;
    alt = q + 1;
  }
  return 0;
}

static int match(const char *p, const char *s) {
  for (;;) {
    switch (*p) {
    case '\0':
      return *s == '\0';
    case '*':
      if (p[1] == '*') {
        while (*p == '*') p++;
        /* `**` crosses segments: try every suffix of s */
        for (const char *t = s;; t++) {
          int r = match(p, t);
          if (r != 0) return r;
          if (!*t) return 0;
        }
      }
      p++;
      for (const char *t = s;; t++) {
        int r = match(p, t);
        if (r != 0) return r;
        if (!*t || *t == '/') return 0;
      }
    case '?':
      if (!*s || *s == '/') return 0;
      p++, s++;
      break;
    case '[': {
      if (!*s || *s == '/') return 0;
      const char *end;
      int r = match_class(p + 1, *s, &end);
      if (r != 1) return r;
      p = end, s++;
      break;
    }
    case '{':
      return match_group(p, s);
    case '\\':
      if (p[1]) p++;
      /* fall through */
    default:
      if (*p != *s) return 0;
      p++, s++;
    }
  }
}

/* A pattern is well formed when every `[` and `{` is closed. */
static int well_formed(const char *p) {
  for (; *p; p++) {
    if (*p == '\\' && p[1]) p++;
    else if (*p == '{' && !group_end(p)) return 0;
    else if (*p == '[') {
      const char *end;
      if (match_class(p + 1, '\0', &end) == BAD) return 0;
      p = end - 1;
    }
  }
  return 1;
}

int lunar_glob_match(const char *pattern, const char *name, lunar_error *err) {
  if (!well_formed(pattern))
    return lunar_error_set(err, LUNAR_EINVAL, "pattern \"%s\" is malformed: a [ or { is not closed", pattern);
  return match(pattern, name);
}
