/* The runner's metrics (/metrics) and health (/healthz, /readyz) on
 * listen_address. Names follow Prometheus' conventions: the lunar_ prefix,
 * _total for counters, _seconds and _bytes for units. */
#include <stdio.h>
#include <string.h>

#include "metrics/metrics.h"
#include "metrics/server.h"
#include "runner/internal.h"

#ifndef LUNAR_VERSION
#define LUNAR_VERSION "dev"
#endif

static lunar_counter build_info = {.name = "lunar_build_info", .help = "lunar's version (always 1).",
                                   .label_names = {"version"}, .is_gauge = 1};
static lunar_counter jobs = {.name = "lunar_jobs_total", .help = "Jobs ended, by final state and failure reason.",
                             .label_names = {"state", "failure_reason"}};
static lunar_counter running = {.name = "lunar_jobs_running", .help = "Jobs running now.", .is_gauge = 1};
static lunar_histogram duration = {.name = "lunar_job_duration_seconds",
                                   .help = "Job handed out by GitLab to final state.",
                                   .bounds = {1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200},
                                   .n_bounds = 11};
static lunar_histogram queue_to_start = {.name = "lunar_job_queue_to_start_seconds",
                                         .help = "Job handed out by GitLab to its first stage running.",
                                         .bounds = {0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300},
                                         .n_bounds = 10};
static lunar_counter kube = {.name = "lunar_kube_requests_total",
                             .help = "Kubernetes API requests (attempts) by verb, resource and HTTP code (0: no answer).",
                             .label_names = {"verb", "resource", "code"}};
static lunar_counter gitlab = {.name = "lunar_gitlab_requests_total",
                               .help = "GitLab API requests (attempts) by endpoint and HTTP code (0: no answer).",
                               .label_names = {"endpoint", "code"}};
static lunar_counter retries = {.name = "lunar_retries_total", .help = "Requests tried again, by client.",
                                .label_names = {"client"}};
static lunar_counter resumed = {.name = "lunar_pods_resumed_total",
                                .help = "Jobs resumed from their Pod after a restart of the runner."};
static lunar_counter trace_bytes = {.name = "lunar_trace_bytes_total", .help = "Bytes of job traces (ended jobs)."};
static lunar_counter masked = {.name = "lunar_trace_masked_bytes_total",
                               .help = "Bytes of secrets replaced by [MASKED] in job traces (ended jobs)."};
static lunar_counter policy_failures = {.name = "lunar_policy_failures_total",
                                        .help = "Per-job Lua that failed: a job that could not be prepared, a failing on handler.",
                                        .label_names = {"kind"}};
static lunar_counter lua_memory = {.name = "lunar_lua_memory_bytes",
                                   .help = "Memory of the runner's current Lua state.", .is_gauge = 1};

static void observe_kube(const lunar_kube_target *t, long status, void *ud) {
  (void)ud;
  char res[96], code[8];
  snprintf(res, sizeof res, "%s%s%s", t->resource ? t->resource : "", t->subresource ? "/" : "",
           t->subresource ? t->subresource : "");
  snprintf(code, sizeof code, "%ld", status);
  lunar_counter_add(&kube, 1, (const char *[]){t->verb ? t->verb : "", res, code, NULL});
}

static void observe_gitlab(const char *endpoint, long status, void *ud) {
  (void)ud;
  char code[8];
  snprintf(code, sizeof code, "%ld", status);
  lunar_counter_add(&gitlab, 1, (const char *[]){endpoint, code, NULL});
}

void lunar_runner_count_job(lunar_runner *r, const char *state, const char *reason, double seconds,
                            double to_start, size_t bytes, size_t masked_bytes) {
  (void)r;
  lunar_counter_add(&jobs, 1, (const char *[]){state, reason ? reason : "", NULL});
  lunar_histogram_observe(&duration, seconds);
  if (to_start >= 0) lunar_histogram_observe(&queue_to_start, to_start);
  lunar_counter_add(&trace_bytes, (double)bytes, NULL);
  lunar_counter_add(&masked, (double)masked_bytes, NULL);
}

void lunar_runner_count(lunar_runner *r, const char *what) {
  (void)r;
  if (!strcmp(what, "resumed")) lunar_counter_add(&resumed, 1, NULL);
  else lunar_counter_add(&policy_failures, 1, (const char *[]){what, NULL});
}

static int serve(const char *path, lunar_buf *b, const char **ctype, void *ud) {
  lunar_runner *r = ud;
  if (!strcmp(path, "/healthz")) {
    lunar_buf_printf(b, "ok\n");
    return 200;
  }
  if (!strcmp(path, "/readyz")) {
    lunar_buf_printf(b, r->stopping ? "stopping\n" : "ok\n");
    return r->stopping ? 503 : 200;
  }
  if (strcmp(path, "/metrics") != 0) {
    lunar_buf_printf(b, "not found: try /metrics, /healthz or /readyz\n");
    return 404;
  }
  *ctype = "text/plain; version=0.0.4; charset=utf-8";
  long kr = 0, kre = 0, gr = 0, gre = 0;
  lunar_kube_client_stats(r->kube, &kr, &kre);
  lunar_gitlab_stats(r->gitlab, &gr, &gre);
  lunar_counter_set(&retries, (double)kre, (const char *[]){"kubernetes", NULL});
  lunar_counter_set(&retries, (double)gre, (const char *[]){"gitlab", NULL});
  lunar_counter_set(&running, r->running, NULL);
  lunar_counter_set(&lua_memory, (double)lunar_entry_memory(r->entry), NULL);
  lunar_counter_set(&build_info, 1, (const char *[]){LUNAR_VERSION, NULL});
  const lunar_counter *counters[] = {&build_info, &jobs, &running, &kube, &gitlab, &retries,
                                     &resumed, &trace_bytes, &masked, &policy_failures, &lua_memory};
  for (size_t i = 0; i < sizeof counters / sizeof *counters; i++) lunar_counter_write(counters[i], b);
  lunar_histogram_write(&duration, b);
  lunar_histogram_write(&queue_to_start, b);
  return 200;
}

int lunar_runner_metrics_start(lunar_runner *r, const char *address, lunar_error *err) {
  /* counters that exist from the start, so that rates have a zero to start from */
  lunar_counter_add(&resumed, 0, NULL);
  lunar_counter_add(&trace_bytes, 0, NULL);
  lunar_counter_add(&masked, 0, NULL);
  lunar_kube_client_observe(r->kube, observe_kube, r);
  lunar_gitlab_observe(r->gitlab, observe_gitlab, r);
  if (!address || !*address) return LUNAR_OK;
  char bound[96];
  int rc = lunar_server_start(r->loop, address, serve, r, &r->server, bound, sizeof bound, err);
  if (rc == LUNAR_OK) lunar_log("info", 0, "metrics on http://%s/metrics (and /healthz, /readyz)", bound);
  return rc;
}
