#include "json/path.h"

#include <stdio.h>

void lunar_json_path_init(lunar_json_path *p, const char *root) {
  p->depth = 0;
  if (root && *root) lunar_json_path_key(p, root);
}

static int push(lunar_json_path *p, const char *key, long long index) {
  int mark = p->depth;
  if (p->depth < LUNAR_JSON_PATH_DEPTH) {
    p->frames[p->depth].key = key;
    p->frames[p->depth].index = index;
    p->depth++;
  }
  return mark;
}

int lunar_json_path_key(lunar_json_path *p, const char *key) { return push(p, key, 0); }

int lunar_json_path_index(lunar_json_path *p, long long index) { return push(p, NULL, index); }

void lunar_json_path_pop(lunar_json_path *p, int mark) { p->depth = mark; }

const char *lunar_json_path_str(lunar_json_path *p, const char *empty) {
  size_t len = 0;
  p->buf[0] = '\0';
  for (int i = 0; i < p->depth && len < sizeof p->buf - 1; i++) {
    const char *key = p->frames[i].key;
    int w = key ? snprintf(p->buf + len, sizeof p->buf - len, "%s%s", len ? "." : "", key)
                : snprintf(p->buf + len, sizeof p->buf - len, "[%lld]", p->frames[i].index);
    if (w > 0) len += (size_t)w < sizeof p->buf - len ? (size_t)w : sizeof p->buf - len - 1;
  }
  return len ? p->buf : empty;
}
