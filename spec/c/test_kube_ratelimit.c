/* The Kubernetes client's rate limit (kube/ratelimit.h): the token bucket's
 * arithmetic, and the queue that starts waiting requests in order on the loop. */
#include "check.h"
#include "kube/ratelimit.h"

static void test_token_bucket(void) {
  lunar_kube_bucket b;
  lunar_kube_bucket_init(&b, 10, 3, 1000);
  CHECK_INT(lunar_kube_bucket_take(&b, 1000), 0);
  CHECK_INT(lunar_kube_bucket_take(&b, 1000), 0);
  CHECK_INT(lunar_kube_bucket_take(&b, 1000), 0);
  CHECK_INT(lunar_kube_bucket_take(&b, 1000), 100); /* burst spent: one token per 100 ms */
  CHECK_INT(lunar_kube_bucket_take(&b, 1050), 50);
  CHECK_INT(lunar_kube_bucket_take(&b, 1100), 0);
  CHECK_INT(lunar_kube_bucket_take(&b, 1100), 100);
  CHECK_INT(lunar_kube_bucket_take(&b, 99999), 0); /* refills up to burst, not beyond */
  CHECK_INT(lunar_kube_bucket_take(&b, 99999), 0);
  CHECK_INT(lunar_kube_bucket_take(&b, 99999), 0);
  CHECK(lunar_kube_bucket_take(&b, 99999) > 0);
  lunar_kube_bucket_init(&b, -1, 0, 0); /* no limit */
  for (int i = 0; i < 100; i++) CHECK_INT(lunar_kube_bucket_take(&b, 0), 0);
}

static int started[8], nstarted;

static void start(void *ud) { started[nstarted++] = (int)(long)ud; }

static void run_until(lunar_loop *loop, int n) {
  long long deadline = lunar_loop_now() + 5000;
  while (nstarted < n && lunar_loop_now() < deadline) lunar_loop_run_once(loop, 50, NULL);
}

static void test_queue_starts_in_order(void) {
  lunar_loop *loop = NULL;
  CHECK_INT(lunar_loop_new(&loop, NULL), LUNAR_OK);
  lunar_kube_ratelimit rl;
  lunar_kube_ratelimit_init(&rl, loop, 50, 1, start); /* one token per 20 ms */
  lunar_kube_waiter w[5];
  for (long i = 0; i < 5; i++) w[i] = (lunar_kube_waiter){.ud = (void *)i};
  lunar_kube_ratelimit_enter(&rl, &w[0]);
  CHECK_INT(nstarted, 1); /* the burst: at once */
  lunar_kube_ratelimit_enter(&rl, &w[1]);
  lunar_kube_ratelimit_enter(&rl, &w[2]);
  lunar_kube_ratelimit_enter(&rl, &w[3]);
  CHECK_INT(nstarted, 1); /* no token: queued */
  lunar_kube_ratelimit_leave(&rl, &w[2]); /* cancelled while waiting */
  lunar_kube_ratelimit_leave(&rl, &w[4]); /* not waiting: nothing happens */
  run_until(loop, 3);
  CHECK_INT(nstarted, 3);
  CHECK_INT(started[0], 0);
  CHECK_INT(started[1], 1);
  CHECK_INT(started[2], 3);
  lunar_kube_ratelimit_enter(&rl, &w[4]);
  lunar_kube_ratelimit_stop(&rl); /* the owner gives up: w[4] is never started */
  for (int i = 0; i < 3; i++) lunar_loop_run_once(loop, 30, NULL);
  CHECK_INT(nstarted, 3);
  lunar_loop_free(loop);
}

int main(void) {
  RUN(test_token_bucket);
  RUN(test_queue_starts_in_order);
  return check_summary();
}
