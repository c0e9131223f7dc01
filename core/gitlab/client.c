#include "gitlab/client.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "util/backoff.h"

#ifndef LUNAR_VERSION
#define LUNAR_VERSION "dev"
#endif

#if defined(__x86_64__)
#define ARCH "amd64"
#elif defined(__aarch64__)
#define ARCH "arm64"
#elif defined(__i386__)
#define ARCH "386"
#else
#define ARCH "unknown"
#endif

#define USER_AGENT "lunar " LUNAR_VERSION " (main; c; linux/" ARCH ")"

enum { CALL_WAIT, CALL_ACTIVE, CALL_FINISHING, CALL_CANCELLED };

struct lunar_gitlab_call {
  lunar_gitlab *g;
  int state;
  int is_request; /* jobs/request: long poll, JSON job on 201 */
  char *method, *path, *url, *body, *auth, *range;
  size_t body_len;
  const char *ctype;
  long timeout_ms;
  char request_id[33];
  lunar_gitlab_done_fn done;
  void *ud;
  /* the current attempt */
  CURL *easy;
  struct curl_slist *headers;
  char errbuf[CURL_ERROR_SIZE];
  int attempt, retried, too_big;
  long reset_ms, retry_after_ms; /* RateLimit-ResetTime, Retry-After; -1: absent */
  char *job_status, *last_update, *rctype;
  long interval_s, range_end;
  char *buf;
  size_t len, cap;
  lunar_loop_timer *timer;
  lunar_error err;
  struct lunar_gitlab_call *prev, *next;
};

struct lunar_gitlab {
  lunar_loop *loop;
  char *base; /* ".../api/v4" */
  char *token, *system_id, *ca_file, *last_update;
  json_t *info;
  lunar_gitlab_options opt;
  lunar_gitlab_call *calls;
  unsigned rnd;
  long requests, retries;
};

/* ---- the client ---------------------------------------------------------- */

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

int lunar_gitlab_new(lunar_loop *loop, const lunar_gitlab_options *opt, lunar_gitlab **out,
                     lunar_error *err) {
  *out = NULL;
  const char *url = opt ? opt->url : NULL;
  if (!url || (strncasecmp(url, "https://", 8) != 0 && strncasecmp(url, "http://", 7) != 0))
    return lunar_error_set(err, LUNAR_EINVAL,
                           "GitLab client: url %s%s%s is not an http:// or https:// URL",
                           url ? "\"" : "", url ? url : "(none)", url ? "\"" : "");
  if (!opt->token || !*opt->token)
    return lunar_error_set(err, LUNAR_EINVAL, "GitLab client for %s: no runner token", url);
  lunar_gitlab *g = calloc(1, sizeof *g);
  if (!g) return lunar_error_set(err, LUNAR_ENOMEM, "GitLab client: out of memory");
  g->loop = loop;
  g->opt = *opt;
  if (g->opt.retry_limit <= 0) g->opt.retry_limit = LUNAR_GITLAB_RETRY_LIMIT_DEFAULT;
  if (g->opt.timeout_ms <= 0) g->opt.timeout_ms = LUNAR_GITLAB_TIMEOUT_DEFAULT_MS;
  if (g->opt.request_timeout_ms <= 0) g->opt.request_timeout_ms = LUNAR_GITLAB_REQUEST_TIMEOUT_DEFAULT_MS;
  if (g->opt.backoff_base_ms <= 0) g->opt.backoff_base_ms = LUNAR_GITLAB_BACKOFF_BASE_MS;
  size_t n = strlen(url);
  while (n && url[n - 1] == '/') n--;
  if (n >= 3 && strncmp(url + n - 3, "/ci", 3) == 0) n -= 3;
  while (n && url[n - 1] == '/') n--;
  g->base = malloc(n + sizeof "/api/v4");
  if (g->base) {
    memcpy(g->base, url, n);
    memcpy(g->base + n, "/api/v4", sizeof "/api/v4");
  }
  g->token = strdup(opt->token);
  g->system_id = opt->system_id && *opt->system_id ? strdup(opt->system_id) : NULL;
  g->ca_file = dup_or_null(opt->ca_file);
  g->info = opt->info ? json_incref(opt->info) : NULL;
  g->opt.url = g->opt.token = g->opt.system_id = g->opt.ca_file = NULL;
  g->opt.info = NULL;
  g->rnd = lunar_backoff_seed(g);
  if (!g->base || !g->token || (opt->system_id && *opt->system_id && !g->system_id) ||
      (opt->ca_file && !g->ca_file)) {
    lunar_gitlab_free(g);
    return lunar_error_set(err, LUNAR_ENOMEM, "GitLab client: out of memory");
  }
  *out = g;
  return LUNAR_OK;
}

lunar_loop *lunar_gitlab_loop(const lunar_gitlab *g) { return g->loop; }
const char *lunar_gitlab_base_url(const lunar_gitlab *g) { return g->base; }
const char *lunar_gitlab_last_update(const lunar_gitlab *g) { return g->last_update; }

void lunar_gitlab_stats(const lunar_gitlab *g, long *requests, long *retries) {
  if (requests) *requests = g->requests;
  if (retries) *retries = g->retries;
}

int lunar_gitlab_retryable(int curl_code, long status) {
  switch (curl_code) {
  case CURLE_OK:
    return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
           status == 504 || status >= 512;
  /* a retry cannot fix these */
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT:
  case CURLE_NOT_BUILT_IN:
  case CURLE_OUT_OF_MEMORY:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_BAD_FUNCTION_ARGUMENT:
  case CURLE_FAILED_INIT:
  case CURLE_WRITE_ERROR:
  case CURLE_ABORTED_BY_CALLBACK:
    return 0;
  default:
    return 1;
  }
}

/* ---- calls ------------------------------------------------------------------ */

static void reset_response(lunar_gitlab_call *call) {
  free(call->job_status);
  free(call->last_update);
  free(call->rctype);
  call->job_status = call->last_update = call->rctype = NULL;
  call->interval_s = 0;
  call->range_end = -1;
  call->reset_ms = call->retry_after_ms = -1;
  call->len = 0;
  if (call->buf) call->buf[0] = '\0';
}

static void end_transfer(lunar_gitlab_call *call) {
  if (call->easy) {
    lunar_loop_remove(call->g->loop, call->easy);
    curl_easy_cleanup(call->easy);
    call->easy = NULL;
  }
  curl_slist_free_all(call->headers);
  call->headers = NULL;
}

static void free_call(lunar_gitlab_call *call) {
  end_transfer(call);
  reset_response(call);
  free(call->method);
  free(call->path);
  free(call->url);
  free(call->body);
  free(call->auth);
  free(call->range);
  free(call->buf);
  free(call);
}

static void detach(lunar_gitlab_call *call) {
  lunar_gitlab *g = call->g;
  if (call->prev) call->prev->next = call->next;
  else if (g->calls == call) g->calls = call->next;
  if (call->next) call->next->prev = call->prev;
  call->prev = call->next = NULL;
  lunar_loop_timer_stop(g->loop, call->timer);
  call->timer = NULL;
}

void lunar_gitlab_free(lunar_gitlab *g) {
  if (!g) return;
  while (g->calls) {
    lunar_gitlab_call *call = g->calls;
    detach(call);
    free_call(call);
  }
  free(g->base);
  free(g->token);
  free(g->system_id);
  free(g->ca_file);
  free(g->last_update);
  json_decref(g->info);
  free(g);
}

/* "application/json; charset=utf-8" is JSON; "text/html" is not. */
static int is_json_type(const char *ctype) {
  if (!ctype) return 0;
  while (*ctype == ' ') ctype++;
  size_t n = strcspn(ctype, "; \t");
  return n == 16 && strncasecmp(ctype, "application/json", 16) == 0;
}

/* The server's words for a message: its {"message": ...} or the start of
 * the body. */
static void server_said(const lunar_gitlab_call *call, json_t *body, char *out, size_t size) {
  out[0] = '\0';
  json_t *m = json_is_object(body) ? json_object_get(body, "message") : NULL;
  if (json_is_string(m)) {
    snprintf(out, size, ": %s", json_string_value(m));
  } else if (m) {
    char *s = json_dumps(m, JSON_COMPACT);
    if (s) snprintf(out, size, ": %s", s);
    free(s);
  } else if (call->len) {
    int n = call->len > 200 ? 200 : (int)call->len;
    while (n && (call->buf[n - 1] == '\n' || call->buf[n - 1] == '\r')) n--;
    snprintf(out, size, ": %.*s", n, call->buf);
  }
}

static void finish(lunar_gitlab_call *call, int rc, lunar_error *err) {
  lunar_gitlab *g = call->g;
  lunar_gitlab_response res = {0};
  lunar_error none = {0};
  if (!err) err = &none;
  if (call->easy && rc == LUNAR_OK) curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &res.status);
  json_t *body = NULL;
  if (rc == LUNAR_OK && call->len && is_json_type(call->rctype))
    body = json_loadb(call->buf, call->len, 0, NULL);
  if (rc == LUNAR_OK && call->is_request && res.status == 201 && !json_is_object(body)) {
    rc = lunar_error_set(err, LUNAR_EINVAL,
                         "GitLab POST /api/v4/jobs/request answered 201 with %s%s%s: the job "
                         "is dropped",
                         is_json_type(call->rctype) ? "a body that is not a JSON object"
                                                    : "Content-Type ",
                         is_json_type(call->rctype) ? "" : (call->rctype ? call->rctype : "(none)"),
                         is_json_type(call->rctype) ? "" : ", not application/json");
    json_decref(body);
    body = NULL;
  } else if (rc == LUNAR_OK && res.status / 100 != 2) {
    char said[300];
    server_said(call, body, said, sizeof said);
    lunar_error_set(err, LUNAR_OK, "GitLab %s %s answered %ld after %d attempt%s%s", call->method,
                    call->path, res.status, call->attempt, call->attempt == 1 ? "" : "s", said);
  }
  if (call->last_update && *call->last_update) {
    free(g->last_update);
    g->last_update = strdup(call->last_update);
  }
  res.attempts = call->attempt;
  res.retried = call->retried;
  res.job_status = call->job_status;
  res.update_interval_s = call->interval_s;
  res.range_end = call->range_end;
  res.last_update = call->last_update;
  res.body = body;
  res.text = call->buf ? call->buf : "";
  end_transfer(call);
  detach(call);
  call->state = CALL_FINISHING;
  call->done(rc, &res, err, call->ud);
  json_decref(body);
  free_call(call);
}

static void finish_later_fire(lunar_loop *loop, void *ud) {
  (void)loop;
  lunar_gitlab_call *call = ud;
  call->timer = NULL;
  finish(call, call->err.code ? call->err.code : LUNAR_EIO, &call->err);
}

/* Reports a failure found outside a transfer on the next iteration, so that
 * done is never called from inside a submitting function. */
static void finish_later(lunar_gitlab_call *call) {
  call->state = CALL_WAIT;
  call->timer = lunar_loop_timer_start(call->g->loop, 0, finish_later_fire, call);
  if (!call->timer) finish(call, call->err.code ? call->err.code : LUNAR_ENOMEM, &call->err);
}

/* ---- transfer callbacks ------------------------------------------------------- */

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud) {
  lunar_gitlab_call *call = ud;
  size_t n = size * nmemb;
  if (call->state != CALL_ACTIVE) return 0;
  if (call->len + n > (size_t)LUNAR_GITLAB_BODY_MAX) {
    call->too_big = 1;
    return 0;
  }
  if (call->len + n + 1 > call->cap) {
    size_t cap = call->cap ? call->cap : 1024;
    while (call->len + n + 1 > cap) cap *= 2;
    char *nb = realloc(call->buf, cap);
    if (!nb) return 0;
    call->buf = nb;
    call->cap = cap;
  }
  memcpy(call->buf + call->len, data, n);
  call->len += n;
  call->buf[call->len] = '\0';
  return n;
}

/* The value of header line `line` if it is `name` (case-insensitive),
 * trimmed, in `v`; NULL otherwise. */
static const char *header_value(const char *line, size_t n, const char *name, char *v, size_t vsize) {
  size_t k = strlen(name);
  if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':') return NULL;
  const char *s = line + k + 1, *e = line + n;
  while (s < e && (*s == ' ' || *s == '\t')) s++;
  while (e > s && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t')) e--;
  size_t m = (size_t)(e - s) < vsize - 1 ? (size_t)(e - s) : vsize - 1;
  memcpy(v, s, m);
  v[m] = '\0';
  return v;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud) {
  lunar_gitlab_call *call = ud;
  size_t n = size * nmemb;
  char v[1024];
  if (call->state != CALL_ACTIVE) return 0;
  if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
    reset_response(call); /* a new response (after a 100 Continue or a redirect) */
  } else if (header_value(data, n, "Job-Status", v, sizeof v)) {
    free(call->job_status);
    call->job_status = strdup(v);
  } else if (header_value(data, n, "X-GitLab-Last-Update", v, sizeof v)) {
    free(call->last_update);
    call->last_update = strdup(v);
  } else if (header_value(data, n, "Content-Type", v, sizeof v)) {
    free(call->rctype);
    call->rctype = strdup(v);
  } else if (header_value(data, n, "X-GitLab-Trace-Update-Interval", v, sizeof v)) {
    char *end;
    long s = strtol(v, &end, 10);
    if (end != v && !*end && s > 0) call->interval_s = s > LUNAR_GITLAB_INTERVAL_MAX_S ? LUNAR_GITLAB_INTERVAL_MAX_S : s;
  } else if (header_value(data, n, "Range", v, sizeof v)) {
    const char *dash = strchr(v, '-');
    char *end;
    long long e = dash ? strtoll(dash + 1, &end, 10) : -1;
    call->range_end = dash && end != dash + 1 && !*end && e >= 0 ? (long)e : -1;
  } else if (header_value(data, n, "Retry-After", v, sizeof v)) {
    call->retry_after_ms = lunar_backoff_header_ms(v, time(NULL));
  } else if (header_value(data, n, "RateLimit-ResetTime", v, sizeof v)) {
    call->reset_ms = lunar_backoff_header_ms(v, time(NULL));
  }
  return n;
}

static void begin_attempt(lunar_gitlab_call *call);

static void retry_fire(lunar_loop *loop, void *ud) {
  (void)loop;
  lunar_gitlab_call *call = ud;
  call->timer = NULL;
  begin_attempt(call);
}

/* The wait before the next attempt (§1.3): the server's, else backoff. */
static long next_wait(lunar_gitlab_call *call) {
  lunar_gitlab *g = call->g;
  long w = call->reset_ms >= 0 ? call->reset_ms : call->retry_after_ms;
  if (w >= 0) return w > LUNAR_GITLAB_WAIT_MAX_MS ? LUNAR_GITLAB_WAIT_MAX_MS : w;
  return lunar_backoff_delay(g->opt.backoff_base_ms, LUNAR_GITLAB_BACKOFF_MAX_MS, call->attempt,
                             lunar_backoff_next(&g->rnd));
}

static void on_done(lunar_loop *loop, CURL *easy, CURLcode result, void *ud) {
  (void)loop;
  (void)easy;
  lunar_gitlab_call *call = ud;
  lunar_gitlab *g = call->g;
  long status = 0;
  curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
  if (result != CURLE_OK) status = 0;
  if (call->too_big) {
    lunar_error_set(&call->err, LUNAR_EIO, "GitLab %s %s: the answer is larger than %ld MiB",
                    call->method, call->path, LUNAR_GITLAB_BODY_MAX >> 20);
    finish(call, LUNAR_EIO, &call->err);
    return;
  }
  if (lunar_gitlab_retryable(result, status) && call->attempt < g->opt.retry_limit) {
    long wait = next_wait(call);
    g->retries++;
    call->retried = 1;
    end_transfer(call);
    call->state = CALL_WAIT;
    call->timer = lunar_loop_timer_start(g->loop, wait, retry_fire, call);
    if (!call->timer) {
      lunar_error_set(&call->err, LUNAR_ENOMEM, "GitLab %s %s: out of memory", call->method, call->path);
      finish(call, LUNAR_ENOMEM, &call->err);
    }
    return;
  }
  if (result != CURLE_OK) {
    lunar_error_set(&call->err, LUNAR_EIO, "GitLab %s %s: no answer from %s after %d attempt%s: %s",
                    call->method, call->path, g->base, call->attempt, call->attempt == 1 ? "" : "s",
                    call->errbuf[0] ? call->errbuf : curl_easy_strerror(result));
    finish(call, LUNAR_EIO, &call->err);
    return;
  }
  finish(call, LUNAR_OK, &call->err);
}

/* ---- attempts ----------------------------------------------------------------- */

static int add_header(lunar_gitlab_call *call, const char *fmt, const char *value) {
  char line[4096];
  snprintf(line, sizeof line, fmt, value);
  struct curl_slist *l = curl_slist_append(call->headers, line);
  if (!l) return -1;
  call->headers = l;
  return 0;
}

static void begin_attempt(lunar_gitlab_call *call) {
  lunar_gitlab *g = call->g;
  call->attempt++;
  call->errbuf[0] = '\0';
  call->too_big = 0;
  reset_response(call);
  CURL *e = call->easy = curl_easy_init();
  int bad = !e;
  bad = bad || add_header(call, "X-Request-Id: %s", call->request_id);
  bad = bad || add_header(call, "Accept: %s", "application/json");
  bad = bad || add_header(call, "%s", call->auth);
  bad = bad || add_header(call, "Expect:%s", ""); /* no 100-continue round trip */
  if (call->body || strcmp(call->method, "PATCH") == 0)
    bad = bad || add_header(call, "Content-Type: %s", call->ctype);
  if (call->range) bad = bad || add_header(call, "Content-Range: %s", call->range);
  if (bad) {
    lunar_error_set(&call->err, LUNAR_ENOMEM, "GitLab %s %s: cannot create a transfer",
                    call->method, call->path);
    finish_later(call);
    return;
  }
  curl_easy_setopt(e, CURLOPT_URL, call->url);
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, call->method);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->body ? call->body : "");
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->headers);
  curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, LUNAR_GITLAB_CONNECT_TIMEOUT_MS);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, call->timeout_ms);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  if (g->ca_file) {
    curl_easy_setopt(e, CURLOPT_CAINFO, g->ca_file);
    curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
  }
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->errbuf);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
  call->state = CALL_ACTIVE;
  g->requests++;
  if (lunar_loop_add(g->loop, e, on_done, call, &call->err) != LUNAR_OK) finish_later(call);
}

static void new_request_id(lunar_gitlab *g, char out[33]) {
  unsigned char r[16];
  if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
    for (size_t k = 0; k < sizeof r; k++) r[k] = (unsigned char)lunar_backoff_next(&g->rnd);
  static const char hex[] = "0123456789abcdef";
  for (size_t k = 0; k < sizeof r; k++) {
    out[2 * k] = hex[r[k] >> 4];
    out[2 * k + 1] = hex[r[k] & 15];
  }
  out[32] = '\0';
}

/* Takes `body` (may be NULL). */
static int submit(lunar_gitlab *g, const char *method, const char *path, const char *auth_name,
                  const char *auth_value, char *body, size_t body_len, const char *ctype,
                  const char *range, int is_request, lunar_gitlab_done_fn done, void *ud,
                  lunar_gitlab_call **out, lunar_error *err) {
  if (out) *out = NULL;
  lunar_gitlab_call *call = calloc(1, sizeof *call);
  if (!call) {
    free(body);
    return lunar_error_set(err, LUNAR_ENOMEM, "GitLab %s %s: out of memory", method, path);
  }
  call->g = g;
  call->is_request = is_request;
  call->done = done;
  call->ud = ud;
  call->body = body;
  call->body_len = body_len;
  call->ctype = ctype;
  call->range_end = -1;
  call->reset_ms = call->retry_after_ms = -1;
  call->timeout_ms = is_request ? g->opt.request_timeout_ms : g->opt.timeout_ms;
  call->method = strdup(method);
  size_t plen = strlen("/api/v4") + strlen(path) + 1;
  call->path = malloc(plen);
  if (call->path) snprintf(call->path, plen, "/api/v4%s", path);
  size_t ulen = strlen(g->base) + strlen(path) + 1;
  call->url = malloc(ulen);
  if (call->url) snprintf(call->url, ulen, "%s%s", g->base, path);
  size_t alen = strlen(auth_name) + strlen(auth_value) + 3;
  call->auth = malloc(alen);
  if (call->auth) snprintf(call->auth, alen, "%s: %s", auth_name, auth_value);
  call->range = dup_or_null(range);
  new_request_id(g, call->request_id);
  if (!call->method || !call->path || !call->url || !call->auth || (range && !call->range)) {
    free_call(call);
    return lunar_error_set(err, LUNAR_ENOMEM, "GitLab %s %s: out of memory", method, path);
  }
  call->next = g->calls;
  if (g->calls) g->calls->prev = call;
  g->calls = call;
  begin_attempt(call);
  if (out) *out = call;
  return LUNAR_OK;
}

/* Serializes a JSON body (takes `o`). */
static int dump(json_t *o, const char *what, char **body, size_t *len, lunar_error *err) {
  *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  if (!*body) return lunar_error_set(err, LUNAR_ENOMEM, "GitLab %s: cannot build the body", what);
  *len = strlen(*body);
  return LUNAR_OK;
}

static json_t *runner_body(lunar_gitlab *g) {
  json_t *o = json_object();
  if (!o) return NULL;
  if (g->info) json_object_set(o, "info", g->info);
  json_object_set_new(o, "token", json_string(g->token));
  if (g->system_id) json_object_set_new(o, "system_id", json_string(g->system_id));
  return o;
}

/* ---- public calls ---------------------------------------------------------------- */

int lunar_gitlab_verify(lunar_gitlab *g, lunar_gitlab_done_fn done, void *ud,
                        lunar_gitlab_call **out, lunar_error *err) {
  char *body;
  size_t len;
  int rc = dump(runner_body(g), "POST /api/v4/runners/verify", &body, &len, err);
  if (rc != LUNAR_OK) return rc;
  return submit(g, "POST", "/runners/verify", "RUNNER-TOKEN", g->token, body, len,
                "application/json", NULL, 0, done, ud, out, err);
}

int lunar_gitlab_request_job(lunar_gitlab *g, lunar_gitlab_done_fn done, void *ud,
                             lunar_gitlab_call **out, lunar_error *err) {
  json_t *o = runner_body(g);
  if (o && g->last_update) json_object_set_new(o, "last_update", json_string(g->last_update));
  char *body;
  size_t len;
  int rc = dump(o, "POST /api/v4/jobs/request", &body, &len, err);
  if (rc != LUNAR_OK) return rc;
  return submit(g, "POST", "/jobs/request", "RUNNER-TOKEN", g->token, body, len,
                "application/json", NULL, 1, done, ud, out, err);
}

int lunar_gitlab_update_job(lunar_gitlab *g, long long job_id, const char *job_token,
                            const json_t *update, lunar_gitlab_done_fn done, void *ud,
                            lunar_gitlab_call **out, lunar_error *err) {
  char path[64];
  snprintf(path, sizeof path, "/jobs/%lld", job_id);
  if (!job_token || (update && !json_is_object(update)))
    return lunar_error_set(err, LUNAR_EINVAL, "GitLab PUT /api/v4%s: %s", path,
                           job_token ? "the update is not a JSON object" : "no job token");
  json_t *o = update ? json_copy((json_t *)update) : json_object();
  if (o) {
    if (g->info) json_object_set(o, "info", g->info);
    json_object_set_new(o, "token", json_string(job_token));
  }
  char *body;
  size_t len;
  int rc = dump(o, "PUT /api/v4/jobs/:id", &body, &len, err);
  if (rc != LUNAR_OK) return rc;
  return submit(g, "PUT", path, "JOB-TOKEN", job_token, body, len, "application/json", NULL, 0,
                done, ud, out, err);
}

int lunar_gitlab_patch_trace(lunar_gitlab *g, long long job_id, const char *job_token,
                             size_t start, const char *data, size_t len, int debug_trace,
                             lunar_gitlab_done_fn done, void *ud, lunar_gitlab_call **out,
                             lunar_error *err) {
  char path[96], range[64];
  snprintf(path, sizeof path, "/jobs/%lld/trace?debug_trace=%s", job_id,
           debug_trace ? "true" : "false");
  if (!job_token) return lunar_error_set(err, LUNAR_EINVAL, "GitLab PATCH /api/v4%s: no job token", path);
  snprintf(range, sizeof range, "%zu-%zu", start, len ? start + len - 1 : start);
  char *body = NULL;
  if (len) {
    body = malloc(len);
    if (!body) return lunar_error_set(err, LUNAR_ENOMEM, "GitLab PATCH /api/v4%s: out of memory", path);
    memcpy(body, data, len);
  }
  return submit(g, "PATCH", path, "JOB-TOKEN", job_token, body, len, "text/plain", range, 0, done,
                ud, out, err);
}

static void free_later(lunar_loop *loop, void *ud) {
  (void)loop;
  free_call(ud);
}

void lunar_gitlab_cancel(lunar_gitlab_call *call) {
  if (!call || call->state == CALL_FINISHING || call->state == CALL_CANCELLED) return;
  lunar_gitlab *g = call->g;
  detach(call);
  if (lunar_loop_busy(g->loop)) {
    /* libcurl may still call this transfer's callbacks in this round: they
     * see CALL_CANCELLED and stop; the memory goes on the next timer round. */
    call->state = CALL_CANCELLED;
    if (call->easy) lunar_loop_remove(g->loop, call->easy);
    if (lunar_loop_timer_start(g->loop, 0, free_later, call)) return;
  }
  free_call(call);
}
