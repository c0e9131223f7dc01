/* Label value sanitising, RFC 1123 names, DNS-1123 checks, PCRE2 gates. */
#include "check.h"
#include "util/names.h"
#include "util/regex.h"

static void test_label_values_are_sanitised_like_upstream(void) {
  char out[LUNAR_NAMES_LABEL_MAX + 1];
  lunar_names_label_value("acme/payments api", out);
  CHECK_STR(out, "acme_payments_api");
  lunar_names_label_value("--_.v1.2_-", out);
  CHECK_STR(out, "v1.2");
  lunar_names_label_value("héllo", out);
  CHECK_STR(out, "h__llo");
  /* cut to 63, then trimmed again */
  lunar_names_label_value("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbb", out);
  CHECK_STR(out, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  lunar_names_label_value("", out);
  CHECK_STR(out, "");
}

static void test_rfc1123_names(void) {
  char out[64];
  lunar_names_rfc1123("runner-AbC_12-project-7-concurrent-0", out, 54);
  CHECK_STR(out, "runner-abc-12-project-7-concurrent-0");
  lunar_names_rfc1123("--x--", out, 63);
  CHECK_STR(out, "x");
  lunar_names_rfc1123("abcdefghij-", out, 11);
  CHECK_STR(out, "abcdefghij");
}

static void test_dns_checks_say_why(void) {
  CHECK(lunar_names_dns_label_problem("postgres") == NULL);
  CHECK(lunar_names_dns_label_problem("db-1") == NULL);
  CHECK_STR(lunar_names_dns_label_problem("Postgres"), "must consist of lower case alphanumeric characters or '-'");
  CHECK_STR(lunar_names_dns_label_problem("-db"), "must start and end with an alphanumeric character");
  CHECK_STR(lunar_names_dns_label_problem(""), "must not be empty");
  CHECK(lunar_names_dns_subdomain_problem("registry.example.com") == NULL);
  CHECK_STR(lunar_names_dns_subdomain_problem("registry..com"), "must not be empty");
  CHECK(lunar_names_dns_label_problem("registry.example.com") != NULL);
}

static void test_regex_gates_match_anywhere(void) {
  lunar_error err;
  CHECK_INT(lunar_regex_match("ci-.*", "prod-ci-x", &err), 1); /* not anchored, as upstream */
  CHECK_INT(lunar_regex_match("^ci-.*$", "prod-ci-x", &err), 0);
  CHECK_INT(lunar_regex_match("^ci-\\d+$", "ci-42", &err), 1);
  CHECK_INT(lunar_regex_match("(?i)^CI$", "ci", &err), 1);
  CHECK_INT(lunar_regex_match("ci-(", "ci-", &err), LUNAR_EINVAL);
  CHECK_STR(err.msg, "regular expression \"ci-(\" is not valid at offset 4: missing closing parenthesis");
}

int main(void) {
  RUN(test_label_values_are_sanitised_like_upstream);
  RUN(test_rfc1123_names);
  RUN(test_dns_checks_say_why);
  RUN(test_regex_gates_match_anywhere);
  return check_summary();
}
