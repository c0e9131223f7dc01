/* The Kubernetes client's rate limit (kube/client.h: qps, burst): a token
 * bucket, and the queue of requests waiting for a token, drained in order on
 * a loop timer.
 *
 * The bucket is a pure function of its inputs (time is a parameter), so it is
 * unit-tested without a clock. The queue holds waiters embedded in the
 * caller's requests: it owns none of them and never frees anything.
 */
#ifndef LUNAR_KUBE_RATELIMIT_H
#define LUNAR_KUBE_RATELIMIT_H

#include "loop/loop.h"

/* A token bucket: `burst` requests at once, refilled at `qps` per second. */
typedef struct lunar_kube_bucket {
  double qps;
  double burst;
  double tokens;
  long long last_ms;
} lunar_kube_bucket;

/* Starts full. qps <= 0 means no limit. */
void lunar_kube_bucket_init(lunar_kube_bucket *b, double qps, int burst, long long now_ms);

/* Takes one token if there is one and returns 0; otherwise takes nothing and
 * returns how many milliseconds until one is there (>= 1). */
long lunar_kube_bucket_take(lunar_kube_bucket *b, long long now_ms);

/* One request waiting for a token; lives inside the request (borrowed). */
typedef struct lunar_kube_waiter {
  struct lunar_kube_waiter *next;
  void *ud; /* passed to the start function */
} lunar_kube_waiter;

/* Starts the request a waiter belongs to (its token is taken). */
typedef void (*lunar_kube_start_fn)(void *ud);

typedef struct lunar_kube_ratelimit {
  lunar_kube_bucket bucket;
  lunar_loop *loop;        /* borrowed */
  lunar_loop_timer *timer; /* armed while waiters wait for a token */
  lunar_kube_waiter *head, *tail;
  lunar_kube_start_fn start;
} lunar_kube_ratelimit;

/* Sets the limit up, the bucket full. Cannot fail. */
void lunar_kube_ratelimit_init(lunar_kube_ratelimit *rl, lunar_loop *loop, double qps, int burst,
                               lunar_kube_start_fn start);

/* Starts w->ud right away (start is called before this returns) when nobody
 * waits and a token is there; otherwise queues w behind the others, and a
 * loop timer starts it when its turn and its token come. */
void lunar_kube_ratelimit_enter(lunar_kube_ratelimit *rl, lunar_kube_waiter *w);

/* Takes w out of the queue (a request cancelled while it waits). Does
 * nothing when w does not wait. */
void lunar_kube_ratelimit_leave(lunar_kube_ratelimit *rl, lunar_kube_waiter *w);

/* Stops the timer; whoever waits is left to its owner. */
void lunar_kube_ratelimit_stop(lunar_kube_ratelimit *rl);

#endif
