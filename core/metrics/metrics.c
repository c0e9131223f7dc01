#include "metrics/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int nlabels(const lunar_counter *c) {
  int n = 0;
  while (n < 3 && c->label_names[n]) n++;
  return n;
}

static lunar_counter_row *row(lunar_counter *c, const char *const *values) {
  int n = nlabels(c);
  for (int i = 0; i < c->n; i++) {
    int same = 1;
    for (int k = 0; k < n && same; k++)
      same = strncmp(c->rows[i].labels[k], values && values[k] ? values[k] : "",
                     sizeof c->rows[i].labels[k] - 1) == 0;
    if (same) return &c->rows[i];
  }
  if (c->n >= LUNAR_METRICS_ROWS) return NULL;
  lunar_counter_row *r = &c->rows[c->n++];
  memset(r, 0, sizeof *r);
  for (int k = 0; k < n; k++)
    snprintf(r->labels[k], sizeof r->labels[k], "%s", values && values[k] ? values[k] : "");
  return r;
}

void lunar_counter_add(lunar_counter *c, double by, const char *const *values) {
  lunar_counter_row *r = row(c, values);
  if (r) r->value += by;
}

void lunar_counter_set(lunar_counter *c, double v, const char *const *values) {
  lunar_counter_row *r = row(c, values);
  if (r) r->value = v;
}

void lunar_histogram_observe(lunar_histogram *h, double v) {
  int i = 0;
  while (i < h->n_bounds && v > h->bounds[i]) i++;
  h->counts[i]++;
  h->sum += v;
  h->count++;
}

void lunar_buf_printf(lunar_buf *b, const char *fmt, ...) {
  if (b->failed) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = b->data ? vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap) : -1;
    va_end(ap);
    if (n >= 0 && b->len + (size_t)n < b->cap) {
      b->len += (size_t)n;
      return;
    }
    size_t need = b->cap ? b->cap * 2 : 4096;
    while (n >= 0 && need <= b->len + (size_t)n) need *= 2;
    char *d = realloc(b->data, need);
    if (!d) {
      b->failed = 1;
      return;
    }
    b->data = d;
    b->cap = need;
  }
}

void lunar_buf_free(lunar_buf *b) {
  free(b->data);
  memset(b, 0, sizeof *b);
}

/* Label values escaped as the format asks: backslash, quote, newline. */
static void write_value(lunar_buf *b, const char *v) {
  for (; *v; v++) {
    if (*v == '\\' || *v == '"') lunar_buf_printf(b, "\\%c", *v);
    else if (*v == '\n') lunar_buf_printf(b, "\\n");
    else lunar_buf_printf(b, "%c", *v);
  }
}

void lunar_counter_write(const lunar_counter *c, lunar_buf *b) {
  lunar_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", c->name, c->help, c->name,
                   c->is_gauge ? "gauge" : "counter");
  int n = nlabels(c);
  for (int i = 0; i < c->n; i++) {
    lunar_buf_printf(b, "%s", c->name);
    if (n) {
      lunar_buf_printf(b, "{");
      for (int k = 0; k < n; k++) {
        lunar_buf_printf(b, "%s%s=\"", k ? "," : "", c->label_names[k]);
        write_value(b, c->rows[i].labels[k]);
        lunar_buf_printf(b, "\"");
      }
      lunar_buf_printf(b, "}");
    }
    lunar_buf_printf(b, " %.17g\n", c->rows[i].value);
  }
}

void lunar_histogram_write(const lunar_histogram *h, lunar_buf *b) {
  lunar_buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", h->name, h->help, h->name);
  unsigned long cum = 0;
  for (int i = 0; i < h->n_bounds; i++) {
    cum += h->counts[i];
    lunar_buf_printf(b, "%s_bucket{le=\"%g\"} %lu\n", h->name, h->bounds[i], cum);
  }
  cum += h->counts[h->n_bounds];
  lunar_buf_printf(b, "%s_bucket{le=\"+Inf\"} %lu\n%s_sum %.17g\n%s_count %lu\n", h->name, cum,
                   h->name, h->sum, h->name, h->count);
}
