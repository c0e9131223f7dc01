/* Accessors and conversions shared by the Pod builder's files. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pod/internal.h"
#include "util/expand.h"

const char *pod_str(const json_t *obj, const char *key) {
  const char *s = json_string_value(json_object_get(obj, key));
  return s ? s : "";
}

const json_t *pod_kget(const pod_ctx *c, const char *key) {
  const json_t *v = json_object_get(c->k, key);
  return json_is_null(v) ? NULL : v;
}

const char *pod_kstr(const pod_ctx *c, const char *key) { return pod_str(c->k, key); }

int pod_kbool(const pod_ctx *c, const char *key, int *value) {
  const json_t *v = json_object_get(c->k, key);
  if (!json_is_boolean(v)) return 0;
  *value = json_is_true(v);
  return 1;
}

void pod_warn(pod_ctx *c, const char *fmt, ...) {
  char buf[LUNAR_ERROR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  json_array_append_new(c->warnings, json_string(buf));
}

static const char *var_lookup(void *ctx, const char *name, size_t len) {
  pod_ctx *c = ctx;
  char key[256];
  if (len >= sizeof key) return NULL;
  memcpy(key, name, len);
  key[len] = '\0';
  return json_string_value(json_object_get(c->vars, key));
}

char *pod_expand(pod_ctx *c, const char *s) {
  char *out = NULL;
  if (lunar_expand(s ? s : "", var_lookup, c, &out, c->err)) return NULL;
  return out;
}

void pod_set_str(json_t *obj, const char *key, const char *s) {
  if (s && *s) json_object_set_new(obj, key, json_string(s));
}

/* Settings whose values are maps with user keys: keep those keys. */
static int map_field(const char *key) {
  static const char *maps[] = {"match_labels", "volume_attributes", "node_selector", NULL};
  for (const char **m = maps; *m; m++)
    if (!strcmp(key, *m)) return 1;
  return 0;
}

static char *camel(const char *key) {
  char *out = malloc(strlen(key) + 1);
  if (!out) return NULL;
  char *o = out;
  for (const char *p = key; *p; p++) {
    if (*p == '_' && p[1]) *o++ = (char)toupper((unsigned char)*++p);
    else *o++ = *p;
  }
  *o = '\0';
  return out;
}

json_t *pod_camelize(const json_t *v) {
  if (json_is_array(v)) {
    json_t *out = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) json_array_append_new(out, pod_camelize(x));
    return out;
  }
  if (!json_is_object(v)) return json_deep_copy(v);
  json_t *out = json_object();
  const char *key;
  json_t *x;
  json_object_foreach((json_t *)v, key, x) {
    char *name = camel(key);
    if (!name) continue;
    json_object_set_new(out, name, map_field(key) ? json_deep_copy(x) : pod_camelize(x));
    free(name);
  }
  return out;
}
