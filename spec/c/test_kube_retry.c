/* The retry policy and Retry-After parsing (kube/retry.h),
 * and RFC 3339 times of log lines (kube/logs.h). */
#include <curl/curl.h>

#include "check.h"
#include "kube/logs.h"
#include "kube/retry.h"

static void test_what_is_retried(void) {
  CHECK(lunar_kube_retry_retryable(CURLE_COULDNT_CONNECT, 0));
  CHECK(lunar_kube_retry_retryable(CURLE_OPERATION_TIMEDOUT, 0));
  CHECK(lunar_kube_retry_retryable(CURLE_RECV_ERROR, 0));
  CHECK(lunar_kube_retry_retryable(CURLE_HTTP2_STREAM, 0));
  CHECK(lunar_kube_retry_retryable(0, 429));
  CHECK(lunar_kube_retry_retryable(0, 500));
  CHECK(lunar_kube_retry_retryable(0, 503));
  CHECK(lunar_kube_retry_retryable(0, 504));
  /* final: wrong input, wrong credentials, untrusted certificates, DNS */
  CHECK(!lunar_kube_retry_retryable(0, 200));
  CHECK(!lunar_kube_retry_retryable(0, 400));
  CHECK(!lunar_kube_retry_retryable(0, 401));
  CHECK(!lunar_kube_retry_retryable(0, 403));
  CHECK(!lunar_kube_retry_retryable(0, 404));
  CHECK(!lunar_kube_retry_retryable(0, 409));
  CHECK(!lunar_kube_retry_retryable(0, 501));
  CHECK(!lunar_kube_retry_retryable(CURLE_PEER_FAILED_VERIFICATION, 0));
  CHECK(!lunar_kube_retry_retryable(CURLE_COULDNT_RESOLVE_HOST, 0));
}

static void test_policy_defaults_like_gitlab_runner(void) {
  lunar_kube_retry_policy p;
  lunar_kube_retry_policy_init(&p, 0, 0, NULL, 0);
  CHECK_INT(p.limit, 5);
  CHECK_INT(p.backoff_max_ms, 2000);
  lunar_kube_retry_policy_init(&p, -3, 100, NULL, 0);
  CHECK_INT(p.limit, 5);
  CHECK_INT(p.backoff_max_ms, 500);
  lunar_kube_retry_policy_init(&p, 2, 10000, NULL, 0);
  CHECK_INT(p.limit, 2);
  CHECK_INT(p.backoff_max_ms, 10000);
}

/* retry_limits: an error whose message holds a listed text is retried up to
 * that many attempts, whatever its class; the longest matching text wins. */
static void test_retry_limits_by_message(void) {
  lunar_kube_retry_limit by[] = {{"the object has been modified", 3},
                                 {"connection refused", 8},
                                 {"refused", 2},
                                 {"", 9}};
  lunar_kube_retry_policy p;
  CHECK_INT(lunar_kube_retry_policy_init(&p, 5, 0, by, 4), 0);
  CHECK_INT(p.nby_message, 3); /* the empty text is left out */
  CHECK_INT(lunar_kube_retry_attempts(&p, 0, "Operation cannot be fulfilled on pods \"p\": the object has been modified"), 3);
  CHECK_INT(lunar_kube_retry_attempts(&p, 1, "Failed to connect to x port 6443: connection refused"), 8);
  CHECK_INT(lunar_kube_retry_attempts(&p, 0, "admission webhook refused the pod"), 2);
  CHECK_INT(lunar_kube_retry_attempts(&p, 1, "Internal error occurred"), 5); /* retry_limit */
  CHECK_INT(lunar_kube_retry_attempts(&p, 0, "pods \"p\" not found"), 1);
  CHECK_INT(lunar_kube_retry_attempts(&p, 0, NULL), 1);
  lunar_kube_retry_policy_free(&p);
  lunar_kube_retry_policy_free(&p); /* idempotent */
}

static void test_backoff_doubles_with_jitter_up_to_the_max(void) {
  lunar_kube_retry_policy p;
  lunar_kube_retry_policy_init(&p, 5, 2000, NULL, 0);
  /* attempt n waits between half and all of min(500 * 2^(n-1), max) */
  CHECK_INT(lunar_kube_retry_delay(&p, 1, -1, 0), 250);
  CHECK_INT(lunar_kube_retry_delay(&p, 1, -1, 250), 500);
  CHECK_INT(lunar_kube_retry_delay(&p, 2, -1, 0), 500);
  CHECK_INT(lunar_kube_retry_delay(&p, 2, -1, 500), 1000);
  CHECK_INT(lunar_kube_retry_delay(&p, 3, -1, 1000), 2000);
  CHECK_INT(lunar_kube_retry_delay(&p, 9, -1, 0), 1000);
  CHECK_INT(lunar_kube_retry_delay(&p, 9, -1, 1000), 2000);
  for (unsigned r = 0; r < 5000; r += 7) {
    long d = lunar_kube_retry_delay(&p, 4, -1, r);
    CHECK(d >= 1000 && d <= 2000);
  }
}

static void test_retry_after_is_honoured_and_capped(void) {
  lunar_kube_retry_policy p;
  lunar_kube_retry_policy_init(&p, 5, 2000, NULL, 0);
  CHECK_INT(lunar_kube_retry_delay(&p, 1, 3000, 0), 3000);  /* longer than the backoff */
  CHECK_INT(lunar_kube_retry_delay(&p, 1, 0, 0), 250);      /* "0": the backoff still applies */
  CHECK_INT(lunar_kube_retry_delay(&p, 1, 3600000, 0), LUNAR_KUBE_RETRY_AFTER_MAX_MS);
  CHECK_INT(lunar_kube_retry_after_ms("3", 0), 3000);
  CHECK_INT(lunar_kube_retry_after_ms(" 1.5\r\n", 0), 1500);
  CHECK_INT(lunar_kube_retry_after_ms("0", 0), 0);
  CHECK_INT(lunar_kube_retry_after_ms("soon", 0), -1);
  CHECK_INT(lunar_kube_retry_after_ms("", 0), -1);
  CHECK_INT(lunar_kube_retry_after_ms(NULL, 0), -1);
  CHECK_INT(lunar_kube_retry_after_ms("-1", 0), -1);
  time_t at = curl_getdate("Wed, 21 Oct 2015 07:28:00 GMT", NULL);
  CHECK_INT(lunar_kube_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", at - 4), 4000);
  CHECK_INT(lunar_kube_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", at + 10), 0);
}

static void test_log_timestamps(void) {
  long long s;
  long ns;
  const char *t = "2024-05-01T10:00:00.123456789Z";
  CHECK_INT(lunar_kube_parse_time(t, strlen(t), &s, &ns), 0);
  CHECK_INT(s, 1714557600);
  CHECK_INT(ns, 123456789);
  t = "2024-05-01T10:00:00.5Z"; /* RFC3339Nano drops trailing zeros */
  CHECK_INT(lunar_kube_parse_time(t, strlen(t), &s, &ns), 0);
  CHECK_INT(ns, 500000000);
  t = "2024-05-01T12:00:00+02:00";
  CHECK_INT(lunar_kube_parse_time(t, strlen(t), &s, &ns), 0);
  CHECK_INT(s, 1714557600);
  CHECK_INT(ns, 0);
  t = "hello world, not a time";
  CHECK_INT(lunar_kube_parse_time(t, strlen(t), &s, &ns), -1);
  t = "2024-05-01T10:00:00";
  CHECK_INT(lunar_kube_parse_time(t, strlen(t), &s, &ns), -1);
}

int main(void) {
  RUN(test_what_is_retried);
  RUN(test_policy_defaults_like_gitlab_runner);
  RUN(test_retry_limits_by_message);
  RUN(test_backoff_doubles_with_jitter_up_to_the_max);
  RUN(test_retry_after_is_honoured_and_capped);
  RUN(test_log_timestamps);
  return check_summary();
}
