#include "runner/runner.h"

#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "kube/config.h"
#include "runner/internal.h"

#ifndef LUNAR_VERSION
#define LUNAR_VERSION "dev"
#endif

/* ---- log -------------------------------------------------------------------- */

void lunar_log(const char *level, long long job_id, const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* one event, one line: no raw control characters from messages */
  for (char *p = msg; *p; p++)
    if ((unsigned char)*p < 0x20) *p = ' ';
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char ts[32];
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  if (job_id)
    fprintf(stderr, "%s.%03ldZ %-7s job=%lld %s\n", ts, (long)(tv.tv_usec / 1000), level, job_id, msg);
  else
    fprintf(stderr, "%s.%03ldZ %-7s %s\n", ts, (long)(tv.tv_usec / 1000), level, msg);
}

/* ---- signals ----------------------------------------------------------------- */

static volatile sig_atomic_t sig_quit, sig_term, sig_hup;

static void on_signal(int sig) {
  if (sig == SIGQUIT) sig_quit = 1;
  else if (sig == SIGHUP) sig_hup = 1;
  else sig_term = 1;
}

static void install_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: epoll_wait returns EINTR at once */
  sigaction(SIGQUIT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

/* ---- settings ----------------------------------------------------------------- */

static const char *sget(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static long iget(const json_t *o, const char *k, long dflt) {
  json_t *v = json_object_get(o, k);
  return json_is_integer(v) ? (long)json_integer_value(v) : json_is_real(v) ? (long)json_real_value(v) : dflt;
}

static void apply_settings(lunar_runner *r) {
  const json_t *s = lunar_entry_settings(r->entry);
  const json_t *k = json_object_get(s, "kubernetes");
  r->concurrent = (int)iget(s, "concurrent", 1);
  if (r->concurrent < 1) r->concurrent = 1;
  r->limit = (int)iget(s, "limit", 0);
  r->request_concurrency = (int)iget(s, "request_concurrency", 1);
  if (r->request_concurrency < 1) r->request_concurrency = 1;
  r->check_interval_ms = iget(s, "check_interval", 3) * 1000;
  if (r->check_interval_ms <= 0) r->check_interval_ms = 3000;
  r->output_limit = iget(s, "output_limit", 4096);
  if (r->output_limit <= 0) r->output_limit = 4096;
  r->poll_timeout_s = iget(k, "poll_timeout", 180);
  r->print_warnings = !json_is_false(json_object_get(k, "print_pod_warning_events"));
}

/* The `info` object GitLab gets with every runner call (reference §3.2):
 * only what lunar implements is advertised. */
static json_t *runner_info(void) {
  static const char *on[] = {"variables", "image", "services", "artifacts", "cache",
                             "upload_multiple_artifacts", "upload_raw_artifacts", "refspecs",
                             "masking", "raw_variables", "artifacts_exclude", "multi_build_steps",
                             "trace_checksum", "trace_size", "cancelable", "return_exit_code",
                             "service_variables", "image_executor_opts", "cancel_gracefully",
                             "two_phase_job_commit", "fallback_cache_keys", "trace_reset",
                             "service_multiple_aliases"};
  static const char *off[] = {"shared", "session", "terminal", "proxy", "vault_secrets",
                              "service_executor_opts", "native_steps_integration", "job_inputs"};
  json_t *features = json_object();
  for (size_t i = 0; i < sizeof on / sizeof *on; i++) json_object_set_new(features, on[i], json_true());
  for (size_t i = 0; i < sizeof off / sizeof *off; i++) json_object_set_new(features, off[i], json_false());
#if defined(__aarch64__)
  const char *arch = "arm64";
#else
  const char *arch = "amd64";
#endif
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:{s:s}}", "name", "lunar", "version",
                   LUNAR_VERSION, "revision", "main", "platform", "linux", "architecture", arch,
                   "executor", "kubernetes", "shell", "bash", "features", features, "config", "gpus",
                   "");
}

/* ---- polling GitLab ------------------------------------------------------------ */

static void poll_maybe(lunar_runner *r);

static void on_poll_timer(lunar_loop *loop, void *ud) {
  (void)loop;
  lunar_runner *r = ud;
  r->poll_timer = NULL;
  poll_maybe(r);
}

static void poll_later(lunar_runner *r, long ms) {
  if (r->poll_timer || r->stopping) return;
  r->poll_timer = lunar_loop_timer_start(r->loop, ms, on_poll_timer, r);
}

static void on_job_response(int rc, const lunar_gitlab_response *res, const lunar_error *err, void *ud) {
  lunar_runner *r = ud;
  r->inflight--;
  if (rc != LUNAR_OK) {
    lunar_log("warning", 0, "asking GitLab for a job failed: %s", err ? err->msg : "no answer");
    poll_later(r, r->check_interval_ms);
    return;
  }
  if (res->status == 201 && res->body && res->text) {
    r->forbidden = 0;
    if (r->stopping) {
      /* handed out while stopping: run it all the same, nothing may be lost */
      lunar_log("info", 0, "a job arrived while stopping: running it");
    }
    lunar_job_start(r, res->text, strlen(res->text));
    poll_maybe(r);
    return;
  }
  if (res->status == 201) {
    lunar_log("error", 0, "GitLab answered jobs/request with 201 but no JSON job (Content-Type?): ignored");
  } else if (res->status == 403) {
    r->forbidden++;
    lunar_log("error", 0, "GitLab refused the runner token (403) on jobs/request%s",
              r->forbidden >= 3 ? "; check the runner's token: it was removed or is invalid" : "");
  } else if (res->status != 204) {
    lunar_log("warning", 0, "jobs/request answered %ld: %.200s", res->status, res->text ? res->text : "");
  } else {
    r->forbidden = 0;
  }
  poll_later(r, r->forbidden >= 3 ? 60000 : r->check_interval_ms);
}

static void poll_maybe(lunar_runner *r) {
  if (r->stopping) return;
  int cap = r->concurrent;
  if (r->limit > 0 && r->limit < cap) cap = r->limit;
  while (r->running + r->inflight < cap && r->inflight < r->request_concurrency) {
    lunar_error err;
    r->inflight++;
    if (lunar_gitlab_request_job(r->gitlab, on_job_response, r, NULL, &err) != LUNAR_OK) {
      r->inflight--;
      lunar_log("error", 0, "cannot ask GitLab for a job: %s", err.msg);
      poll_later(r, r->check_interval_ms);
      return;
    }
  }
}

void lunar_runner_job_ended(lunar_runner *r, lunar_job *j) {
  (void)j;
  r->running--;
  r->ended++;
  if (r->max_jobs > 0 && r->ended >= r->max_jobs && !r->stopping) {
    lunar_log("info", 0, "%d jobs ended: stopping (--max-jobs)", r->ended);
    r->stopping = 1;
  }
  poll_maybe(r);
}

/* ---- the watch of this runner's Pods ------------------------------------------- */

static void start_watch(lunar_runner *r, const char *rv);

static int on_pod_event(const char *type, json_t *pod, void *ud) {
  lunar_runner *r = ud;
  const char *name = sget(json_object_get(pod, "metadata"), "name");
  lunar_job *j = name ? lunar_job_find(r, name) : NULL;
  if (j) lunar_job_pod_event(j, type, pod);
  return 0;
}

static void on_watch_restart(lunar_loop *loop, void *ud);

static void on_watch_end(int rc, const char *rv, const lunar_error *err, void *ud) {
  lunar_runner *r = ud;
  r->watch = NULL;
  snprintf(r->watch_rv, sizeof r->watch_rv, "%s", rv ? rv : "");
  if (rc != LUNAR_OK) lunar_log("error", 0, "the Pod watch failed: %s; starting it again", err ? err->msg : "");
  lunar_loop_timer_start(r->loop, 1000, on_watch_restart, r);
}

static void on_watch_restart(lunar_loop *loop, void *ud) {
  (void)loop;
  lunar_runner *r = ud;
  start_watch(r, r->watch_rv);
}

/* The watch reads what changes (metadata, status); a job keeps the spec of
 * the Pod it created (lunar_job_pod_event). Parsing the spec and the
 * managedFields of every event was a third of lunar's CPU time per job. */
static const char *const WATCH_SKIP[] = {"object.spec", "object.metadata.managedFields", NULL};

static void start_watch(lunar_runner *r, const char *rv) {
  lunar_kube_watch_opts o = {.label_selector = r->selector, .resource_version = rv, .skip = WATCH_SKIP};
  lunar_error err;
  if (lunar_kube_watch_start(r->kube, "pods", r->ns, &o, on_pod_event, on_watch_end, r, &r->watch,
                             &err) != LUNAR_OK)
    lunar_log("error", 0, "cannot watch Pods: %s", err.msg);
}

/* ---- start-up ------------------------------------------------------------------ */

typedef struct sync_result {
  int done, rc;
  long status;
  json_t *body;
  lunar_error err;
} sync_result;

static void sync_record(sync_result *s, int rc, long status, json_t *body, const lunar_error *err) {
  s->done = 1;
  s->rc = rc;
  s->status = status;
  s->body = body ? json_incref(body) : NULL;
  if (err) s->err = *err;
}

static void kube_sync_done(int rc, const lunar_kube_response *res, const lunar_error *err, void *ud) {
  sync_record(ud, rc, res ? res->status : 0, res ? res->body : NULL, err);
}

static void gitlab_sync_done(int rc, const lunar_gitlab_response *res, const lunar_error *err, void *ud) {
  sync_record(ud, rc, res ? res->status : 0, res ? res->body : NULL, err);
}

/* Start-up runs the loop until one answer is in (nothing else is going on yet). */
static int wait_for(lunar_runner *r, sync_result *s, lunar_error *err) {
  while (!s->done) {
    if (lunar_loop_run_once(r->loop, 1000, err) != LUNAR_OK) return LUNAR_EIO;
    if (sig_term || sig_quit) return lunar_error_set(err, LUNAR_EIO, "interrupted during start-up");
  }
  return LUNAR_OK;
}

static int startup(lunar_runner *r, const lunar_runner_options *opt, lunar_error *err) {
  int rc = lunar_entry_load(opt->parent, opt->open_lunar, opt->entry_path, &r->entry, err);
  if (rc != LUNAR_OK) return rc;
  const json_t *s = lunar_entry_settings(r->entry);
  apply_settings(r);
  /* a copy: a SIGHUP replaces the entry, the identity stays */
  snprintf(r->identity, sizeof r->identity, "%s", sget(s, "identity") ? sget(s, "identity") : "");
  snprintf(r->selector, sizeof r->selector, "lunar.dev/runner=%s", r->identity);

  if ((rc = lunar_loop_new(&r->loop, err)) != LUNAR_OK) return rc;

  /* Kubernetes */
  const json_t *k = json_object_get(s, "kubernetes");
  lunar_kube_settings ks = {
      .host = sget(k, "host"), .context = sget(k, "context"), .kubeconfig = sget(k, "kubeconfig"),
      .ca_file = sget(k, "ca_file"), .cert_file = sget(k, "cert_file"), .key_file = sget(k, "key_file"),
      .bearer_token = sget(k, "bearer_token"), .bearer_token_file = sget(k, "bearer_token_file"),
      .insecure_skip_tls_verify = json_is_true(json_object_get(k, "insecure_skip_tls_verify")),
      .namespace = sget(k, "namespace"),
  };
  lunar_kube_options ko = {
      .qps = json_number_value(json_object_get(k, "qps")),
      .burst = (int)iget(k, "burst", 0),
      .retry_limit = (int)iget(k, "retry_limit", 0),
      .retry_backoff_max_ms = iget(k, "retry_backoff_max", 0),
      .timeout_ms = (long)(json_number_value(json_object_get(k, "request_timeout")) * 1000),
      .connect_timeout_ms = (long)(json_number_value(json_object_get(k, "connect_timeout")) * 1000),
  };
  /* retry_limits: { "error text": attempts }, borrowed from the settings */
  const json_t *limits = json_object_get(k, "retry_limits");
  lunar_kube_retry_limit by_message[64];
  const char *text;
  const json_t *attempts;
  json_object_foreach((json_t *)limits, text, attempts) {
    if (ko.nretry_limits == sizeof by_message / sizeof by_message[0]) break;
    by_message[ko.nretry_limits++] = (lunar_kube_retry_limit){text, (int)json_integer_value(attempts)};
  }
  ko.retry_limits = by_message;
  lunar_kube_env env;
  lunar_kube_env_from_process(&env);
  lunar_kube_config *cfg = NULL;
  if ((rc = lunar_kube_config_load(&ks, &env, &cfg, err)) != LUNAR_OK) return rc;
  if ((rc = lunar_kube_client_new(r->loop, cfg, &ko, &r->kube, err)) != LUNAR_OK) return rc;
  r->ns = lunar_kube_client_config(r->kube)->namespace;

  /* GitLab */
  json_t *info = runner_info();
  lunar_gitlab_options go = {
      .url = sget(s, "url"), .token = sget(s, "token"),
      .system_id = sget(s, "system_id") && *sget(s, "system_id") ? sget(s, "system_id") : NULL,
      .ca_file = sget(s, "tls_ca_file"), .info = info,
  };
  rc = lunar_gitlab_new(r->loop, &go, &r->gitlab, err);
  json_decref(info);
  if (rc != LUNAR_OK) return rc;

  lunar_log("info", 0, "lunar %s starting: runner %s, GitLab %s, Kubernetes %s (namespace %s), concurrent %d",
            LUNAR_VERSION, sget(s, "name"), sget(s, "url"), lunar_kube_client_config(r->kube)->server,
            r->ns, r->concurrent);

  if ((rc = lunar_runner_metrics_start(r, sget(s, "listen_address"), err)) != LUNAR_OK) return rc;

  /* the token */
  sync_result v = {0};
  if ((rc = lunar_gitlab_verify(r->gitlab, gitlab_sync_done, &v, NULL, err)) != LUNAR_OK) return rc;
  if ((rc = wait_for(r, &v, err)) != LUNAR_OK) return rc;
  json_decref(v.body);
  if (v.rc != LUNAR_OK)
    return lunar_error_set(err, LUNAR_EIO, "cannot reach GitLab at %s to verify the runner token: %s",
                           sget(s, "url"), v.err.msg);
  if (v.status == 403)
    return lunar_error_set(err, LUNAR_EINVAL,
                           "GitLab at %s refused the runner token (403 on runners/verify): the token "
                           "in %s is invalid or the runner was removed; create a runner in GitLab "
                           "(Settings > CI/CD > Runners) and put its glrt- token in token_file",
                           sget(s, "url"), lunar_entry_path(r->entry));
  if (v.status != 200)
    return lunar_error_set(err, LUNAR_EIO, "GitLab at %s answered runners/verify with %ld", sget(s, "url"),
                           v.status);

  /* the cluster's version (native sidecars, host aliases) */
  sync_result ver = {0};
  if ((rc = lunar_kube_version(r->kube, kube_sync_done, &ver, NULL, err)) != LUNAR_OK) return rc;
  if ((rc = wait_for(r, &ver, err)) != LUNAR_OK) return rc;
  if (ver.rc != LUNAR_OK) {
    json_decref(ver.body);
    return lunar_error_set(err, LUNAR_EIO, "cannot reach the Kubernetes API server: %s", ver.err.msg);
  }
  snprintf(r->server_version, sizeof r->server_version, "%s.%s",
           sget(ver.body, "major") ? sget(ver.body, "major") : "1",
           sget(ver.body, "minor") ? sget(ver.body, "minor") : "0");
  json_decref(ver.body);

  /* this runner's Pods left by an earlier process: resume or clean up */
  sync_result list = {0};
  if ((rc = lunar_kube_list(r->kube, "pods", r->ns, r->selector, NULL, kube_sync_done, &list, NULL, err)) != LUNAR_OK)
    return rc;
  if ((rc = wait_for(r, &list, err)) != LUNAR_OK) return rc;
  if (list.rc != LUNAR_OK) {
    json_decref(list.body);
    return lunar_error_set(err, LUNAR_EIO, "cannot list this runner's Pods in namespace %s: %s", r->ns,
                           list.err.msg);
  }
  size_t i;
  json_t *pod;
  json_array_foreach(json_object_get(list.body, "items"), i, pod) {
    /* items of a list carry no kind; the watch and the job read only the rest */
    lunar_job_resume(r, pod);
  }
  if (json_array_size(json_object_get(list.body, "items")))
    lunar_log("info", 0, "found %zu Pods of this runner from before: resuming", json_array_size(json_object_get(list.body, "items")));
  start_watch(r, sget(json_object_get(list.body, "metadata"), "resourceVersion"));
  json_decref(list.body);
  return LUNAR_OK;
}

static void reload(lunar_runner *r, const lunar_runner_options *opt) {
  lunar_entry *e = NULL;
  lunar_error err;
  if (lunar_entry_load(opt->parent, opt->open_lunar, opt->entry_path, &e, &err) != LUNAR_OK) {
    lunar_log("error", 0, "SIGHUP: %s is invalid, keeping the running configuration: %s", opt->entry_path,
              err.msg);
    return;
  }
  const json_t *a = lunar_entry_settings(r->entry), *b = lunar_entry_settings(e);
  if (!json_equal(json_object_get(a, "url"), json_object_get(b, "url")) ||
      !json_equal(json_object_get(a, "token"), json_object_get(b, "token")) ||
      !json_equal(json_object_get(a, "kubernetes"), json_object_get(b, "kubernetes")))
    lunar_log("warning", 0, "SIGHUP: url, token and the Kubernetes connection change only with a restart");
  lunar_entry_release(r->entry);
  r->entry = e;
  apply_settings(r);
  lunar_log("info", 0, "SIGHUP: configuration reloaded from %s (running jobs keep theirs)", opt->entry_path);
  poll_maybe(r);
}

static void shutdown_all(lunar_runner *r) {
  lunar_server_free(r->server);
  lunar_kube_watch_stop(r->watch);
  lunar_gitlab_free(r->gitlab);
  lunar_kube_client_free(r->kube);
  lunar_loop_free(r->loop);
  lunar_entry_release(r->entry);
}

int lunar_runner_main(const lunar_runner_options *opt, lunar_error *err) {
  lunar_runner r;
  memset(&r, 0, sizeof r);
  r.max_jobs = opt->max_jobs;
  install_signals();
  if (startup(&r, opt, err) != LUNAR_OK) {
    shutdown_all(&r);
    return 1;
  }
  malloc_trim(0); /* start-up's garbage (the entrypoint's load, the Pod list) goes back to the system */
  poll_maybe(&r);
  long shutdown_ms = iget(lunar_entry_settings(r.entry), "shutdown_timeout", 30) * 1000;
  for (;;) {
    lunar_error e;
    if (lunar_loop_run_once(r.loop, 1000, &e) != LUNAR_OK) {
      lunar_log("error", 0, "%s", e.msg);
      break;
    }
    if (sig_hup) {
      sig_hup = 0;
      reload(&r, opt);
    }
    if ((sig_quit || sig_term) && !r.stopping) {
      r.stopping = 1;
      lunar_log("info", 0, "%s: no more jobs are taken; waiting for %d running job(s)%s",
                sig_quit ? "SIGQUIT" : "SIGTERM", r.running,
                sig_term ? " (aborted after shutdown_timeout)" : "");
      lunar_loop_timer_stop(r.loop, r.poll_timer);
      r.poll_timer = NULL;
    }
    if (sig_term && !r.stop_deadline) r.stop_deadline = lunar_loop_now() + shutdown_ms;
    if (r.stop_deadline && !r.aborting && lunar_loop_now() >= r.stop_deadline && r.running > 0) {
      r.aborting = 1;
      lunar_log("info", 0, "shutdown_timeout reached: aborting %d job(s)", r.running);
      for (lunar_job *j = r.jobs, *next; j; j = next) {
        next = lunar_job_next(j);
        lunar_job_abort(j, "the runner is shutting down");
      }
    }
    if (r.stopping && r.running == 0 && r.inflight == 0) break;
    if (r.stopping && r.running == 0 && r.inflight > 0 && (sig_term || sig_quit)) {
      /* a long poll in flight: wait for it (it may hand out a job) unless killed twice */
    }
  }
  lunar_log("info", 0, "stopped after %d job(s)", r.ended);
  shutdown_all(&r);
  return 0;
}
