#include "patch/check.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "json/path.h"
#include "json/value.h"

typedef struct walk {
  lunar_json_path path;
  lunar_error *err;
} walk;

static int accepts(lunar_podtype_kind kind, const json_t *v) {
  switch (kind) {
  case LUNAR_PODTYPES_OBJECT:
  case LUNAR_PODTYPES_MAP: return json_is_object(v);
  case LUNAR_PODTYPES_LIST: return json_is_array(v);
  case LUNAR_PODTYPES_STRING: return json_is_string(v);
  case LUNAR_PODTYPES_INTEGER: return json_is_integer(v);
  case LUNAR_PODTYPES_NUMBER: return json_is_number(v);
  case LUNAR_PODTYPES_BOOLEAN: return json_is_boolean(v);
  case LUNAR_PODTYPES_QUANTITY: return json_is_string(v) || json_is_number(v);
  case LUNAR_PODTYPES_INT_OR_STRING: return json_is_string(v) || json_is_integer(v);
  default: return 1;
  }
}

/* Levenshtein distance of two short names, capped: for "did you mean". */
static size_t distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b), row[64];
  if (la >= 63 || lb >= 63) return 99;
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t prev = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t cur = row[j];
      size_t sub = prev + (a[i - 1] != b[j - 1]);
      size_t best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
      row[j] = sub < best ? sub : best;
      prev = cur;
    }
  }
  return row[lb];
}

static int unknown(walk *w, const lunar_podtype *type, const char *key) {
  const char *best = NULL;
  size_t best_d = 3; /* suggest only close names */
  for (size_t i = 0; i < type->nfields; i++) {
    size_t d = strcasecmp(key, type->fields[i].name) == 0 ? 0 : distance(key, type->fields[i].name);
    if (d < best_d) {
      best_d = d;
      best = type->fields[i].name;
    }
  }
  if (best)
    return lunar_error_set(w->err, LUNAR_EINVAL, "%s: unknown field (did you mean \"%s\"?)",
                           lunar_json_path_str(&w->path, "value"), best);
  return lunar_error_set(w->err, LUNAR_EINVAL, "%s: unknown field (%s has no field \"%s\")",
                         lunar_json_path_str(&w->path, "value"), type->name, key);
}

static int check(walk *w, const json_t *v, lunar_podtype_kind kind, lunar_podtype_kind item,
                 const lunar_podtype *type);

/* A strategic merge patch directive left where Kubernetes does not apply it
 * (in a list it replaces whole, in a value the document did not have): it
 * keeps such a key as a plain one, and so does lunar (render drops it from
 * the Pod, as the API server does when it decodes one). */
static int directive_key(const char *key) {
  return strcmp(key, "$patch") == 0 || strcmp(key, "$retainKeys") == 0 ||
         strncmp(key, "$setElementOrder/", 17) == 0 || strncmp(key, "$deleteFromPrimitiveList/", 25) == 0;
}

static int check_object(walk *w, const json_t *v, const lunar_podtype *type) {
  const char *key;
  json_t *child;
  json_object_foreach((json_t *)v, key, child) {
    if (directive_key(key)) continue;
    int mark = lunar_json_path_key(&w->path, key);
    const lunar_podtype_field *f = lunar_podtypes_field(type, key);
    int rc = f ? check(w, child, f->kind, f->item, lunar_podtypes_type_of(f)) : unknown(w, type, key);
    lunar_json_path_pop(&w->path, mark);
    if (rc) return rc;
  }
  return LUNAR_OK;
}

static int check(walk *w, const json_t *v, lunar_podtype_kind kind, lunar_podtype_kind item,
                 const lunar_podtype *type) {
  if (json_is_null(v)) return LUNAR_OK;
  if (!accepts(kind, v)) {
    char buf[96];
    return lunar_error_set(w->err, LUNAR_EINVAL, "%s: expected %s, got %s (%s)",
                           lunar_json_path_str(&w->path, "value"), lunar_podtypes_kind_name(kind),
                           lunar_json_kind_name(v), lunar_json_snippet(v, buf, sizeof buf));
  }
  const char *key;
  json_t *child;
  size_t i;
  switch (kind) {
  case LUNAR_PODTYPES_OBJECT:
    return type ? check_object(w, v, type) : LUNAR_OK;
  case LUNAR_PODTYPES_MAP:
    json_object_foreach((json_t *)v, key, child) {
      int mark = lunar_json_path_key(&w->path, key);
      int rc = check(w, child, item, LUNAR_PODTYPES_NONE, type);
      lunar_json_path_pop(&w->path, mark);
      if (rc) return rc;
    }
    return LUNAR_OK;
  case LUNAR_PODTYPES_LIST:
    json_array_foreach(v, i, child) {
      int mark = lunar_json_path_index(&w->path, (long long)i);
      int rc = check(w, child, item, LUNAR_PODTYPES_NONE, type);
      lunar_json_path_pop(&w->path, mark);
      if (rc) return rc;
    }
    return LUNAR_OK;
  default:
    return LUNAR_OK;
  }
}

int lunar_patch_check(const json_t *doc, const lunar_podtype *type, const char *root,
                      lunar_error *err) {
  walk w = {.err = err};
  lunar_json_path_init(&w.path, root);
  if (!json_is_object(doc))
    return lunar_error_set(err, LUNAR_EINVAL, "%s: expected an object, got %s",
                           lunar_json_path_str(&w.path, "document"), lunar_json_kind_name(doc));
  return check_object(&w, doc, type);
}
