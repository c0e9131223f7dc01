/* The GitLab runner API client (../shared/reference/gitlab-runner-api.md):
 * requests as transfers on the event loop, nothing blocks.
 *
 * The client adds what every call needs (§1): the base URL (`url` without
 * trailing '/' and '/ci'), User-Agent "lunar VERSION (main; c; linux/ARCH)",
 * X-Request-Id, Accept, the RUNNER-TOKEN or JOB-TOKEN header, TLS (a CA
 * file, or the system's), and retries: 408, 429, 500, 502, 503, 504 and >= 512
 * and transport errors are tried again, at most 5 attempts, waiting for
 * RateLimit-ResetTime, else Retry-After, else 100 ms doubling with jitter
 * (capped at 60 s). jobs/request may be held by a long poll: its attempt
 * timeout is long (10 min) and a slow 204 is not an error.
 *
 * Every response is summarised for the caller: status, Job-Status,
 * X-GitLab-Trace-Update-Interval, Range (PATCH trace), X-GitLab-Last-Update.
 * Callbacks run on the loop (loop/loop.h): they may submit and cancel.
 */
#ifndef LUNAR_GITLAB_CLIENT_H
#define LUNAR_GITLAB_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#include "loop/loop.h"
#include "util/error.h"

typedef struct lunar_gitlab lunar_gitlab;
typedef struct lunar_gitlab_call lunar_gitlab_call;

typedef struct lunar_gitlab_options {
  const char *url;          /* GitLab's URL, e.g. https://gitlab.example.com (copied) */
  const char *token;        /* the runner authentication token (copied) */
  const char *system_id;    /* s_/r_ + 12 characters (copied); NULL: none sent */
  const char *ca_file;      /* PEM CA bundle (copied); NULL: the system's */
  json_t *info;             /* the `info` object of §3.2 (a reference is taken) */
  int retry_limit;          /* attempts of one call; 0: 5 */
  long timeout_ms;          /* one attempt of a call other than jobs/request; 0: 60 s */
  long request_timeout_ms;  /* one attempt of jobs/request (long poll); 0: 10 min */
} lunar_gitlab_options;

typedef struct lunar_gitlab_response {
  long status;            /* HTTP status of the last attempt; 0: no response */
  int attempts;
  int retried;            /* a 429/5xx made the client try again (adaptive concurrency) */
  const char *job_status; /* Job-Status header, or NULL */
  long update_interval_s; /* X-GitLab-Trace-Update-Interval > 0, capped at 900; 0: absent */
  long range_end;         /* the number after '-' in Range (PATCH trace); -1: absent */
  const char *last_update;/* X-GitLab-Last-Update, or NULL */
  json_t *body;           /* parsed JSON body when the Content-Type is application/json, or NULL */
  const char *text;       /* the raw body (NUL-terminated, may be ""), for messages */
} lunar_gitlab_response;

/* Called once when a call is finished (after retries), with everything
 * borrowed for the call. rc: LUNAR_OK when an HTTP response came (whatever
 * its status: the caller decides), LUNAR_EIO when none did (err says why:
 * DNS, refused, TLS, timeout). */
typedef void (*lunar_gitlab_done_fn)(int rc, const lunar_gitlab_response *res,
                                     const lunar_error *err, void *ud);

/* *out belongs to the caller. `loop` is borrowed and must outlive it.
 * Errors: LUNAR_EINVAL (a URL that is not http(s)), LUNAR_ENOMEM. */
int lunar_gitlab_new(lunar_loop *loop, const lunar_gitlab_options *opt, lunar_gitlab **out,
                     lunar_error *err);
/* Cancels every pending call without calling back, then frees. NULL-safe. */
void lunar_gitlab_free(lunar_gitlab *g);

/* Requests sent so far (attempts), by endpoint, for metrics and benchmarks. */
void lunar_gitlab_stats(const lunar_gitlab *g, long *requests, long *retries);

/* POST /runners/verify {token, system_id, info}: 200 = valid, 403 = invalid. */
int lunar_gitlab_verify(lunar_gitlab *g, lunar_gitlab_done_fn done, void *ud,
                        lunar_gitlab_call **out, lunar_error *err);

/* POST /jobs/request {info, token, system_id, last_update}. The client keeps
 * the last X-GitLab-Last-Update it saw and sends it. A 201 whose
 * Content-Type is not application/json is reported with res->body NULL. */
int lunar_gitlab_request_job(lunar_gitlab *g, lunar_gitlab_done_fn done, void *ud,
                             lunar_gitlab_call **out, lunar_error *err);

/* PUT /jobs/:id with JOB-TOKEN. `update` is the body without info/token
 * (state, failure_reason, exit_code, checksum, output...): the client adds
 * them. Borrowed. */
int lunar_gitlab_update_job(lunar_gitlab *g, long long job_id, const char *job_token,
                            json_t *update, lunar_gitlab_done_fn done, void *ud,
                            lunar_gitlab_call **out, lunar_error *err);

/* PATCH /jobs/:id/trace?debug_trace=... with Content-Range start-(start+len-1)
 * and a text/plain body (copied; len may be 0: a probe whose 416 tells how
 * much GitLab holds). */
int lunar_gitlab_patch_trace(lunar_gitlab *g, long long job_id, const char *job_token,
                             size_t start, const char *data, size_t len, int debug_trace,
                             lunar_gitlab_done_fn done, void *ud, lunar_gitlab_call **out,
                             lunar_error *err);

/* Cancels a pending call; its done callback is not called. NULL-safe; a no-op
 * from inside its own done callback. */
void lunar_gitlab_cancel(lunar_gitlab_call *call);

#endif
