/* The Prometheus text format of the runner's metrics. */
#include "check.h"
#include "metrics/metrics.h"

static void test_counter_rows_by_label_set(void) {
  static lunar_counter c = {.name = "lunar_jobs_total", .help = "Jobs ended.",
                            .label_names = {"state", "failure_reason"}};
  lunar_counter_add(&c, 1, (const char *[]){"success", "", NULL});
  lunar_counter_add(&c, 1, (const char *[]){"failed", "script_failure", NULL});
  lunar_counter_add(&c, 2, (const char *[]){"success", "", NULL});
  lunar_buf b = {0};
  lunar_counter_write(&c, &b);
  CHECK_STR(b.data, "# HELP lunar_jobs_total Jobs ended.\n# TYPE lunar_jobs_total counter\n"
                    "lunar_jobs_total{state=\"success\",failure_reason=\"\"} 3\n"
                    "lunar_jobs_total{state=\"failed\",failure_reason=\"script_failure\"} 1\n");
  lunar_buf_free(&b);
}

static void test_label_values_are_escaped(void) {
  static lunar_counter c = {.name = "x", .help = "h", .label_names = {"a"}, .is_gauge = 1};
  lunar_counter_set(&c, 0.5, (const char *[]){"q\"b\\n\nl", NULL});
  lunar_buf b = {0};
  lunar_counter_write(&c, &b);
  CHECK_STR(b.data, "# HELP x h\n# TYPE x gauge\nx{a=\"q\\\"b\\\\n\\nl\"} 0.5\n");
  lunar_buf_free(&b);
}

static void test_histogram_buckets_are_cumulative(void) {
  static lunar_histogram h = {.name = "d_seconds", .help = "h", .bounds = {1, 5}, .n_bounds = 2};
  lunar_histogram_observe(&h, 0.5);
  lunar_histogram_observe(&h, 1);
  lunar_histogram_observe(&h, 3);
  lunar_histogram_observe(&h, 100);
  lunar_buf b = {0};
  lunar_histogram_write(&h, &b);
  CHECK_STR(b.data, "# HELP d_seconds h\n# TYPE d_seconds histogram\n"
                    "d_seconds_bucket{le=\"1\"} 2\nd_seconds_bucket{le=\"5\"} 3\n"
                    "d_seconds_bucket{le=\"+Inf\"} 4\nd_seconds_sum 104.5\nd_seconds_count 4\n");
  lunar_buf_free(&b);
}

static void test_a_full_family_drops_new_label_sets(void) {
  static lunar_counter c = {.name = "y", .help = "h", .label_names = {"k"}};
  char v[16];
  for (int i = 0; i < LUNAR_METRICS_ROWS + 10; i++) {
    snprintf(v, sizeof v, "v%d", i);
    lunar_counter_add(&c, 1, (const char *[]){v, NULL});
  }
  CHECK(c.n == LUNAR_METRICS_ROWS);
  lunar_counter_add(&c, 1, (const char *[]){"v0", NULL});
  CHECK(c.rows[0].value == 2);
}

int main(void) {
  RUN(test_counter_rows_by_label_set);
  RUN(test_label_values_are_escaped);
  RUN(test_histogram_buckets_are_cumulative);
  RUN(test_a_full_family_drops_new_label_sets);
  return check_summary();
}
