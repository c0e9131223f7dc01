#include "json/path.h"

#include <stdio.h>

void lunar_json_path_init(lunar_json_path *p, const char *root) {
  p->len = 0;
  p->buf[0] = '\0';
  if (root && *root) lunar_json_path_key(p, root);
}

static void advance(lunar_json_path *p, int n) {
  if (n <= 0) return;
  size_t room = sizeof p->buf - p->len;
  p->len += (size_t)n < room ? (size_t)n : room - 1;
}

size_t lunar_json_path_key(lunar_json_path *p, const char *key) {
  size_t mark = p->len;
  advance(p, snprintf(p->buf + p->len, sizeof p->buf - p->len, "%s%s", p->len ? "." : "", key));
  return mark;
}

size_t lunar_json_path_index(lunar_json_path *p, long long index) {
  size_t mark = p->len;
  advance(p, snprintf(p->buf + p->len, sizeof p->buf - p->len, "[%lld]", index));
  return mark;
}

void lunar_json_path_pop(lunar_json_path *p, size_t mark) {
  p->len = mark;
  p->buf[mark] = '\0';
}

const char *lunar_json_path_str(const lunar_json_path *p, const char *empty) {
  return p->len ? p->buf : empty;
}
