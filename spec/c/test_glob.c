/* Allow-list image patterns (doublestar semantics). */
#include "check.h"
#include "util/glob.h"

static int m(const char *p, const char *s) { return lunar_glob_match(p, s, NULL); }

static void test_star_stays_in_one_segment(void) {
  CHECK_INT(m("docker.io/library/*", "docker.io/library/alpine:3.20"), 1);
  CHECK_INT(m("docker.io/library/*", "docker.io/library/x/alpine"), 0);
  CHECK_INT(m("docker.io/library/*", "alpine"), 0); /* no normalisation */
  CHECK_INT(m("*", "alpine:3.20"), 1);
  CHECK_INT(m("*", "library/alpine"), 0);
  CHECK_INT(m("alpine:*", "alpine:"), 1);
}

static void test_double_star_crosses_segments(void) {
  CHECK_INT(m("registry.example.com/**", "registry.example.com/a/b/c:1"), 1);
  CHECK_INT(m("registry.example.com/**", "registry.example.org/a"), 0);
  CHECK_INT(m("**/ruby:*", "docker.io/library/ruby:3.3"), 1);
  CHECK_INT(m("**", "anything/at/all"), 1);
}

static void test_classes_alternatives_and_escapes(void) {
  CHECK_INT(m("alpine:3.?", "alpine:3.9"), 1);
  CHECK_INT(m("alpine:3.?", "alpine:3.19"), 0);
  CHECK_INT(m("alpine:3.1[0-9]", "alpine:3.19"), 1);
  CHECK_INT(m("alpine:3.1[!0-8]", "alpine:3.19"), 1);
  CHECK_INT(m("alpine:3.1[^0-9]", "alpine:3.19"), 0);
  CHECK_INT(m("{alpine,ubuntu}:*", "ubuntu:24.04"), 1);
  CHECK_INT(m("{alpine,ubuntu}:*", "debian:12"), 0);
  CHECK_INT(m("{a{b,c},d}x", "acx"), 1);
  CHECK_INT(m("img\\*", "img*"), 1);
  CHECK_INT(m("img\\*", "imgx"), 0);
  CHECK_INT(m("a?b", "a/b"), 0);
}

static void test_malformed_patterns_are_errors(void) {
  lunar_error err;
  CHECK_INT(lunar_glob_match("alpine:[0-9", "alpine:3", &err), LUNAR_EINVAL);
  CHECK_STR(err.msg, "pattern \"alpine:[0-9\" is malformed: a [ or { is not closed");
  CHECK_INT(lunar_glob_match("{a,b", "a", &err), LUNAR_EINVAL);
}

/* Many stars or groups against a long name that almost matches: each
 * (pattern position, name position) is tried once, so this answers at once
 * (plain backtracking took minutes: found by spec/fuzz/fuzz_glob.c). */
static void test_backtracking_stays_polynomial(void) {
  char name[200], groups[400] = "";
  memset(name, 'a', sizeof name - 1);
  name[sizeof name - 1] = '\0';
  CHECK_INT(m("*a*a*a*a*a*a*a*a*a*a*a*a*b", name), 0);
  CHECK_INT(m("**a**a**a**a**a**a**a**a**a**b", name), 0);
  for (int i = 0; i < 40; i++) strcat(groups, "{a,*,?}");
  strcat(groups, "b");
  CHECK_INT(m(groups, name), 0);
  CHECK_INT(m("*a*a*a*a*a*a*a*a*a*a*a*a*a", name), 1);
}

/* A star that ends an alternative and the star after the group stay two
 * single stars (they do not make a `**` that crosses segments). */
static void test_stars_do_not_merge_across_a_group(void) {
  CHECK_INT(m("{*}*", "a/b"), 0);
  CHECK_INT(m("{*}*", "ab"), 1);
}

int main(void) {
  RUN(test_star_stays_in_one_segment);
  RUN(test_double_star_crosses_segments);
  RUN(test_classes_alternatives_and_escapes);
  RUN(test_malformed_patterns_are_errors);
  RUN(test_backtracking_stays_polynomial);
  RUN(test_stars_do_not_merge_across_a_group);
  return check_summary();
}
