/* When and how long to wait before asking the API server again: the retry
 * policy (which failures are worth another attempt, exponential backoff with
 * jitter, Retry-After). The client-side rate limit is kube/ratelimit.h's.
 *
 * Pure functions of their inputs (time and randomness are parameters), so
 * they are unit-tested without a server or a clock. The backoff arithmetic
 * and the header parsing are util/backoff.h's, shared with the GitLab client;
 * this file holds the Kubernetes policy (what to retry, base and caps).
 */
#ifndef LUNAR_KUBE_RETRY_H
#define LUNAR_KUBE_RETRY_H

#include <time.h>

#define LUNAR_KUBE_RETRY_LIMIT_DEFAULT 5          /* attempts, counting the first */
#define LUNAR_KUBE_BACKOFF_BASE_MS 500L           /* first backoff */
#define LUNAR_KUBE_BACKOFF_MAX_DEFAULT_MS 2000L   /* retry_backoff_max default */
#define LUNAR_KUBE_RETRY_AFTER_MAX_MS 60000L      /* a longer Retry-After is cut to this */

/* One entry of GitLab Runner's retry_limits: an error whose message
 * contains `text` is retried, whatever its class, up to `attempts` attempts
 * (counting the first). */
typedef struct lunar_kube_retry_limit {
  const char *text;
  int attempts;
} lunar_kube_retry_limit;

typedef struct lunar_kube_retry_policy {
  int limit;          /* attempts, counting the first (GitLab Runner's retry_limit) */
  long backoff_max_ms; /* ceiling of the exponential backoff (retry_backoff_max) */
  lunar_kube_retry_limit *by_message; /* retry_limits, owned (texts included) */
  size_t nby_message;
} lunar_kube_retry_policy;

/* Fills the policy from the settings the way GitLab Runner reads them:
 * limit <= 0 becomes 5; backoff_max <= 0 becomes 2000 ms, below 500 ms 500 ms.
 * `by_message` (n entries, borrowed; may be NULL) is copied; entries with an
 * empty text are left out. Returns 0, or -1 when out of memory (the policy is
 * then usable, without the retry_limits). Free with lunar_kube_retry_policy_free. */
int lunar_kube_retry_policy_init(lunar_kube_retry_policy *p, int limit, long backoff_max_ms,
                                 const lunar_kube_retry_limit *by_message, size_t n);

/* Frees what init copied. NULL-safe. */
void lunar_kube_retry_policy_free(lunar_kube_retry_policy *p);

/* How many attempts (counting the first) a failure may take: the retry_limits
 * entry whose text the error message contains (the longest such text when
 * several do), else p->limit when the failure is `retryable`
 * (lunar_kube_retry_retryable), else 1. `message` may be NULL. */
int lunar_kube_retry_attempts(const lunar_kube_retry_policy *p, int retryable, const char *message);

/* Whether a failed attempt is worth another: connection failures (refused,
 * reset, timed out, dropped, HTTP/2 stream errors, TLS handshake hiccups) and
 * the HTTP statuses 429, 500, 502, 503 and 504. `curl_code` is a CURLcode
 * (0 when a response arrived), `status` the HTTP status (0 without response).
 * DNS failures, certificate errors and 4xx other than 429 are final. */
int lunar_kube_retry_retryable(int curl_code, long status);

/* Milliseconds to wait before attempt `attempt + 1` after attempt `attempt`
 * (1-based) failed: base 500 ms doubling per attempt up to backoff_max, with
 * "equal jitter" (a uniform value between half and all of it, from `rnd`).
 * A Retry-After (retry_after_ms >= 0) is honoured: the wait is at least that,
 * capped at LUNAR_KUBE_RETRY_AFTER_MAX_MS. */
long lunar_kube_retry_delay(const lunar_kube_retry_policy *p, int attempt, long retry_after_ms,
                            unsigned rnd);

/* Parses a Retry-After header value: delay-seconds ("3") or an HTTP date
 * ("Wed, 21 Oct 2015 07:28:00 GMT", relative to `now`). Returns milliseconds
 * (0 for a date in the past), or -1 when the value is missing or malformed. */
long lunar_kube_retry_after_ms(const char *value, time_t now);

#endif
