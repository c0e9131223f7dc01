/* Standard base64 both ways (util/base64.h). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "util/base64.h"

static void test_decode(void) {
  char *out;
  size_t n;
  lunar_error err;
  CHECK_INT(lunar_base64_decode("aGVs\nbG8=", &out, &n, &err), LUNAR_OK);
  CHECK_STR(out, "hello");
  CHECK_INT(n, 5);
  free(out);
  CHECK_INT(lunar_base64_decode("a*b", &out, &n, &err), LUNAR_EINVAL);
  CHECK_INT(lunar_base64_decode("QQ==QQ", &out, &n, &err), LUNAR_EINVAL);
}

static void test_encode_round_trip(void) {
  const char *cases[] = {"", "h", "he", "hel", "hello", "user:p@ss\n"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t len = strlen(cases[i]);
    char enc[LUNAR_BASE64_ENCODED_SIZE(16)];
    size_t m = lunar_base64_encode(cases[i], len, enc);
    CHECK_INT(m, strlen(enc));
    CHECK_INT(m % 4, 0);
    char *dec;
    size_t n;
    CHECK_INT(lunar_base64_decode(enc, &dec, &n, NULL), LUNAR_OK);
    CHECK_INT(n, len);
    CHECK_STR(dec, cases[i]);
    free(dec);
  }
  char enc[16];
  lunar_base64_encode("hello", 5, enc);
  CHECK_STR(enc, "aGVsbG8=");
}

int main(void) {
  RUN(test_decode);
  RUN(test_encode_round_trip);
  return check_summary();
}
