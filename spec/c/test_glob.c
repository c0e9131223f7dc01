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

int main(void) {
  RUN(test_star_stays_in_one_segment);
  RUN(test_double_star_crosses_segments);
  RUN(test_classes_alternatives_and_escapes);
  RUN(test_malformed_patterns_are_errors);
  return check_summary();
}
