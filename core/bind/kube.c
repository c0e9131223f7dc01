#include "bind/kube.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "bind/call.h"
#include "bind/entry.h"
#include "bind/json.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/logs.h"
#include "kube/ops.h"
#include "kube/watch.h"

/* ---- the state's one loop ------------------------------------------------- */

typedef struct lua_loop {
  lunar_loop *loop;
} lua_loop;

static const char loop_key = 0;

static int loop_gc(lua_State *L) {
  lua_loop *ll = luaL_checkudata(L, 1, LUNAR_LOOP_MT);
  lunar_loop_free(ll->loop);
  ll->loop = NULL;
  return 0;
}

/* Pushes the loop userdata of this Lua state, creating it on first use.
 * stack: +1 */
static lunar_loop *push_loop(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &loop_key) == LUA_TUSERDATA)
    return ((lua_loop *)lua_touserdata(L, -1))->loop;
  lua_pop(L, 1);
  lua_loop *ll = lua_newuserdatauv(L, sizeof *ll, 0);
  ll->loop = NULL;
  if (luaL_newmetatable(L, LUNAR_LOOP_MT)) {
    lua_pushcfunction(L, loop_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  lunar_error err;
  if (lunar_loop_new(&ll->loop, &err) != LUNAR_OK) luaL_error(L, "%s", err.msg);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &loop_key);
  return ll->loop;
}

/* ---- the client userdata -------------------------------------------------------- */

typedef struct lua_client {
  lunar_kube_client *c;
  int busy; /* calls of this client running (a callback must not close it) */
} lua_client;

static void client_close(lua_client *lc) {
  lunar_kube_client_free(lc->c);
  lc->c = NULL;
}

static lua_client *check_client(lua_State *L) {
  lua_client *lc = luaL_checkudata(L, 1, LUNAR_KUBE_CLIENT_MT);
  if (!lc->c) luaL_error(L, "kubernetes client is closed");
  return lc;
}

/* __gc and __close: one idempotent close. A client cannot be collected while
 * one of its calls runs (the call holds it on the stack). */
static int l_gc(lua_State *L) {
  client_close(luaL_checkudata(L, 1, LUNAR_KUBE_CLIENT_MT));
  return 0;
}

/* c:close(): also refuses to close from inside a watch or log callback of
 * this client, whose call is still running. */
static int l_close(lua_State *L) {
  lua_client *lc = luaL_checkudata(L, 1, LUNAR_KUBE_CLIENT_MT);
  if (lc->busy) return luaL_error(L, "kubernetes client: close() from inside one of its own calls");
  client_close(lc);
  return 0;
}

/* A string field of the table at idx (borrowed: the table keeps it alive). */
static const char *opt_str(lua_State *L, int idx, const char *key, const char *what) {
  if (lua_type(L, idx) != LUA_TTABLE) return NULL;
  int t = lua_getfield(L, idx, key);
  const char *s = NULL;
  if (t == LUA_TSTRING) s = lua_tostring(L, -1);
  else if (t != LUA_TNIL)
    luaL_error(L, "%s.%s: a string expected, got %s", what, key, luaL_typename(L, -1));
  lua_pop(L, 1);
  return s;
}

static double opt_num(lua_State *L, int idx, const char *key, const char *what, double def) {
  if (lua_type(L, idx) != LUA_TTABLE) return def;
  int t = lua_getfield(L, idx, key);
  double v = def;
  if (t == LUA_TNUMBER) v = lua_tonumber(L, -1);
  else if (t != LUA_TNIL)
    luaL_error(L, "%s.%s: a number expected, got %s", what, key, luaL_typename(L, -1));
  lua_pop(L, 1);
  return v;
}

/* retry_limits = { ["error text"] = attempts, ... } of the options table at
 * `idx`, as an array in a userdata pushed on the stack (collected with it;
 * the texts stay owned by the options table). Sets *n; NULL when absent. */
static lunar_kube_retry_limit *opt_retry_limits(lua_State *L, int idx, const char *what, size_t *n) {
  *n = 0;
  if (lua_type(L, idx) != LUA_TTABLE || lua_getfield(L, idx, "retry_limits") == LUA_TNIL) {
    if (lua_type(L, idx) == LUA_TTABLE) lua_pop(L, 1);
    lua_pushnil(L); /* stack: ... nil (the box's place) */
    return NULL;
  }
  if (!lua_istable(L, -1))
    luaL_error(L, "%s.retry_limits: a table of error texts and attempts expected, got %s", what,
               luaL_typename(L, -1));
  size_t count = 0;
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    count++;
    lua_pop(L, 1);
  }
  lunar_kube_retry_limit *out = lua_newuserdatauv(L, (count ? count : 1) * sizeof *out, 0);
  lua_pushnil(L); /* stack: ... limits box key */
  while (lua_next(L, -3)) {
    if (lua_type(L, -2) != LUA_TSTRING || !lua_isinteger(L, -1))
      luaL_error(L, "%s.retry_limits: each entry is [\"error text\"] = attempts", what);
    out[*n].text = lua_tostring(L, -2);
    out[*n].attempts = (int)lua_tointeger(L, -1);
    (*n)++;
    lua_pop(L, 1);
  }
  lua_remove(L, -2); /* stack: ... box */
  return out;
}

static int opt_bool(lua_State *L, int idx, const char *key) {
  if (lua_type(L, idx) != LUA_TTABLE) return 0;
  lua_getfield(L, idx, key);
  int v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* kube.client(settings) -> client | nil, message */
static int l_client(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, LUNAR_RUNNER_STATE_KEY) != LUA_TNIL)
    return luaL_error(L, "lunar.kube is the synchronous client of the CLI and the specs: inside "
                         "`lunar run` (policies, stages, on handlers) it would block every job of "
                         "the runner; the runner itself talks to Kubernetes");
  lua_pop(L, 1);
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  push_loop(L); /* 2 */
  lunar_loop *loop = ((lua_loop *)lua_touserdata(L, 2))->loop;
  lua_client *lc = lua_newuserdatauv(L, sizeof *lc, 1); /* 3 */
  lc->c = NULL;
  lc->busy = 0;
  luaL_setmetatable(L, LUNAR_KUBE_CLIENT_MT);
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, 3, 1); /* the loop outlives the client */

  const char *w = "kubernetes";
  lunar_kube_settings s = {
      .host = opt_str(L, 1, "host", w),
      .context = opt_str(L, 1, "context", w),
      .kubeconfig = opt_str(L, 1, "kubeconfig", w),
      .ca_file = opt_str(L, 1, "ca_file", w),
      .cert_file = opt_str(L, 1, "cert_file", w),
      .key_file = opt_str(L, 1, "key_file", w),
      .bearer_token = opt_str(L, 1, "bearer_token", w),
      .bearer_token_file = opt_str(L, 1, "bearer_token_file", w),
      .insecure_skip_tls_verify = opt_bool(L, 1, "insecure_skip_tls_verify"),
      .namespace = opt_str(L, 1, "namespace", w),
  };
  lunar_kube_options o = {
      .qps = opt_num(L, 1, "qps", w, 0),
      .burst = (int)opt_num(L, 1, "burst", w, 0),
      .retry_limit = (int)opt_num(L, 1, "retry_limit", w, 0),
      .retry_backoff_max_ms = (long)opt_num(L, 1, "retry_backoff_max", w, 0),
      .timeout_ms = (long)(opt_num(L, 1, "request_timeout", w, 0) * 1000),
      .connect_timeout_ms = (long)(opt_num(L, 1, "connect_timeout", w, 0) * 1000),
  };
  o.retry_limits = opt_retry_limits(L, 1, w, &o.nretry_limits); /* 4: the array, copied below */
  lunar_kube_env env;
  lunar_kube_env_from_process(&env);
  lunar_kube_config *cfg = NULL;
  lunar_error err;
  if (lunar_kube_config_load(&s, &env, &cfg, &err) != LUNAR_OK ||
      lunar_kube_client_new(loop, cfg, &o, &lc->c, &err) != LUNAR_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  lua_settop(L, 3);
  return 1;
}

/* ---- synchronous calls ------------------------------------------------------ */

/* One request in flight. Heap memory, owned by an `inflight` userdata (below)
 * while the Lua call runs; when that ends before the answer (an error
 * unwinding the call), the request is cancelled, or, for a create (which
 * cannot be cancelled), the op is orphaned and freed by its own answer. */
typedef struct sync_op {
  int done, rc, orphan;
  long status;
  json_t *body;
  lunar_error err;
  lunar_kube_call *call; /* to cancel; NULL for create */
} sync_op;

static void sync_done(int rc, const lunar_kube_response *res, const lunar_error *err, void *ud) {
  sync_op *op = ud;
  if (op->orphan) {
    free(op);
    return;
  }
  op->done = 1;
  op->rc = rc;
  op->status = res ? res->status : 0;
  op->body = res && res->body ? json_incref(res->body) : NULL;
  if (err) op->err = *err;
}

/* ---- streams: events queued on the loop, delivered to Lua between rounds ---- */

typedef struct queued {
  char *text; /* watch: the type; logs: the line */
  size_t len;
  char *extra; /* watch: resourceVersion; logs: timestamp */
  json_t *obj; /* watch: the object */
} queued;

typedef struct stream {
  queued *items;
  size_t n, cap;
  int ended, rc, oom;
  lunar_error err;
  char rv[128];
  void *handle; /* the watch or log reader, until it ends */
} stream;

static void enqueue(stream *s, const char *text, size_t len, const char *extra, json_t *obj) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    queued *ni = realloc(s->items, cap * sizeof *ni);
    if (!ni) {
      s->oom = 1;
      return;
    }
    s->items = ni;
    s->cap = cap;
  }
  queued *q = &s->items[s->n++];
  q->text = malloc(len + 1);
  q->extra = strdup(extra ? extra : "");
  if (q->text) {
    memcpy(q->text, text, len);
    q->text[len] = '\0';
  }
  q->len = len;
  q->obj = obj ? json_incref(obj) : NULL;
}

static void clear_queue(stream *s, size_t from) {
  for (size_t i = from; i < s->n; i++) {
    free(s->items[i].text);
    free(s->items[i].extra);
    json_decref(s->items[i].obj);
  }
  s->n = 0;
}

static void stream_free(stream *s) {
  clear_queue(s, 0);
  free(s->items);
}


/* ---- what is in flight belongs to a to-be-closed userdata ------------------- */

#define INFLIGHT_MT "lunar.kube.inflight"

/* Created (zeroed) on the Lua stack and marked to-be-closed before anything
 * is submitted: whether the C function returns or an error unwinds it, the
 * close runs, cancels or stops what is still in flight, gives back the
 * client's busy count and frees what the call converted (a JSON body). Nothing
 * the loop keeps points into a C stack frame. */
typedef struct inflight {
  lua_client *lc;
  int busy;       /* holds one of lc->busy */
  sync_op *op;    /* a request */
  stream *s;      /* a watch (is_watch) or a log stream */
  int is_watch;
  json_t *json;   /* a converted argument */
} inflight;

static int inflight_close(lua_State *L) {
  inflight *f = luaL_checkudata(L, 1, INFLIGHT_MT);
  if (f->busy) {
    f->lc->busy--;
    f->busy = 0;
  }
  json_decref(f->json);
  f->json = NULL;
  if (f->op) {
    sync_op *op = f->op;
    f->op = NULL;
    if (op->done) {
      json_decref(op->body);
      free(op);
    } else if (op->call) {
      lunar_kube_cancel(op->call);
      free(op);
    } else {
      op->orphan = 1; /* freed by its answer */
    }
  }
  if (f->s) {
    stream *st = f->s;
    f->s = NULL;
    if (st->handle) {
      if (f->is_watch) lunar_kube_watch_stop(st->handle);
      else lunar_kube_logs_stop(st->handle);
      st->handle = NULL;
    }
    stream_free(st);
    free(st);
  }
  return 0;
}

/* stack: +1 (the to-be-closed userdata) */
static inflight *push_inflight(lua_State *L, lua_client *lc) {
  inflight *f = lua_newuserdatauv(L, sizeof *f, 0);
  memset(f, 0, sizeof *f);
  f->lc = lc;
  luaL_setmetatable(L, INFLIGHT_MT);
  lua_toclose(L, -1);
  return f;
}

static sync_op *new_op(lua_State *L, inflight *f) {
  f->op = calloc(1, sizeof *f->op);
  if (!f->op) luaL_error(L, "out of memory");
  return f->op;
}

static lunar_loop *loop_of(lua_client *lc) { return lunar_kube_client_loop(lc->c); }

/* One loop iteration for a Lua caller; raises when the loop is already
 * running (a Lua function called from inside a loop callback). */
static void step(lua_State *L, lunar_loop *loop, long max_wait_ms) {
  lunar_error err;
  if (lunar_loop_run_once(loop, max_wait_ms, &err) != LUNAR_OK) luaL_error(L, "%s", err.msg);
}

/* Runs the loop until op is done and pushes its result: the body (or true),
 * or nil, message, status. */
static int finish_sync(lua_State *L, lua_client *lc, inflight *f, int rc, lunar_error *err) {
  sync_op *op = f->op;
  if (rc != LUNAR_OK) {
    op->done = 1; /* nothing was submitted */
    luaL_pushfail(L);
    lua_pushstring(L, err->msg);
    lua_pushinteger(L, 0);
    return 3;
  }
  lc->busy++;
  f->busy = 1;
  while (!op->done) step(L, loop_of(lc), 1000);
  lc->busy--;
  f->busy = 0;
  if (op->rc != LUNAR_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, op->err.msg);
    lua_pushinteger(L, op->status);
    return 3;
  }
  if (op->body) lunar_json_push(L, op->body);
  else lua_pushboolean(L, 1);
  return 1; /* the body is freed when the inflight closes */
}

static const char *ns_arg(lua_State *L, lua_client *lc, int opts) {
  const char *ns = opt_str(L, opts, "namespace", "options");
  return ns ? ns : lunar_kube_client_config(lc->c)->namespace;
}

static int l_get(lua_State *L) {
  lua_client *lc = check_client(L);
  const char *res = luaL_checkstring(L, 2), *name = luaL_checkstring(L, 3);
  const char *ns = ns_arg(L, lc, 4);
  inflight *f = push_inflight(L, lc);
  sync_op *op = new_op(L, f);
  lunar_error err;
  int rc = lunar_kube_get(lc->c, res, ns, name, sync_done, op, &op->call, &err);
  return finish_sync(L, lc, f, rc, &err);
}

static int l_list(lua_State *L) {
  lua_client *lc = check_client(L);
  const char *res = luaL_checkstring(L, 2);
  const char *ns = ns_arg(L, lc, 3), *ls = opt_str(L, 3, "label_selector", "options"),
             *fs = opt_str(L, 3, "field_selector", "options");
  inflight *f = push_inflight(L, lc);
  sync_op *op = new_op(L, f);
  lunar_error err;
  int rc = lunar_kube_list(lc->c, res, ns, ls, fs, sync_done, op, &op->call, &err);
  return finish_sync(L, lc, f, rc, &err);
}

static int l_events(lua_State *L) {
  lua_client *lc = check_client(L);
  const char *name = luaL_checkstring(L, 2);
  lua_pushfstring(L, "involvedObject.name=%s", name);
  const char *sel = lua_tostring(L, -1);
  const char *ns = ns_arg(L, lc, 3);
  inflight *f = push_inflight(L, lc);
  sync_op *op = new_op(L, f);
  lunar_error err;
  int rc = lunar_kube_list(lc->c, "events", ns, NULL, sel, sync_done, op, &op->call, &err);
  return finish_sync(L, lc, f, rc, &err);
}

static json_t *check_json(lua_State *L, int idx, const char *what) {
  luaL_checktype(L, idx, LUA_TTABLE);
  json_t *v = NULL;
  lunar_error err;
  if (lunar_json_from_lua(L, idx, what, &v, &err) != LUNAR_OK) luaL_error(L, "%s", err.msg);
  return v;
}

static int l_create(lua_State *L) {
  lua_client *lc = check_client(L);
  const char *res = luaL_checkstring(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  const char *ns = opt_str(L, 4, "namespace", "options");
  inflight *f = push_inflight(L, lc);
  json_t *obj = f->json = check_json(L, 3, "object");
  const char *obj_ns = json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
  if (!ns) ns = obj_ns ? obj_ns : lunar_kube_client_config(lc->c)->namespace;
  sync_op *op = new_op(L, f);
  lunar_error err;
  int rc = lunar_kube_create(lc->c, res, ns, obj, sync_done, op, &op->call, &err);
  return finish_sync(L, lc, f, rc, &err);
}

static int l_delete(lua_State *L) {
  lua_client *lc = check_client(L);
  const char *res = luaL_checkstring(L, 2), *name = luaL_checkstring(L, 3);
  long grace = (long)opt_num(L, 4, "grace_period_seconds", "options", -1);
  const char *prop = opt_str(L, 4, "propagation_policy", "options");
  const char *ns = ns_arg(L, lc, 4);
  inflight *f = push_inflight(L, lc);
  sync_op *op = new_op(L, f);
  lunar_error err;
  int rc = lunar_kube_delete(lc->c, res, ns, name, grace, prop, sync_done, op, &op->call, &err);
  return finish_sync(L, lc, f, rc, &err);
}

static int l_patch(lua_State *L) {
  lua_client *lc = check_client(L);
  const char *res = luaL_checkstring(L, 2), *name = luaL_checkstring(L, 3);
  luaL_checktype(L, 4, LUA_TTABLE);
  const char *ns = ns_arg(L, lc, 5);
  inflight *f = push_inflight(L, lc);
  json_t *patch = f->json = check_json(L, 4, "patch");
  sync_op *op = new_op(L, f);
  lunar_error err;
  int rc = lunar_kube_patch(lc->c, res, ns, name, patch, sync_done, op, &op->call, &err);
  return finish_sync(L, lc, f, rc, &err);
}

static int l_version(lua_State *L) {
  lua_client *lc = check_client(L);
  inflight *f = push_inflight(L, lc);
  sync_op *op = new_op(L, f);
  lunar_error err;
  int rc = lunar_kube_version(lc->c, sync_done, op, &op->call, &err);
  return finish_sync(L, lc, f, rc, &err);
}

/* c:can_i(verb, resource [, opts]) -> allowed, reason | nil, message, status */
static int l_can_i(lua_State *L) {
  lua_client *lc = check_client(L);
  const char *verb = luaL_checkstring(L, 2), *res = luaL_checkstring(L, 3);
  const char *group = opt_str(L, 4, "group", "options"), *sub = opt_str(L, 4, "subresource", "options"),
             *ns = ns_arg(L, lc, 4), *name = opt_str(L, 4, "name", "options");
  inflight *f = push_inflight(L, lc);
  sync_op *op = new_op(L, f);
  lunar_error err;
  int rc = lunar_kube_access_review(lc->c, verb, group, res, sub, ns, name, sync_done, op, &op->call, &err);
  int n = finish_sync(L, lc, f, rc, &err);
  if (n != 1 || !lua_istable(L, -1)) return n;
  lua_getfield(L, -1, "status");
  lua_getfield(L, -1, "allowed");
  lua_getfield(L, -2, "reason");
  return 2;
}

static int l_info(lua_State *L) {
  lua_client *lc = check_client(L);
  const lunar_kube_config *cfg = lunar_kube_client_config(lc->c);
  lua_createtable(L, 0, 3);
  lua_pushstring(L, cfg->server);
  lua_setfield(L, -2, "server");
  lua_pushstring(L, cfg->namespace);
  lua_setfield(L, -2, "namespace");
  lua_pushstring(L, cfg->source);
  lua_setfield(L, -2, "source");
  return 1;
}

static int l_stats(lua_State *L) {
  lua_client *lc = check_client(L);
  long requests, retries;
  lunar_kube_client_stats(lc->c, &requests, &retries);
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, requests);
  lua_setfield(L, -2, "requests");
  lua_pushinteger(L, retries);
  lua_setfield(L, -2, "retries");
  return 1;
}

static int on_watch_event(const char *type, json_t *obj, void *ud) {
  stream *s = ud;
  const char *rv = lunar_kube_watch_resource_version(s->handle);
  if (!*rv) rv = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
  enqueue(s, type, strlen(type), rv, obj);
  return 0;
}

static void on_watch_end(int rc, const char *rv, const lunar_error *err, void *ud) {
  stream *s = ud;
  s->ended = 1;
  s->rc = rc;
  s->handle = NULL;
  snprintf(s->rv, sizeof s->rv, "%s", rv ? rv : "");
  if (err) s->err = *err;
}

static int on_log_line(const char *line, size_t len, const char *ts, void *ud) {
  enqueue(ud, line, len, ts, NULL);
  return 0;
}

static void on_logs_end(int rc, const lunar_error *err, void *ud) {
  stream *s = ud;
  s->ended = 1;
  s->rc = rc;
  s->handle = NULL;
  if (err) s->err = *err;
}

/* Drives a stream for Lua: runs the loop, hands queued items to the callback
 * at `fn` (or, with fn == 0, appends log lines to the buffer `text`), until the
 * stream ends, the callback returns false or the deadline passes. Returns
 * 0 when it ended by itself, 1 when stopped by the callback, 2 on timeout;
 * `stop` stops the underlying reader. A callback error is re-raised after
 * cleaning up. */
static int drive(lua_State *L, lua_client *lc, inflight *f, int fn, double timeout_s, int is_watch,
                 luaL_Buffer *text) {
  stream *s = f->s;
  long long deadline = timeout_s > 0 ? lunar_loop_now() + (long long)(timeout_s * 1000) : -1;
  int outcome = 0;
  lc->busy++;
  f->busy = 1;
  for (;;) {
    size_t i;
    for (i = 0; i < s->n && !outcome; i++) {
      queued *q = &s->items[i];
      if (!fn) {
        luaL_addlstring(text, q->text ? q->text : "", q->len);
        luaL_addchar(text, '\n');
        continue;
      }
      lua_pushvalue(L, fn);
      lua_pushlstring(L, q->text ? q->text : "", q->len);
      if (is_watch) lunar_json_push(L, q->obj);
      else lua_pushstring(L, q->extra);
      if (lunar_call(L, 2, 1, -1) != LUNAR_OK) /* the caller's code: its budget, if any */
        return lua_error(L); /* the inflight's close stops the stream */
      q = &s->items[i]; /* the callback may have queued more (and moved the queue) */
      if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) {
        outcome = 1;
        if (is_watch && q->extra[0]) snprintf(s->rv, sizeof s->rv, "%s", q->extra);
      }
      lua_pop(L, 1);
    }
    clear_queue(s, 0);
    if (outcome) break;
    if (s->oom) {
      lunar_error_set(&s->err, LUNAR_ENOMEM, "out of memory while queueing stream events");
      s->rc = LUNAR_ENOMEM;
      s->ended = 1;
      break;
    }
    if (s->ended) break;
    long wait = 1000;
    if (deadline >= 0) {
      long long left = deadline - lunar_loop_now();
      if (left <= 0) {
        outcome = 2;
        break;
      }
      if (left < wait) wait = (long)left;
    }
    step(L, loop_of(lc), wait);
  }
  lc->busy--;
  f->busy = 0;
  if (s->handle) {
    if (is_watch) {
      if (outcome == 2) snprintf(s->rv, sizeof s->rv, "%s", lunar_kube_watch_resource_version(s->handle));
      lunar_kube_watch_stop(s->handle);
    } else {
      lunar_kube_logs_stop(s->handle);
    }
    s->handle = NULL;
  }
  return outcome;
}

/* c:watch(resource, opts, fn) -> resourceVersion [, "timeout"] | nil, message */
static int l_watch(lua_State *L) {
  lua_client *lc = check_client(L);
  const char *res = luaL_checkstring(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  luaL_checktype(L, 4, LUA_TFUNCTION);
  lunar_kube_watch_opts o = {
      .label_selector = opt_str(L, 3, "label_selector", "options"),
      .field_selector = opt_str(L, 3, "field_selector", "options"),
      .resource_version = opt_str(L, 3, "resource_version", "options"),
      .server_timeout_s = (long)opt_num(L, 3, "server_timeout", "options", 0),
  };
  double timeout = opt_num(L, 3, "timeout", "options", 0);
  const char *ns = ns_arg(L, lc, 3);
  inflight *f = push_inflight(L, lc);
  stream *s = f->s = calloc(1, sizeof *s);
  if (!s) return luaL_error(L, "out of memory");
  f->is_watch = 1;
  lunar_error err;
  lunar_kube_watch *w = NULL;
  if (lunar_kube_watch_start(lc->c, res, ns, &o, on_watch_event, on_watch_end, s, &w, &err) != LUNAR_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  s->handle = w;
  int outcome = drive(L, lc, f, 4, timeout, 1, NULL);
  if (outcome == 0 && s->rc != LUNAR_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, s->err.msg);
    return 2;
  }
  lua_pushstring(L, s->rv);
  if (outcome == 2) {
    lua_pushliteral(L, "timeout");
    return 2;
  }
  return 1;
}

/* c:logs(pod, opts [, fn]) -> true [, "timeout"] | text | nil, message */
static int l_logs(lua_State *L) {
  lua_client *lc = check_client(L);
  const char *pod = luaL_checkstring(L, 2);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  int fn = lua_isfunction(L, 4) ? 4 : 0;
  lunar_kube_logs_opts o = {
      .container = opt_str(L, 3, "container", "options"),
      .follow = opt_bool(L, 3, "follow"),
      .since_time = opt_str(L, 3, "since_time", "options"),
      .tail_lines = (long)opt_num(L, 3, "tail_lines", "options", 0),
  };
  double timeout = opt_num(L, 3, "timeout", "options", 0);
  const char *ns = ns_arg(L, lc, 3);
  lua_settop(L, 4);
  inflight *f = push_inflight(L, lc); /* stack: ... inflight */
  stream *s = f->s = calloc(1, sizeof *s);
  if (!s) return luaL_error(L, "out of memory");
  lunar_error err;
  lunar_kube_logs *r = NULL;
  if (lunar_kube_logs_start(lc->c, ns, pod, &o, on_log_line, on_logs_end, s, &r, &err) != LUNAR_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  s->handle = r;
  luaL_Buffer b;
  if (!fn) luaL_buffinit(L, &b); /* stack: ... inflight buffer */
  int outcome = drive(L, lc, f, fn, timeout, 0, fn ? NULL : &b);
  if (outcome == 0 && s->rc != LUNAR_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, s->err.msg);
    return 2;
  }
  if (!fn) luaL_pushresult(&b);
  else lua_pushboolean(L, 1);
  if (outcome == 2) {
    lua_pushliteral(L, "timeout");
    return 2;
  }
  return 1;
}

static const luaL_Reg methods[] = {
    {"get", l_get},       {"list", l_list},       {"create", l_create}, {"delete", l_delete},
    {"patch", l_patch},   {"events", l_events},   {"version", l_version}, {"can_i", l_can_i},
    {"watch", l_watch},   {"logs", l_logs},       {"info", l_info},     {"stats", l_stats},
    {"close", l_close},      {NULL, NULL}};

static const luaL_Reg functions[] = {{"client", l_client}, {NULL, NULL}};

int lunar_kube_open(lua_State *L) {
  if (luaL_newmetatable(L, INFLIGHT_MT)) {
    lua_pushcfunction(L, inflight_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, inflight_close);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, LUNAR_KUBE_CLIENT_MT)) {
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__close");
    lua_pushliteral(L, "kubernetes client");
    lua_setfield(L, -2, "__name");
  }
  lua_pop(L, 1);
  luaL_newlib(L, functions);
  return 1;
}
