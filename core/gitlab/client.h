/* The GitLab runner API client (../shared/reference/gitlab-runner-api.md):
 * requests as transfers on the event loop, nothing blocks.
 *
 * The client adds what every call needs (§1): the base URL (`url` without
 * trailing '/' and '/ci'), User-Agent "lunar VERSION (main; c; linux/ARCH)",
 * X-Request-Id (one per call, the same on its retries), Accept, the
 * RUNNER-TOKEN or JOB-TOKEN header, TLS 1.2 or later (a CA file, or the
 * system's), HTTP/2 where GitLab offers it, and retries: 408, 429, 500, 502,
 * 503, 504 and >= 512 and transport errors (other than a bad URL or a
 * certificate GitLab's CA does not vouch for) are tried again, at most 5
 * attempts, waiting for RateLimit-ResetTime, else Retry-After, else 100 ms
 * doubling with jitter (capped at 60 s). A server's wait is honoured up to
 * LUNAR_GITLAB_WAIT_MAX_MS. jobs/request may be held by a long poll: its
 * attempt timeout is long (10 min) and a slow 204 is not an error.
 *
 * Every response is summarised for the caller: status, Job-Status,
 * X-GitLab-Trace-Update-Interval, Range (PATCH trace), X-GitLab-Last-Update.
 * Callbacks run on the loop (loop/loop.h): they may submit and cancel, and
 * must not run the loop.
 */
#ifndef LUNAR_GITLAB_CLIENT_H
#define LUNAR_GITLAB_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#include "loop/loop.h"
#include "util/error.h"

#define LUNAR_GITLAB_RETRY_LIMIT_DEFAULT 5
#define LUNAR_GITLAB_TIMEOUT_DEFAULT_MS 60000L          /* one attempt, other calls */
#define LUNAR_GITLAB_REQUEST_TIMEOUT_DEFAULT_MS 600000L /* one attempt of jobs/request */
#define LUNAR_GITLAB_CONNECT_TIMEOUT_MS 30000L
#define LUNAR_GITLAB_BACKOFF_BASE_MS 100L
#define LUNAR_GITLAB_BACKOFF_MAX_MS 60000L
#define LUNAR_GITLAB_WAIT_MAX_MS 600000L                /* longest Retry-After honoured */
#define LUNAR_GITLAB_INTERVAL_MAX_S 900L                /* update interval cap (15 min) */
#define LUNAR_GITLAB_BODY_MAX (64L << 20)               /* largest response body kept */

typedef struct lunar_gitlab lunar_gitlab;
typedef struct lunar_gitlab_call lunar_gitlab_call;

typedef struct lunar_gitlab_options {
  const char *url;          /* GitLab's URL, e.g. https://gitlab.example.com (copied) */
  const char *token;        /* the runner authentication token (copied) */
  const char *system_id;    /* s_/r_ + 12 characters (copied); NULL: none sent */
  const char *ca_file;      /* PEM CA bundle (copied); NULL: the system's */
  json_t *info;             /* the `info` object of §3.2 (a reference is taken); NULL: none */
  int retry_limit;          /* attempts of one call; 0: 5 */
  long timeout_ms;          /* one attempt of a call other than jobs/request; 0: 60 s */
  long request_timeout_ms;  /* one attempt of jobs/request (long poll); 0: 10 min */
  long backoff_base_ms;     /* first backoff; 0: 100 ms (tests make it shorter) */
} lunar_gitlab_options;

typedef struct lunar_gitlab_response {
  long status;            /* HTTP status of the last attempt; 0: no response */
  int attempts;
  int retried;            /* a retryable answer made the client try again (adaptive concurrency) */
  const char *job_status; /* Job-Status header, or NULL */
  long update_interval_s; /* X-GitLab-Trace-Update-Interval > 0, capped at 900; 0: absent */
  long range_end;         /* the number after '-' in Range (PATCH trace); -1: absent or unparsable */
  const char *last_update;/* X-GitLab-Last-Update, or NULL */
  json_t *body;           /* parsed JSON body when the media type is application/json, or NULL */
  const char *text;       /* the raw body (NUL-terminated, may be ""), for messages */
} lunar_gitlab_response;

/* Called once when a call is finished (after retries), with everything
 * borrowed for the call (take a json_incref of res->body to keep it).
 *   rc LUNAR_OK: an HTTP response came, whatever its status: the caller
 *     decides. err is then empty for a 2xx and otherwise says what the
 *     server answered ("GitLab PUT /api/v4/jobs/7 answered 500 after 5
 *     attempts: ..."), ready to log.
 *   rc LUNAR_EIO: no response (err says why: DNS, refused, TLS, timeout).
 *   rc LUNAR_EINVAL: jobs/request answered 201 but the job is unusable:
 *     Content-Type not application/json, or a body that is not a JSON
 *     object (§1.2: the job is dropped); res->body is NULL.
 * res and err are never NULL. */
typedef void (*lunar_gitlab_done_fn)(int rc, const lunar_gitlab_response *res,
                                     const lunar_error *err, void *ud);

/* *out belongs to the caller. `loop` is borrowed and must outlive it.
 * Errors: LUNAR_EINVAL (a URL that is not http(s), no token), LUNAR_ENOMEM. */
int lunar_gitlab_new(lunar_loop *loop, const lunar_gitlab_options *opt, lunar_gitlab **out,
                     lunar_error *err);
/* Cancels every pending call without calling back, then frees. NULL-safe. */
void lunar_gitlab_free(lunar_gitlab *g);

lunar_loop *lunar_gitlab_loop(const lunar_gitlab *g);       /* borrowed */
const char *lunar_gitlab_base_url(const lunar_gitlab *g);   /* ".../api/v4", borrowed */
const char *lunar_gitlab_last_update(const lunar_gitlab *g); /* borrowed, or NULL */

/* Requests sent so far (attempts) and retries among them. */
void lunar_gitlab_stats(const lunar_gitlab *g, long *requests, long *retries);

/* Every submitting function below: `done` is always called later (never from
 * inside the call itself) unless the call is cancelled. *out (may be NULL)
 * is a borrowed handle for lunar_gitlab_cancel, valid until done is called.
 * Errors (done is then not called): LUNAR_ENOMEM, LUNAR_EINVAL. */

/* POST /runners/verify {token, system_id, info}: 200 = valid, 403 = invalid. */
int lunar_gitlab_verify(lunar_gitlab *g, lunar_gitlab_done_fn done, void *ud,
                        lunar_gitlab_call **out, lunar_error *err);

/* POST /jobs/request {info, token, system_id, last_update}. The client keeps
 * the last X-GitLab-Last-Update it saw (on any response) and sends it. */
int lunar_gitlab_request_job(lunar_gitlab *g, lunar_gitlab_done_fn done, void *ud,
                             lunar_gitlab_call **out, lunar_error *err);

/* PUT /jobs/:id with JOB-TOKEN. `update` is the body without info/token
 * (state, failure_reason, exit_code, checksum, output...): the client adds
 * them. Borrowed (serialized before this returns). */
int lunar_gitlab_update_job(lunar_gitlab *g, long long job_id, const char *job_token,
                            const json_t *update, lunar_gitlab_done_fn done, void *ud,
                            lunar_gitlab_call **out, lunar_error *err);

/* PATCH /jobs/:id/trace?debug_trace=true|false with Content-Range
 * start-(start+len-1) and a text/plain body (copied). len may be 0: a probe
 * (Content-Range start-start, empty body) whose 416 tells how much GitLab
 * holds. */
int lunar_gitlab_patch_trace(lunar_gitlab *g, long long job_id, const char *job_token,
                             size_t start, const char *data, size_t len, int debug_trace,
                             lunar_gitlab_done_fn done, void *ud, lunar_gitlab_call **out,
                             lunar_error *err);

/* Cancels a pending call; its done callback is not called. NULL-safe; a no-op
 * from inside its own done callback. */
void lunar_gitlab_cancel(lunar_gitlab_call *call);

/* Whether an attempt is worth another (§1.3): `curl_code` a CURLcode (0 when
 * a response came), `status` its HTTP status. */
int lunar_gitlab_retryable(int curl_code, long status);

#endif
