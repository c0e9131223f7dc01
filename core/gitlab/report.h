/* Reporting one job to GitLab: the incremental trace and the job's state
 * (reference §5-§8). One reporter per running job, on the loop; it never
 * has more than one request of its own in flight (so never two PATCHes).
 *
 *   - ack: lunar_gitlab_report_ack sends PUT state=running (§3.4) and tells
 *     the caller to run, drop, or fail the job as canceled;
 *   - resume: lunar_gitlab_report_probe asks how many trace bytes GitLab
 *     holds (an empty PATCH at 0: a 416's Range tells, a 202 means 0);
 *   - the trace loop (§6.4): PATCH the unsent bytes, at most 1 MiB a
 *     request; a 416 moves the sent offset to GitLab's; a 403 aborts; a
 *     touch PUT (checksum, bytesize) when nothing was accepted for
 *     `touch_ms`. Pacing: after lunar_gitlab_report_kick, bytes go out
 *     `kick_ms` later when no PATCH went out within the update interval (so
 *     the first output, and output after a quiet spell, shows within a
 *     second), otherwise one update interval after the last PATCH (3 s, then
 *     what GitLab's X-GitLab-Trace-Update-Interval says); a backlog of 1 MiB
 *     or more goes out at once;
 *   - cancellation (§7.4): Job-Status on any answer: `canceling` calls
 *     on_cancel once with graceful=1; `canceled`/`failed`, a 403 (PATCH or
 *     PUT) or a 404 (PUT) call it once with graceful=0 (abort: kill the
 *     build) and stop the trace loop; lunar_gitlab_report_finish still works
 *     afterwards (GitLab will most likely refuse it, which ends it);
 *   - the final update (§7.3): flush the trace (lunar_trace_flush), send the
 *     rest, PUT the final state with checksum and bytesize; 202 and 412 wait
 *     the interval and repeat, 416 resends from GitLab's offset, 403/404
 *     stop the flush; a failed attempt is retried whole after a backoff
 *     (1 s doubling with jitter, up to 60 min), at most `final_retry_limit`
 *     attempts, then on_finished;
 *   - failure reasons (§8): mapped onto the payload's accepted list.
 * The reporter reads the trace (borrowed) and releases what GitLab holds.
 *
 * Callbacks run on the loop. They may call lunar_gitlab_report_finish and
 * lunar_gitlab_report_free (freeing from inside a callback is deferred until
 * the callback returns).
 */
#ifndef LUNAR_GITLAB_REPORT_H
#define LUNAR_GITLAB_REPORT_H

#include "gitlab/client.h"
#include "trace/trace.h"

#define LUNAR_REPORT_PATCH_MAX (1L << 20)      /* bytes per trace PATCH */
#define LUNAR_REPORT_INTERVAL_DEFAULT_MS 3000L
#define LUNAR_REPORT_TOUCH_DEFAULT_MS 30000L
#define LUNAR_REPORT_KICK_DEFAULT_MS 500L
#define LUNAR_REPORT_FINAL_RETRY_DEFAULT 10
#define LUNAR_REPORT_FINAL_BACKOFF_BASE_MS 1000L
#define LUNAR_REPORT_FINAL_BACKOFF_MAX_MS 3600000L
#define LUNAR_REPORT_FINAL_REPEAT_MAX 100      /* 202/412/416 rounds within one attempt */

typedef struct lunar_gitlab_report lunar_gitlab_report;

enum { LUNAR_ACK_RUN = 0, LUNAR_ACK_DROP = 1, LUNAR_ACK_CANCELED = 2 };

typedef struct lunar_gitlab_report_callbacks {
  /* GitLab canceled the job: graceful (after_script may run) or abort.
   * Each kind is reported at most once. */
  void (*on_cancel)(int graceful, void *ud);
  /* The final update ended: 1 when GitLab has the final state or no longer
   * runs the job (403/404/Job-Status canceled or failed: err says which),
   * 0 when it was given up after the retries (err has the last failure). */
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
  long interval_ms;            /* update interval until GitLab says one; 0: 3 s */
  long touch_ms;               /* touch after this long without an accepted update; 0: 30 s */
  long final_backoff_ms;       /* first wait between final attempts; 0: 1 s */
  size_t start_offset;         /* GitLab already holds the trace up to here (a resumed job) */
} lunar_gitlab_report_options;

/* *out belongs to the caller. `g` is borrowed (must outlive it); `trace` is
 * borrowed and may be NULL until lunar_gitlab_report_set_trace (a resumed
 * job creates its trace once the probe told GitLab's size).
 * Errors: LUNAR_EINVAL (no job token), LUNAR_ENOMEM. */
int lunar_gitlab_report_new(lunar_gitlab *g, lunar_trace *trace,
                            const lunar_gitlab_report_options *opt,
                            const lunar_gitlab_report_callbacks *cb, lunar_gitlab_report **out,
                            lunar_error *err);
/* Cancels its calls and timers without calling back. NULL-safe. */
void lunar_gitlab_report_free(lunar_gitlab_report *r);

/* Gives the reporter its trace (borrowed) if lunar_gitlab_report_new had none. */
void lunar_gitlab_report_set_trace(lunar_gitlab_report *r, lunar_trace *trace);

/* PUT state=running, output {}; later `done(verdict)` with LUNAR_ACK_*:
 * DROP on 403, 404 or Job-Status canceled/failed (drop the job silently,
 * no final update); CANCELED on Job-Status canceling (fail the job at once:
 * its final update then sends failure_reason job_canceled verbatim); RUN
 * otherwise, also on 409, 5xx or no answer. Errors: LUNAR_EINVAL (a call
 * already in flight), LUNAR_ENOMEM; done is then not called. */
int lunar_gitlab_report_ack(lunar_gitlab_report *r, void (*done)(int verdict, void *ud), void *ud,
                            lunar_error *err);

/* Resume: asks GitLab how many trace bytes it holds, then `done(rc, size)`:
 * rc LUNAR_OK and the size (also the reporter's sent offset: create the
 * trace with base = size); LUNAR_ENOTFOUND when GitLab does not run the job
 * any more (403/404, Job-Status canceled/failed); LUNAR_EIO when it cannot
 * be asked (no answer, other statuses). A Job-Status canceling is reported
 * through on_cancel(1) once the loop starts. Errors as for ack. */
int lunar_gitlab_report_probe(lunar_gitlab_report *r, void (*done)(int rc, size_t size, void *ud),
                              void *ud, lunar_error *err);

/* Starts the trace loop (after the ack or the probe; needs the trace). */
void lunar_gitlab_report_start(lunar_gitlab_report *r);

/* New bytes are in the trace (cheap; call after every write). */
void lunar_gitlab_report_kick(lunar_gitlab_report *r);

/* New bytes that a person is waiting for (the job's first script output):
 * the next PATCH goes out kick_ms from now instead of at the interval. */
void lunar_gitlab_report_kick_now(lunar_gitlab_report *r);

/* The final update: state "success" or "failed", failure_reason (mapped
 * through §8 before it is sent, unless the ack said canceled; ignored for
 * success), exit_code (sent when non-zero). Stops the trace loop (waiting
 * for a PATCH in flight), flushes the trace. on_finished is called once it
 * ends. A second call is ignored. */
void lunar_gitlab_report_finish(lunar_gitlab_report *r, const char *state,
                                const char *failure_reason, int exit_code);

/* Requests this reporter sent, retries included (the job's cost). */
long lunar_gitlab_report_requests(const lunar_gitlab_report *r);

/* Offset up to which GitLab holds the trace, as far as the reporter knows. */
size_t lunar_gitlab_report_sent(const lunar_gitlab_report *r);

/* §8: the reason to send for `reason` given the reasons this GitLab accepts
 * (`accepted`, n; NULL: GitLab's current list). Returns `reason` itself or
 * a static string; never NULL. */
const char *lunar_gitlab_failure_reason(const char *reason, const char *const *accepted, size_t n);

#endif
