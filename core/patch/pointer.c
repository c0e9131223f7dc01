#include "patch/pointer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lunar_patch_pointer_clear(lunar_pointer *p) {
  if (!p) return;
  for (size_t i = 0; i < p->count; i++) free(p->tokens[i]);
  free(p->tokens);
  free(p->ends);
  p->tokens = NULL;
  p->ends = NULL;
  p->count = 0;
}

/* Unescapes one token of `len` bytes: "~0" is "~", "~1" is "/". */
static int unescape(const char *s, size_t len, char **out, const char *text, lunar_error *err) {
  char *t = malloc(len + 1);
  if (!t) return lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] != '~') {
      t[n++] = s[i];
      continue;
    }
    if (i + 1 < len && (s[i + 1] == '0' || s[i + 1] == '1')) {
      t[n++] = s[i + 1] == '0' ? '~' : '/';
      i++;
      continue;
    }
    free(t);
    return lunar_error_set(err, LUNAR_EINVAL,
                           "invalid JSON pointer \"%s\": \"~\" must be followed by 0 or 1", text);
  }
  t[n] = '\0';
  *out = t;
  return LUNAR_OK;
}

int lunar_patch_pointer_parse(const char *text, lunar_pointer *p, lunar_error *err) {
  memset(p, 0, sizeof *p);
  p->text = text;
  if (text[0] == '\0') return LUNAR_OK;
  if (text[0] != '/')
    return lunar_error_set(err, LUNAR_EINVAL,
                           "invalid JSON pointer \"%s\": it must be empty or start with \"/\"", text);
  size_t count = 0;
  for (const char *c = text; *c; c++) count += *c == '/';
  p->tokens = calloc(count, sizeof *p->tokens);
  p->ends = calloc(count, sizeof *p->ends);
  if (!p->tokens || !p->ends) {
    lunar_patch_pointer_clear(p);
    return lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  }
  const char *start = text + 1;
  for (size_t i = 0; i < count; i++) {
    const char *end = strchr(start, '/');
    if (!end) end = start + strlen(start);
    int rc = unescape(start, (size_t)(end - start), &p->tokens[i], text, err);
    if (rc) {
      lunar_patch_pointer_clear(p);
      return rc;
    }
    p->count = i + 1;
    p->ends[i] = (size_t)(end - text);
    start = end + 1;
  }
  return LUNAR_OK;
}

int lunar_patch_pointer_index(const char *token, size_t *index) {
  if (token[0] == '\0' || (token[0] == '0' && token[1] != '\0')) return -1;
  size_t v = 0;
  for (const char *c = token; *c; c++) {
    if (*c < '0' || *c > '9') return -1;
    if (v > (((size_t)-1) - 9) / 10) return -1;
    v = v * 10 + (size_t)(*c - '0');
  }
  *index = v;
  return 0;
}

int lunar_patch_pointer_index_in(const char *token, size_t size, int for_add, size_t *index) {
  if (token[0] != '-' || token[1] == '\0') return lunar_patch_pointer_index(token, index);
  size_t back;
  if (lunar_patch_pointer_index(token + 1, &back) || back == 0) return -1;
  size_t n = size + (for_add ? 1 : 0); /* an add counts the new slot */
  if (back > n) return -1;
  *index = n - back;
  return 0;
}

const char *lunar_patch_pointer_prefix(const lunar_pointer *p, size_t depth, char *buf,
                                       size_t size) {
  size_t len = depth == 0 ? 0 : p->ends[depth - 1];
  if (len >= size) len = size - 1;
  memcpy(buf, p->text, len);
  buf[len] = '\0';
  return buf;
}

json_t *lunar_patch_pointer_get(json_t *doc, const lunar_pointer *p, size_t depth,
                                lunar_error *err) {
  char where[512];
  json_t *v = doc;
  for (size_t i = 0; i < depth; i++) {
    const char *tok = p->tokens[i];
    if (json_is_object(v)) {
      json_t *next = json_object_get(v, tok);
      if (!next) {
        lunar_error_set(err, LUNAR_ENOTFOUND, "%s does not exist",
                        lunar_patch_pointer_prefix(p, i + 1, where, sizeof where));
        return NULL;
      }
      v = next;
    } else if (json_is_array(v)) {
      size_t idx;
      if (lunar_patch_pointer_index_in(tok, json_array_size(v), 0, &idx)) {
        lunar_error_set(err, LUNAR_ENOTFOUND, "%s: \"%s\" is not a list index",
                        lunar_patch_pointer_prefix(p, i + 1, where, sizeof where), tok);
        return NULL;
      }
      if (idx >= json_array_size(v)) {
        lunar_error_set(err, LUNAR_ENOTFOUND, "%s: index %zu is out of range (the list has %zu items)",
                        lunar_patch_pointer_prefix(p, i + 1, where, sizeof where), idx,
                        json_array_size(v));
        return NULL;
      }
      v = json_array_get(v, idx);
    } else {
      char parent[512];
      lunar_error_set(err, LUNAR_ENOTFOUND, "%s does not exist (%s is not an object or a list)",
                      lunar_patch_pointer_prefix(p, i + 1, where, sizeof where),
                      i == 0 ? "the document" : lunar_patch_pointer_prefix(p, i, parent, sizeof parent));
      return NULL;
    }
  }
  return v;
}
