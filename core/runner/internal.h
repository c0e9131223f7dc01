/* Shared between runner.c and job.c only. */
#ifndef LUNAR_RUNNER_INTERNAL_H
#define LUNAR_RUNNER_INTERNAL_H

#include <jansson.h>

#include "bind/entry.h"
#include "gitlab/client.h"
#include "gitlab/report.h"
#include "kube/client.h"
#include "kube/logs.h"
#include "kube/ops.h"
#include "kube/watch.h"
#include "loop/loop.h"
#include "metrics/server.h"
#include "runner/podstate.h"
#include "trace/trace.h"

typedef struct lunar_runner lunar_runner;
typedef struct lunar_job lunar_job;

struct lunar_runner {
  lunar_loop *loop;
  lunar_kube_client *kube;
  lunar_gitlab *gitlab;
  lunar_entry *entry; /* current; jobs hold their own reference */
  lunar_kube_watch *watch;
  const char *ns;       /* borrowed from the entry's settings */
  char identity[64];    /* label value lunar.dev/runner (a label value: at most 63) */
  char selector[160];
  char server_version[16];
  lunar_job *jobs;
  int running;   /* jobs alive */
  int inflight;  /* jobs/request in flight */
  int stopping;  /* no more polling */
  int aborting;  /* jobs are being aborted */
  int max_jobs, ended;
  long long stop_deadline;
  lunar_loop_timer *poll_timer;
  int concurrent, limit, request_concurrency;
  long check_interval_ms;
  long output_limit;
  long poll_timeout_s;
  int print_warnings;
  long kube_requests_before; /* for per-job request counts */
  lunar_server *server;       /* listen_address: /metrics, /healthz */
  int forbidden;              /* jobs/request answered 403 so many times in a row */
  char watch_rv[64];          /* where a failed watch starts again */
};

/* The runner's log: one line on stderr, "TIME LEVEL [job=ID] message". */
void lunar_log(const char *level, long long job_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* job.c */
void lunar_job_start(lunar_runner *r, const char *payload, size_t len);
void lunar_job_resume(lunar_runner *r, json_t *pod);
void lunar_job_pod_event(lunar_job *j, const char *type, json_t *pod);
lunar_job *lunar_job_find(lunar_runner *r, const char *pod_name);
lunar_job *lunar_job_next(const lunar_job *j);
void lunar_job_abort(lunar_job *j, const char *why);
/* metrics.c: counted by job.c and runner.c */
int lunar_runner_metrics_start(lunar_runner *r, const char *address, lunar_error *err);
void lunar_runner_count_job(lunar_runner *r, const char *state, const char *reason, double seconds,
                            double to_start, size_t bytes, size_t masked_bytes);
void lunar_runner_count(lunar_runner *r, const char *what); /* "resumed", "prepare", "handler" */

/* The runner calls this when a job is gone (from job.c). */
void lunar_runner_job_ended(lunar_runner *r, lunar_job *j);

#endif
