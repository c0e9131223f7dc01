#include "util/glob.h"

#include <stddef.h>
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

/* The matcher works on positions in the pattern as written: an alternative
 * ends where its `,` or the group's `}` is reached, and matching goes on after
 * that group's `}`. So (pattern position, name position) is the whole state,
 * and a failure found once from a state where matching restarts (the start,
 * a star, after a star, an alternative) is remembered: however many `*`,
 * `**` and groups a pattern has, the work stays polynomial in the lengths
 * (plain backtracking was exponential: `*a*a*a*a*a*a*a*a*b` against a long
 * name of a's ran for minutes). */
typedef struct glob {
  const char *p, *s;
  size_t np, ns;
  int *owner;             /* for `,` and `}` of a group: the position of its `{`; else -1 */
  int *close;             /* for `{`: the position of its `}` */
  int *row;               /* the memo row of a position where matching may restart; else -1 */
  size_t rows;
  unsigned char *failed;  /* bit (row * (ns + 1) + si): no match from that state */
} glob;

/* Fills owner/close; 0, or -1 when a `[` or `{` is not closed. Classes are
 * skipped whole, so `,` `{` `}` inside them are class characters. */
static int scan(glob *g) {
  int *stack = malloc((g->np + 1) * sizeof *stack), depth = 0, ok = stack != NULL;
  for (size_t i = 0; i <= g->np; i++) g->owner[i] = -1, g->close[i] = -1, g->row[i] = -1;
  g->row[0] = (int)g->rows++;
  for (size_t i = 0; ok && i < g->np; i++) {
    const char *c = g->p + i, *end;
    if (*c == '\\' && c[1]) {
      i++;
    } else if (*c == '[') {
      ok = match_class(c + 1, '\0', &end) != BAD;
      if (ok) i = (size_t)(end - g->p) - 1;
    } else if (*c == '*') {
      /* the star and what follows its run: where the star's loop restarts */
      if (g->row[i] < 0) g->row[i] = (int)g->rows++;
      while (i + 1 < g->np && g->p[i + 1] == '*') i++;
      if (g->row[i + 1] < 0) g->row[i + 1] = (int)g->rows++;
    } else if (*c == '{') {
      stack[depth++] = (int)i;
      if (g->row[i + 1] < 0) g->row[i + 1] = (int)g->rows++;
    } else if (*c == ',' && depth) {
      g->owner[i] = stack[depth - 1];
      if (g->row[i + 1] < 0) g->row[i + 1] = (int)g->rows++;
    } else if (*c == '}' && depth) {
      int open = stack[--depth];
      g->owner[i] = open;
      g->close[open] = (int)i;
    }
  }
  free(stack);
  return ok && depth == 0 ? 0 : -1;
}

static int is_failed(const glob *g, size_t pi, size_t si) {
  if (g->row[pi] < 0) return 0;
  size_t k = (size_t)g->row[pi] * (g->ns + 1) + si;
  return g->failed[k / 8] >> (k % 8) & 1;
}

static void set_failed(glob *g, size_t pi, size_t si) {
  if (g->row[pi] < 0) return;
  size_t k = (size_t)g->row[pi] * (g->ns + 1) + si;
  g->failed[k / 8] |= (unsigned char)(1u << (k % 8));
}

static int match_at(glob *g, size_t pi, size_t si);

/* Every step from one state; returns 1 (match) or 0. */
static int step(glob *g, size_t pi, size_t si) {
  const char *p = g->p + pi, *s = g->s + si;
  for (;;) {
    pi = (size_t)(p - g->p), si = (size_t)(s - g->s);
    switch (*p) {
    case '\0':
      return *s == '\0';
    case '*': {
      int cross = p[1] == '*';
      size_t star = pi;
      if (is_failed(g, star, si)) return 0;
      while (*p == '*') p++;
      size_t rest = (size_t)(p - g->p);
      /* try every position the star may stop at; a later start that is
       * already known to fail means every later one fails too */
      for (size_t t = si;; t++) {
        if (t > si && is_failed(g, star, t)) break;
        if (match_at(g, rest, t)) return 1;
        if (!g->s[t] || (!cross && g->s[t] == '/')) break;
      }
      set_failed(g, star, si);
      return 0;
    }
    case '?':
      if (!*s || *s == '/') return 0;
      p++, s++;
      break;
    case '[': {
      if (!*s || *s == '/') return 0;
      const char *end;
      if (match_class(p + 1, *s, &end) != 1) return 0;
      p = end, s++;
      break;
    }
    case '{': {
      /* each alternative: from after `{` and after each of its own `,` */
      size_t close = (size_t)g->close[pi];
      for (size_t q = pi; q < close; q++)
        if ((q == pi || (g->p[q] == ',' && g->owner[q] == (int)pi)) && match_at(g, q + 1, si)) return 1;
      return 0;
    }
    case ',':
    case '}':
      if (g->owner[pi] >= 0) { /* the end of an alternative: go on after its group */
        p = g->p + g->close[g->owner[pi]] + 1;
        break;
      }
      if (*p != *s) return 0;
      p++, s++;
      break;
    case '\\':
      if (p[1]) p++;
      /* fall through */
    default:
      if (*p != *s) return 0;
      p++, s++;
    }
  }
}

static int match_at(glob *g, size_t pi, size_t si) {
  if (is_failed(g, pi, si)) return 0;
  if (step(g, pi, si)) return 1;
  set_failed(g, pi, si);
  return 0;
}

int lunar_glob_match(const char *pattern, const char *name, lunar_error *err) {
  glob g = {.p = pattern, .s = name, .np = strlen(pattern), .ns = strlen(name)};
  g.owner = malloc((g.np + 1) * sizeof *g.owner);
  g.close = malloc((g.np + 1) * sizeof *g.close);
  g.row = malloc((g.np + 1) * sizeof *g.row);
  int rc;
  if (!g.owner || !g.close || !g.row) {
    rc = lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  } else if (scan(&g) != 0) {
    rc = lunar_error_set(err, LUNAR_EINVAL, "pattern \"%s\" is malformed: a [ or { is not closed", pattern);
  } else {
    g.failed = calloc((g.rows * (g.ns + 1) + 7) / 8, 1);
    rc = g.failed ? match_at(&g, 0, 0) : lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  }
  free(g.failed);
  free(g.owner);
  free(g.close);
  free(g.row);
  return rc;
}
