#include "kube/client.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "kube/ratelimit.h"
#include "kube/retry.h"
#include "util/backoff.h"
#include "util/file.h"

#ifndef LUNAR_VERSION
#define LUNAR_VERSION "dev"
#endif

enum { CALL_QUEUED, CALL_BACKOFF, CALL_ACTIVE, CALL_FINISHING, CALL_CANCELLED };

struct lunar_kube_call {
  lunar_kube_client *c;
  int state;
  /* the request, copied */
  char *method, *url, *body, *ctype;
  size_t body_len;
  char *tstr[6];
  lunar_kube_target target;
  lunar_kube_line_fn on_line;
  void *line_ud;
  size_t line_max;
  long timeout_ms;
  lunar_kube_done_fn done;
  void *ud;
  /* the current attempt */
  CURL *easy;
  struct curl_slist *headers;
  char errbuf[CURL_ERROR_SIZE];
  int attempt;
  int token_retried;
  long retry_after_ms;
  int checked, streaming, stopped, too_big;
  char *buf; /* body, or the partial line of a stream */
  size_t len, cap;
  lunar_loop_timer *timer;
  lunar_error err; /* a failure found outside the transfer (reported by a 0 ms timer) */
  struct lunar_kube_call *prev, *next; /* all calls of the client */
  lunar_kube_waiter wait;              /* in the rate limit's queue */
};

struct lunar_kube_client {
  lunar_loop *loop;
  lunar_kube_config *cfg;
  lunar_kube_options opt;
  lunar_kube_retry_policy policy;
  lunar_kube_ratelimit limit;
  lunar_kube_call *calls;
  char *token; /* from cfg->token_file, as last read */
  struct stat token_st;
  unsigned rnd;
  long requests, retries;
  lunar_kube_observe_fn observe;
  void *observe_ud;
};

static void begin_attempt(lunar_kube_call *call);
static void start_queued(void *ud); /* the rate limit starts a queued call */

int lunar_kube_client_new(lunar_loop *loop, lunar_kube_config *cfg, const lunar_kube_options *opt,
                          lunar_kube_client **out, lunar_error *err) {
  *out = NULL;
  lunar_kube_client *c = calloc(1, sizeof *c);
  if (!c) {
    lunar_kube_config_free(cfg);
    return lunar_error_set(err, LUNAR_ENOMEM, "kubernetes client: out of memory");
  }
  c->loop = loop;
  c->cfg = cfg;
  if (opt) c->opt = *opt;
  if (c->opt.qps == 0) c->opt.qps = LUNAR_KUBE_QPS_DEFAULT;
  if (c->opt.burst <= 0) c->opt.burst = LUNAR_KUBE_BURST_DEFAULT;
  if (c->opt.timeout_ms <= 0) c->opt.timeout_ms = LUNAR_KUBE_TIMEOUT_DEFAULT_MS;
  if (c->opt.connect_timeout_ms <= 0) c->opt.connect_timeout_ms = LUNAR_KUBE_CONNECT_TIMEOUT_DEFAULT_MS;
  if (lunar_kube_retry_policy_init(&c->policy, c->opt.retry_limit, c->opt.retry_backoff_max_ms,
                                   c->opt.retry_limits, c->opt.nretry_limits)) {
    lunar_kube_retry_policy_free(&c->policy);
    free(c);
    lunar_kube_config_free(cfg);
    return lunar_error_set(err, LUNAR_ENOMEM, "kubernetes client: out of memory");
  }
  c->opt.retry_limits = NULL; /* borrowed: the policy holds the copy */
  c->opt.nretry_limits = 0;
  lunar_kube_ratelimit_init(&c->limit, loop, c->opt.qps, c->opt.burst, start_queued);
  c->rnd = lunar_backoff_seed(c);
  *out = c;
  return LUNAR_OK;
}

const lunar_kube_config *lunar_kube_client_config(const lunar_kube_client *c) { return c->cfg; }
lunar_loop *lunar_kube_client_loop(const lunar_kube_client *c) { return c->loop; }

void lunar_kube_client_observe(lunar_kube_client *c, lunar_kube_observe_fn fn, void *ud) {
  c->observe = fn;
  c->observe_ud = ud;
}

void lunar_kube_client_stats(const lunar_kube_client *c, long *requests, long *retries) {
  if (requests) *requests = c->requests;
  if (retries) *retries = c->retries;
}

static void end_transfer(lunar_kube_call *call) {
  if (call->easy) {
    lunar_loop_remove(call->c->loop, call->easy);
    curl_easy_cleanup(call->easy);
    call->easy = NULL;
  }
  curl_slist_free_all(call->headers);
  call->headers = NULL;
}

static void free_call(lunar_kube_call *call) {
  end_transfer(call);
  free(call->method);
  free(call->url);
  free(call->body);
  free(call->ctype);
  for (int i = 0; i < 6; i++) free(call->tstr[i]);
  free(call->buf);
  free(call);
}

/* Takes the call out of the client's lists and timers. */
static void detach(lunar_kube_call *call) {
  lunar_kube_client *c = call->c;
  if (call->prev) call->prev->next = call->next;
  else if (c->calls == call) c->calls = call->next;
  if (call->next) call->next->prev = call->prev;
  call->prev = call->next = NULL;
  lunar_kube_ratelimit_leave(&c->limit, &call->wait);
  lunar_loop_timer_stop(c->loop, call->timer);
  call->timer = NULL;
}

void lunar_kube_client_free(lunar_kube_client *c) {
  if (!c) return;
  while (c->calls) {
    lunar_kube_call *call = c->calls;
    detach(call);
    free_call(call);
  }
  lunar_kube_ratelimit_stop(&c->limit);
  lunar_kube_config_free(c->cfg);
  lunar_kube_retry_policy_free(&c->policy);
  free(c->token);
  free(c);
}

static void finish(lunar_kube_call *call, int rc, const lunar_error *err) {
  lunar_kube_response res = {0};
  json_t *body = NULL;
  if (call->easy) curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &res.status);
  if (!call->streaming && call->len > 0) body = json_loadb(call->buf, call->len, 0, NULL);
  res.body = body;
  res.attempts = call->attempt;
  res.stopped = call->stopped;
  res.dropped = call->streaming && rc != LUNAR_OK;
  end_transfer(call);
  detach(call);
  call->state = CALL_FINISHING;
  call->done(rc, &res, err, call->ud);
  json_decref(body);
  free_call(call);
}

static void finish_later_fire(lunar_loop *loop, void *ud) {
  (void)loop;
  lunar_kube_call *call = ud;
  call->timer = NULL;
  finish(call, call->err.code ? call->err.code : LUNAR_EIO, &call->err);
}

/* Reports a failure found outside a transfer on the next iteration, so that
 * done is never called from inside lunar_kube_submit. */
static void finish_later(lunar_kube_call *call) {
  call->state = CALL_BACKOFF;
  call->timer = lunar_loop_timer_start(call->c->loop, 0, finish_later_fire, call);
  if (!call->timer) finish(call, call->err.code, &call->err);
}

/* ---- rate limit (kube/ratelimit.h) ------------------------------------------ */

static void start_queued(void *ud) { begin_attempt(ud); }

/* Starts the next attempt now if the bucket has a token, else queues it. */
static void throttle(lunar_kube_call *call) {
  call->state = CALL_QUEUED;
  call->wait.ud = call;
  lunar_kube_ratelimit_enter(&call->c->limit, &call->wait);
}

/* ---- token ---------------------------------------------------------------- */

/* The bearer token for the next attempt (borrowed), re-reading the token file
 * when it changed (a projected service account token rotates). */
static const char *current_token(lunar_kube_client *c, lunar_error *err) {
  const char *file = c->cfg->token_file;
  if (!file) return c->cfg->token;
  struct stat st;
  int changed = stat(file, &st) != 0 || !c->token || st.st_ino != c->token_st.st_ino ||
                st.st_size != c->token_st.st_size ||
                st.st_mtim.tv_sec != c->token_st.st_mtim.tv_sec ||
                st.st_mtim.tv_nsec != c->token_st.st_mtim.tv_nsec;
  if (!changed) return c->token;
  char *tok = NULL;
  if (lunar_read_file(file, "bearer token file", &tok, NULL, err) != LUNAR_OK)
    return c->token ? c->token : NULL; /* keep the last good token */
  size_t n = strlen(tok);
  while (n && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' ')) tok[--n] = '\0';
  free(c->token);
  c->token = tok;
  c->token_st = st;
  return c->token;
}

/* ---- transfer callbacks ---------------------------------------------------- */

static int append(lunar_kube_call *call, const char *data, size_t n) {
  if (call->len + n + 1 > call->cap) {
    size_t cap = call->cap ? call->cap : 4096;
    while (call->len + n + 1 > cap) cap *= 2;
    char *nb = realloc(call->buf, cap);
    if (!nb) return -1;
    call->buf = nb;
    call->cap = cap;
  }
  memcpy(call->buf + call->len, data, n);
  call->len += n;
  call->buf[call->len] = '\0';
  return 0;
}

static int emit_line(lunar_kube_call *call) {
  /* an empty first line has no buffer yet: still a NUL-terminated string */
  int stop = call->on_line(call->buf ? call->buf : "", call->len, call->line_ud);
  call->len = 0;
  if (call->buf) call->buf[0] = '\0';
  if (stop) call->stopped = 1;
  return stop;
}

/* Splits data into lines; the buffer never holds more than one line. */
static int feed_lines(lunar_kube_call *call, const char *data, size_t n) {
  while (n) {
    const char *nl = memchr(data, '\n', n);
    size_t seg = nl ? (size_t)(nl - data) : n;
    while (seg) {
      size_t room = call->line_max - call->len, k = seg < room ? seg : room;
      if (append(call, data, k)) return -1;
      data += k, n -= k, seg -= k;
      if (call->len == call->line_max && emit_line(call)) return 1;
    }
    if (nl) {
      data++, n--;
      if (emit_line(call)) return 1;
    }
  }
  return 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud) {
  lunar_kube_call *call = ud;
  size_t n = size * nmemb;
  if (call->state != CALL_ACTIVE || call->stopped) return 0;
  if (!call->checked) {
    long status = 0;
    curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
    call->streaming = call->on_line && status / 100 == 2;
    call->checked = 1;
  }
  if (call->streaming) return feed_lines(call, data, n) == 0 ? n : 0;
  if (call->len + n > (size_t)LUNAR_KUBE_BODY_MAX) {
    call->too_big = 1;
    return 0;
  }
  return append(call, data, n) == 0 ? n : 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud) {
  lunar_kube_call *call = ud;
  size_t n = size * nmemb;
  if (n > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
    char v[128];
    size_t k = n - 12 < sizeof v - 1 ? n - 12 : sizeof v - 1;
    memcpy(v, data + 12, k);
    v[k] = '\0';
    call->retry_after_ms = lunar_kube_retry_after_ms(v, time(NULL));
  }
  return n;
}

static void retry_fire(lunar_loop *loop, void *ud) {
  (void)loop;
  lunar_kube_call *call = ud;
  call->timer = NULL;
  throttle(call);
}

static void schedule_retry(lunar_kube_call *call, long delay_ms) {
  lunar_kube_client *c = call->c;
  c->retries++;
  end_transfer(call);
  call->state = CALL_BACKOFF;
  call->timer = lunar_loop_timer_start(c->loop, delay_ms, retry_fire, call);
  if (!call->timer) {
    lunar_error_set(&call->err, LUNAR_ENOMEM, "kubernetes client: out of memory");
    finish(call, LUNAR_ENOMEM, &call->err);
  }
}

static long delay_for(lunar_kube_client *c, int attempt, long retry_after_ms) {
  return lunar_kube_retry_delay(&c->policy, attempt, retry_after_ms, lunar_backoff_next(&c->rnd));
}

static long next_delay(lunar_kube_call *call) {
  return delay_for(call->c, call->attempt, call->retry_after_ms);
}

int lunar_kube_client_retry_limit(const lunar_kube_client *c) { return c->policy.limit; }

long lunar_kube_client_backoff(lunar_kube_client *c, int attempt) {
  return delay_for(c, attempt, -1);
}

static void on_done(lunar_loop *loop, CURL *easy, CURLcode result, void *ud) {
  (void)loop;
  (void)easy;
  lunar_kube_call *call = ud;
  lunar_kube_client *c = call->c;
  lunar_error err = {0};
  long status = 0;
  curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
  if (c->observe) c->observe(&call->target, result == CURLE_OK || status ? status : 0, c->observe_ud);
  long timeout = call->on_line ? call->timeout_ms : c->opt.timeout_ms;

  if (call->streaming) {
    if (result == CURLE_OK && call->len > 0 && !call->stopped) emit_line(call);
    if (result == CURLE_OK || call->stopped) {
      finish(call, LUNAR_OK, NULL);
      return;
    }
    char what[512];
    lunar_kube_describe(&call->target, what, sizeof what);
    lunar_error_set(&err, LUNAR_EIO, "%s: the stream from %s broke off: %s", what,
                    c->cfg->server, call->errbuf[0] ? call->errbuf : curl_easy_strerror(result));
    finish(call, LUNAR_EIO, &err);
    return;
  }
  if (result != CURLE_OK) {
    if (call->too_big) {
      char what[512];
      lunar_kube_describe(&call->target, what, sizeof what);
      lunar_error_set(&err, LUNAR_EIO, "%s: the response is larger than %ld MiB", what,
                      LUNAR_KUBE_BODY_MAX >> 20);
      finish(call, LUNAR_EIO, &err);
    } else if (call->attempt < lunar_kube_retry_attempts(&c->policy, lunar_kube_retry_retryable(result, 0),
                                                         call->errbuf[0] ? call->errbuf : curl_easy_strerror(result))) {
      schedule_retry(call, next_delay(call));
    } else {
      int rc = lunar_kube_explain_transport(&err, &call->target, c->cfg, result, call->errbuf,
                                            timeout, call->attempt);
      finish(call, rc, &err);
    }
    return;
  }
  if (status / 100 == 2) {
    finish(call, LUNAR_OK, NULL);
    return;
  }
  if (status == 401 && c->cfg->token_file && !call->token_retried) {
    /* A rotated token: retry at once if the file now holds another one. */
    char *before = c->token ? strdup(c->token) : NULL;
    lunar_error terr;
    const char *now = current_token(c, &terr);
    int rotated = now && (!before || strcmp(before, now) != 0);
    free(before);
    if (rotated) {
      call->token_retried = 1;
      schedule_retry(call, 0);
      return;
    }
  }
  json_t *body = call->len ? json_loadb(call->buf, call->len, 0, NULL) : NULL;
  if (!body && call->len) {
    /* Not a Status (e.g. a proxy's or API Priority and Fairness' plain text). */
    size_t n = call->len > 500 ? 500 : call->len;
    while (n && (call->buf[n - 1] == '\n' || call->buf[n - 1] == '\r')) n--;
    body = json_pack("{s:s#}", "message", call->buf, (int)n);
  }
  const char *message = json_string_value(json_object_get(body, "message"));
  if (call->attempt < lunar_kube_retry_attempts(&c->policy, lunar_kube_retry_retryable(0, status), message)) {
    json_decref(body);
    schedule_retry(call, next_delay(call));
    return;
  }
  int rc = lunar_kube_explain_status(&err, &call->target, c->cfg, status, body, call->attempt);
  json_decref(body);
  finish(call, rc, &err);
}

/* ---- attempts ---------------------------------------------------------------- */

static void set_blob(CURL *easy, CURLoption opt, char *data, size_t len) {
  struct curl_blob blob = {data, len, CURL_BLOB_COPY};
  curl_easy_setopt(easy, opt, &blob);
}

static void begin_attempt(lunar_kube_call *call) {
  lunar_kube_client *c = call->c;
  const lunar_kube_config *cfg = c->cfg;
  lunar_error *err = &call->err;
  char hdr[8192];
  call->attempt++;
  call->checked = call->streaming = call->stopped = call->too_big = 0;
  call->len = 0;
  call->retry_after_ms = -1;
  call->errbuf[0] = '\0';
  const char *token = current_token(c, err);
  if (cfg->token_file && !token) {
    finish_later(call);
    return;
  }
  CURL *e = call->easy = curl_easy_init();
  if (!e) {
    lunar_error_set(err, LUNAR_ENOMEM, "kubernetes client: cannot create a transfer");
    finish_later(call);
    return;
  }
  curl_easy_setopt(e, CURLOPT_URL, call->url);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->opt.connect_timeout_ms);
  long timeout = call->on_line ? call->timeout_ms : c->opt.timeout_ms;
  if (timeout > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 15L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->errbuf);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "lunar/" LUNAR_VERSION);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  if (cfg->ca_data) {
    set_blob(e, CURLOPT_CAINFO_BLOB, cfg->ca_data, cfg->ca_len);
    curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
  } else if (cfg->ca_file) {
    curl_easy_setopt(e, CURLOPT_CAINFO, cfg->ca_file);
    curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
  }
  if (cfg->cert_data) set_blob(e, CURLOPT_SSLCERT_BLOB, cfg->cert_data, cfg->cert_len);
  else if (cfg->cert_file) curl_easy_setopt(e, CURLOPT_SSLCERT, cfg->cert_file);
  if (cfg->key_data) set_blob(e, CURLOPT_SSLKEY_BLOB, cfg->key_data, cfg->key_len);
  else if (cfg->key_file) curl_easy_setopt(e, CURLOPT_SSLKEY, cfg->key_file);
  if (cfg->insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (strcmp(call->method, "GET") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, call->method);
  if (call->body) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
    snprintf(hdr, sizeof hdr, "Content-Type: %s", call->ctype);
    call->headers = curl_slist_append(call->headers, hdr);
  }
  call->headers = curl_slist_append(call->headers, "Accept: application/json, */*");
  if (token && *token) {
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", token);
    call->headers = curl_slist_append(call->headers, hdr);
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->headers);
  call->state = CALL_ACTIVE;
  c->requests++;
  if (lunar_loop_add(c->loop, e, on_done, call, err) != LUNAR_OK) finish_later(call);
}

/* ---- public ---------------------------------------------------------------- */

int lunar_kube_submit(lunar_kube_client *c, const lunar_kube_request *req, lunar_kube_done_fn done,
                      void *ud, lunar_kube_call **out, lunar_error *err) {
  if (out) *out = NULL;
  lunar_kube_call *call = calloc(1, sizeof *call);
  if (!call) return lunar_error_set(err, LUNAR_ENOMEM, "kubernetes client: out of memory");
  call->c = c;
  call->done = done;
  call->ud = ud;
  call->on_line = req->on_line;
  call->line_ud = req->line_ud;
  call->line_max = req->line_max > 0 ? (size_t)req->line_max : (size_t)LUNAR_KUBE_LINE_MAX;
  call->timeout_ms = req->timeout_ms;
  call->method = strdup(req->method ? req->method : "GET");
  size_t ulen = strlen(c->cfg->server) + strlen(req->path) + 1;
  call->url = malloc(ulen);
  if (call->url) snprintf(call->url, ulen, "%s%s", c->cfg->server, req->path);
  call->ctype = strdup(req->content_type ? req->content_type : "application/json");
  const char *t[6] = {req->target.verb,      req->target.group,     req->target.resource,
                      req->target.subresource, req->target.namespace, req->target.name};
  for (int i = 0; i < 6; i++) call->tstr[i] = t[i] ? strdup(t[i]) : NULL;
  call->target = (lunar_kube_target){call->tstr[0], call->tstr[1], call->tstr[2],
                                     call->tstr[3], call->tstr[4], call->tstr[5]};
  if (req->body) {
    call->body = json_dumps(req->body, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!call->body) {
      free_call(call);
      return lunar_error_set(err, LUNAR_EINVAL, "kubernetes client: cannot serialize the body");
    }
    call->body_len = strlen(call->body);
  }
  if (!call->method || !call->url || !call->ctype) {
    free_call(call);
    return lunar_error_set(err, LUNAR_ENOMEM, "kubernetes client: out of memory");
  }
  call->next = c->calls;
  if (c->calls) c->calls->prev = call;
  c->calls = call;
  throttle(call);
  if (out) *out = call;
  return LUNAR_OK;
}

static void free_later(lunar_loop *loop, void *ud) {
  (void)loop;
  free_call(ud);
}

void lunar_kube_cancel(lunar_kube_call *call) {
  if (!call || call->state == CALL_FINISHING || call->state == CALL_CANCELLED) return;
  lunar_kube_client *c = call->c;
  detach(call);
  if (lunar_loop_busy(c->loop)) {
    /* libcurl may still call this transfer's callbacks in this round: they
     * see CALL_CANCELLED and stop; the memory goes on the next timer round. */
    call->state = CALL_CANCELLED;
    if (call->easy) lunar_loop_remove(c->loop, call->easy);
    if (lunar_loop_timer_start(c->loop, 0, free_later, call)) return;
  }
  free_call(call);
}
