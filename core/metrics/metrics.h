/* The runner's metrics, in Prometheus' text exposition format (0.0.4).
 *
 * A small fixed registry: counters with up to three labels (one row per
 * distinct label set, at most LUNAR_METRICS_ROWS per family), gauges, and
 * histograms with fixed buckets. Single-threaded (the runner's loop); no I/O:
 * lunar_metrics_write renders everything into a caller-owned buffer.
 */
#ifndef LUNAR_METRICS_METRICS_H
#define LUNAR_METRICS_METRICS_H

#include <stddef.h>

#define LUNAR_METRICS_ROWS 128
#define LUNAR_METRICS_BUCKETS 12

typedef struct lunar_counter_row {
  char labels[3][48];
  double value;
} lunar_counter_row;

typedef struct lunar_counter {
  const char *name, *help;
  const char *label_names[3]; /* NULL-terminated, at most 3 */
  lunar_counter_row rows[LUNAR_METRICS_ROWS];
  int n;
  int is_gauge;
} lunar_counter;

typedef struct lunar_histogram {
  const char *name, *help;
  double bounds[LUNAR_METRICS_BUCKETS]; /* ascending; the rest of the array 0 */
  int n_bounds;
  unsigned long counts[LUNAR_METRICS_BUCKETS + 1]; /* per bucket (not cumulative), last: +Inf */
  double sum;
  unsigned long count;
} lunar_histogram;

/* Adds `by` to the row of `c` with these label values (NULL-terminated list
 * of as many values as label names; values longer than 47 bytes are cut).
 * A full family drops new label sets silently (counted nowhere: keep label
 * values few). */
void lunar_counter_add(lunar_counter *c, double by, const char *const *values);
/* Sets the row's value (gauges). */
void lunar_counter_set(lunar_counter *c, double v, const char *const *values);

void lunar_histogram_observe(lunar_histogram *h, double v);

/* A growing text buffer. */
typedef struct lunar_buf {
  char *data;
  size_t len, cap;
  int failed; /* out of memory: the text is incomplete */
} lunar_buf;
void lunar_buf_printf(lunar_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lunar_buf_free(lunar_buf *b);

/* Renders one family (HELP, TYPE, samples). */
void lunar_counter_write(const lunar_counter *c, lunar_buf *b);
void lunar_histogram_write(const lunar_histogram *h, lunar_buf *b);

#endif
