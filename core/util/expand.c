#include "util/expand.h"

#include <stdlib.h>
#include <string.h>

typedef struct buf {
  char *data;
  size_t len, cap;
} buf;

static int put(buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    while (cap < b->len + n + 1) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) return -1;
    b->data = d, b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

static int special(char c) { return strchr("*#$@!?-0123456789", c) != NULL && c != '\0'; }
static int name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* The name after a `$` at s (s is past the `$`): sets *name and *len and returns
 * how many bytes the reference takes. *len == 0 with a nonzero width means bad
 * syntax to be eaten; a zero width means no name (keep the `$`). */
static size_t shell_name(const char *s, const char **name, size_t *len) {
  *name = s, *len = 0;
  if (*s == '{') {
    if (s[1] && special(s[1]) && s[2] == '}') {
      *name = s + 1, *len = 1;
      return 3;
    }
    for (size_t i = 1; s[i]; i++) {
      if (s[i] == '}') {
        if (i == 1) return 2; /* ${} */
        *name = s + 1, *len = i - 1;
        return i + 1;
      }
    }
    return 1; /* unterminated ${ */
  }
  if (special(*s)) {
    *len = 1;
    return 1;
  }
  size_t i = 0;
  while (name_char(s[i])) i++;
  *len = i;
  return i;
}

int lunar_expand(const char *text, lunar_expand_lookup lookup, void *ctx, char **out,
                 lunar_error *err) {
  buf b = {0};
  const char *p = text, *copied = text;
  *out = NULL;
  for (; *p; p++) {
    if (*p != '$' || !p[1]) continue;
    if (put(&b, copied, (size_t)(p - copied))) goto nomem;
    const char *name;
    size_t len, width = shell_name(p + 1, &name, &len);
    if (len == 0 && width == 0) {
      if (put(&b, "$", 1)) goto nomem;
    } else if (len > 0) {
      const char *v = (len == 1 && *name == '$') ? "$" : lookup(ctx, name, len);
      if (v && put(&b, v, strlen(v))) goto nomem;
    }
    p += width;
    copied = p + 1;
  }
  if (put(&b, copied, (size_t)(p - copied))) goto nomem;
  *out = b.data;
  return LUNAR_OK;
nomem:
  free(b.data);
  return lunar_error_set(err, LUNAR_ENOMEM, "out of memory expanding variables");
}
