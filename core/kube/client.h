/* The Kubernetes API client: requests as transfers on the event loop.
 *
 * A request is submitted and completes later through a callback; nothing
 * blocks. The client adds what every request needs: the server's URL, TLS
 * (CA, client certificate, or none), the bearer token (a token file is re-read
 * when it changes, and a 401 after a rotation is retried with the new token),
 * HTTP/2 where the server offers it, a client-side rate limit (token bucket
 * on loop timers: qps, burst; kube/ratelimit.h), and retries with exponential backoff and jitter
 * for connection failures, 429 (honouring Retry-After) and 5xx, bounded by
 * retry_limit and retry_backoff_max (see kube/retry.h). Failures become
 * messages that name the fix (kube/explain.h).
 *
 * Streaming requests (watch, pods/log) deliver their body line by line as it
 * arrives, through a buffer that holds at most one line.
 *
 * Callbacks run on the loop (see loop/loop.h): they may submit and cancel
 * requests, and must not run the loop.
 */
#ifndef LUNAR_KUBE_CLIENT_H
#define LUNAR_KUBE_CLIENT_H

#include <jansson.h>

#include "kube/connection.h"
#include "kube/retry.h"
#include "kube/explain.h"
#include "loop/loop.h"
#include "util/error.h"

#define LUNAR_KUBE_QPS_DEFAULT 20.0
#define LUNAR_KUBE_BURST_DEFAULT 40
#define LUNAR_KUBE_TIMEOUT_DEFAULT_MS 60000L         /* one attempt of a plain request */
#define LUNAR_KUBE_CONNECT_TIMEOUT_DEFAULT_MS 10000L
#define LUNAR_KUBE_LINE_MAX (16L << 20)               /* longest streamed line kept whole */
#define LUNAR_KUBE_BODY_MAX (256L << 20)              /* largest plain response body */

typedef struct lunar_kube_client lunar_kube_client;
typedef struct lunar_kube_call lunar_kube_call;

/* Tuning; zero fields take the defaults above and in kube/retry.h. */
typedef struct lunar_kube_options {
  double qps;                /* requests per second; negative: no limit */
  int burst;
  int retry_limit;           /* attempts, counting the first */
  long retry_backoff_max_ms;
  /* retry_limits: errors whose message contains a text, retried up to its
   * count (see kube/retry.h); borrowed, copied by lunar_kube_client_new */
  const lunar_kube_retry_limit *retry_limits;
  size_t nretry_limits;
  long timeout_ms;           /* per attempt of a plain (non-streaming) request */
  long connect_timeout_ms;
} lunar_kube_options;

/* Called for each complete line of a streaming response (without the '\n';
 * NUL-terminated; `line` is valid during the call). Return nonzero to stop
 * the stream: the request then completes with res->stopped set. A line longer
 * than `line_max` is delivered in pieces of line_max bytes. */
typedef int (*lunar_kube_line_fn)(const char *line, size_t len, void *ud);

typedef struct lunar_kube_request {
  const char *method;       /* "GET", "POST", "PATCH", "PUT", "DELETE" */
  const char *path;         /* from '/', with the query, already escaped */
  const json_t *body;       /* borrowed; serialized at submit; NULL: none */
  const char *content_type; /* of the body; NULL: application/json */
  lunar_kube_target target; /* for messages; strings copied at submit */
  lunar_kube_line_fn on_line; /* non-NULL: stream the body to it */
  void *line_ud;
  long line_max;            /* 0: LUNAR_KUBE_LINE_MAX */
  long timeout_ms;          /* 0: the client's for plain requests, none for streams */
} lunar_kube_request;

typedef struct lunar_kube_response {
  long status;   /* HTTP status of the last attempt; 0 without a response */
  json_t *body;  /* borrowed for the callback: the parsed JSON body of a plain
                    request or of an error, or NULL */
  int attempts;  /* how many times the request was sent */
  int dropped;   /* a stream that broke off after it had started */
  int stopped;   /* a stream stopped by its line callback */
} lunar_kube_response;

/* Called once when a request is finished: rc is LUNAR_OK for a 2xx (and a
 * stream that ended or was stopped), otherwise LUNAR_ENOTFOUND (404) or
 * LUNAR_EIO with the message in err. The call is freed when this returns. */
typedef void (*lunar_kube_done_fn)(int rc, const lunar_kube_response *res,
                                   const lunar_error *err, void *ud);

/* Creates a client on `loop` (borrowed; must outlive the client). Takes
 * ownership of cfg, also on failure. *out belongs to the caller
 * (lunar_kube_client_free). Errors: LUNAR_ENOMEM. */
int lunar_kube_client_new(lunar_loop *loop, lunar_kube_config *cfg, const lunar_kube_options *opt,
                          lunar_kube_client **out, lunar_error *err);

/* Cancels every pending request without calling back, then frees. NULL-safe. */
void lunar_kube_client_free(lunar_kube_client *c);

const lunar_kube_config *lunar_kube_client_config(const lunar_kube_client *c); /* borrowed */
lunar_loop *lunar_kube_client_loop(const lunar_kube_client *c);                /* borrowed */

/* Called once per attempt that ended (a response, or none: status 0), for
 * metrics. `target` is borrowed for the call. */
typedef void (*lunar_kube_observe_fn)(const lunar_kube_target *target, long status, void *ud);
void lunar_kube_client_observe(lunar_kube_client *c, lunar_kube_observe_fn fn, void *ud);

/* Counters since the client was created: HTTP requests sent (attempts) and
 * retries among them. */
void lunar_kube_client_stats(const lunar_kube_client *c, long *requests, long *retries);

/* The client's retry policy, for code that retries whole operations (a
 * watch that reconnects): the attempt limit, and the jittered delay before
 * attempt `attempt + 1` (1-based `attempt`). */
int lunar_kube_client_retry_limit(const lunar_kube_client *c);
long lunar_kube_client_backoff(lunar_kube_client *c, int attempt);

/* Submits a request. `done` is always called later (never from inside this
 * function) unless the call is cancelled. *out (may be NULL) is a borrowed
 * handle for lunar_kube_cancel, valid until done is called. Errors (done is
 * then not called): LUNAR_ENOMEM, LUNAR_EINVAL (body not serializable). */
int lunar_kube_submit(lunar_kube_client *c, const lunar_kube_request *req, lunar_kube_done_fn done,
                      void *ud, lunar_kube_call **out, lunar_error *err);

/* Cancels a pending request; its done callback is not called. Not from inside
 * the call's own line callback (return nonzero there) nor its done callback
 * (where it is a no-op). */
void lunar_kube_cancel(lunar_kube_call *call);

#endif
