#include "loop/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

/* A transfer the loop knows. `state` tracks what libcurl knows of it, because
 * changes asked for from inside libcurl callbacks are applied afterwards. */
enum { XFER_PENDING_ADD, XFER_ACTIVE, XFER_PENDING_REMOVE };

typedef struct xfer {
  CURL *easy;
  lunar_loop_done_fn done;
  void *ud;
  int state;
  struct xfer *next;
} xfer;

struct lunar_loop_timer {
  long long due;
  unsigned long seq;
  lunar_loop_timer_fn fn;
  void *ud;
  struct lunar_loop_timer *next;
};

struct lunar_loop {
  CURLM *multi;
  CURLSH *share;      /* TLS sessions and DNS shared by every transfer */
  int epfd;
  long long curl_due; /* libcurl's own timer; -1 when unset */
  int in_curl;        /* inside a libcurl call: defer add/remove */
  int running;        /* inside run_once: refuse nesting */
  int deferred;       /* some xfer waits for a deferred add/remove */
  xfer *xfers;
  lunar_loop_timer *timers; /* sorted by (due, seq) */
  unsigned long seq;
  int ntimers, nxfers;
};

long long lunar_loop_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
  (void)easy;
  lunar_loop *loop = userp;
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, s, NULL); /* may already be closed */
    curl_multi_assign(loop->multi, s, NULL);
    return 0;
  }
  struct epoll_event ev = {0};
  ev.data.fd = s;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) ev.events |= EPOLLIN;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) ev.events |= EPOLLOUT;
  int op = socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (epoll_ctl(loop->epfd, op, s, &ev) != 0 && errno == ENOENT)
    epoll_ctl(loop->epfd, EPOLL_CTL_ADD, s, &ev);
  else if (op == EPOLL_CTL_ADD && errno == EEXIST)
    epoll_ctl(loop->epfd, EPOLL_CTL_MOD, s, &ev);
  curl_multi_assign(loop->multi, s, loop); /* any non-NULL marks "in the set" */
  return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
  (void)multi;
  lunar_loop *loop = userp;
  loop->curl_due = timeout_ms < 0 ? -1 : lunar_loop_now() + timeout_ms;
  return 0;
}

int lunar_loop_new(lunar_loop **out, lunar_error *err) {
  static int curl_ready = 0;
  *out = NULL;
  if (!curl_ready) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      return lunar_error_set(err, LUNAR_EIO, "event loop: libcurl initialization failed");
    curl_ready = 1;
  }
  lunar_loop *loop = calloc(1, sizeof *loop);
  if (!loop) return lunar_error_set(err, LUNAR_ENOMEM, "event loop: out of memory");
  loop->curl_due = -1;
  loop->epfd = epoll_create1(EPOLL_CLOEXEC);
  loop->multi = curl_multi_init();
  if (loop->epfd < 0 || !loop->multi) {
    lunar_loop_free(loop);
    return lunar_error_set(err, LUNAR_EIO, "event loop: cannot create the poller: %s",
                           strerror(errno));
  }
  curl_multi_setopt(loop->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(loop->multi, CURLMOPT_SOCKETDATA, loop);
  curl_multi_setopt(loop->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  curl_multi_setopt(loop->multi, CURLMOPT_TIMERDATA, loop);
  curl_multi_setopt(loop->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  /* A new connection to a server seen before resumes its TLS session: one
   * thread, so no locks. */
  loop->share = curl_share_init();
  if (loop->share) {
    curl_share_setopt(loop->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(loop->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  }
  *out = loop;
  return LUNAR_OK;
}

void lunar_loop_free(lunar_loop *loop) {
  if (!loop) return;
  for (xfer *x = loop->xfers, *next; x; x = next) {
    next = x->next;
    if (x->state != XFER_PENDING_ADD) curl_multi_remove_handle(loop->multi, x->easy);
    free(x);
  }
  for (lunar_loop_timer *t = loop->timers, *next; t; t = next) {
    next = t->next;
    free(t);
  }
  if (loop->multi) curl_multi_cleanup(loop->multi);
  if (loop->share) curl_share_cleanup(loop->share); /* refused (kept) while an easy handle uses it */
  if (loop->epfd >= 0) close(loop->epfd);
  free(loop);
}

CURLM *lunar_loop_multi(lunar_loop *loop) { return loop->multi; }

int lunar_loop_add(lunar_loop *loop, CURL *easy, lunar_loop_done_fn done, void *ud,
                   lunar_error *err) {
  xfer *x = calloc(1, sizeof *x);
  if (!x) return lunar_error_set(err, LUNAR_ENOMEM, "event loop: out of memory");
  x->easy = easy;
  x->done = done;
  x->ud = ud;
  curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
  if (loop->share) curl_easy_setopt(easy, CURLOPT_SHARE, loop->share);
  if (loop->in_curl) {
    x->state = XFER_PENDING_ADD;
    loop->deferred = 1;
  } else {
    CURLMcode mc = curl_multi_add_handle(loop->multi, easy);
    if (mc != CURLM_OK) {
      free(x);
      return lunar_error_set(err, LUNAR_EIO, "event loop: cannot start a transfer: %s",
                             curl_multi_strerror(mc));
    }
    x->state = XFER_ACTIVE;
  }
  x->next = loop->xfers;
  loop->xfers = x;
  loop->nxfers++;
  return LUNAR_OK;
}

static void unlink_xfer(lunar_loop *loop, xfer *x) {
  for (xfer **p = &loop->xfers; *p; p = &(*p)->next) {
    if (*p == x) {
      *p = x->next;
      loop->nxfers--;
      return;
    }
  }
}

static xfer *find_xfer(lunar_loop *loop, CURL *easy) {
  for (xfer *x = loop->xfers; x; x = x->next)
    if (x->easy == easy) return x;
  return NULL;
}

void lunar_loop_remove(lunar_loop *loop, CURL *easy) {
  xfer *x = find_xfer(loop, easy);
  if (!x) return;
  if (x->state == XFER_PENDING_ADD) {
    unlink_xfer(loop, x);
    free(x);
  } else if (loop->in_curl) {
    x->state = XFER_PENDING_REMOVE;
    loop->deferred = 1;
  } else {
    curl_multi_remove_handle(loop->multi, easy);
    unlink_xfer(loop, x);
    free(x);
  }
}

/* Applies the adds and removes asked for while libcurl was busy. A handle
 * libcurl refuses to add finishes at once with CURLE_FAILED_INIT. */
static void apply_deferred(lunar_loop *loop) {
  while (loop->deferred) {
    loop->deferred = 0;
    for (xfer *x = loop->xfers, *next; x; x = next) {
      next = x->next;
      if (x->state == XFER_PENDING_REMOVE) {
        curl_multi_remove_handle(loop->multi, x->easy);
        unlink_xfer(loop, x);
        free(x);
      } else if (x->state == XFER_PENDING_ADD) {
        if (curl_multi_add_handle(loop->multi, x->easy) == CURLM_OK) {
          x->state = XFER_ACTIVE;
        } else {
          unlink_xfer(loop, x);
          x->done(loop, x->easy, CURLE_FAILED_INIT, x->ud);
          free(x);
          next = loop->xfers; /* the callback may have changed the list */
        }
      }
    }
  }
}

static void socket_action(lunar_loop *loop, curl_socket_t s, int flags) {
  int still;
  loop->in_curl = 1;
  curl_multi_socket_action(loop->multi, s, flags, &still);
  loop->in_curl = 0;
  apply_deferred(loop);
}

lunar_loop_timer *lunar_loop_timer_start(lunar_loop *loop, long delay_ms, lunar_loop_timer_fn fn,
                                         void *ud) {
  lunar_loop_timer *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->due = lunar_loop_now() + (delay_ms > 0 ? delay_ms : 0);
  t->seq = ++loop->seq;
  t->fn = fn;
  t->ud = ud;
  lunar_loop_timer **p = &loop->timers;
  while (*p && (*p)->due <= t->due) p = &(*p)->next;
  t->next = *p;
  *p = t;
  loop->ntimers++;
  return t;
}

void lunar_loop_timer_stop(lunar_loop *loop, lunar_loop_timer *timer) {
  if (!timer) return;
  for (lunar_loop_timer **p = &loop->timers; *p; p = &(*p)->next) {
    if (*p == timer) {
      *p = timer->next;
      loop->ntimers--;
      free(timer);
      return;
    }
  }
}

/* Reports finished transfers to their owners. */
static void reap(lunar_loop *loop) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(loop->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL *easy = msg->easy_handle;
    CURLcode result = msg->data.result;
    xfer *x = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    curl_multi_remove_handle(loop->multi, easy);
    if (!x) continue;
    int live = x->state == XFER_ACTIVE;
    unlink_xfer(loop, x);
    if (live) x->done(loop, easy, result, x->ud);
    free(x);
  }
}

/* Fires the timers due now; timers started by these callbacks wait for the
 * next iteration, so a 0 ms timer that restarts itself cannot starve I/O. */
static void fire_timers(lunar_loop *loop) {
  long long now = lunar_loop_now();
  unsigned long limit = loop->seq;
  while (loop->timers && loop->timers->due <= now && loop->timers->seq <= limit) {
    lunar_loop_timer *t = loop->timers;
    loop->timers = t->next;
    loop->ntimers--;
    t->fn(loop, t->ud);
    free(t);
  }
}

int lunar_loop_run_once(lunar_loop *loop, long max_wait_ms, lunar_error *err) {
  if (loop->running)
    return lunar_error_set(err, LUNAR_EINVAL,
                           "event loop: run from inside one of its own callbacks "
                           "(a callback must not wait for a transfer)");
  loop->running = 1;
  apply_deferred(loop);
  long long now = lunar_loop_now();
  long long wait = max_wait_ms < 0 ? -1 : max_wait_ms;
  long long dues[2] = {loop->curl_due, loop->timers ? loop->timers->due : -1};
  for (int i = 0; i < 2; i++) {
    if (dues[i] < 0) continue;
    long long d = dues[i] > now ? dues[i] - now : 0;
    if (wait < 0 || d < wait) wait = d;
  }
  if (wait > 3600000) wait = 3600000;

  struct epoll_event evs[64];
  int n = epoll_wait(loop->epfd, evs, 64, (int)wait);
  if (n < 0 && errno != EINTR) {
    loop->running = 0;
    return lunar_error_set(err, LUNAR_EIO, "event loop: epoll_wait failed: %s", strerror(errno));
  }
  for (int i = 0; i < n; i++) {
    int flags = 0;
    if (evs[i].events & EPOLLIN) flags |= CURL_CSELECT_IN;
    if (evs[i].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
    if (evs[i].events & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
    socket_action(loop, evs[i].data.fd, flags);
  }
  if (loop->curl_due >= 0 && lunar_loop_now() >= loop->curl_due) {
    loop->curl_due = -1;
    socket_action(loop, CURL_SOCKET_TIMEOUT, 0);
  }
  reap(loop);
  fire_timers(loop);
  apply_deferred(loop);
  loop->running = 0;
  return LUNAR_OK;
}

int lunar_loop_pending(const lunar_loop *loop) { return loop->nxfers + loop->ntimers; }

int lunar_loop_busy(const lunar_loop *loop) { return loop->in_curl; }
