/* Kubernetes quantity parsing and comparison. */
#include "check.h"
#include "util/quantity.h"

static int cmp(const char *a, const char *b) {
  lunar_quantity qa, qb;
  if (lunar_quantity_parse(a, &qa, NULL) || lunar_quantity_parse(b, &qb, NULL)) return 99;
  return lunar_quantity_cmp(&qa, &qb);
}

static __int128 nanos(const char *s) {
  lunar_quantity q;
  if (lunar_quantity_parse(s, &q, NULL)) return -12345;
  return q.nanos;
}

static void test_units_are_normalised(void) {
  CHECK_INT(cmp("1", "500m"), 1);
  CHECK_INT(cmp("1Gi", "1000Mi"), 1);
  CHECK_INT(cmp("1000m", "1"), 0);
  CHECK_INT(cmp("1k", "1000"), 0);
  CHECK_INT(cmp("1Ki", "1k"), 1);
  CHECK_INT(cmp("2e3", "2k"), 0);
  CHECK_INT(cmp("1E-3", "1m"), 0);
  CHECK_INT(cmp("0.5", "500m"), 0);
  CHECK_INT(cmp(".5Gi", "512Mi"), 0);
  CHECK_INT(cmp("128974848", "129M"), -1);
  CHECK_INT(cmp("-1", "0"), -1);
  CHECK_INT(cmp("+2", "2"), 0);
  CHECK_INT(cmp("1Ei", "1E"), 1);
}

static void test_exact_values_round_up_to_nanos(void) {
  CHECK(nanos("1") == (__int128)1000000000);
  CHECK(nanos("1n") == 1);
  CHECK(nanos("0.1n") == 1);  /* rounded up, as Kubernetes does */
  CHECK(nanos("1.5u") == 1500);
  CHECK(nanos("1Mi") == (__int128)1048576 * 1000000000);
}

static void test_invalid_quantities_say_why(void) {
  lunar_quantity q;
  lunar_error err;
  CHECK_INT(lunar_quantity_parse("1.5x", &q, &err), LUNAR_EINVAL);
  CHECK_STR(err.msg, "quantity \"1.5x\" is not valid: unknown suffix \"x\" (use m, k, M, G, T, Ki, Mi, Gi, Ti, ... or e<exponent>)");
  CHECK_INT(lunar_quantity_parse("Gi", &q, &err), LUNAR_EINVAL);
  CHECK_STR(err.msg, "quantity \"Gi\" is not valid: expected a number such as \"500m\", \"2\" or \"1Gi\"");
  CHECK_INT(lunar_quantity_parse("1.2.3", &q, &err), LUNAR_EINVAL);
  CHECK_INT(lunar_quantity_parse("1 Gi", &q, &err), LUNAR_EINVAL);
  CHECK_INT(lunar_quantity_parse("1gi", &q, &err), LUNAR_EINVAL);
  CHECK_INT(lunar_quantity_parse("", &q, &err), LUNAR_EINVAL);
  CHECK_INT(lunar_quantity_parse("1e999", &q, &err), LUNAR_EINVAL);
  CHECK_STR(err.msg, "quantity \"1e999\" is not valid: too large");
  CHECK_INT(lunar_quantity_parse("99999999999999999999999999999999999999999", &q, &err), LUNAR_EINVAL);
}

int main(void) {
  RUN(test_units_are_normalised);
  RUN(test_exact_values_round_up_to_nanos);
  RUN(test_invalid_quantities_say_why);
  return check_summary();
}
