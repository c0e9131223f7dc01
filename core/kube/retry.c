#include "kube/retry.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "util/backoff.h"

int lunar_kube_retry_policy_init(lunar_kube_retry_policy *p, int limit, long backoff_max_ms,
                                 const lunar_kube_retry_limit *by_message, size_t n) {
  p->limit = limit > 0 ? limit : LUNAR_KUBE_RETRY_LIMIT_DEFAULT;
  if (backoff_max_ms <= 0) backoff_max_ms = LUNAR_KUBE_BACKOFF_MAX_DEFAULT_MS;
  if (backoff_max_ms < LUNAR_KUBE_BACKOFF_BASE_MS) backoff_max_ms = LUNAR_KUBE_BACKOFF_BASE_MS;
  p->backoff_max_ms = backoff_max_ms;
  p->by_message = NULL;
  p->nby_message = 0;
  if (!by_message || n == 0) return 0;
  if (!(p->by_message = calloc(n, sizeof *p->by_message))) return -1;
  for (size_t i = 0; i < n; i++) {
    if (!by_message[i].text || !by_message[i].text[0]) continue;
    char *text = strdup(by_message[i].text);
    if (!text) return -1;
    p->by_message[p->nby_message].text = text;
    p->by_message[p->nby_message++].attempts = by_message[i].attempts;
  }
  return 0;
}

void lunar_kube_retry_policy_free(lunar_kube_retry_policy *p) {
  if (!p) return;
  for (size_t i = 0; i < p->nby_message; i++) free((char *)p->by_message[i].text);
  free(p->by_message);
  p->by_message = NULL;
  p->nby_message = 0;
}

int lunar_kube_retry_attempts(const lunar_kube_retry_policy *p, int retryable, const char *message) {
  const lunar_kube_retry_limit *best = NULL;
  for (size_t i = 0; message && i < p->nby_message; i++) {
    const lunar_kube_retry_limit *l = &p->by_message[i];
    if (strstr(message, l->text) && (!best || strlen(l->text) > strlen(best->text))) best = l;
  }
  if (best) return best->attempts > 0 ? best->attempts : 1;
  return retryable ? p->limit : 1;
}

int lunar_kube_retry_retryable(int curl_code, long status) {
  switch (curl_code) {
  case CURLE_OK:
    return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
  case CURLE_COULDNT_CONNECT:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_SSL_CONNECT_ERROR:
    return 1;
  default:
    return 0;
  }
}

long lunar_kube_retry_delay(const lunar_kube_retry_policy *p, int attempt, long retry_after_ms,
                            unsigned rnd) {
  long d = lunar_backoff_delay(LUNAR_KUBE_BACKOFF_BASE_MS, p->backoff_max_ms, attempt, rnd);
  if (retry_after_ms >= 0) {
    if (retry_after_ms > LUNAR_KUBE_RETRY_AFTER_MAX_MS) retry_after_ms = LUNAR_KUBE_RETRY_AFTER_MAX_MS;
    if (d < retry_after_ms) d = retry_after_ms;
  }
  return d;
}

long lunar_kube_retry_after_ms(const char *value, time_t now) {
  return lunar_backoff_header_ms(value, now);
}
