/* The event loop's timers and its refusal to nest (loop/loop.h). Transfers
 * are exercised by the busted specs in spec/kube against the test double. */
#include "check.h"
#include "loop/loop.h"

static char order[16];
static int norder;

static void mark(lunar_loop *loop, void *ud) {
  (void)loop;
  order[norder++] = *(const char *)ud;
}

static lunar_loop_timer *restarted;
static void restart_self(lunar_loop *loop, void *ud) {
  mark(loop, ud);
  if (norder < 3) restarted = lunar_loop_timer_start(loop, 0, restart_self, ud);
}

static int nested_rc;
static void nest(lunar_loop *loop, void *ud) {
  (void)ud;
  lunar_error err;
  nested_rc = lunar_loop_run_once(loop, 0, &err);
}

static void test_timers_fire_in_due_order_and_stop(void) {
  lunar_loop *loop;
  lunar_error err;
  CHECK_INT(lunar_loop_new(&loop, &err), LUNAR_OK);
  norder = 0;
  lunar_loop_timer_start(loop, 30, mark, "c");
  lunar_loop_timer_start(loop, 0, mark, "a");
  lunar_loop_timer *b = lunar_loop_timer_start(loop, 10, mark, "b");
  lunar_loop_timer *x = lunar_loop_timer_start(loop, 20, mark, "x");
  lunar_loop_timer_stop(loop, x);
  (void)b;
  CHECK_INT(lunar_loop_pending(loop), 3);
  while (lunar_loop_pending(loop)) CHECK_INT(lunar_loop_run_once(loop, -1, &err), LUNAR_OK);
  order[norder] = '\0';
  CHECK_STR(order, "abc");
  lunar_loop_free(loop);
}

static void test_a_timer_restarting_itself_waits_for_the_next_round(void) {
  lunar_loop *loop;
  lunar_error err;
  lunar_loop_new(&loop, &err);
  norder = 0;
  lunar_loop_timer_start(loop, 0, restart_self, "r");
  CHECK_INT(lunar_loop_run_once(loop, 0, &err), LUNAR_OK);
  CHECK_INT(norder, 1);
  CHECK_INT(lunar_loop_run_once(loop, 0, &err), LUNAR_OK);
  CHECK_INT(norder, 2);
  lunar_loop_free(loop); /* frees the pending timer without calling it */
}

static void test_running_the_loop_from_a_callback_is_refused(void) {
  lunar_loop *loop;
  lunar_error err;
  lunar_loop_new(&loop, &err);
  nested_rc = 0;
  lunar_loop_timer_start(loop, 0, nest, NULL);
  CHECK_INT(lunar_loop_run_once(loop, 0, &err), LUNAR_OK);
  CHECK_INT(nested_rc, LUNAR_EINVAL);
  lunar_loop_free(loop);
}

int main(void) {
  RUN(test_timers_fire_in_due_order_and_stop);
  RUN(test_a_timer_restarting_itself_waits_for_the_next_round);
  RUN(test_running_the_loop_from_a_callback_is_refused);
  return check_summary();
}
