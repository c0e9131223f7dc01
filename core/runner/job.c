/* One job, from the payload GitLab handed out to the deleted Pod.
 *
 * States (j->phase):
 *   ACK      the plan is rendered, the prelude is in the trace, PUT running sent
 *   CREATE   the Pod, then the job Secret (owned by the Pod: no extra update)
 *   WAIT     the Pod is pending: reasons and pull failures go to the trace
 *   RUN      following the stage containers' logs in order (j->cur)
 *   FINAL    the final update is on its way and the Pod is being deleted
 * Cancel, abort and timeouts are flags that delete the Pod; the logs are
 * still read to the end, so after_script output is not lost.
 *
 * The trace is deterministic from the Pod onwards: the prelude (runner lines
 * up to the Pod's creation) and the waiting lines end at an offset recorded in
 * the Pod's `lunar.dev/trace-base` annotation ("<offset>:<crc32>"; set at
 * creation, patched once when waiting lines were written), then come the
 * stage containers' logs and one final line. A runner resuming the job after
 * a restart reads the logs again from the start and sends only what lies past
 * the length GitLab already holds: every line once, none lost.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runner/internal.h"
#include "util/base64.h"

#define BASE_ANNOTATION "lunar.dev/trace-base"
#define JOB_SECRET_KEY "lunar-job.json"

enum { J_ACK, J_CREATE, J_WAIT, J_RUN, J_FINAL };

struct lunar_job {
  lunar_runner *r;
  lunar_entry *entry;
  long long id;
  char *token;
  json_t *plan;    /* NULL when resumed */
  json_t *summary; /* what handlers get as `job` */
  char *ns, *pod_name, *pod_uid;
  int phase;
  int attempt; /* pull policy attempt */
  lunar_trace *trace;
  lunar_gitlab_report *report;
  lunar_trace *probe_trace; /* resume: the probe's own, kept until the job ends */
  lunar_gitlab_report *probe_report;
  json_t *pod; /* the last state seen */
  char *stages[LUNAR_POD_MAX_STAGES];
  int n_stages, cur;
  unsigned stage_done; /* stage_finished emitted */
  lunar_kube_logs *logs;
  int logs_started;  /* the first stage's log was requested */
  int base;          /* BASE_*: what the trace-base annotation says */
  int base_patching; /* an annotation patch is in flight */
  char *held;        /* waiting lines held until the annotation says "waiting" */
  char last_wait[512];
  int pod_gone, deleting, canceled, aborted, timed_out, resumed;
  long delete_grace; /* the grace period of the delete sent (-1: the Pod's own) */
  int pull_failed;   /* a stage's image cannot be pulled and no policy is left */
  int slot;          /* CI_CONCURRENT_ID: the lowest free among running jobs (-1: resumed) */
  int project_slot;  /* the same among running jobs of this project (the Pod's name) */
  long long project_id;
  char pull_text[512];
  char *notes; /* the runner's own lines once the Pod exists: written before the final line */
  size_t skip_until; /* resumed: GitLab holds the trace up to here */
  int events_listed, events_pending; /* print_pod_warning_events */
  int script_output; /* the build container printed its first line */
  const char *final_reason;
  char final_text[512];
  int final_exit;
  int success;
  int reported, report_accepted;
  int calls; /* Kubernetes calls in flight that cannot be cancelled */
  long kube_requests;
  long long t_received, t_created, t_running, t_finished;
  lunar_loop_timer *timeout_timer, *poll_timer;
  /* resource_availability_check_max_attempts: the object checked (an index
   * into the service account and the image pull secrets) and its attempt */
  lunar_loop_timer *check_timer;
  size_t check_index;
  long check_attempt;
  /* cleanup_resources_timeout: the Pod's DELETE, cancelled when it fires */
  lunar_loop_timer *cleanup_timer;
  lunar_kube_call *delete_call;
  struct kcall *delete_kcall;
  long timeout_s;
  lunar_job *next;
};

static void advance(lunar_job *j);
static void finish(lunar_job *j, int success, const char *reason, int exit_code, const char *text);
static void try_free(lunar_job *j);

/* ---- small helpers ---------------------------------------------------------- */

static const char *sget(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* Appends s[0, n) to the string *to (NULL: empty); nothing when out of memory. */
static void append(char **to, const char *s, size_t n) {
  size_t old = *to ? strlen(*to) : 0;
  char *p = realloc(*to, old + n + 1);
  if (!p) return;
  memcpy(p + old, s, n);
  p[old + n] = '\0';
  *to = p;
}

/* vsnprintf, clipped to the buffer: the length written (0 on error). */
static size_t vformat(char *buf, size_t size, const char *fmt, va_list ap) {
  int n = vsnprintf(buf, size, fmt, ap);
  if (n < 0) return 0;
  return (size_t)n >= size ? size - 1 : (size_t)n;
}

static void tprintf(lunar_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tprintf(lunar_job *j, const char *fmt, ...) {
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  size_t n = vformat(buf, sizeof buf, fmt, ap);
  va_end(ap);
  lunar_trace_write(j->trace, buf, n);
  if (j->report) lunar_gitlab_report_kick(j->report);
}

/* The runner's own line once the Pod exists (cancel, timeout, unreadable
 * logs). Held until the job ends and written before its last line: the
 * trace between the trace-base annotation and the end is the stage logs
 * alone, so a runner resuming the job after a restart regenerates exactly
 * the bytes GitLab holds (see the top of this file). */
static void note(lunar_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(lunar_job *j, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  size_t n = vformat(buf, sizeof buf, fmt, ap);
  va_end(ap);
  append(&j->notes, buf, n);
}

#define YELLOW "\033[0;33m"
#define RED "\033[31;1m"
#define GREEN "\033[32;1m"
#define CYAN "\033[36;1m"
#define RESET "\033[0;m"

static void emit(lunar_job *j, const char *event, json_t *data) {
  lunar_error err;
  if (lunar_entry_emit(j->entry, event, j->summary, data, &err) != LUNAR_OK) {
    lunar_log("warning", j->id, "handler on.%s failed: %s", event, err.msg);
    lunar_runner_count(j->r, "handler");
  }
  json_decref(data);
}

static double secs(long long ms) { return (double)ms / 1000.0; }

/* ---- Kubernetes calls ------------------------------------------------------- */

typedef void (*kube_then)(lunar_job *j, int rc, const lunar_kube_response *res,
                          const lunar_error *err);
typedef struct kcall {
  lunar_job *j;
  kube_then then;
} kcall;

static void kube_done(int rc, const lunar_kube_response *res, const lunar_error *err, void *ud) {
  kcall *k = ud;
  lunar_job *j = k->j;
  kube_then then = k->then;
  free(k);
  j->calls--;
  if (res) j->kube_requests += res->attempts;
  if (then) then(j, rc, res, err);
  try_free(j);
}

static kcall *kcall_new(lunar_job *j, kube_then then) {
  kcall *k = malloc(sizeof *k);
  if (!k) return NULL;
  k->j = j;
  k->then = then;
  j->calls++;
  return k;
}

static void kcall_failed(lunar_job *j, kcall *k) {
  free(k);
  j->calls--;
}

#define CLEANUP_TIMEOUT_DEFAULT_S 300L /* cleanup_resources_timeout: GitLab Runner's 5 minutes */

static void cleanup_timer_stop(lunar_job *j) {
  lunar_loop_timer_stop(j->r->loop, j->cleanup_timer);
  j->cleanup_timer = NULL;
  j->delete_call = NULL;
  j->delete_kcall = NULL;
}

static void on_deleted(lunar_job *j, int rc, const lunar_kube_response *res, const lunar_error *err) {
  (void)res;
  cleanup_timer_stop(j);
  if (rc != LUNAR_OK && rc != LUNAR_ENOTFOUND)
    lunar_log("error", j->id, "could not delete Pod %s/%s: %s", j->ns, j->pod_name, err->msg);
}

/* cleanup_resources_timeout: GitLab Runner bounds the deletes of a job's
 * resources with it (5 minutes by default); lunar's only delete is the Pod's
 * (the Secret is owned by it), retried per retry_limit until this fires. */
static void on_cleanup_timeout(lunar_loop *loop, void *ud) {
  (void)loop;
  lunar_job *j = ud;
  j->cleanup_timer = NULL;
  if (!j->delete_call) return;
  lunar_kube_cancel(j->delete_call);
  kcall_failed(j, j->delete_kcall);
  j->delete_call = NULL;
  j->delete_kcall = NULL;
  long s = (long)json_integer_value(json_object_get(
      json_object_get(lunar_entry_settings(j->entry), "kubernetes"), "cleanup_resources_timeout"));
  if (s <= 0) s = CLEANUP_TIMEOUT_DEFAULT_S;
  lunar_log("error", j->id, "could not delete Pod %s/%s within cleanup_resources_timeout (%ld s): gave up",
            j->ns, j->pod_name, s);
  try_free(j);
}

/* grace < 0: the Pod's own terminationGracePeriodSeconds */
static void delete_pod(lunar_job *j, long grace) {
  if (!j->pod_uid && !j->resumed) return; /* never created */
  if (j->pod_gone) return;
  /* a second delete only to shorten the grace period of the first */
  if (j->deleting && (grace < 0 || (j->delete_grace >= 0 && grace >= j->delete_grace))) return;
  j->deleting = 1;
  j->delete_grace = grace;
  lunar_error err;
  kcall *k = kcall_new(j, on_deleted);
  if (!k) return;
  lunar_kube_call *call = NULL;
  if (lunar_kube_delete(j->r->kube, "pods", j->ns, j->pod_name, grace, "Background", kube_done, k,
                        &call, &err) != LUNAR_OK) {
    kcall_failed(j, k);
    lunar_log("error", j->id, "could not delete Pod %s: %s", j->pod_name, err.msg);
    return;
  }
  const json_t *t = json_object_get(json_object_get(lunar_entry_settings(j->entry), "kubernetes"),
                                    "cleanup_resources_timeout");
  long long ms = 1000LL * (json_is_integer(t) && json_integer_value(t) > 0 ? (long long)json_integer_value(t)
                                                                          : CLEANUP_TIMEOUT_DEFAULT_S);
  lunar_loop_timer_stop(j->r->loop, j->cleanup_timer); /* an earlier delete goes on unwatched */
  j->delete_call = call;
  j->delete_kcall = k;
  j->cleanup_timer = lunar_loop_timer_start(j->r->loop, ms, on_cleanup_timeout, j);
}

/* ---- the end of a job ------------------------------------------------------- */

static void on_report_finished(int accepted, const lunar_error *err, void *ud) {
  lunar_job *j = ud;
  j->reported = 1;
  j->report_accepted = accepted;
  if (!accepted)
    lunar_log("error", j->id, "GitLab did not accept the final state: %s", err ? err->msg : "");
  try_free(j);
}

static void timers_stop(lunar_job *j) {
  lunar_loop_timer_stop(j->r->loop, j->timeout_timer);
  lunar_loop_timer_stop(j->r->loop, j->poll_timer);
  lunar_loop_timer_stop(j->r->loop, j->check_timer);
  j->timeout_timer = j->poll_timer = j->check_timer = NULL;
}

/* Ends the job: the final line, the final update, the Pod deleted. */
/* print_pod_warning_events: before a job that failed around its Pod ends,
 * the Pod's warning events (pull errors, scheduling, mounts) go into the
 * trace, as GitLab Runner prints them. One list request, on failure only. */
static void on_events(lunar_job *j, int rc, const lunar_kube_response *res, const lunar_error *err) {
  (void)err;
  size_t i;
  json_t *ev;
  if (rc == LUNAR_OK)
    json_array_foreach(json_object_get(res->body, "items"), i, ev) {
      const char *reason = sget(ev, "reason"), *msg = sget(ev, "message");
      note(j, YELLOW "WARNING: Event retrieved from the cluster: %s%s%s" RESET "\n", reason ? reason : "",
           reason && msg ? ": " : "", msg ? msg : "");
    }
  j->events_pending = 0;
  finish(j, 0, j->final_reason, j->final_exit, j->final_text);
}

static int list_warning_events(lunar_job *j, const char *reason) {
  if (j->events_listed || !j->r->print_warnings || !j->pod_name || (!j->pod_uid && !j->resumed)) return 0;
  if (!reason || (strcmp(reason, "runner_system_failure") && strcmp(reason, "image_pull_failure") &&
                  strcmp(reason, "job_execution_timeout")))
    return 0;
  j->events_listed = 1;
  char selector[400];
  snprintf(selector, sizeof selector, "involvedObject.name=%s,type=Warning", j->pod_name);
  kcall *k = kcall_new(j, on_events);
  lunar_error err;
  if (!k || lunar_kube_list(j->r->kube, "events", j->ns, NULL, selector, kube_done, k, NULL, &err) != LUNAR_OK) {
    if (k) kcall_failed(j, k);
    return 0;
  }
  j->events_pending = 1;
  return 1;
}

static void finish(lunar_job *j, int success, const char *reason, int exit_code, const char *text) {
  if (j->phase == J_FINAL || j->events_pending) return;
  if (!success && list_warning_events(j, reason)) {
    j->final_reason = reason;
    j->final_exit = exit_code;
    if (text != j->final_text) snprintf(j->final_text, sizeof j->final_text, "%s", text ? text : "");
    return; /* on_events finishes */
  }
  j->phase = J_FINAL;
  j->success = success;
  j->final_reason = reason;
  j->final_exit = exit_code;
  if (text != j->final_text) snprintf(j->final_text, sizeof j->final_text, "%s", text ? text : "");
  timers_stop(j);
  lunar_kube_logs_stop(j->logs);
  j->logs = NULL;
  j->t_finished = lunar_loop_now();
  if (j->notes) tprintf(j, "%s", j->notes);
  if (success)
    tprintf(j, "\n" GREEN "Job succeeded" RESET "\n");
  else
    tprintf(j, "\n" RED "ERROR: Job failed: %s" RESET "\n", j->final_text);
  lunar_trace_flush(j->trace);
  lunar_log("info", j->id, "job finished: %s%s%s (trace %zu bytes)", success ? "success" : "failed",
            reason ? ", " : "", reason ? reason : "", lunar_trace_size(j->trace));
  lunar_gitlab_report_finish(j->report, success ? "success" : "failed", success ? NULL : reason,
                             exit_code);
  long grace = -1;
  const json_t *k = json_object_get(lunar_entry_settings(j->entry), "kubernetes");
  json_t *g = json_object_get(k, "cleanup_grace_period_seconds");
  if (json_is_integer(g)) grace = (long)json_integer_value(g);
  else if (!j->canceled) grace = 0; /* every stage has ended: only services are left */
  delete_pod(j, grace);
}

static void try_free(lunar_job *j) {
  if (j->phase != J_FINAL || !j->reported || j->calls > 0 || j->base_patching) return;
  if (j->t_finished) { /* ran (not dropped before it started, nor an orphan cleaned up) */
  json_t *data = json_pack("{s:s, s:i, s:f, s:I, s:I, s:b, s:b}", "state",
                           j->success ? "success" : "failed", "exit_code", j->final_exit,
                           "duration", secs(j->t_finished - j->t_received), "trace_bytes",
                           (json_int_t)lunar_trace_size(j->trace), "kube_requests",
                           (json_int_t)j->kube_requests, "resumed", j->resumed, "accepted",
                           j->report_accepted);
  if (data && !j->success && j->final_reason)
    json_object_set_new(data, "failure_reason", json_string(j->final_reason));
  if (data && j->t_running)
    json_object_set_new(data, "pod_start", json_real(secs(j->t_running - j->t_created)));
  if (data && j->report)
    json_object_set_new(data, "gitlab_requests",
                        json_integer(lunar_gitlab_report_requests(j->report)));
  emit(j, "job_finished", data);
  lunar_runner_count_job(j->r, j->success ? "success" : "failed", j->success ? NULL : j->final_reason,
                         secs(j->t_finished - j->t_received),
                         j->t_running && !j->resumed ? secs(j->t_running - j->t_received) : -1,
                         lunar_trace_size(j->trace), lunar_trace_masked_count(j->trace));
  }
  lunar_runner *r = j->r;
  for (lunar_job **p = &r->jobs; *p; p = &(*p)->next)
    if (*p == j) {
      *p = j->next;
      break;
    }
  lunar_gitlab_report_free(j->report);
  lunar_trace_free(j->trace);
  lunar_gitlab_report_free(j->probe_report);
  lunar_trace_free(j->probe_trace);
  json_decref(j->plan);
  json_decref(j->summary);
  json_decref(j->pod);
  for (int i = 0; i < j->n_stages; i++) free(j->stages[i]);
  free(j->held);
  free(j->notes);
  free(j->token);
  free(j->ns);
  free(j->pod_name);
  free(j->pod_uid);
  lunar_entry_release(j->entry);
  free(j);
  lunar_runner_job_ended(r, NULL);
}

/* ---- cancellation and timeouts ---------------------------------------------- */

static void on_cancel(int graceful, void *ud) {
  lunar_job *j = ud;
  if (j->phase == J_FINAL) return;
  if (graceful) {
    if (j->canceled) return;
    j->canceled = 1;
    lunar_log("info", j->id, "GitLab canceled the job: stopping the script, after_script still runs");
    note(j, "\n" YELLOW "WARNING: the job was canceled; after_script ran before the Pod was deleted" RESET "\n");
    if (j->phase == J_ACK || j->phase == J_CREATE) return; /* deleted once created */
    delete_pod(j, -1);
    return;
  }
  lunar_job_abort(j, "the job was canceled");
}

void lunar_job_abort(lunar_job *j, const char *why) {
  if (j->phase == J_FINAL || j->aborted) return;
  j->aborted = 1;
  lunar_log("info", j->id, "aborting: %s", why);
  delete_pod(j, 0);
  if (j->phase == J_CREATE) return; /* finished when the create answers */
  finish(j, 0, j->r->aborting ? "runner_interrupted" : "job_canceled", 0, why);
}

static void on_timeout(lunar_loop *loop, void *ud) {
  (void)loop;
  lunar_job *j = ud;
  j->timeout_timer = NULL;
  if (j->phase == J_FINAL) return;
  j->timed_out = 1;
  lunar_log("info", j->id, "the job timed out after %ld s", j->timeout_s);
  note(j, "\n" RED "ERROR: the job exceeded its timeout of %ld seconds" RESET "\n", j->timeout_s);
  if (j->phase == J_ACK || j->phase == J_CREATE) {
    finish(j, 0, "job_execution_timeout", 0, "execution took longer than the job timeout");
    delete_pod(j, 0);
    return;
  }
  delete_pod(j, -1); /* after_script runs within the grace period */
}

static void on_poll_timeout(lunar_loop *loop, void *ud) {
  (void)loop;
  lunar_job *j = ud;
  j->poll_timer = NULL;
  if (j->phase != J_WAIT) return;
  char msg[700];
  snprintf(msg, sizeof msg, "the Pod did not start within poll_timeout (%ld s)%s%s",
           j->r->poll_timeout_s, j->last_wait[0] ? ": " : "", j->last_wait);
  finish(j, 0, "runner_system_failure", 0, msg);
}

/* ---- logs ------------------------------------------------------------------- */

static int on_log_line(const char *line, size_t len, const char *ts, void *ud) {
  (void)ts;
  lunar_job *j = ud;
  lunar_trace_write(j->trace, line, len);
  lunar_trace_write(j->trace, "\n", 1);
  if (j->skip_until) {
    /* regenerating what GitLab already holds: keep only what lies past it */
    lunar_trace_release(j->trace, j->skip_until);
    if (lunar_trace_size(j->trace) >= j->skip_until) j->skip_until = 0;
  }
  if (!j->script_output && !strcmp(j->stages[j->cur], "build")) {
    j->script_output = 1; /* the first output of the job's script: shown within a second */
    lunar_gitlab_report_kick_now(j->report);
    return 0;
  }
  lunar_gitlab_report_kick(j->report);
  return 0;
}

static void on_log_end(int rc, const lunar_error *err, void *ud) {
  lunar_job *j = ud;
  j->logs = NULL;
  j->kube_requests++;
  if (rc != LUNAR_OK && !j->pod_gone)
    note(j, YELLOW "WARNING: the log of container %s could not be read to its end: %s" RESET "\n",
            j->stages[j->cur], err ? err->msg : "");
  j->cur++;
  advance(j);
}

static void start_logs(lunar_job *j) {
  lunar_kube_logs_opts o = {.container = j->stages[j->cur], .follow = 1};
  lunar_error err;
  if (lunar_kube_logs_start(j->r->kube, j->ns, j->pod_name, &o, on_log_line, on_log_end, j, &j->logs,
                            &err) != LUNAR_OK) {
    note(j, YELLOW "WARNING: cannot read the log of container %s: %s" RESET "\n",
            j->stages[j->cur], err.msg);
    j->cur++;
  }
}

/* The trace-base annotation tells a restarted runner where the logs begin
 * in the trace (see the top of this file):
 *   BASE_PRELUDE  "<offset>:<crc>" set at creation: nothing but the prelude
 *                 comes before the logs (the common case: no extra request)
 *   BASE_WAITING  "waiting": waiting lines follow the prelude; patched before
 *                 the first of them reaches the trace
 *   BASE_LOGS     "<offset>:<crc>" patched after the last waiting line,
 *                 before the first log byte */
enum { BASE_PRELUDE, BASE_WAITING, BASE_LOGS };

static void write_held(lunar_job *j) {
  if (!j->held) return;
  tprintf(j, "%s", j->held);
  free(j->held);
  j->held = NULL;
}

static void on_base_patched(lunar_job *j, int rc, const lunar_kube_response *res,
                            const lunar_error *err) {
  (void)res;
  j->base_patching = 0;
  if (rc != LUNAR_OK)
    lunar_log("warning", j->id, "could not record the trace offset on Pod %s (a restart now may repeat or lose lines): %s",
              j->pod_name, err->msg);
  write_held(j);
  advance(j);
}

static int patch_base(lunar_job *j, const char *value) {
  json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", BASE_ANNOTATION, value);
  kcall *k = kcall_new(j, on_base_patched);
  lunar_error err;
  int rc = k && patch ? lunar_kube_patch(j->r->kube, "pods", j->ns, j->pod_name, patch, kube_done, k,
                                         NULL, &err)
                      : LUNAR_ENOMEM;
  json_decref(patch);
  if (rc != LUNAR_OK) {
    if (k) kcall_failed(j, k);
    return 0;
  }
  j->base_patching = 1;
  return 1;
}

/* A waiting line: held until the annotation says "waiting". */
static void waiting_line(lunar_job *j, const char *line) {
  if (j->base == BASE_PRELUDE) {
    j->base = BASE_WAITING;
    patch_base(j, "waiting");
  }
  if (!j->base_patching) {
    tprintf(j, "%s", line);
    return;
  }
  append(&j->held, line, strlen(line));
}

/* Before the first log byte: record where the logs begin, if waiting lines
 * moved it. Returns 1 when a patch is in flight (advance runs again after). */
static int record_base(lunar_job *j) {
  if (j->base_patching) return 1;
  if (j->base != BASE_WAITING) return 0;
  j->base = BASE_LOGS;
  lunar_trace_flush(j->trace);
  uint32_t crc = 0;
  lunar_trace_crc32(j->trace, &crc);
  char value[64];
  snprintf(value, sizeof value, "%zu:%08" PRIx32, lunar_trace_size(j->trace), crc);
  return patch_base(j, value);
}

/* Stage containers that ended since the last event. */
static void stage_events(lunar_job *j) {
  for (int i = 0; i < j->n_stages && i < 32; i++) {
    if (j->stage_done & (1u << i)) continue;
    lunar_cstate cs;
    lunar_pod_container(j->pod, j->stages[i], &cs);
    if (cs.state != LUNAR_CSTATE_TERMINATED) continue;
    j->stage_done |= 1u << i;
    long long s0 = 0, s1 = 0;
    long ns0 = 0, ns1 = 0;
    double duration = 0;
    if (cs.started_at && cs.finished_at &&
        lunar_kube_parse_time(cs.started_at, strlen(cs.started_at), &s0, &ns0) == 0 &&
        lunar_kube_parse_time(cs.finished_at, strlen(cs.finished_at), &s1, &ns1) == 0)
      duration = (double)(s1 - s0) + (double)(ns1 - ns0) / 1e9;
    emit(j, "stage_finished",
         json_pack("{s:s, s:i, s:f}", "name", j->stages[i], "exit_code", cs.exit_code, "duration",
                   duration));
  }
}

/* Everything read and every stage ended (or never going to run)? */
static int all_done(lunar_job *j) {
  if (j->logs || j->cur < j->n_stages) return 0;
  int pod_over = j->pod_gone || lunar_pod_terminal(j->pod);
  for (int i = 0; i < j->n_stages; i++) {
    lunar_cstate cs;
    lunar_pod_container(j->pod, j->stages[i], &cs);
    if (cs.state != LUNAR_CSTATE_TERMINATED && !pod_over) return 0;
  }
  return 1;
}

static void conclude(lunar_job *j) {
  if (j->aborted) {
    finish(j, 0, j->r->aborting ? "runner_interrupted" : "job_canceled", 0, "the job was aborted");
    return;
  }
  if (j->timed_out) {
    finish(j, 0, "job_execution_timeout", 0, "execution took longer than the job timeout");
    return;
  }
  if (j->canceled) {
    finish(j, 0, "job_canceled", 0, "canceled");
    return;
  }
  if (j->pull_failed) {
    finish(j, 0, "image_pull_failure", 0, j->pull_text);
    return;
  }
  lunar_pod_outcome out;
  lunar_pod_outcome_of(j->pod, &out);
  if (out.success) {
    finish(j, 1, NULL, 0, NULL);
    return;
  }
  char text[256];
  if (out.stage)
    snprintf(text, sizeof text, "exit code %d", out.exit_code);
  else if (out.failure_reason && !strcmp(out.failure_reason, "job_execution_timeout"))
    snprintf(text, sizeof text, "execution took longer than the job timeout");
  else
    snprintf(text, sizeof text, "the Pod ended (%s) before every stage ran",
             j->pod_gone ? "deleted" : lunar_pod_phase(j->pod));
  finish(j, 0, out.failure_reason, out.exit_code, text);
}

/* Moves the job on after a watch event or a finished log. */
static void advance(lunar_job *j) {
  if (j->phase != J_RUN) return;
  if (!j->logs_started) {
    if (record_base(j)) return; /* resumes when the patch answers */
    j->logs_started = 1;
  }
  while (!j->logs && j->cur < j->n_stages) {
    lunar_cstate cs;
    lunar_pod_container(j->pod, j->stages[j->cur], &cs);
    if (cs.state == LUNAR_CSTATE_RUNNING || cs.state == LUNAR_CSTATE_TERMINATED) {
      if (!j->pod_gone) {
        start_logs(j);
        continue;
      }
    }
    if (j->pod_gone || lunar_pod_terminal(j->pod)) {
      j->cur++; /* never ran (or cannot be read any more) */
      continue;
    }
    break;
  }
  stage_events(j);
  if (all_done(j)) conclude(j);
}

/* ---- watch events ------------------------------------------------------------ */

static int first_stage_started(lunar_job *j) {
  for (int i = 0; i < j->n_stages; i++) {
    lunar_cstate cs;
    lunar_pod_container(j->pod, j->stages[i], &cs);
    if (cs.state == LUNAR_CSTATE_RUNNING || cs.state == LUNAR_CSTATE_TERMINATED) return 1;
  }
  return 0;
}

static void load_stages(lunar_job *j) {
  if (j->n_stages) return;
  const char *names[LUNAR_POD_MAX_STAGES];
  int n = lunar_pod_stages(j->pod, names, LUNAR_POD_MAX_STAGES);
  for (int i = 0; i < n; i++) j->stages[i] = strdup(names[i]);
  j->n_stages = n;
}

static void recreate_with_next_policy(lunar_job *j);

/* A container's image cannot be pulled: the Pod again with the next pull
 * policy, or the job fails. While the Pod waits nothing else can happen; once
 * stages run (the kubelet pulls a regular container's image only after the
 * init containers ended), the logs read so far are kept, the Pod is deleted
 * and the job ends when they are read (conclude). Returns 1 when handled. */
static int pull_failure(lunar_job *j) {
  const char *container, *image, *message;
  if (j->deleting || j->pull_failed || !lunar_pod_pull_failure(j->pod, &container, &image, &message))
    return 0;
  char line[900];
  snprintf(line, sizeof line, YELLOW "WARNING: Failed to pull image \"%s\" for container %s: %s" RESET "\n",
           image ? image : "?", container ? container : "?", message ? message : "");
  if (j->phase == J_WAIT) waiting_line(j, line);
  else note(j, "%s", line);
  if (j->plan && json_is_true(json_object_get(j->plan, "pull_fallback"))) {
    recreate_with_next_policy(j);
    return 1;
  }
  snprintf(j->pull_text, sizeof j->pull_text, "failed to pull image \"%s\": %s", image ? image : "?",
           message ? message : "");
  if (j->phase == J_WAIT) {
    finish(j, 0, "image_pull_failure", 0, j->pull_text);
    return 1;
  }
  j->pull_failed = 1;
  delete_pod(j, 0);
  return 0; /* the logs go on to their end */
}

/* The Pod is created before its Secret (the Secret is owned by the Pod), so
 * the kubelet may briefly miss it (CreateContainerConfigError: secret "NAME"
 * not found): not a reason worth a line in the trace. */
static int own_secret_missing(const lunar_job *j, const char *why) {
  const char *name = j->plan ? sget(json_object_get(json_object_get(j->plan, "secret"), "metadata"), "name")
                             : j->pod_name;
  if (!name) return 0;
  char quoted[300];
  snprintf(quoted, sizeof quoted, "\"%s\"", name);
  return strstr(why, quoted) && strstr(why, "not found");
}

static void waiting(lunar_job *j) {
  if (pull_failure(j)) return;
  char why[512];
  lunar_pod_waiting_reason(j->pod, why, sizeof why);
  if (why[0] && own_secret_missing(j, why)) return;
  if (why[0] && strcmp(why, j->last_wait) != 0) {
    snprintf(j->last_wait, sizeof j->last_wait, "%s", why);
    char line[700];
    snprintf(line, sizeof line, YELLOW "WARNING: Pod %s/%s is waiting: %s" RESET "\n", j->ns,
             j->pod_name, why);
    waiting_line(j, line);
  }
}

void lunar_job_pod_event(lunar_job *j, const char *type, json_t *pod) {
  if (strcmp(type, "DELETED") == 0) {
    j->pod_gone = 1;
    if (j->phase == J_WAIT) {
      finish(j, 0, "runner_system_failure", 0, "the Pod was deleted before the job started");
      return;
    }
  }
  if (pod && pod != j->pod && (!j->pod_gone || !j->pod)) {
    /* watch events come without the spec: the job keeps the one it has */
    const json_t *spec = json_object_get(j->pod, "spec");
    if (spec && !json_object_get(pod, "spec")) json_object_set(pod, "spec", (json_t *)spec);
    json_incref(pod);
    json_decref(j->pod);
    j->pod = pod;
  }
  if (j->phase == J_FINAL || j->phase == J_ACK || j->phase == J_CREATE) return;
  load_stages(j);
  if (j->phase == J_WAIT) {
    if (!first_stage_started(j) && !lunar_pod_terminal(j->pod)) {
      waiting(j);
      return;
    }
    j->phase = J_RUN;
    j->t_running = lunar_loop_now();
    lunar_loop_timer_stop(j->r->loop, j->poll_timer);
    j->poll_timer = NULL;
    lunar_log("info", j->id, "Pod %s running after %.1f s", j->pod_name, secs(j->t_running - j->t_created));
    emit(j, "pod_running",
         json_pack("{s:s, s:s, s:f, s:s}", "pod", j->pod_name, "namespace", j->ns, "waited",
                   secs(j->t_running - j->t_created), "reason", j->last_wait));
  }
  if (!j->pod_gone && pull_failure(j)) return;
  advance(j);
}

/* ---- creating the Pod and the Secret ------------------------------------------ */

static void enter_wait(lunar_job *j) {
  j->phase = J_WAIT;
  j->t_created = lunar_loop_now();
  if (j->r->poll_timeout_s > 0)
    j->poll_timer = lunar_loop_timer_start(j->r->loop, j->r->poll_timeout_s * 1000, on_poll_timeout, j);
  emit(j, "pod_created", json_pack("{s:s, s:s, s:i}", "pod", j->pod_name, "namespace", j->ns,
                                   "attempt", j->attempt));
  if (j->canceled) delete_pod(j, -1);
  /* the watch may have seen the Pod already */
  if (j->pod) lunar_job_pod_event(j, "MODIFIED", j->pod);
}

static void created(lunar_job *j) {
  /* created: a running job keeps only what it still reads (memory per job) */
  json_object_del(j->plan, "pod");
  json_object_del(j->plan, "secret");
  if (!json_is_true(json_object_get(j->plan, "pull_fallback"))) json_object_del(j->plan, "payload_text");
  enter_wait(j);
}

/* The answer to one create of the J_CREATE sequence (Secret, then the
 * PodDisruptionBudget): 1 when the job goes on; 0 when it has ended (it was
 * aborted meanwhile, or the create of `what` failed) or ended before. */
static int create_answered(lunar_job *j, int rc, const lunar_error *err, const char *what) {
  if (j->phase != J_CREATE) return 0;
  if (j->aborted) {
    finish(j, 0, j->r->aborting ? "runner_interrupted" : "job_canceled", 0, "the job was aborted");
    return 0;
  }
  if (rc != LUNAR_OK) {
    char msg[160];
    snprintf(msg, sizeof msg, "could not create %s", what);
    tprintf(j, RED "ERROR: %s: %s" RESET "\n", msg, err->msg);
    finish(j, 0, "runner_system_failure", 0, msg);
    return 0;
  }
  return 1;
}

#define PDB_WHAT "the PodDisruptionBudget (pod_disruption_budget)"

static void on_pdb_created(lunar_job *j, int rc, const lunar_kube_response *res, const lunar_error *err) {
  (void)res;
  if (create_answered(j, rc, err, PDB_WHAT)) created(j);
}

/* pod_disruption_budget: as GitLab Runner, a PodDisruptionBudget
 * "<pod>-pdb" with minAvailable 1 that selects the job's Pod (its `pod`
 * label), owned by the Pod so that it goes with it. Returns 0 when none is
 * wanted or it could not be sent (the job then ends). */
static int create_pdb(lunar_job *j) {
  const json_t *k = json_object_get(lunar_entry_settings(j->entry), "kubernetes");
  if (!json_is_true(json_object_get(k, "pod_disruption_budget"))) return 0;
  const char *selected = sget(json_object_get(json_object_get(j->pod, "metadata"), "labels"), "pod");
  char name[300];
  snprintf(name, sizeof name, "%s-pdb", j->pod_name);
  json_t *pdb = json_pack("{s:s, s:s, s:{s:s, s:[{s:s, s:s, s:s, s:s}]}, s:{s:i, s:{s:{s:s}}}}", "apiVersion",
                          "policy/v1", "kind", "PodDisruptionBudget", "metadata", "name", name,
                          "ownerReferences", "apiVersion", "v1", "kind", "Pod", "name", j->pod_name, "uid",
                          j->pod_uid ? j->pod_uid : "", "spec", "minAvailable", 1, "selector", "matchLabels",
                          "pod", selected ? selected : j->pod_name);
  kcall *call = pdb ? kcall_new(j, on_pdb_created) : NULL;
  lunar_error err;
  if (!call || lunar_kube_create(j->r->kube, "poddisruptionbudgets", j->ns, pdb, kube_done, call, NULL, &err) !=
                   LUNAR_OK) {
    if (call) kcall_failed(j, call);
    json_decref(pdb);
    finish(j, 0, "runner_system_failure", 0, "could not create " PDB_WHAT);
    return 1;
  }
  json_decref(pdb);
  return 1;
}

static void on_secret_created(lunar_job *j, int rc, const lunar_kube_response *res,
                              const lunar_error *err) {
  (void)res;
  if (create_answered(j, rc, err, "the job Secret") && !create_pdb(j)) created(j);
}

static void on_pod_created(lunar_job *j, int rc, const lunar_kube_response *res,
                           const lunar_error *err) {
  if (j->phase != J_CREATE) {
    /* the job ended (timed out) while the create was on its way: no orphan */
    if (rc == LUNAR_OK && j->phase == J_FINAL && !j->pod_uid) {
      j->pod_uid = dup_or_null(sget(json_object_get(res->body, "metadata"), "uid"));
      delete_pod(j, 0);
    }
    return;
  }
  if (rc != LUNAR_OK) {
    tprintf(j, RED "ERROR: could not create Pod %s/%s: %s" RESET "\n", j->ns, j->pod_name, err->msg);
    finish(j, 0, "runner_system_failure", 0, "could not create the Pod");
    return;
  }
  const json_t *meta = json_object_get(res->body, "metadata");
  free(j->pod_uid);
  j->pod_uid = dup_or_null(sget(meta, "uid"));
  if (!j->pod) j->pod = json_incref(res->body);
  else if (!json_object_get(j->pod, "spec")) /* the watch saw the Pod first, without its spec */
    json_object_set(j->pod, "spec", json_object_get(res->body, "spec"));
  json_t *secret = json_incref(json_object_get(j->plan, "secret")); /* changed in place: sent once */
  json_t *owner = json_pack("[{s:s, s:s, s:s, s:s}]", "apiVersion", "v1", "kind", "Pod", "name",
                            j->pod_name, "uid", j->pod_uid ? j->pod_uid : "");
  json_object_set_new(json_object_get(secret, "metadata"), "ownerReferences", owner);
  kcall *k = kcall_new(j, on_secret_created);
  lunar_error e2;
  if (!k || lunar_kube_create(j->r->kube, "secrets", j->ns, secret, kube_done, k, NULL, &e2) != LUNAR_OK) {
    if (k) kcall_failed(j, k);
    json_decref(secret);
    finish(j, 0, "runner_system_failure", 0, "could not create the job Secret");
    return;
  }
  json_decref(secret);
}

/* Creates the Pod first and the Secret owned by it second: the Pod names
 * the Secret in its volumes, and the kubelet waits for it (the Secret is
 * there long before the Pod is scheduled). */
static void create_pod(lunar_job *j) {
  j->phase = J_CREATE;
  lunar_trace_flush(j->trace);
  uint32_t crc = 0;
  lunar_trace_crc32(j->trace, &crc);
  char base[64];
  snprintf(base, sizeof base, "%zu:%08" PRIx32, lunar_trace_size(j->trace), crc);
  json_t *pod = json_incref(json_object_get(j->plan, "pod")); /* changed in place: sent once */
  json_t *meta = json_object_get(pod, "metadata");
  json_t *ann = json_object_get(meta, "annotations");
  if (!json_is_object(ann)) {
    ann = json_object();
    json_object_set_new(meta, "annotations", ann);
  }
  json_object_set_new(ann, BASE_ANNOTATION, json_string(base));
  tprintf(j, "Creating Pod %s/%s\n", j->ns, j->pod_name);
  lunar_trace_flush(j->trace);
  lunar_trace_crc32(j->trace, &crc);
  snprintf(base, sizeof base, "%zu:%08" PRIx32, lunar_trace_size(j->trace), crc);
  json_object_set_new(ann, BASE_ANNOTATION, json_string(base));
  kcall *k = kcall_new(j, on_pod_created);
  lunar_error err;
  if (!k || lunar_kube_create(j->r->kube, "pods", j->ns, pod, kube_done, k, NULL, &err) != LUNAR_OK) {
    if (k) kcall_failed(j, k);
    json_decref(pod);
    finish(j, 0, "runner_system_failure", 0, "could not create the Pod");
    return;
  }
  json_decref(pod);
}

/* ---- resource_availability_check_max_attempts ----------------------------- */

/* GitLab Runner's existence check before the Pod: the service account (the
 * configured one) and each configured image pull secret, each tried
 * N + 1 times, 5 s apart (0 turns the check off; a negative N means 5). */
#define CHECK_INTERVAL_MS 5000

static void check_next(lunar_job *j);

/* The n-th object to check: its resource, kind and name; 0 past the end. */
static int check_object(const lunar_job *j, size_t n, const char **resource, const char **kind,
                        const char **name) {
  const json_t *k = json_object_get(lunar_entry_settings(j->entry), "kubernetes");
  const char *sa = sget(k, "service_account");
  if (sa && *sa) {
    if (n == 0) {
      *resource = "serviceaccounts", *kind = "ServiceAccount", *name = sa;
      return 1;
    }
    n--;
  }
  const json_t *v = json_array_get(json_object_get(k, "image_pull_secrets"), n);
  if (!json_is_string(v)) return 0;
  *resource = "secrets", *kind = "ImagePullSecret", *name = json_string_value(v);
  return 1;
}

static long check_max_attempts(const lunar_job *j) {
  const json_t *v = json_object_get(json_object_get(lunar_entry_settings(j->entry), "kubernetes"),
                                    "resource_availability_check_max_attempts");
  long n = json_is_integer(v) ? (long)json_integer_value(v) : 0;
  return n < 0 ? 5 : n;
}

static void on_check_timer(lunar_loop *loop, void *ud) {
  (void)loop;
  lunar_job *j = ud;
  j->check_timer = NULL;
  if (j->phase == J_ACK) check_next(j);
}

static void on_checked(lunar_job *j, int rc, const lunar_kube_response *res, const lunar_error *err) {
  (void)res;
  if (j->phase != J_ACK) return;
  const char *resource, *kind, *name;
  if (!check_object(j, j->check_index, &resource, &kind, &name)) return;
  if (rc == LUNAR_OK) {
    j->check_index++;
    j->check_attempt = 0;
    check_next(j);
    return;
  }
  if (++j->check_attempt <= check_max_attempts(j)) {
    tprintf(j, "Waiting for %s/%s to be present in the cluster: %s\n", kind, name, err->msg);
    j->check_timer = lunar_loop_timer_start(j->r->loop, CHECK_INTERVAL_MS, on_check_timer, j);
    return;
  }
  char msg[400];
  snprintf(msg, sizeof msg, "Timed out while waiting for %s/%s to be present in the cluster", kind, name);
  tprintf(j, RED "ERROR: %s (resource_availability_check_max_attempts: %ld)" RESET "\n", msg,
          check_max_attempts(j));
  finish(j, 0, "runner_system_failure", 0, msg);
}

static void check_next(lunar_job *j) {
  const char *resource, *kind, *name;
  if (check_max_attempts(j) == 0 || !check_object(j, j->check_index, &resource, &kind, &name)) {
    create_pod(j);
    return;
  }
  kcall *k = kcall_new(j, on_checked);
  lunar_error err;
  int rc = !k ? LUNAR_ENOMEM
         : strcmp(resource, "serviceaccounts") == 0
             ? lunar_kube_get(j->r->kube, "serviceaccounts", j->ns, name, kube_done, k, NULL, &err)
             : lunar_kube_get(j->r->kube, "secrets", j->ns, name, kube_done, k, NULL, &err);
  if (rc != LUNAR_OK) {
    if (k) kcall_failed(j, k);
    finish(j, 0, "runner_system_failure", 0, "could not check that the service account and pull secrets exist");
  }
}

/* The lowest slot no other running job holds (of the same project when
 * project_id >= 0). */
static int free_slot(const lunar_job *self, long long project_id) {
  for (int slot = 0;; slot++) {
    int taken = 0;
    for (const lunar_job *o = self->r->jobs; o && !taken; o = o->next) {
      if (o == self || o->slot < 0) continue;
      if (project_id < 0) taken = o->slot == slot;
      else taken = o->project_id == project_id && o->project_slot == slot;
    }
    if (!taken) return slot;
  }
}

static void take_slots(lunar_job *j, const char *payload, size_t len) {
  json_t *p = json_loadb(payload, len, 0, NULL);
  json_t *pid = json_object_get(json_object_get(p, "job_info"), "project_id");
  j->project_id = json_is_integer(pid) ? (long long)json_integer_value(pid) : 0;
  json_decref(p);
  j->slot = free_slot(j, -1);
  j->project_slot = free_slot(j, j->project_id);
}

/* Renders the plan for attempt j->attempt and takes its names. */
static int prepare(lunar_job *j, const char *payload, size_t len, lunar_error *err) {
  json_t *opts = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i}", "identity", j->r->identity,
                           "server_version", j->r->server_version, "attempt", j->attempt,
                           "pull_attempt", j->attempt, "concurrent_id", j->slot,
                           "project_runner_id", j->project_slot);
  json_t *plan = NULL;
  int rc = lunar_entry_prepare(j->entry, payload, len, opts, &plan, err);
  json_decref(opts);
  if (rc != LUNAR_OK) return rc;
  json_decref(j->plan);
  j->plan = plan;
  free(j->ns);
  free(j->pod_name);
  j->ns = dup_or_null(sget(plan, "namespace"));
  j->pod_name = dup_or_null(sget(plan, "pod_name"));
  return LUNAR_OK;
}

static void recreate_with_next_policy(lunar_job *j) {
  delete_pod(j, 0);
  j->attempt++;
  json_t *payload = json_incref(json_object_get(j->plan, "payload_text"));
  const char *ptext = json_string_value(payload);
  lunar_error err;
  if (!ptext || prepare(j, ptext, json_string_length(payload), &err) != LUNAR_OK) {
    json_decref(payload);
    finish(j, 0, "image_pull_failure", 0, "no further pull policy to try");
    return;
  }
  json_object_set(j->plan, "payload_text", payload);
  json_decref(payload);
  write_held(j);
  if (j->notes) { /* the new Pod's logs begin after them */
    tprintf(j, "%s", j->notes);
    free(j->notes);
    j->notes = NULL;
  }
  tprintf(j, "Retrying with the next pull policy (attempt %d)\n", j->attempt + 1);
  /* the new Pod's logs begin after everything written so far */
  lunar_kube_logs_stop(j->logs);
  j->logs = NULL;
  j->cur = 0;
  j->logs_started = 0;
  j->stage_done = 0;
  j->base = BASE_PRELUDE;
  j->last_wait[0] = '\0';
  write_held(j);
  json_decref(j->pod);
  j->pod = NULL;
  for (int i = 0; i < j->n_stages; i++) free(j->stages[i]);
  j->n_stages = 0;
  j->pod_gone = j->deleting = 0;
  free(j->pod_uid);
  j->pod_uid = NULL;
  lunar_loop_timer_stop(j->r->loop, j->poll_timer);
  j->poll_timer = NULL;
  create_pod(j);
}

/* ---- start: a new job -------------------------------------------------------- */

static const char **string_list(const json_t *arr, size_t *n) {
  *n = json_array_size(arr);
  const char **out = calloc(*n + 1, sizeof *out);
  if (!out) {
    *n = 0;
    return NULL;
  }
  size_t k = 0, i;
  json_t *v;
  json_array_foreach(arr, i, v) if (json_is_string(v)) out[k++] = json_string_value(v);
  *n = k;
  return out;
}

/* The trace of a job: masking from the job's data, the runner's output limit. */
static int new_trace(lunar_job *j, const json_t *job, size_t base, int crc_known, uint32_t crc) {
  size_t nm = 0, np = 0;
  const char **masked = string_list(json_object_get(job, "masked"), &nm);
  const char **prefixes = string_list(json_object_get(job, "token_prefixes"), &np);
  lunar_trace_options o = {
      .limit = (size_t)j->r->output_limit * 1024u,
      .masked = masked,
      .n_masked = nm,
      .token_prefixes = prefixes,
      .n_token_prefixes = np,
      .base = base,
      .base_crc_known = crc_known,
      .base_crc = crc,
  };
  lunar_error err;
  int rc = lunar_trace_new(&o, &j->trace, &err);
  free(masked);
  free(prefixes);
  return rc;
}

static int new_report(lunar_job *j, const json_t *job, size_t start_offset) {
  size_t nr = 0;
  const char **reasons = string_list(json_object_get(job, "failure_reasons"), &nr);
  lunar_gitlab_report_options o = {
      .job_id = j->id,
      .job_token = j->token,
      .debug_trace = json_is_true(json_object_get(job, "debug_trace")),
      .failure_reasons = nr ? reasons : NULL,
      .n_failure_reasons = nr,
      .start_offset = start_offset,
  };
  lunar_gitlab_report_callbacks cb = {.on_cancel = on_cancel, .on_finished = on_report_finished, .ud = j};
  lunar_error err;
  int rc = lunar_gitlab_report_new(j->r->gitlab, j->trace, &o, &cb, &j->report, &err);
  free(reasons);
  return rc;
}

static void on_ack(int verdict, void *ud) {
  lunar_job *j = ud;
  if (verdict == LUNAR_ACK_DROP) {
    lunar_log("info", j->id, "GitLab no longer runs this job: dropped");
    j->phase = J_FINAL;
    j->reported = 1;
    try_free(j);
    return;
  }
  lunar_gitlab_report_start(j->report);
  if (verdict == LUNAR_ACK_CANCELED) {
    finish(j, 0, "job_canceled", 0, "canceled before it started");
    return;
  }
  emit(j, "job_started", json_pack("{s:s, s:s}", "pod", j->pod_name, "namespace", j->ns));
  if (j->timeout_s > 0)
    j->timeout_timer = lunar_loop_timer_start(j->r->loop, j->timeout_s * 1000, on_timeout, j);
  check_next(j);
}

static lunar_job *job_new(lunar_runner *r) {
  lunar_job *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  j->r = r;
  j->entry = r->entry;
  lunar_entry_hold(j->entry);
  j->t_received = lunar_loop_now();
  j->next = r->jobs;
  r->jobs = j;
  r->running++;
  return j;
}

/* A payload that could not be prepared: what is needed to report it. */
static json_t *fallback_job(const char *payload, size_t len, long long *id, char **token) {
  json_t *p = json_loadb(payload, len, 0, NULL);
  *id = json_integer_value(json_object_get(p, "id"));
  *token = dup_or_null(sget(p, "token"));
  json_t *masked = json_array();
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(p, "variables"), i, v) {
    if (json_is_true(json_object_get(v, "masked")) && sget(v, "value"))
      json_array_append_new(masked, json_string(sget(v, "value")));
  }
  if (*token) json_array_append_new(masked, json_string(*token));
  json_t *features = json_object_get(p, "features");
  json_t *job = json_pack("{s:I, s:o, s:O?, s:O?, s:{s:I}}", "id", (json_int_t)*id, "masked", masked,
                          "token_prefixes", json_object_get(features, "token_mask_prefixes"),
                          "failure_reasons", json_object_get(features, "failure_reasons"), "summary",
                          "id", (json_int_t)*id);
  json_decref(p);
  return job;
}

static void prelude(lunar_job *j) {
  const json_t *s = lunar_entry_settings(j->entry);
  tprintf(j, "Running with lunar %s\n  on %s %s\n", sget(s, "version") ? sget(s, "version") : "",
          sget(s, "name") ? sget(s, "name") : "lunar", sget(s, "short_token") ? sget(s, "short_token") : "");
}

void lunar_job_start(lunar_runner *r, const char *payload, size_t len) {
  lunar_job *j = job_new(r);
  if (!j) return;
  take_slots(j, payload, len);
  lunar_error err;
  int ok = prepare(j, payload, len, &err) == LUNAR_OK;
  json_t *job = NULL;
  if (ok) {
    job = json_incref(json_object_get(j->plan, "job"));
    j->id = json_integer_value(json_object_get(job, "id"));
    j->token = dup_or_null(sget(job, "token"));
    json_object_set_new(j->plan, "payload_text", json_stringn(payload, len));
  } else {
    job = fallback_job(payload, len, &j->id, &j->token);
  }
  j->summary = json_incref(json_object_get(job, "summary"));
  if (!j->token || new_trace(j, job, 0, 1, 0) != LUNAR_OK || new_report(j, job, 0) != LUNAR_OK) {
    lunar_log("error", j->id, "cannot take the job (no job token, or out of memory)");
    json_decref(job);
    j->phase = J_FINAL;
    j->reported = 1;
    try_free(j);
    return;
  }
  json_t *t = json_object_get(job, "timeout");
  j->timeout_s = json_is_integer(t) ? (long)json_integer_value(t) : 3600;
  json_decref(job);
  lunar_log("info", j->id, "job received%s%s", ok ? ": Pod " : "", ok ? j->pod_name : "");
  emit(j, "job_received", j->pod_name ? json_pack("{s:s}", "pod", j->pod_name) : json_object());
  prelude(j);
  if (!ok) {
    tprintf(j, RED "ERROR: %s" RESET "\n", err.msg);
    lunar_log("error", j->id, "cannot prepare the job: %s", err.msg);
    lunar_runner_count(j->r, "prepare");
    lunar_gitlab_report_start(j->report);
    finish(j, 0, "runner_configuration_error", 0, "the job could not be prepared (see above)");
    return;
  }
  const json_t *s = lunar_entry_settings(j->entry);
  tprintf(j, "\n" CYAN "Preparing the \"kubernetes\" executor" RESET "\n");
  tprintf(j, "Using Kubernetes namespace: %s\n", j->ns);
  tprintf(j, "Using Kubernetes executor with image %s ...\n", sget(j->plan, "image"));
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(j->plan, "overwrites"), i, v) if (json_is_string(v))
      tprintf(j, "%s\n", json_string_value(v));
  json_array_foreach(json_object_get(j->plan, "warnings"), i, v) if (json_is_string(v))
      tprintf(j, YELLOW "WARNING: %s" RESET "\n", json_string_value(v));
  (void)s;
  j->phase = J_ACK;
  if (lunar_gitlab_report_ack(j->report, on_ack, j, &err) != LUNAR_OK) {
    lunar_log("error", j->id, "cannot acknowledge the job: %s", err.msg);
    on_ack(LUNAR_ACK_RUN, j);
  }
}

/* ---- resume: a Pod found at start-up ------------------------------------------- */

typedef struct resume_ctx {
  lunar_job *j;
  size_t base;
  uint32_t base_crc;
} resume_ctx;

static void on_probe(int rc, size_t size, void *ud) {
  lunar_job *j = ud;
  if (rc < 0) {
    lunar_log("info", j->id, "GitLab no longer runs this job: deleting its Pod %s", j->pod_name);
    j->phase = J_FINAL;
    j->reported = 1;
    delete_pod(j, 0);
    try_free(j);
    return;
  }
  /* the trace continues where GitLab's ends */
  const char *base = lunar_pod_annotation(j->pod, BASE_ANNOTATION);
  size_t blen = 0;
  uint32_t bcrc = 0;
  int known = base && sscanf(base, "%zu:%" SCNx32, &blen, &bcrc) == 2;
  /* "waiting": the runner stopped while the Pod waited; no log byte was sent */
  /* the probe's reporter is in its callback: it and its trace stay until the job ends */
  j->probe_trace = j->trace;
  j->probe_report = j->report;
  j->trace = NULL;
  j->report = NULL;
  json_t *job = json_object_get(j->plan, "job");
  if (known && size >= blen) {
    new_trace(j, job, blen, 1, bcrc);
    j->base = BASE_PRELUDE;
  } else {
    new_trace(j, job, size, 0, 0);
    j->base = BASE_WAITING; /* the logs begin where GitLab's trace ends */
  }
  lunar_trace_release(j->trace, size);
  if (lunar_trace_size(j->trace) < size) j->skip_until = size;
  if (!j->trace || new_report(j, job, size) != LUNAR_OK) {
    lunar_log("error", j->id, "cannot resume Pod %s (out of memory)", j->pod_name);
    j->phase = J_FINAL;
    j->reported = 1;
    try_free(j);
    return;
  }
  lunar_gitlab_report_start(j->report);
  lunar_log("info", j->id, "resumed: Pod %s, GitLab holds %zu trace bytes", j->pod_name, size);
  lunar_runner_count(j->r, "resumed");
  emit(j, "job_resumed", json_pack("{s:s, s:I}", "pod", j->pod_name, "trace_offset", (json_int_t)size));
  if (j->timeout_s > 0) {
    long long created = 0;
    long nsec = 0;
    const char *ts = sget(json_object_get(j->pod, "metadata"), "creationTimestamp");
    long remaining = j->timeout_s;
    if (ts && lunar_kube_parse_time(ts, strlen(ts), &created, &nsec) == 0)
      remaining = (long)(created + j->timeout_s - (long long)time(NULL));
    if (remaining < 1) remaining = 1;
    j->timeout_timer = lunar_loop_timer_start(j->r->loop, remaining * 1000, on_timeout, j);
  }
  j->phase = J_WAIT;
  j->t_created = lunar_loop_now();
  lunar_job_pod_event(j, "MODIFIED", j->pod);
}

static void on_secret(lunar_job *j, int rc, const lunar_kube_response *res, const lunar_error *err) {
  json_t *job = NULL;
  if (rc == LUNAR_OK) {
    const char *text = sget(json_object_get(res->body, "data"), JOB_SECRET_KEY);
    char *raw = NULL;
    size_t n = 0;
    if (text && lunar_base64_decode(text, &raw, &n, NULL) == LUNAR_OK)
      job = json_loadb(raw, n, 0, NULL);
    free(raw);
  }
  if (!job) {
    lunar_log("warning", j->id, "cannot resume Pod %s: its job Secret is unreadable (%s); deleting it",
              j->pod_name, rc == LUNAR_OK ? "no " JOB_SECRET_KEY : err->msg);
    j->phase = J_FINAL;
    j->reported = 1;
    delete_pod(j, 0);
    return;
  }
  j->id = json_integer_value(json_object_get(job, "id"));
  free(j->token);
  j->token = dup_or_null(sget(job, "token"));
  json_t *t = json_object_get(job, "timeout");
  j->timeout_s = json_is_integer(t) ? (long)json_integer_value(t) : 3600;
  json_decref(j->summary);
  j->summary = json_incref(json_object_get(job, "summary"));
  j->plan = json_pack("{s:o}", "job", job);
  lunar_error e2;
  if (!j->token || new_trace(j, job, 0, 0, 0) != LUNAR_OK || new_report(j, job, 0) != LUNAR_OK ||
      lunar_gitlab_report_probe(j->report, on_probe, j, &e2) != LUNAR_OK) {
    lunar_log("error", j->id, "cannot resume Pod %s", j->pod_name);
    j->phase = J_FINAL;
    j->reported = 1;
    delete_pod(j, 0);
  }
}

void lunar_job_resume(lunar_runner *r, json_t *pod) {
  const json_t *meta = json_object_get(pod, "metadata");
  const char *name = sget(meta, "name");
  if (!name) return;
  lunar_job *j = job_new(r);
  if (!j) return;
  j->slot = j->project_slot = -1; /* its Pod has its name already */
  j->resumed = 1;
  /* a Pod being deleted (a graceful cancel or a timeout the runner before us
   * started): its logs are still read to the end and the job reported */
  if (sget(meta, "deletionTimestamp")) {
    j->deleting = 1;
    j->delete_grace = -1;
  }
  j->phase = J_ACK;
  j->ns = dup_or_null(sget(meta, "namespace"));
  j->pod_name = strdup(name);
  j->pod_uid = dup_or_null(sget(meta, "uid"));
  j->pod = json_incref(pod);
  const char *id = lunar_pod_annotation(pod, "lunar.dev/job-id");
  j->id = id ? strtoll(id, NULL, 10) : 0;
  kcall *k = kcall_new(j, on_secret);
  lunar_error err;
  if (!k || lunar_kube_get(r->kube, "secrets", j->ns, j->pod_name, kube_done, k, NULL, &err) != LUNAR_OK) {
    if (k) kcall_failed(j, k);
    j->phase = J_FINAL;
    j->reported = 1;
    try_free(j);
  }
}

lunar_job *lunar_job_find(lunar_runner *r, const char *pod_name) {
  for (lunar_job *j = r->jobs; j; j = j->next)
    if (j->pod_name && !strcmp(j->pod_name, pod_name)) return j;
  return NULL;
}

lunar_job *lunar_job_next(const lunar_job *j) { return j->next; }
