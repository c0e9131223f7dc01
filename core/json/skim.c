#include "json/skim.h"

#include <string.h>

#define SKIM_DEPTH 64
#define SKIM_FAIL ((size_t)-1)

/* The index just past the string that starts at in[i] ('"'), or SKIM_FAIL. */
static size_t skip_string(const char *in, size_t len, size_t i) {
  for (i++; i < len; i++) {
    if (in[i] == '\\') i++;
    else if (in[i] == '"') return i + 1;
  }
  return SKIM_FAIL;
}

/* The index just past the value that starts at in[i], or SKIM_FAIL. */
static size_t skip_value(const char *in, size_t len, size_t i) {
  if (i >= len) return SKIM_FAIL;
  if (in[i] == '"') return skip_string(in, len, i);
  if (in[i] == '{' || in[i] == '[') {
    int depth = 0;
    while (i < len) {
      char ch = in[i];
      if (ch == '"') {
        i = skip_string(in, len, i);
        if (i == SKIM_FAIL) return SKIM_FAIL;
        continue;
      }
      if (ch == '{' || ch == '[') depth++;
      else if ((ch == '}' || ch == ']') && --depth == 0) return i + 1;
      i++;
    }
    return SKIM_FAIL;
  }
  while (i < len && !strchr(",}] \t\r\n", in[i])) i++;
  return i;
}

static size_t skip_space(const char *in, size_t len, size_t i) {
  while (i < len && (in[i] == ' ' || in[i] == '\t' || in[i] == '\r' || in[i] == '\n')) i++;
  return i;
}

typedef struct frame {
  char object;       /* 1: an object, 0: a list */
  char on_path;      /* the keys down to here are all on some path */
  const char *key;   /* the key of the member being read (objects) */
  size_t key_len;
  size_t comma;      /* where in `out` the comma before the member went, or SKIM_FAIL */
} frame;

/* Whether the keys of frames[1..depth] spell one of the paths. prefix_only:
 * a path goes on below them. */
static int path_match(const frame *f, int depth, const char *const *paths, int prefix_only) {
  for (const char *const *p = paths; *p; p++) {
    const char *s = *p;
    int d = 1;
    for (; d <= depth; d++) {
      size_t n = f[d].key_len;
      if (!f[d].object || strncmp(s, f[d].key, n) != 0) break;
      if (d < depth || prefix_only) {
        if (s[n] != '.') break;
        s += n + 1;
      } else if (s[n] != '\0') {
        break;
      }
    }
    if (d > depth) return 1;
  }
  return 0;
}

size_t lunar_json_skim(const char *in, size_t len, char *out, const char *const *paths) {
  frame f[SKIM_DEPTH + 1];
  int depth = 0;
  int expect_key = 0;
  size_t o = 0;
  size_t i = 0;
  f[0].on_path = 1;
  while (i < len) {
    char ch = in[i];
    if (ch == '"') {
      size_t end = skip_string(in, len, i);
      if (end == SKIM_FAIL) return SKIM_FAIL;
      if (expect_key && depth > 0 && f[depth].on_path) {
        f[depth].key = in + i + 1;
        f[depth].key_len = end - i - 2;
        if (path_match(f, depth, paths, 0)) {
          /* drop the member: key, ':', value, and one comma */
          size_t v = skip_space(in, len, end);
          if (v >= len || in[v] != ':') return SKIM_FAIL;
          v = skip_value(in, len, skip_space(in, len, v + 1));
          if (v == SKIM_FAIL) return SKIM_FAIL;
          v = skip_space(in, len, v);
          if (v < len && in[v] == ',') {
            v++;
          } else if (f[depth].comma != SKIM_FAIL) {
            o = f[depth].comma; /* the last member: the comma before it goes */
          }
          i = v;
          expect_key = 1;
          continue;
        }
      }
      memcpy(out + o, in + i, end - i);
      o += end - i;
      i = end;
      continue;
    }
    if (ch == '{' || ch == '[') {
      if (depth == SKIM_DEPTH) return SKIM_FAIL;
      int on_path = f[depth].on_path && (depth == 0 || (f[depth].object && path_match(f, depth, paths, 1)));
      depth++;
      f[depth].object = ch == '{';
      f[depth].on_path = (char)on_path;
      f[depth].key = NULL;
      f[depth].key_len = 0;
      f[depth].comma = SKIM_FAIL;
      expect_key = ch == '{';
    } else if (ch == '}' || ch == ']') {
      if (depth == 0) return SKIM_FAIL;
      depth--;
      expect_key = 0;
    } else if (ch == ',') {
      if (depth > 0 && f[depth].object) {
        f[depth].comma = o;
        expect_key = 1;
      }
    } else if (ch == ':') {
      expect_key = 0;
    }
    out[o++] = ch;
    i++;
  }
  return o;
}
