/* Reporting one job to GitLab: the incremental trace and the job's state
 * (reference §5-§7). One reporter per running job, on the loop.
 *
 *   - ack: lunar_gitlab_report_ack sends PUT state=running (§3.4) and tells
 *     the caller to run, drop, or fail the job as canceled;
 *   - the trace loop: every update interval (3 s, then what GitLab says),
 *     PATCH the unsent bytes (at most 1 MiB a request); a 416 moves the
 *     sent offset to GitLab's; a touch PUT when nothing was accepted for
 *     30 s; lunar_gitlab_report_kick sends at once when the last PATCH is
 *     older than `kick_ms` (first output visible quickly, later output at
 *     the interval);
 *   - cancellation: Job-Status on any answer: `canceling` calls on_cancel
 *     once with graceful=1; `canceled`/`failed` or a 403 call it with
 *     graceful=0 (abort);
 *   - the final update (§7.3): flush the rest of the trace, PUT the final
 *     state with checksum and bytesize, 202/412/416 handled, the whole
 *     procedure retried with backoff up to `final_retry_limit` times, then
 *     on_finished.
 * The reporter reads the trace (borrowed) and releases what GitLab holds.
 */
#ifndef LUNAR_GITLAB_REPORT_H
#define LUNAR_GITLAB_REPORT_H

#include "gitlab/client.h"
#include "trace/trace.h"

typedef struct lunar_gitlab_report lunar_gitlab_report;

enum { LUNAR_ACK_RUN = 0, LUNAR_ACK_DROP = 1, LUNAR_ACK_CANCELED = 2 };

typedef struct lunar_gitlab_report_callbacks {
  /* GitLab canceled the job: graceful (after_script may run) or abort. */
  void (*on_cancel)(int graceful, void *ud);
  /* The final update ended: accepted (1) or given up after the retries (0). */
  void (*on_finished)(int accepted, const lunar_error *err, void *ud);
  void *ud;
} lunar_gitlab_report_callbacks;

typedef struct lunar_gitlab_report_options {
  long long job_id;
  const char *job_token;       /* copied */
  int debug_trace;
  long kick_ms;                /* 0: 500 */
  int final_retry_limit;       /* 0: 10 */
  const char *const *failure_reasons; /* the payload's features.failure_reasons (copied); NULL: GitLab's current list */
  size_t n_failure_reasons;
} lunar_gitlab_report_options;

/* *out belongs to the caller. `g` and `trace` are borrowed (must outlive it).
 * Errors: LUNAR_ENOMEM. */
int lunar_gitlab_report_new(lunar_gitlab *g, lunar_trace *trace,
                            const lunar_gitlab_report_options *opt,
                            const lunar_gitlab_report_callbacks *cb, lunar_gitlab_report **out,
                            lunar_error *err);
/* Cancels its calls and timers without calling back. NULL-safe. */
void lunar_gitlab_report_free(lunar_gitlab_report *r);

/* PUT state=running; `done(verdict)` with LUNAR_ACK_*. */
int lunar_gitlab_report_ack(lunar_gitlab_report *r, void (*done)(int verdict, void *ud), void *ud,
                            lunar_error *err);

/* Resume: asks GitLab how many trace bytes it holds (an empty PATCH at 0,
 * whose 416 says it), then `done(rc, size)`; rc < 0 when GitLab does not run
 * the job any more (403/404, Job-Status canceled/failed) or cannot be asked. */
int lunar_gitlab_report_probe(lunar_gitlab_report *r, void (*done)(int rc, size_t size, void *ud),
                              void *ud, lunar_error *err);

/* Starts the trace loop (after the ack or the probe). */
void lunar_gitlab_report_start(lunar_gitlab_report *r);

/* New bytes are in the trace. */
void lunar_gitlab_report_kick(lunar_gitlab_report *r);

/* The final update: state "success" or "failed", failure_reason (mapped
 * through §8 before it is sent; NULL for success), exit_code (sent when
 * non-zero). on_finished is called once it ends. */
void lunar_gitlab_report_finish(lunar_gitlab_report *r, const char *state,
                                const char *failure_reason, int exit_code);

/* Requests this reporter sent (for the job's cost in on.job_finished). */
long lunar_gitlab_report_requests(const lunar_gitlab_report *r);

#endif
