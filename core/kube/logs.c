#include "kube/logs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/ops.h"

struct lunar_kube_logs {
  lunar_kube_client *c;
  char *ns, *pod, *container, *since;
  int follow;
  long tail_lines;
  lunar_kube_log_fn on_line;
  lunar_kube_logs_end_fn on_end;
  void *ud;
  lunar_kube_call *call;
  lunar_loop_timer *timer;
  /* where we are: the last timestamp delivered and how many lines carried it */
  int have_last;
  long long last_sec;
  long last_nsec;
  long same_count;
  /* while resuming: lines at the last timestamp still to skip */
  int resuming;
  long skip_same;
  int stopped, failures, requested;
  long reconnects;
};

int lunar_kube_parse_time(const char *s, size_t len, long long *sec, long *nsec) {
  struct tm tm = {0};
  char buf[64];
  if (len >= sizeof buf || len < 20) return -1;
  memcpy(buf, s, len);
  buf[len] = '\0';
  const char *p = strptime(buf, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!p) return -1;
  long ns = 0;
  if (*p == '.') {
    int digits = 0;
    for (p++; *p >= '0' && *p <= '9'; p++)
      if (digits++ < 9) ns = ns * 10 + (*p - '0');
    if (!digits) return -1;
    for (; digits < 9; digits++) ns *= 10;
  }
  long off = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
    off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 + ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
    if (*p == '-') off = -off;
    p += 6;
  } else {
    return -1;
  }
  if (*p) return -1;
  *sec = (long long)timegm(&tm) - off;
  *nsec = ns;
  return 0;
}

static void logs_free(lunar_kube_logs *l) {
  if (!l) return;
  lunar_kube_cancel(l->call);
  lunar_loop_timer_stop(lunar_kube_client_loop(l->c), l->timer);
  free(l->ns);
  free(l->pod);
  free(l->container);
  free(l->since);
  free(l);
}

void lunar_kube_logs_stop(lunar_kube_logs *l) { logs_free(l); }

long lunar_kube_logs_reconnects(const lunar_kube_logs *l) { return l->reconnects; }

static void end(lunar_kube_logs *l, int rc, const lunar_error *err) {
  l->call = NULL;
  l->on_end(rc, err, l->ud);
  logs_free(l);
}

static int cmp_time(long long s1, long n1, long long s2, long n2) {
  if (s1 != s2) return s1 < s2 ? -1 : 1;
  return n1 < n2 ? -1 : n1 > n2;
}

static int on_line(const char *line, size_t len, void *ud) {
  lunar_kube_logs *l = ud;
  const char *sp = memchr(line, ' ', len);
  long long sec;
  long nsec;
  if (!sp || lunar_kube_parse_time(line, (size_t)(sp - line), &sec, &nsec) != 0) {
    /* A piece of an over-long line: it belongs to the line before. */
    if (l->on_line(line, len, "", l->ud)) l->stopped = 1;
    return l->stopped;
  }
  if (l->resuming && l->have_last) {
    int c = cmp_time(sec, nsec, l->last_sec, l->last_nsec);
    if (c < 0) return 0;                         /* seen before the drop */
    if (c == 0 && l->skip_same > 0) {            /* seen, same timestamp */
      l->skip_same--;
      return 0;
    }
  }
  l->resuming = 0;
  if (l->have_last && cmp_time(sec, nsec, l->last_sec, l->last_nsec) == 0) {
    l->same_count++;
  } else {
    l->have_last = 1;
    l->last_sec = sec;
    l->last_nsec = nsec;
    l->same_count = 1;
  }
  char ts[64];
  size_t tl = (size_t)(sp - line) < sizeof ts - 1 ? (size_t)(sp - line) : sizeof ts - 1;
  memcpy(ts, line, tl);
  ts[tl] = '\0';
  l->failures = 0;
  if (l->on_line(sp + 1, len - (size_t)(sp + 1 - line), ts, l->ud)) l->stopped = 1;
  return l->stopped;
}

static void do_request(lunar_kube_logs *l);

static void retry_fire(lunar_loop *loop, void *ud) {
  (void)loop;
  lunar_kube_logs *l = ud;
  l->timer = NULL;
  do_request(l);
}

static void on_done(int rc, const lunar_kube_response *res, const lunar_error *err, void *ud) {
  lunar_kube_logs *l = ud;
  l->call = NULL;
  if (l->stopped || rc == LUNAR_OK) {
    end(l, LUNAR_OK, NULL);
  } else if (res->dropped && l->follow && ++l->failures < lunar_kube_client_retry_limit(l->c)) {
    l->reconnects++;
    long delay = lunar_kube_client_backoff(l->c, l->failures);
    l->timer = lunar_loop_timer_start(lunar_kube_client_loop(l->c), delay, retry_fire, l);
    if (!l->timer) do_request(l);
  } else {
    end(l, rc, err);
  }
}

static void do_request(lunar_kube_logs *l) {
  char q[1024] = "", path[2048], buf[64];
  lunar_error err;
  if (l->container) lunar_kube_query_add(q, sizeof q, "container", l->container);
  if (l->follow) lunar_kube_query_add(q, sizeof q, "follow", "true");
  lunar_kube_query_add(q, sizeof q, "timestamps", "true");
  if (l->have_last) {
    /* Resume from the second of the last line; skip what was delivered. */
    time_t t = (time_t)l->last_sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    lunar_kube_query_add(q, sizeof q, "sinceTime", buf);
    l->resuming = 1;
    l->skip_same = l->same_count;
  } else {
    if (l->since) lunar_kube_query_add(q, sizeof q, "sinceTime", l->since);
    if (l->tail_lines > 0 && !l->requested) {
      snprintf(buf, sizeof buf, "%ld", l->tail_lines);
      lunar_kube_query_add(q, sizeof q, "tailLines", buf);
    }
  }
  l->requested = 1;
  lunar_kube_target t = {.verb = "get", .resource = "pods", .subresource = "log",
                         .namespace = l->ns, .name = l->pod};
  int rc = lunar_kube_path(&t, q, path, sizeof path, &err);
  lunar_kube_request req = {.method = "GET", .path = path, .target = t, .on_line = on_line,
                            .line_ud = l, .line_max = LUNAR_KUBE_LOG_LINE_MAX};
  if (rc == LUNAR_OK) rc = lunar_kube_submit(l->c, &req, on_done, l, &l->call, &err);
  if (rc) end(l, rc, &err);
}

int lunar_kube_logs_start(lunar_kube_client *c, const char *ns, const char *pod,
                          const lunar_kube_logs_opts *opts, lunar_kube_log_fn on_line_fn,
                          lunar_kube_logs_end_fn on_end, void *ud, lunar_kube_logs **out,
                          lunar_error *err) {
  *out = NULL;
  lunar_kube_logs_opts none = {0};
  if (!opts) opts = &none;
  if (!pod || !*pod) return lunar_error_set(err, LUNAR_EINVAL, "logs: no pod name");
  lunar_kube_logs *l = calloc(1, sizeof *l);
  if (!l) return lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  l->c = c;
  l->ns = ns ? strdup(ns) : NULL;
  l->pod = strdup(pod);
  l->container = opts->container && *opts->container ? strdup(opts->container) : NULL;
  l->since = opts->since_time && *opts->since_time ? strdup(opts->since_time) : NULL;
  l->follow = opts->follow;
  l->tail_lines = opts->tail_lines;
  l->on_line = on_line_fn;
  l->on_end = on_end;
  l->ud = ud;
  l->timer = lunar_loop_timer_start(lunar_kube_client_loop(c), 0, retry_fire, l);
  if (!l->pod || !l->timer) {
    logs_free(l);
    return lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  }
  *out = l;
  return LUNAR_OK;
}
