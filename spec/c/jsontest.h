/* Helpers for C tests on jansson documents: J() parses test JSON (aborting on
 * a typo in the test itself), S() prints a value as compact JSON with sorted
 * keys into a static ring of buffers, so that expectations are plain strings:
 *   CHECK_STR(S(out), "{\"a\":1}");
 */
#ifndef LUNAR_SPEC_JSONTEST_H
#define LUNAR_SPEC_JSONTEST_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

static json_t *J(const char *text) {
  json_error_t e;
  json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
  if (!v) {
    fprintf(stderr, "bad test JSON at %d:%d: %s\n  %s\n", e.line, e.column, e.text, text);
    abort();
  }
  return v;
}

/* Copies `text` into the next buffer of the ring (for error messages that
 * live on a callee's stack). */
static const char *keep(const char *text) {
  static char ring[8][8192];
  static int next;
  char *buf = ring[next++ % 8];
  snprintf(buf, sizeof ring[0], "%s", text);
  return buf;
}

static const char *S(const json_t *v) {
  if (!v) return "(null)";
  char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  const char *kept = keep(s ? s : "(dump failed)");
  free(s);
  return kept;
}

/* What a patch call gave, for CHECK_STR: the sorted compact result, or the
 * error message (after "error: " when `mark` is set). */
static const char *outcome(int rc, const json_t *out, const lunar_error *err, int mark) {
  if (!rc) return S(out);
  char msg[LUNAR_ERROR_MAX + 8];
  snprintf(msg, sizeof msg, "%s%s", mark ? "error: " : "", err->msg);
  return keep(msg);
}

/* The sorted compact form of test JSON, to compare with S(). */
static const char *N(const char *text) {
  json_t *v = J(text);
  const char *s = S(v);
  json_decref(v);
  return s;
}

#endif
