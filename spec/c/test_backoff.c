/* Shared backoff arithmetic and "come back at" headers (util/backoff.h). */
#include <curl/curl.h>

#include "check.h"
#include "util/backoff.h"

static void test_gitlab_shape_100ms_doubling_capped_at_60s(void) {
  /* attempt n waits between half and all of min(100 * 2^(n-1), 60000) */
  CHECK_INT(lunar_backoff_delay(100, 60000, 1, 0), 50);
  CHECK_INT(lunar_backoff_delay(100, 60000, 1, 50), 100);
  CHECK_INT(lunar_backoff_delay(100, 60000, 4, 400), 800);
  CHECK_INT(lunar_backoff_delay(100, 60000, 30, 0), 30000);
  CHECK_INT(lunar_backoff_delay(100, 60000, 30, 30000), 60000);
  unsigned st = lunar_backoff_seed(&st);
  int spread = 0;
  long first = lunar_backoff_delay(100, 60000, 5, lunar_backoff_next(&st));
  for (int k = 0; k < 200; k++) {
    long d = lunar_backoff_delay(100, 60000, 5, lunar_backoff_next(&st));
    CHECK(d >= 800 && d <= 1600);
    spread |= d != first;
  }
  CHECK(spread); /* jitter actually varies */
}

static void test_header_values(void) {
  CHECK_INT(lunar_backoff_header_ms("1", 0), 1000);
  CHECK_INT(lunar_backoff_header_ms("60", 0), 60000);
  CHECK_INT(lunar_backoff_header_ms("x", 0), -1);
  time_t at = curl_getdate("Wed, 02 Dec 2026 12:00:05 GMT", NULL);
  CHECK_INT(lunar_backoff_header_ms("Wed, 02 Dec 2026 12:00:05 GMT", at - 5), 5000);
  CHECK_INT(lunar_backoff_header_ms("Wed, 02 Dec 2026 12:00:05 GMT", at + 1), 0);
  CHECK_INT(lunar_backoff_header_ms("Wed, 02 Dec 2026 12:00:05 GMT", at - 999999), 86400000);
}

int main(void) {
  RUN(test_gitlab_shape_100ms_doubling_capped_at_60s);
  RUN(test_header_values);
  return check_summary();
}
