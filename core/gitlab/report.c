#include "gitlab/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/backoff.h"

enum { PH_IDLE, PH_RUNNING, PH_FINAL, PH_DONE };
enum { OP_NONE, OP_ACK, OP_PROBE, OP_PATCH, OP_TOUCH, OP_FINAL_PATCH, OP_FINAL_PUT };

struct lunar_gitlab_report {
  lunar_gitlab *g;
  lunar_loop *loop;
  lunar_trace *trace;
  long long job_id;
  char *token;
  int debug_trace;
  long kick_ms, base_interval_ms, interval_ms, touch_ms, final_backoff_ms;
  int urgent; /* kick_now: the next PATCH goes out kick_ms from now, whatever the interval */
  int final_limit;
  char **reasons;
  size_t nreasons;
  int has_reasons;
  lunar_gitlab_report_callbacks cb;

  int phase;
  int op; /* what the call in flight is */
  lunar_gitlab_call *call;
  size_t op_start, op_len;
  lunar_loop_timer *timer;
  long long timer_due;
  unsigned rnd;

  size_t sent; /* GitLab holds the trace up to here */
  long long last_patch, last_accepted;
  int told_graceful, told_abort, aborted, cancel_pending, ack_canceled;

  void (*ack_done)(int verdict, void *ud);
  void *ack_ud;
  void (*probe_done)(int rc, size_t size, void *ud);
  void *probe_ud;

  /* the final update */
  char *state, *reason;
  int exit_code, attempt, repeats, stop_flush;
  lunar_error last_err;

  long requests;
  int depth, dead; /* inside a callback; freed while inside one */
};

static const char *const always_allowed[] = {"script_failure", "runner_system_failure",
                                             "job_execution_timeout"};
/* GitLab's current enum, as far as a runner produces reasons (§8). */
static const char *const gitlab_current[] = {
    "script_failure",     "runner_system_failure",      "job_execution_timeout",
    "unknown_failure",    "runner_configuration_error", "runner_external_dependency_failure",
    "runner_interrupted",
};

static int listed(const char *s, const char *const *list, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (list[k] && strcmp(list[k], s) == 0) return 1;
  return 0;
}

const char *lunar_gitlab_failure_reason(const char *reason, const char *const *accepted, size_t n) {
  if (!accepted) {
    accepted = gitlab_current;
    n = sizeof gitlab_current / sizeof *gitlab_current;
  }
  if (!reason || !*reason) return "script_failure";
  if (listed(reason, accepted, n) || listed(reason, always_allowed, 3)) return reason;
  static const char *const compat[][2] = {
      {"image_pull_failure", "runner_system_failure"},
      {"runner_configuration_error", "script_failure"},
      {"runner_external_dependency_failure", "runner_system_failure"},
  };
  for (size_t k = 0; k < sizeof compat / sizeof *compat; k++) {
    if (strcmp(reason, compat[k][0]) != 0) continue;
    if (listed(compat[k][1], accepted, n) || listed(compat[k][1], always_allowed, 3))
      return compat[k][1];
  }
  return "unknown_failure";
}

/* ---- life cycle ------------------------------------------------------------- */

int lunar_gitlab_report_new(lunar_gitlab *g, lunar_trace *trace,
                            const lunar_gitlab_report_options *opt,
                            const lunar_gitlab_report_callbacks *cb, lunar_gitlab_report **out,
                            lunar_error *err) {
  *out = NULL;
  if (!opt || !opt->job_token || !*opt->job_token)
    return lunar_error_set(err, LUNAR_EINVAL, "job %lld reporter: no job token",
                           opt ? opt->job_id : 0LL);
  lunar_gitlab_report *r = calloc(1, sizeof *r);
  if (!r) return lunar_error_set(err, LUNAR_ENOMEM, "job %lld reporter: out of memory", opt->job_id);
  r->g = g;
  r->loop = lunar_gitlab_loop(g);
  r->trace = trace;
  r->job_id = opt->job_id;
  r->token = strdup(opt->job_token);
  r->debug_trace = opt->debug_trace;
  r->kick_ms = opt->kick_ms > 0 ? opt->kick_ms : LUNAR_REPORT_KICK_DEFAULT_MS;
  r->base_interval_ms = opt->interval_ms > 0 ? opt->interval_ms : LUNAR_REPORT_INTERVAL_DEFAULT_MS;
  r->interval_ms = r->base_interval_ms;
  r->touch_ms = opt->touch_ms > 0 ? opt->touch_ms : LUNAR_REPORT_TOUCH_DEFAULT_MS;
  r->sent = opt->start_offset;
  r->final_backoff_ms = opt->final_backoff_ms > 0 ? opt->final_backoff_ms : LUNAR_REPORT_FINAL_BACKOFF_BASE_MS;
  r->final_limit = opt->final_retry_limit > 0 ? opt->final_retry_limit : LUNAR_REPORT_FINAL_RETRY_DEFAULT;
  if (cb) r->cb = *cb;
  r->rnd = lunar_backoff_seed(r);
  r->last_patch = -(1LL << 40);
  int oom = !r->token;
  if (opt->failure_reasons) {
    r->has_reasons = 1;
    r->reasons = calloc(opt->n_failure_reasons + 1, sizeof *r->reasons);
    oom = oom || !r->reasons;
    for (size_t k = 0; !oom && k < opt->n_failure_reasons; k++) {
      if (!opt->failure_reasons[k]) continue;
      r->reasons[r->nreasons] = strdup(opt->failure_reasons[k]);
      oom = !r->reasons[r->nreasons++];
    }
  }
  if (oom) {
    lunar_gitlab_report_free(r);
    return lunar_error_set(err, LUNAR_ENOMEM, "job %lld reporter: out of memory", opt->job_id);
  }
  *out = r;
  return LUNAR_OK;
}

static void destroy(lunar_gitlab_report *r) {
  for (size_t k = 0; k < r->nreasons; k++) free(r->reasons[k]);
  free(r->reasons);
  free(r->token);
  free(r->state);
  free(r->reason);
  free(r);
}

static void stop_timer(lunar_gitlab_report *r) {
  lunar_loop_timer_stop(r->loop, r->timer);
  r->timer = NULL;
}

void lunar_gitlab_report_free(lunar_gitlab_report *r) {
  if (!r || r->dead) return;
  lunar_gitlab_cancel(r->call);
  r->call = NULL;
  stop_timer(r);
  if (r->depth > 0) {
    r->dead = 1; /* freed when the callback returns */
    return;
  }
  destroy(r);
}

void lunar_gitlab_report_set_trace(lunar_gitlab_report *r, lunar_trace *trace) { r->trace = trace; }
long lunar_gitlab_report_requests(const lunar_gitlab_report *r) { return r->requests; }
size_t lunar_gitlab_report_sent(const lunar_gitlab_report *r) { return r->sent; }

/* ---- helpers ---------------------------------------------------------------------- */

static void on_call(int rc, const lunar_gitlab_response *res, const lunar_error *err, void *ud);
static void on_timer(lunar_loop *loop, void *ud);

/* Runs fn at `at` (loop ms) unless the timer is already due sooner. */
static void arm(lunar_gitlab_report *r, long long at) {
  if (r->timer && r->timer_due <= at) return;
  stop_timer(r);
  long long now = lunar_loop_now();
  r->timer = lunar_loop_timer_start(r->loop, at > now ? (long)(at - now) : 0, on_timer, r);
  r->timer_due = at;
}

static size_t unsent(const lunar_gitlab_report *r) {
  size_t len = 0;
  if (!r->trace || r->sent >= lunar_trace_size(r->trace)) return 0;
  return lunar_trace_data(r->trace, r->sent, &len) ? len : 0; /* released: cannot resend */
}

static int is_status(const lunar_gitlab_response *res, const char *s) {
  return res->job_status && strcmp(res->job_status, s) == 0;
}

/* §7.2 rule 1 (and 404 for PUT): GitLab no longer runs the job here. */
static int is_abort(const lunar_gitlab_response *res, int put) {
  return is_status(res, "canceled") || is_status(res, "failed") || res->status == 403 ||
         (put && res->status == 404);
}

/* Tells the caller about a cancel once per kind. Returns 1 when the reporter
 * was freed by the callback. */
static int tell_cancel(lunar_gitlab_report *r, int graceful) {
  int *told = graceful ? &r->told_graceful : &r->told_abort;
  if (*told) return 0;
  *told = 1;
  if (r->cb.on_cancel) r->cb.on_cancel(graceful, r->cb.ud);
  return r->dead;
}

static void output(lunar_gitlab_report *r, json_t *o) {
  json_t *out = json_object();
  uint32_t crc;
  if (r->trace) {
    size_t size = lunar_trace_size(r->trace);
    if (lunar_trace_crc32(r->trace, &crc) == 0 && size > 0) {
      char s[16];
      snprintf(s, sizeof s, "crc32:%08x", crc);
      json_object_set_new(out, "checksum", json_string(s));
      if (r->phase == PH_FINAL) json_object_set_new(o, "checksum", json_string(s));
    }
    if (size > 0) json_object_set_new(out, "bytesize", json_integer((json_int_t)size));
  }
  json_object_set_new(o, "output", out);
}

static int put(lunar_gitlab_report *r, int op, json_t *body, lunar_error *err) {
  int rc = body ? lunar_gitlab_update_job(r->g, r->job_id, r->token, body, on_call, r, &r->call, err)
                : lunar_error_set(err, LUNAR_ENOMEM, "job %lld: out of memory", r->job_id);
  json_decref(body);
  if (rc == LUNAR_OK) r->op = op;
  return rc;
}

static int patch(lunar_gitlab_report *r, int op, lunar_error *err) {
  size_t len = 0;
  const char *d = lunar_trace_data(r->trace, r->sent, &len);
  if (len > (size_t)LUNAR_REPORT_PATCH_MAX) len = (size_t)LUNAR_REPORT_PATCH_MAX;
  int rc = lunar_gitlab_patch_trace(r->g, r->job_id, r->token, r->sent, d, len, r->debug_trace,
                                    on_call, r, &r->call, err);
  if (rc != LUNAR_OK) return rc;
  r->op = op;
  r->op_start = r->sent;
  r->op_len = len;
  r->last_patch = lunar_loop_now();
  r->urgent = 0;
  return LUNAR_OK;
}

/* A 202's new offset: GitLab's Range when it says one, else what was sent. */
static void accepted_patch(lunar_gitlab_report *r, const lunar_gitlab_response *res) {
  size_t end = r->op_start + r->op_len;
  r->sent = res->range_end >= 0 ? (size_t)res->range_end : end;
  r->last_accepted = lunar_loop_now();
  if (r->trace) lunar_trace_release(r->trace, r->sent);
}

/* ---- the trace loop ----------------------------------------------------------------- */

/* When the loop should next wake up: to send what is unsent (paced, see the
 * header), or to touch the job. */
static void plan(lunar_gitlab_report *r) {
  if (r->phase != PH_RUNNING || r->aborted || r->call || r->dead) return;
  long long now = lunar_loop_now();
  long long at = r->last_accepted + r->touch_ms;
  size_t u = unsent(r);
  if (u > 0) {
    long long soon = r->urgent ? now : r->last_patch + r->interval_ms;
    if (soon < now + r->kick_ms) soon = now + r->kick_ms;
    if (u >= (size_t)LUNAR_REPORT_PATCH_MAX) soon = now;
    if (soon < at) at = soon;
  }
  arm(r, at);
}

static void tick(lunar_gitlab_report *r) {
  lunar_error err;
  if (r->aborted || r->call) return;
  if (r->cancel_pending && tell_cancel(r, 1)) return;
  r->cancel_pending = 0;
  if (unsent(r) > 0) {
    if (patch(r, OP_PATCH, &err) == LUNAR_OK) return;
  } else if (lunar_loop_now() - r->last_accepted >= r->touch_ms) {
    json_t *b = json_pack("{s:s}", "state", "running");
    if (b) output(r, b);
    if (put(r, OP_TOUCH, b, &err) == LUNAR_OK) return;
    r->last_accepted = lunar_loop_now(); /* out of memory: try again a touch interval later */
  }
  plan(r);
}

void lunar_gitlab_report_start(lunar_gitlab_report *r) {
  if (r->phase != PH_IDLE) return;
  r->phase = PH_RUNNING;
  r->last_accepted = lunar_loop_now();
  if (r->cancel_pending) arm(r, lunar_loop_now());
  plan(r);
}

void lunar_gitlab_report_kick(lunar_gitlab_report *r) {
  if (r->phase == PH_RUNNING) plan(r);
}

void lunar_gitlab_report_kick_now(lunar_gitlab_report *r) {
  r->urgent = 1;
  if (r->phase == PH_RUNNING && !r->call) plan(r);
}

/* ---- the final update ------------------------------------------------------------------ */

static void final_step(lunar_gitlab_report *r);

static void finished(lunar_gitlab_report *r, int accepted, const lunar_error *err) {
  lunar_error none = {0};
  r->phase = PH_DONE;
  stop_timer(r);
  if (r->cb.on_finished) r->cb.on_finished(accepted, err ? err : &none, r->cb.ud);
}

/* Waits before the step after a 202/412/416, within one attempt. */
static void repeat(lunar_gitlab_report *r) {
  if (++r->repeats > LUNAR_REPORT_FINAL_REPEAT_MAX) {
    lunar_error_set(&r->last_err, LUNAR_EIO,
                    "job %lld: GitLab did not take the final update after %d rounds", r->job_id,
                    LUNAR_REPORT_FINAL_REPEAT_MAX);
    r->repeats = 0;
    r->attempt = r->final_limit; /* give up */
    finished(r, 0, &r->last_err);
    return;
  }
  arm(r, lunar_loop_now() + r->interval_ms);
}

static void attempt_failed(lunar_gitlab_report *r) {
  if (r->attempt >= r->final_limit) {
    lunar_error_wrap(&r->last_err, "job %lld: final update given up after %d attempt%s", r->job_id,
                     r->attempt, r->attempt == 1 ? "" : "s");
    finished(r, 0, &r->last_err);
    return;
  }
  long wait = lunar_backoff_delay(r->final_backoff_ms, LUNAR_REPORT_FINAL_BACKOFF_MAX_MS,
                                  r->attempt, lunar_backoff_next(&r->rnd));
  r->attempt++;
  r->repeats = 0;
  r->stop_flush = 0;
  r->interval_ms = r->base_interval_ms;
  arm(r, lunar_loop_now() + wait);
}

static void final_put(lunar_gitlab_report *r) {
  json_t *b = json_pack("{s:s}", "state", r->state);
  if (b && strcmp(r->state, "failed") == 0) {
    const char *reason = r->ack_canceled ? (r->reason ? r->reason : "job_canceled")
                         : lunar_gitlab_failure_reason(r->reason,
                                                       r->has_reasons ? (const char *const *)r->reasons : NULL,
                                                       r->nreasons);
    json_object_set_new(b, "failure_reason", json_string(reason));
  }
  if (b && r->exit_code != 0) json_object_set_new(b, "exit_code", json_integer(r->exit_code));
  if (b) output(r, b);
  if (put(r, OP_FINAL_PUT, b, &r->last_err) != LUNAR_OK) attempt_failed(r);
}

static void final_step(lunar_gitlab_report *r) {
  if (r->call || r->phase != PH_FINAL) return;
  if (!r->stop_flush && unsent(r) > 0) {
    if (patch(r, OP_FINAL_PATCH, &r->last_err) != LUNAR_OK) attempt_failed(r);
    return;
  }
  final_put(r);
}

void lunar_gitlab_report_finish(lunar_gitlab_report *r, const char *state,
                                const char *failure_reason, int exit_code) {
  if (r->phase == PH_FINAL || r->phase == PH_DONE) return;
  r->phase = PH_FINAL;
  r->state = strdup(state ? state : "failed");
  r->reason = failure_reason ? strdup(failure_reason) : NULL;
  r->exit_code = exit_code;
  r->attempt = 1;
  r->interval_ms = r->base_interval_ms;
  stop_timer(r);
  if (r->trace) lunar_trace_flush(r->trace);
  if (!r->state) {
    lunar_error_set(&r->last_err, LUNAR_ENOMEM, "job %lld: out of memory", r->job_id);
    r->attempt = r->final_limit;
    arm(r, lunar_loop_now()); /* on_finished(0) from the loop, not from here */
    return;
  }
  if (!r->call) arm(r, lunar_loop_now()); /* else: after the call in flight */
}

/* ---- answers ------------------------------------------------------------------------------ */

static void on_timer(lunar_loop *loop, void *ud) {
  (void)loop;
  lunar_gitlab_report *r = ud;
  r->timer = NULL;
  r->depth++;
  if (r->phase == PH_RUNNING) tick(r);
  else if (r->phase == PH_FINAL && !r->state) finished(r, 0, &r->last_err);
  else if (r->phase == PH_FINAL) final_step(r);
  r->depth--;
  if (r->dead && r->depth == 0) destroy(r);
}

static void ack_answer(lunar_gitlab_report *r, int rc, const lunar_gitlab_response *res) {
  int verdict = LUNAR_ACK_RUN;
  if (rc == LUNAR_OK && is_abort(res, 1)) {
    verdict = LUNAR_ACK_DROP;
  } else if (rc == LUNAR_OK && is_status(res, "canceling")) {
    verdict = LUNAR_ACK_CANCELED;
    r->ack_canceled = 1;
    r->told_graceful = 1; /* the verdict says it */
  } else if (rc == LUNAR_OK && res->status == 200) {
    r->last_accepted = lunar_loop_now();
  }
  if (r->ack_done) r->ack_done(verdict, r->ack_ud);
}

static void probe_answer(lunar_gitlab_report *r, int rc, const lunar_gitlab_response *res) {
  int out = LUNAR_EIO;
  size_t size = 0;
  if (rc == LUNAR_OK && (is_abort(res, 0) || res->status == 404)) {
    out = LUNAR_ENOTFOUND;
  } else if (rc == LUNAR_OK && (res->status == 416 || res->status == 202)) {
    out = LUNAR_OK;
    size = res->status == 416 && res->range_end >= 0 ? (size_t)res->range_end : 0;
    r->sent = size;
    r->cancel_pending = is_status(res, "canceling");
  }
  if (r->probe_done) r->probe_done(out, size, r->probe_ud);
}

static void running_answer(lunar_gitlab_report *r, int op, int rc, const lunar_gitlab_response *res) {
  if (rc == LUNAR_OK && op == OP_PATCH) {
    if (res->status == 202) accepted_patch(r, res);
    else if (res->status == 416) r->sent = res->range_end >= 0 ? (size_t)res->range_end : 0;
  } else if (rc == LUNAR_OK && op == OP_TOUCH && res->status == 200) {
    r->last_accepted = lunar_loop_now();
  } else if (op == OP_TOUCH) {
    r->last_accepted = lunar_loop_now(); /* not accepted: touch again a touch interval later */
  }
  if (rc != LUNAR_OK || r->phase != PH_RUNNING) return;
  if (is_status(res, "canceling") && tell_cancel(r, 1)) return;
  if (is_abort(res, op == OP_TOUCH)) {
    r->aborted = 1;
    stop_timer(r);
    if (tell_cancel(r, 0)) return;
  }
}

static void final_answer(lunar_gitlab_report *r, int op, int rc, const lunar_gitlab_response *res,
                         const lunar_error *err) {
  if (rc != LUNAR_OK) {
    r->last_err = *err;
    attempt_failed(r);
    return;
  }
  if (op == OP_FINAL_PATCH) {
    if (is_abort(res, 0) || res->status == 404) {
      r->stop_flush = 1;
      final_step(r);
    } else if (res->status == 202) {
      accepted_patch(r, res);
      final_step(r);
    } else if (res->status == 416) {
      r->sent = res->range_end >= 0 ? (size_t)res->range_end : 0;
      repeat(r);
    } else {
      r->last_err = *err;
      attempt_failed(r);
    }
    return;
  }
  if (is_abort(res, 1)) {
    lunar_error e;
    lunar_error_set(&e, LUNAR_ENOTFOUND, "job %lld: GitLab no longer runs the job (%ld%s%s)",
                    r->job_id, res->status, res->job_status ? ", Job-Status " : "",
                    res->job_status ? res->job_status : "");
    finished(r, 1, &e);
  } else if (res->status == 200) {
    finished(r, 1, NULL);
  } else if (res->status == 202) {
    repeat(r);
  } else if (res->status == 412) {
    size_t len;
    if (r->trace && lunar_trace_data(r->trace, 0, &len)) r->sent = 0; /* resend it all */
    repeat(r);
  } else {
    r->last_err = *err;
    attempt_failed(r);
  }
}

static void on_call(int rc, const lunar_gitlab_response *res, const lunar_error *err, void *ud) {
  lunar_gitlab_report *r = ud;
  int op = r->op;
  r->call = NULL;
  r->op = OP_NONE;
  r->requests += res->attempts;
  if (res->update_interval_s > 0) r->interval_ms = res->update_interval_s * 1000;
  r->depth++;
  if (op == OP_ACK) ack_answer(r, rc, res);
  else if (op == OP_PROBE) probe_answer(r, rc, res);
  else if (op == OP_PATCH || op == OP_TOUCH) running_answer(r, op, rc, res);
  else final_answer(r, op, rc, res, err);
  if (!r->dead) {
    if (r->phase == PH_RUNNING) plan(r);
    else if (r->phase == PH_FINAL && !r->call && !r->timer) arm(r, lunar_loop_now());
  }
  r->depth--;
  if (r->dead && r->depth == 0) destroy(r);
}

/* ---- ack and probe -------------------------------------------------------------------------- */

int lunar_gitlab_report_ack(lunar_gitlab_report *r, void (*done)(int verdict, void *ud), void *ud,
                            lunar_error *err) {
  if (r->call)
    return lunar_error_set(err, LUNAR_EINVAL, "job %lld: ack while another request is in flight",
                           r->job_id);
  r->ack_done = done;
  r->ack_ud = ud;
  return put(r, OP_ACK, json_pack("{s:s,s:{}}", "state", "running", "output"), err);
}

int lunar_gitlab_report_probe(lunar_gitlab_report *r, void (*done)(int rc, size_t size, void *ud),
                              void *ud, lunar_error *err) {
  if (r->call)
    return lunar_error_set(err, LUNAR_EINVAL, "job %lld: probe while another request is in flight",
                           r->job_id);
  r->probe_done = done;
  r->probe_ud = ud;
  int rc = lunar_gitlab_patch_trace(r->g, r->job_id, r->token, 0, NULL, 0, r->debug_trace, on_call,
                                    r, &r->call, err);
  if (rc == LUNAR_OK) r->op = OP_PROBE;
  return rc;
}
