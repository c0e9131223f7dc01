#include "kube/ratelimit.h"

#include <stddef.h>

void lunar_kube_bucket_init(lunar_kube_bucket *b, double qps, int burst, long long now_ms) {
  b->qps = qps;
  b->burst = burst > 0 ? burst : 1;
  b->tokens = b->burst;
  b->last_ms = now_ms;
}

long lunar_kube_bucket_take(lunar_kube_bucket *b, long long now_ms) {
  if (b->qps <= 0) return 0;
  if (now_ms > b->last_ms) {
    b->tokens += (double)(now_ms - b->last_ms) * b->qps / 1000.0;
    if (b->tokens > b->burst) b->tokens = b->burst;
    b->last_ms = now_ms;
  }
  if (b->tokens >= 1.0) {
    b->tokens -= 1.0;
    return 0;
  }
  long wait = (long)((1.0 - b->tokens) * 1000.0 / b->qps + 0.999);
  return wait < 1 ? 1 : wait;
}

void lunar_kube_ratelimit_init(lunar_kube_ratelimit *rl, lunar_loop *loop, double qps, int burst,
                               lunar_kube_start_fn start) {
  *rl = (lunar_kube_ratelimit){.loop = loop, .start = start};
  lunar_kube_bucket_init(&rl->bucket, qps, burst, lunar_loop_now());
}

static void fire(lunar_loop *loop, void *ud);

static void arm(lunar_kube_ratelimit *rl, long wait) {
  if (!rl->timer) rl->timer = lunar_loop_timer_start(rl->loop, wait, fire, rl);
}

static void fire(lunar_loop *loop, void *ud) {
  (void)loop;
  lunar_kube_ratelimit *rl = ud;
  rl->timer = NULL;
  while (rl->head) {
    long wait = lunar_kube_bucket_take(&rl->bucket, lunar_loop_now());
    if (wait > 0) {
      arm(rl, wait);
      return;
    }
    lunar_kube_waiter *w = rl->head;
    rl->head = w->next;
    if (!rl->head) rl->tail = NULL;
    w->next = NULL;
    rl->start(w->ud);
  }
}

void lunar_kube_ratelimit_enter(lunar_kube_ratelimit *rl, lunar_kube_waiter *w) {
  if (!rl->head) {
    long wait = lunar_kube_bucket_take(&rl->bucket, lunar_loop_now());
    if (wait == 0) {
      rl->start(w->ud);
      return;
    }
    arm(rl, wait);
  }
  w->next = NULL;
  if (rl->tail) rl->tail->next = w;
  else rl->head = w;
  rl->tail = w;
}

void lunar_kube_ratelimit_leave(lunar_kube_ratelimit *rl, lunar_kube_waiter *w) {
  for (lunar_kube_waiter **p = &rl->head, *last = NULL; *p; last = *p, p = &(*p)->next) {
    if (*p == w) {
      *p = w->next;
      if (rl->tail == w) rl->tail = last;
      w->next = NULL;
      return;
    }
  }
}

void lunar_kube_ratelimit_stop(lunar_kube_ratelimit *rl) {
  lunar_loop_timer_stop(rl->loop, rl->timer);
  rl->timer = NULL;
}
