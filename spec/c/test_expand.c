/* GitLab's variable expansion (Go os.Expand semantics). */
#include <stdlib.h>

#include "check.h"
#include "util/expand.h"

static const char *lookup(void *ctx, const char *name, size_t len) {
  (void)ctx;
  static const char *vars[][2] = {{"A", "a"}, {"LONG_NAME1", "long"}, {"B", "$A"}, {"-", "dash"}, {"x y", "spaced"}};
  for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
    if (strlen(vars[i][0]) == len && !strncmp(vars[i][0], name, len)) return vars[i][1];
  return NULL;
}

static char *ex(const char *s) {
  char *out = NULL;
  lunar_expand(s, lookup, NULL, &out, NULL);
  return out;
}

#define EXPANDS(in, want)  \
  do {                     \
    char *o_ = ex(in);     \
    CHECK_STR(o_, want);   \
    free(o_);              \
  } while (0)

static void test_names_and_braces(void) {
  EXPANDS("$A/${A}/$LONG_NAME1.x", "a/a/long.x");
  EXPANDS("${x y}", "spaced");
  EXPANDS("$UNDEFINED-x", "-x");
  EXPANDS("no variables", "no variables");
  EXPANDS("", "");
}

static void test_dollar_rules(void) {
  EXPANDS("cost: $$5", "cost: $5");
  EXPANDS("a $ b", "a $ b");
  EXPANDS("end $", "end $");
  EXPANDS("$/path", "$/path");
  EXPANDS("x${}y", "xy");
  EXPANDS("x${A", "xA");
  EXPANDS("$1$*$?", "");
  EXPANDS("$-", "dash");
  EXPANDS("${-}", "dash");
}

static void test_not_recursive(void) {
  EXPANDS("$B", "$A");
}

int main(void) {
  RUN(test_names_and_braces);
  RUN(test_dollar_rules);
  RUN(test_not_recursive);
  return check_summary();
}
