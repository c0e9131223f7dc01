#include "util/quantity.h"

#include <stdio.h>
#include <string.h>

#define LIMIT ((__int128)1 << 100) /* refuse magnitudes that could overflow on the way */

static const struct {
  const char *name;
  int base; /* 2 or 10 */
  int exp;
} suffixes[] = {
    {"Ki", 2, 10}, {"Mi", 2, 20}, {"Gi", 2, 30}, {"Ti", 2, 40}, {"Pi", 2, 50}, {"Ei", 2, 60},
    {"n", 10, -9}, {"u", 10, -6}, {"m", 10, -3}, {"", 10, 0},   {"k", 10, 3},  {"M", 10, 6},
    {"G", 10, 9},  {"T", 10, 12}, {"P", 10, 15}, {"E", 10, 18},
};

static int invalid(lunar_error *err, const char *text, const char *why) {
  return lunar_error_set(err, LUNAR_EINVAL, "quantity \"%s\" is not valid: %s", text, why);
}

/* Parses a decimal exponent suffix "e3", "E-2". Returns 1 and sets *exp. */
static int exponent(const char *s, int *exp) {
  if (*s != 'e' && *s != 'E') return 0;
  s++;
  int sign = 1;
  if (*s == '+' || *s == '-') sign = *s++ == '-' ? -1 : 1;
  if (!*s) return 0;
  int v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > 1000) return 0;
    v = v * 10 + (*s - '0');
  }
  *exp = sign * v;
  return 1;
}

int lunar_quantity_parse(const char *text, lunar_quantity *out, lunar_error *err) {
  const char *p = text;
  int neg = 0;
  if (*p == '+' || *p == '-') neg = *p++ == '-';
  /* mantissa: digits with at most one '.', at least one digit */
  __int128 mant = 0;
  int frac_digits = 0, digits = 0, dot = 0, dropped_nonzero = 0;
  for (; (*p >= '0' && *p <= '9') || *p == '.'; p++) {
    if (*p == '.') {
      if (dot) return invalid(err, text, "more than one decimal point");
      dot = 1;
      continue;
    }
    digits++;
    if (mant > LIMIT / 10) { /* keep magnitude, remember lost precision */
      if (!dot) return invalid(err, text, "too large");
      if (*p != '0') dropped_nonzero = 1;
      continue;
    }
    mant = mant * 10 + (*p - '0');
    if (dot) frac_digits++;
  }
  if (!digits) return invalid(err, text, "expected a number such as \"500m\", \"2\" or \"1Gi\"");
  const char *suffix = p;
  int base = 10, exp = 0, found = 0;
  for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
    if (!strcmp(suffix, suffixes[i].name)) {
      base = suffixes[i].base, exp = suffixes[i].exp, found = 1;
      break;
    }
  }
  if (!found && exponent(suffix, &exp)) found = 1;
  if (!found) {
    char why[160];
    snprintf(why, sizeof why, "unknown suffix \"%.20s\" (use m, k, M, G, T, Ki, Mi, Gi, Ti, ... or e<exponent>)", suffix);
    return invalid(err, text, why);
  }
  /* value = mant * 10^-frac_digits * base^exp, in nanos, rounded up */
  __int128 v = mant;
  int dec = 9 - frac_digits; /* power of ten still to apply */
  if (base == 10) dec += exp;
  else {
    for (int i = 0; i < exp; i++) {
      if (v > LIMIT / 2) return invalid(err, text, "too large");
      v *= 2;
    }
  }
  for (; dec > 0; dec--) {
    if (v > LIMIT / 10) return invalid(err, text, "too large");
    v *= 10;
  }
  for (; dec < 0; dec++) {
    if (v % 10) dropped_nonzero = 1;
    v /= 10;
  }
  if (dropped_nonzero) v += 1; /* Kubernetes rounds up to the next nano */
  out->nanos = neg ? -v : v;
  return LUNAR_OK;
}

int lunar_quantity_cmp(const lunar_quantity *a, const lunar_quantity *b) {
  return a->nanos < b->nanos ? -1 : a->nanos > b->nanos ? 1 : 0;
}
