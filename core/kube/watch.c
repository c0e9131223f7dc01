#include "kube/watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/skim.h"
#include "kube/ops.h"

#define WATCH_TIMEOUT_DEFAULT_S 300

struct lunar_kube_watch {
  lunar_kube_client *c;
  char *resource, *ns, *label, *field;
  long server_timeout_s;
  char rv[128];
  json_t *known; /* "namespace/name" -> resourceVersion of every object seen */
  lunar_kube_event_fn on_event;
  lunar_kube_watch_end_fn on_end;
  void *ud;
  lunar_kube_call *call;
  lunar_loop_timer *timer;
  int failures; /* consecutive dropped streams */
  int stopped;  /* the event callback asked to stop */
  int gone;     /* the stream said 410: list again */
  int watched;  /* a watch request was made before (the next one reconnects) */
  lunar_error err; /* an ERROR event other than 410 */
  long lists, reconnects;
  const char *const *skip; /* members dropped from each event before parsing (borrowed) */
  char *scratch;           /* the event without them */
  size_t scratch_cap;
};

static void do_list(lunar_kube_watch *w);
static void do_watch(lunar_kube_watch *w);

static void watch_free(lunar_kube_watch *w) {
  if (!w) return;
  lunar_kube_cancel(w->call);
  lunar_loop_timer_stop(lunar_kube_client_loop(w->c), w->timer);
  json_decref(w->known);
  free(w->resource);
  free(w->ns);
  free(w->label);
  free(w->field);
  free(w->scratch);
  free(w);
}

void lunar_kube_watch_stop(lunar_kube_watch *w) { watch_free(w); }

const char *lunar_kube_watch_resource_version(const lunar_kube_watch *w) { return w->rv; }

void lunar_kube_watch_stats(const lunar_kube_watch *w, long *lists, long *reconnects) {
  if (lists) *lists = w->lists;
  if (reconnects) *reconnects = w->reconnects;
}

static void end(lunar_kube_watch *w, int rc, const lunar_error *err) {
  w->call = NULL;
  w->on_end(rc, w->rv, err, w->ud);
  watch_free(w);
}

/* "namespace/name", whole however long the server made them (a cut key would
 * lose its '/' and mix objects up); NULL when out of memory. Caller frees. */
static char *key_of(json_t *obj) {
  json_t *md = json_object_get(obj, "metadata");
  const char *ns = json_string_value(json_object_get(md, "namespace"));
  const char *name = json_string_value(json_object_get(md, "name"));
  char *key;
  return asprintf(&key, "%s/%s", ns ? ns : "", name ? name : "") < 0 ? NULL : key;
}

static const char *rv_of(json_t *obj) {
  const char *rv = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
  return rv ? rv : "";
}

static void set_rv(lunar_kube_watch *w, const char *rv) {
  if (rv && *rv) snprintf(w->rv, sizeof w->rv, "%s", rv);
}

/* Reports one event and keeps `known` in step; returns nonzero to stop. */
static int report(lunar_kube_watch *w, const char *type, json_t *obj) {
  char *key = key_of(obj);
  if (!key) {
    /* not kept: a later list reports it again as ADDED */
  } else if (strcmp(type, "DELETED") == 0) json_object_del(w->known, key);
  else json_object_set_new(w->known, key, json_string(rv_of(obj)));
  free(key);
  if (w->on_event(type, obj, w->ud)) w->stopped = 1;
  return w->stopped;
}

/* ---- list (first, and after 410) -------------------------------------------- */

static void on_listed(int rc, const lunar_kube_response *res, const lunar_error *err, void *ud) {
  lunar_kube_watch *w = ud;
  w->call = NULL;
  if (rc != LUNAR_OK) {
    end(w, rc, err);
    return;
  }
  json_t *items = json_object_get(res->body, "items");
  json_t *before = w->known;
  w->known = json_object();
  size_t i;
  json_t *item;
  json_array_foreach(items, i, item) {
    char *key = key_of(item);
    if (!key) continue;
    const char *old = json_string_value(json_object_get(before, key));
    const char *type = !old ? "ADDED" : strcmp(old, rv_of(item)) != 0 ? "MODIFIED" : NULL;
    json_object_del(before, key);
    int stop = 0;
    if (type) stop = report(w, type, item);
    else json_object_set_new(w->known, key, json_string(rv_of(item)));
    free(key);
    if (stop) break;
  }
  /* What was known and is not listed any more was deleted meanwhile. */
  const char *k;
  json_t *v;
  void *tmp;
  json_object_foreach_safe(before, tmp, k, v) {
    if (w->stopped) break;
    const char *slash = strchr(k, '/');
    json_t *stub = json_pack("{s:{s:s#, s:s, s:s}}", "metadata", "namespace", k,
                             (int)(slash - k), "name", slash + 1, "resourceVersion",
                             json_string_value(v));
    report(w, "DELETED", stub);
    json_decref(stub);
  }
  json_decref(before);
  set_rv(w, rv_of(res->body));
  if (w->stopped) end(w, LUNAR_OK, NULL);
  else do_watch(w);
}

static void do_list(lunar_kube_watch *w) {
  lunar_error err;
  w->lists++;
  w->rv[0] = '\0';
  if (lunar_kube_list(w->c, w->resource, w->ns, w->label, w->field, on_listed, w, &w->call, &err))
    end(w, err.code, &err);
}

/* ---- watch ---------------------------------------------------------------- */

static int on_line(const char *line, size_t len, void *ud) {
  lunar_kube_watch *w = ud;
  json_error_t jerr;
  if (w->skip) {
    if (w->scratch_cap < len) {
      char *grown = realloc(w->scratch, len);
      if (grown) {
        w->scratch = grown;
        w->scratch_cap = len;
      }
    }
    size_t n = w->scratch_cap >= len ? lunar_json_skim(line, len, w->scratch, w->skip) : (size_t)-1;
    if (n != (size_t)-1) {
      line = w->scratch;
      len = n;
    }
  }
  json_t *ev = json_loadb(line, len, 0, &jerr);
  const char *type = json_string_value(json_object_get(ev, "type"));
  json_t *obj = json_object_get(ev, "object");
  int stop = 0;
  if (!type || !json_is_object(obj)) {
    lunar_error_set(&w->err, LUNAR_EIO, "watch %s: cannot read an event from the API server: %s",
                    w->resource, ev ? "no type or object" : jerr.text);
    stop = 1;
  } else if (strcmp(type, "ERROR") == 0) {
    if (json_integer_value(json_object_get(obj, "code")) == 410) {
      w->gone = 1;
    } else {
      const char *m = json_string_value(json_object_get(obj, "message"));
      lunar_error_set(&w->err, LUNAR_EIO, "watch %s: the API server reported an error: %s",
                      w->resource, m ? m : "(no message)");
    }
    stop = 1;
  } else {
    w->failures = 0;
    set_rv(w, rv_of(obj));
    if (strcmp(type, "BOOKMARK") != 0) stop = report(w, type, obj);
  }
  json_decref(ev);
  return stop;
}

static void retry_fire(lunar_loop *loop, void *ud) {
  (void)loop;
  lunar_kube_watch *w = ud;
  w->timer = NULL;
  do_watch(w);
}

static void on_watch_done(int rc, const lunar_kube_response *res, const lunar_error *err,
                          void *ud) {
  lunar_kube_watch *w = ud;
  w->call = NULL;
  if (w->stopped) {
    end(w, LUNAR_OK, NULL);
  } else if (w->gone || res->status == 410) {
    w->gone = 0;
    do_list(w); /* our version is compacted away: list again */
  } else if (w->err.code) {
    end(w, w->err.code, &w->err);
  } else if (rc == LUNAR_OK) {
    do_watch(w); /* the server ended the watch (timeoutSeconds): go on */
  } else if (res->dropped && ++w->failures < lunar_kube_client_retry_limit(w->c)) {
    long delay = lunar_kube_client_backoff(w->c, w->failures);
    w->timer = lunar_loop_timer_start(lunar_kube_client_loop(w->c), delay, retry_fire, w);
    if (!w->timer) do_watch(w);
  } else {
    end(w, rc, err);
  }
}

static void do_watch(lunar_kube_watch *w) {
  if (!w->rv[0]) {
    do_list(w);
    return;
  }
  char q[3072] = "", t[32], path[4096];
  lunar_error err;
  snprintf(t, sizeof t, "%ld", w->server_timeout_s);
  lunar_kube_query_add(q, sizeof q, "watch", "1");
  lunar_kube_query_add(q, sizeof q, "resourceVersion", w->rv);
  lunar_kube_query_add(q, sizeof q, "allowWatchBookmarks", "true");
  lunar_kube_query_add(q, sizeof q, "timeoutSeconds", t);
  if (w->label) lunar_kube_query_add(q, sizeof q, "labelSelector", w->label);
  if (w->field) lunar_kube_query_add(q, sizeof q, "fieldSelector", w->field);
  lunar_kube_target tg = {.verb = "watch", .resource = w->resource, .namespace = w->ns};
  if (w->watched) w->reconnects++;
  w->watched = 1;
  int rc = lunar_kube_path(&tg, q, path, sizeof path, &err);
  lunar_kube_request req = {.method = "GET", .path = path, .target = tg, .on_line = on_line,
                            .line_ud = w};
  if (rc == LUNAR_OK) rc = lunar_kube_submit(w->c, &req, on_watch_done, w, &w->call, &err);
  if (rc) end(w, rc, &err);
}

static char *dup_opt(const char *s) { return s && *s ? strdup(s) : NULL; }

int lunar_kube_watch_start(lunar_kube_client *c, const char *resource, const char *ns,
                           const lunar_kube_watch_opts *opts, lunar_kube_event_fn on_event,
                           lunar_kube_watch_end_fn on_end, void *ud, lunar_kube_watch **out,
                           lunar_error *err) {
  *out = NULL;
  lunar_kube_watch_opts none = {0};
  if (!opts) opts = &none;
  char path[256];
  lunar_kube_target probe = {.resource = resource, .namespace = ns};
  int rc = lunar_kube_path(&probe, NULL, path, sizeof path, err);
  if (rc) return rc;
  lunar_kube_watch *w = calloc(1, sizeof *w);
  if (!w) return lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  w->c = c;
  w->resource = strdup(resource);
  w->ns = dup_opt(ns);
  w->label = dup_opt(opts->label_selector);
  w->skip = opts->skip;
  w->field = dup_opt(opts->field_selector);
  w->server_timeout_s = opts->server_timeout_s > 0 ? opts->server_timeout_s : WATCH_TIMEOUT_DEFAULT_S;
  w->known = json_object();
  w->on_event = on_event;
  w->on_end = on_end;
  w->ud = ud;
  set_rv(w, opts->resource_version);
  if (!w->resource || !w->known) {
    watch_free(w);
    return lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  }
  /* Start on the next loop round so on_end is never called from here. */
  w->timer = lunar_loop_timer_start(lunar_kube_client_loop(c), 0, retry_fire, w);
  if (!w->timer) {
    watch_free(w);
    return lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  }
  *out = w;
  return LUNAR_OK;
}
