/* A minimal unit-test harness for the C tests in spec/c/.
 *
 *   #include "check.h"
 *   static void test_something(void) { CHECK(1 + 1 == 2); CHECK_STR(got, "want"); }
 *   int main(void) { RUN(test_something); return check_summary(); }
 *
 * Each failed check prints file:line and the expression; check_summary() prints
 * "N passed, N failed" and returns the exit status (0 when nothing failed).
 */
#ifndef LUNAR_SPEC_CHECK_H
#define LUNAR_SPEC_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed, check_failed, check_test_failed;

#define CHECK(expr)                                                          \
  do {                                                                       \
    if (expr) {                                                              \
      check_passed++;                                                        \
    } else {                                                                 \
      check_failed++;                                                        \
      check_test_failed = 1;                                                 \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
    }                                                                        \
  } while (0)

#define CHECK_STR(got, want)                                                 \
  do {                                                                       \
    const char *g_ = (got), *w_ = (want);                                    \
    if (g_ && w_ && strcmp(g_, w_) == 0) {                                   \
      check_passed++;                                                        \
    } else {                                                                 \
      check_failed++;                                                        \
      check_test_failed = 1;                                                 \
      fprintf(stderr, "%s:%d: %s\n  got:  %s\n  want: %s\n", __FILE__, __LINE__, \
              #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)");                 \
    }                                                                        \
  } while (0)

#define CHECK_INT(got, want)                                                 \
  do {                                                                       \
    long long g_ = (long long)(got), w_ = (long long)(want);                 \
    if (g_ == w_) {                                                          \
      check_passed++;                                                        \
    } else {                                                                 \
      check_failed++;                                                        \
      check_test_failed = 1;                                                 \
      fprintf(stderr, "%s:%d: %s = %lld, want %lld\n", __FILE__, __LINE__,   \
              #got, g_, w_);                                                 \
    }                                                                        \
  } while (0)

#define RUN(test)                                                            \
  do {                                                                       \
    check_test_failed = 0;                                                   \
    test();                                                                  \
    fprintf(stderr, "%s %s\n", check_test_failed ? "FAIL" : "ok  ", #test);  \
  } while (0)

static inline int check_summary(void) {
  printf("%d passed, %d failed\n", check_passed, check_failed);
  return check_failed ? 1 : 0;
}

#endif
