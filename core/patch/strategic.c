/* Strategic merge patch. The structure follows Kubernetes'
 * strategicpatch.mergeMap / mergeSlice (apply side) so that each case can be
 * checked against it; the document is a private deep copy, modified in
 * place, and the patch is only read. */
#include "patch/strategic.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/path.h"
#include "json/value.h"

#define DIRECTIVE "$patch"
#define RETAIN_KEYS "$retainKeys"
#define DELETE_PREFIX "$deleteFromPrimitiveList"
#define ORDER_PREFIX "$setElementOrder"

typedef struct smp {
  lunar_json_path path;
  lunar_error *err;
} smp;

/* What is known about the members of an object: a typed object, a map whose
 * values all have one kind, or nothing (ANY). */
typedef struct scope {
  unsigned char kind; /* LUNAR_PODTYPES_OBJECT, _MAP or _ANY */
  unsigned char item; /* for MAP */
  const lunar_podtype *type;
} scope;

/* The patch metadata of one member. */
typedef struct meta {
  unsigned char kind, item, strategy;
  const char *merge_key;
  const lunar_podtype *type;
} meta;

/* Value categories as Go's reflect.TypeOf sees decoded JSON: true and false
 * are one type, integers and reals two. */
enum { V_NULL, V_MAP, V_LIST, V_STRING, V_INT, V_REAL, V_BOOL };

static int category(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return V_MAP;
  case JSON_ARRAY: return V_LIST;
  case JSON_STRING: return V_STRING;
  case JSON_INTEGER: return V_INT;
  case JSON_REAL: return V_REAL;
  case JSON_TRUE:
  case JSON_FALSE: return V_BOOL;
  default: return V_NULL;
  }
}

static int fail(smp *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(smp *s, const char *fmt, ...) {
  char msg[LUNAR_ERROR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  const char *where = lunar_json_path_str(&s->path, NULL);
  if (where)
    return lunar_error_set(s->err, LUNAR_EINVAL, "strategic merge patch: %s: %s", where, msg);
  return lunar_error_set(s->err, LUNAR_EINVAL, "strategic merge patch: %s", msg);
}

static int oom(smp *s) { return lunar_error_set(s->err, LUNAR_ENOMEM, "out of memory"); }

static int has_prefix(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "$setElementOrder/containers" -> "containers"; NULL when the key is not
 * exactly "<prefix>/<field>" (Kubernetes' extractKey). */
static const char *directive_field(const char *key, const char *prefix) {
  size_t n = strlen(prefix);
  const char *slash = strchr(key, '/');
  if (!slash || (size_t)(slash - key) != n || strncmp(key, prefix, n) != 0) return NULL;
  return slash + 1;
}

/* Go's interface equality on decoded JSON scalars; a missing value (NULL)
 * equals null. Objects and lists are never equal (Go cannot compare them). */
static int same(const json_t *a, const json_t *b) {
  int ca = a ? category(a) : V_NULL, cb = b ? category(b) : V_NULL;
  if (ca != cb) return 0;
  switch (ca) {
  case V_NULL: return 1;
  case V_BOOL: return json_is_true(a) == json_is_true(b);
  case V_STRING:
  case V_INT:
  case V_REAL: return lunar_json_equal(a, b);
  default: return 0;
  }
}

static int lookup(const scope *sc, const char *key, meta *m) {
  memset(m, 0, sizeof *m);
  if (sc->kind == LUNAR_PODTYPES_OBJECT) {
    const lunar_podtype_field *f = lunar_podtypes_field(sc->type, key);
    if (!f) return -1;
    m->kind = f->kind;
    m->item = f->item;
    m->strategy = f->strategy;
    m->merge_key = f->merge_key;
    m->type = lunar_podtypes_type_of(f);
  } else if (sc->kind == LUNAR_PODTYPES_MAP) {
    m->kind = sc->item;
    m->type = sc->type;
  } else {
    m->kind = LUNAR_PODTYPES_ANY;
  }
  return 0;
}

static int unknown_field(smp *s, const scope *sc, const char *key) {
  return fail(s, "unknown field \"%s\" of %s", key, sc->type ? sc->type->name : "this object");
}

static scope scope_of_value(const meta *m) {
  scope sc = {LUNAR_PODTYPES_ANY, 0, NULL};
  if (m->kind == LUNAR_PODTYPES_OBJECT || m->kind == LUNAR_PODTYPES_MAP) {
    sc.kind = m->kind;
    sc.item = m->item;
    sc.type = m->type;
  }
  return sc;
}

static scope scope_of_items(const meta *m) {
  scope sc = {LUNAR_PODTYPES_ANY, 0, NULL};
  if (m->item == LUNAR_PODTYPES_OBJECT) {
    sc.kind = LUNAR_PODTYPES_OBJECT;
    sc.type = m->type;
  }
  return sc;
}

/* ---- copies of patch values ------------------------------------------- */

static void discard_nulls(json_t *v) {
  const char *key;
  json_t *child;
  void *tmp;
  size_t i;
  if (json_is_object(v)) {
    json_object_foreach_safe(v, tmp, key, child) {
      if (json_is_null(child))
        json_object_del(v, key);
      else
        discard_nulls(child);
    }
  } else if (json_is_array(v)) {
    json_array_foreach(v, i, child) discard_nulls(child);
  }
}

/* Kubernetes' removeDirectives: drops every object that carries "$patch"
 * (and the member or item holding it). Returns 0 when `v` itself goes. */
static int strip_directives(json_t *v) {
  const char *key;
  json_t *child;
  void *tmp;
  if (json_is_object(v)) {
    if (json_object_get(v, DIRECTIVE)) return 0;
    json_object_foreach_safe(v, tmp, key, child) {
      if (!strip_directives(child)) json_object_del(v, key);
    }
  } else if (json_is_array(v)) {
    for (size_t i = 0; i < json_array_size(v);) {
      if (strip_directives(json_array_get(v, i)))
        i++;
      else
        json_array_remove(v, i);
    }
  }
  return 1;
}

/* A patch value as it enters the document where nothing was to merge with:
 * without nulls (when `nulls` is 0) and without directives. *out is NULL when
 * the value is itself a directive and nothing is to be kept. */
static int clean_copy(smp *s, const json_t *v, int nulls, json_t **out) {
  json_t *copy = json_deep_copy(v);
  if (!copy) return oom(s);
  if (!nulls) discard_nulls(copy);
  if (!strip_directives(copy)) {
    json_decref(copy);
    copy = NULL;
  }
  *out = copy;
  return LUNAR_OK;
}

/* ---- lists --------------------------------------------------------------- */

/* Borrowed pointers to list items. */
typedef struct items {
  const json_t **v;
  size_t n;
} items;

static int items_init(smp *s, items *x, size_t cap) {
  x->n = 0;
  x->v = malloc((cap ? cap : 1) * sizeof *x->v);
  return x->v ? LUNAR_OK : oom(s);
}

static const json_t *key_of(const json_t *item, const char *merge_key) {
  return json_is_object(item) ? json_object_get(item, merge_key) : NULL;
}

/* Positions by value: Kubernetes' index() answered from a hash table, so
 * that merging and ordering stay linear in the list sizes (a linear search
 * per item made a patch of one env var on 32,000 variables take half a
 * minute). The table maps the text form of a scalar (what `same` compares)
 * to the first position holding it. */
typedef struct posmap {
  json_t *index; /* object: canonical text -> integer position */
  const char *merge_key;
} posmap;

/* The canonical text of a scalar for `same` (malloc'd), or NULL for values
 * that are never the same as anything (objects, lists). */
static char *canon(const json_t *v, int *oom_out) {
  char *out = NULL;
  int c = v ? category(v) : V_NULL;
  switch (c) {
  case V_NULL: out = strdup("n"); break;
  case V_BOOL: out = strdup(json_is_true(v) ? "t" : "f"); break;
  case V_INT:
    if (asprintf(&out, "i%lld", (long long)json_integer_value(v)) < 0) out = NULL;
    break;
  case V_REAL: {
    double d = json_real_value(v);
    if (d == 0) d = 0; /* -0.0 == 0.0 */
    if (asprintf(&out, "r%.17g", d) < 0) out = NULL;
    break;
  }
  case V_STRING: {
    size_t n = json_string_length(v);
    const char *str = json_string_value(v);
    if (memchr(str, '\0', n)) { /* keys are C strings: spell such a string in hex */
      out = malloc(2 * n + 2);
      if (out) {
        out[0] = 'x';
        for (size_t i = 0; i < n; i++) sprintf(out + 1 + 2 * i, "%02x", (unsigned char)str[i]);
      }
    } else {
      out = malloc(n + 2);
      if (out) {
        out[0] = 's';
        memcpy(out + 1, str, n + 1);
      }
    }
    break;
  }
  default: return NULL;
  }
  if (!out) *oom_out = 1;
  return out;
}

static int posmap_build(smp *s, posmap *pm, const json_t *const *list, size_t n, const char *merge_key) {
  pm->merge_key = merge_key;
  pm->index = json_object();
  if (!pm->index) return oom(s);
  for (size_t i = 0; i < n; i++) {
    int oom_flag = 0;
    char *k = canon(merge_key ? key_of(list[i], merge_key) : list[i], &oom_flag);
    if (oom_flag) return oom(s);
    if (k && !json_object_get(pm->index, k) && json_object_set_new(pm->index, k, json_integer((json_int_t)i))) {
      free(k);
      return oom(s);
    }
    free(k);
  }
  return LUNAR_OK;
}

static void posmap_free(posmap *pm) {
  json_decref(pm->index);
  pm->index = NULL;
}

/* Kubernetes' index(): position of `v` in the list by merge key (objects) or
 * by value (scalars), or -1. (Out of memory reads as not found; the
 * allocations after it fail too.) */
static long position(const posmap *pm, const json_t *v) {
  int oom_flag = 0;
  char *k = canon(pm->merge_key ? key_of(v, pm->merge_key) : v, &oom_flag);
  if (!k) return -1;
  json_t *at = json_object_get(pm->index, k);
  free(k);
  return at ? (long)json_integer_value(at) : -1;
}

/* The category shared by every item of both lists (sliceElementType). */
static int item_category(smp *s, const json_t *a, const json_t *b, int *out) {
  const json_t *lists[2] = {a, b};
  int found = -1;
  for (int l = 0; l < 2; l++) {
    size_t i;
    json_t *v;
    if (!lists[l]) continue;
    json_array_foreach(lists[l], i, v) {
      int c = category(v);
      if (c == V_NULL) return fail(s, "a list item is null");
      if (c == V_LIST) return fail(s, "lists of lists are not supported");
      if (found >= 0 && c != found) return fail(s, "the items of the list are not all of one type");
      found = c;
    }
  }
  if (found < 0) return fail(s, "the list is empty, so it cannot be ordered");
  *out = found;
  return LUNAR_OK;
}

static int require_key(smp *s, const json_t *item, const char *merge_key, const char *where) {
  if (!json_is_object(item))
    return fail(s, "%s is %s, not an object", where, lunar_json_kind_name(item));
  if (!json_object_get(item, merge_key)) {
    char buf[160];
    return fail(s, "%s %s has no \"%s\" (the merge key of this list)", where,
                lunar_json_snippet(item, buf, sizeof buf), merge_key);
  }
  return LUNAR_OK;
}

/* normalizeSliceOrder: stable sort of `x` by position in `order`, with
 * Kubernetes' comparison (an item missing from `order` sorts before), then
 * items marked "$patch: delete" last. */
static int sort_by(smp *s, items *x, const json_t *const *order, size_t norder,
                   const char *merge_key, const char *what) {
  if (merge_key) {
    for (size_t i = 0; i < x->n; i++) {
      int rc = require_key(s, x->v[i], merge_key, what);
      if (rc) return rc;
    }
    for (size_t i = 0; i < norder; i++) {
      int rc = require_key(s, order[i], merge_key, what);
      if (rc) return rc;
    }
  }
  /* the positions once (the insertion sort below keeps Kubernetes' results;
   * on lists already in order it is linear) */
  posmap pm;
  long *pos = malloc((x->n ? x->n : 1) * sizeof *pos);
  int rc = pos ? posmap_build(s, &pm, order, norder, merge_key) : oom(s);
  if (rc) {
    if (pos) posmap_free(&pm);
    free(pos);
    return rc;
  }
  for (size_t i = 0; i < x->n; i++) pos[i] = position(&pm, x->v[i]);
  posmap_free(&pm);
  for (size_t i = 1; i < x->n; i++) {
    for (size_t j = i; j > 0; j--) {
      long a = pos[j];
      long b = a >= 0 ? pos[j - 1] : -1;
      int less = a >= 0 && b >= 0 ? a < b : 1;
      if (!less) break;
      const json_t *t = x->v[j];
      x->v[j] = x->v[j - 1];
      x->v[j - 1] = t;
      long tp = pos[j];
      pos[j] = pos[j - 1];
      pos[j - 1] = tp;
    }
  }
  free(pos);
  if (merge_key) { /* deletions last, keeping their order */
    size_t kept = 0, del = 0;
    const json_t **tmp = malloc((x->n ? x->n : 1) * sizeof *tmp);
    if (!tmp) return oom(s);
    for (size_t i = 0; i < x->n; i++) {
      json_t *d = json_object_get(x->v[i], DIRECTIVE);
      if (d && json_is_string(d) && strcmp(json_string_value(d), "delete") == 0) tmp[del++] = x->v[i];
      else x->v[kept++] = x->v[i];
    }
    memcpy(x->v + kept, tmp, del * sizeof *tmp);
    free(tmp);
  }
  return LUNAR_OK;
}

/* normalizeElementOrder + mergeSortedSlice: the patch items in patch order,
 * the document-only items in document order, interleaved by their places in
 * the document. Returns the new list in *out. */
static int order_items(smp *s, items *patch_items, items *server_only, const json_t *const *patch_order,
                       size_t npatch, const json_t *const *server_order, size_t nserver,
                       const char *merge_key, json_t **out) {
  int rc = sort_by(s, patch_items, patch_order, npatch, merge_key, "the patch item");
  if (!rc) rc = sort_by(s, server_only, server_order, nserver, merge_key, "the item");
  if (rc) return rc;
  posmap pm;
  if ((rc = posmap_build(s, &pm, server_order, nserver, merge_key))) {
    posmap_free(&pm);
    return rc;
  }
  json_t *list = json_array();
  if (!list) {
    posmap_free(&pm);
    return oom(s);
  }
  size_t i = 0, j = 0;
  while (i < server_only->n && j < patch_items->n) {
    long li = position(&pm, server_only->v[i]);
    long ri = position(&pm, patch_items->v[j]);
    const json_t *next = li >= 0 && ri >= 0 && li < ri ? server_only->v[i++] : patch_items->v[j++];
    if (json_array_append(list, (json_t *)next)) goto nomem;
  }
  posmap_free(&pm);
  for (; i < server_only->n; i++)
    if (json_array_append(list, (json_t *)server_only->v[i])) goto nomem;
  for (; j < patch_items->n; j++)
    if (json_array_append(list, (json_t *)patch_items->v[j])) goto nomem;
  *out = list;
  return LUNAR_OK;
nomem:
  posmap_free(&pm);
  json_decref(list);
  return oom(s);
}

/* Splits `merged` into the items found in `by` and the others. */
static int partition(smp *s, const json_t *merged, const json_t *const *by, size_t nby,
                     const char *merge_key, items *in, items *out) {
  size_t i;
  json_t *v;
  int rc = items_init(s, in, json_array_size(merged));
  if (!rc) rc = items_init(s, out, json_array_size(merged));
  if (rc) return rc;
  posmap pm;
  if ((rc = posmap_build(s, &pm, by, nby, merge_key))) {
    posmap_free(&pm);
    return rc;
  }
  json_array_foreach(merged, i, v) {
    if (merge_key && (rc = require_key(s, v, merge_key, "the item"))) break;
    if (position(&pm, v) >= 0)
      in->v[in->n++] = v;
    else
      out->v[out->n++] = v;
  }
  posmap_free(&pm);
  return rc;
}

static int merge_map(smp *s, json_t *orig, const json_t *patch, const scope *sc, json_t **out);

/* mergeSlice for lists of scalars. `orig` is consumed. */
static int merge_scalars(smp *s, json_t *orig, const json_t *patch, int is_delete, json_t **out) {
  size_t i;
  json_t *v;
  int rc = LUNAR_OK;
  json_t *merged = json_array();
  items pin = {0}, pout = {0};
  if (!merged) {
    rc = oom(s);
    goto done;
  }
  if (is_delete) { /* $deleteFromPrimitiveList: keep what the patch does not name */
    json_array_foreach(orig, i, v) {
      size_t k;
      json_t *d;
      int drop = 0;
      json_array_foreach(patch, k, d) drop |= same(v, d);
      if (!drop && json_array_append(merged, v)) rc = oom(s);
    }
    if (!rc) {
      *out = merged;
      merged = NULL;
    }
    goto done;
  }
  /* a set union, then Kubernetes' ordering */
  const json_t *lists[2] = {orig, patch};
  for (int l = 0; l < 2 && !rc; l++) {
    json_array_foreach(lists[l], i, v) {
      size_t k;
      json_t *m;
      int dup = 0;
      json_array_foreach(merged, k, m) dup |= same(v, m);
      if (dup) continue;
      if (json_array_append_new(merged, json_deep_copy(v))) rc = oom(s);
    }
  }
  if (rc) goto done;
  const json_t **porder = malloc((json_array_size(patch) + 1) * sizeof *porder);
  const json_t **sorder = malloc((json_array_size(orig) + 1) * sizeof *sorder);
  if (!porder || !sorder) {
    free(porder);
    free(sorder);
    rc = oom(s);
    goto done;
  }
  json_array_foreach(patch, i, v) porder[i] = v;
  json_array_foreach(orig, i, v) sorder[i] = v;
  rc = partition(s, merged, porder, json_array_size(patch), NULL, &pin, &pout);
  if (!rc)
    rc = order_items(s, &pin, &pout, porder, json_array_size(patch), sorder, json_array_size(orig), NULL, out);
  free(porder);
  free(sorder);
done:
  free(pin.v);
  free(pout.v);
  json_decref(merged);
  json_decref(orig);
  return rc;
}

/* mergeSlice for lists of objects with a merge key. `orig` is consumed. */
static int merge_objects(smp *s, json_t *orig, const json_t *patch, const meta *m, json_t **out) {
  const char *mk = m->merge_key;
  scope items_scope = scope_of_items(m);
  size_t np = json_array_size(patch), i;
  json_t *v, *list = json_array();
  const json_t **plist = malloc((np + 1) * sizeof *plist); /* patch items without directives */
  size_t *pindex = malloc((np + 1) * sizeof *pindex);
  const json_t **sorder = NULL;
  items pin = {0}, pout = {0};
  int rc = LUNAR_OK, replace = 0;
  size_t n = 0;
  if (!list || !plist || !pindex || json_array_extend(list, orig)) {
    rc = oom(s);
    goto done;
  }
  /* mergeSliceWithSpecialElements */
  json_array_foreach(patch, i, v) {
    json_t *d = json_object_get(v, DIRECTIVE);
    if (!d) {
      plist[n] = v;
      pindex[n++] = i;
      continue;
    }
    int mark = lunar_json_path_index(&s->path, (long long)i);
    const char *dv = json_is_string(d) ? json_string_value(d) : "";
    if (strcmp(dv, "delete") == 0) {
      json_t *kv = json_object_get(v, mk);
      if (!kv) {
        rc = fail(s, "\"$patch: delete\" needs \"%s\" (the merge key of this list) to name the item to delete", mk);
      } else {
        for (size_t k = 0; k < json_array_size(list);) {
          if (same(key_of(json_array_get(list, k), mk), kv))
            json_array_remove(list, k);
          else
            k++;
        }
      }
    } else if (strcmp(dv, "replace") == 0) {
      replace = 1;
    } else if (strcmp(dv, "merge") == 0) {
      rc = fail(s, "\"$patch: merge\" is not supported in a list (lists with a merge key merge by default)");
    } else {
      char buf[64];
      rc = fail(s, "unknown \"$patch\" value %s (use delete or replace)", lunar_json_snippet(d, buf, sizeof buf));
    }
    lunar_json_path_pop(&s->path, mark);
    if (rc) goto done;
  }
  if (replace) {
    json_array_clear(list);
    for (size_t k = 0; k < n; k++)
      if (json_array_append_new(list, json_deep_copy(plist[k]))) {
        rc = oom(s);
        goto done;
      }
    n = 0;
  }
  /* the document order, before new items are appended */
  size_t nserver = json_array_size(list);
  /* where each merge key is in the list (first occurrence), kept up to date
   * as items are appended */
  json_t *where = json_object();
  if (!where) {
    rc = oom(s);
    goto done;
  }
  for (size_t k = 0; k < nserver && !rc; k++) {
    json_t *e = json_array_get(list, k);
    if (!json_object_get(e, mk)) continue;
    int oom_flag = 0;
    char *key = canon(json_object_get(e, mk), &oom_flag);
    if (oom_flag) rc = oom(s);
    else if (key && !json_object_get(where, key) && json_object_set_new(where, key, json_integer((json_int_t)k)))
      rc = oom(s);
    free(key);
  }
  /* mergeSliceWithoutSpecialElements */
  for (size_t k = 0; k < n && !rc; k++) {
    int mark = lunar_json_path_index(&s->path, (long long)pindex[k]);
    json_t *kv = json_object_get(plist[k], mk);
    if (!kv) {
      char buf[160];
      rc = fail(s, "the patch item %s has no \"%s\" (the merge key of this list)",
                lunar_json_snippet(plist[k], buf, sizeof buf), mk);
    } else {
      int oom_flag = 0;
      char *key = canon(kv, &oom_flag);
      json_t *at = key ? json_object_get(where, key) : NULL;
      if (oom_flag) {
        rc = oom(s);
      } else if (at) {
        size_t found = (size_t)json_integer_value(at);
        json_t *merged;
        rc = merge_map(s, json_incref(json_array_get(list, found)), plist[k], &items_scope, &merged);
        if (!rc && json_array_set_new(list, found, merged)) rc = oom(s);
      } else if (json_array_append_new(list, json_deep_copy(plist[k]))) {
        rc = oom(s);
      } else if (key && json_object_set_new(where, key, json_integer((json_int_t)(json_array_size(list) - 1)))) {
        rc = oom(s);
      }
      free(key);
    }
    lunar_json_path_pop(&s->path, mark);
  }
  json_decref(where);
  if (rc) goto done;
  sorder = malloc((nserver + 1) * sizeof *sorder);
  if (!sorder) {
    rc = oom(s);
    goto done;
  }
  for (size_t k = 0; k < nserver; k++) sorder[k] = json_array_get(list, k);
  rc = partition(s, list, plist, n, mk, &pin, &pout);
  if (!rc) rc = order_items(s, &pin, &pout, plist, n, sorder, nserver, mk, out);
done:
  free(pin.v);
  free(pout.v);
  free(sorder);
  free(plist);
  free(pindex);
  json_decref(list);
  json_decref(orig);
  return rc;
}

/* mergeSlice. `orig` is consumed. */
static int merge_slice(smp *s, json_t *orig, const json_t *patch, const meta *m, int is_delete,
                       json_t **out) {
  if (json_array_size(orig) == 0 && json_array_size(patch) == 0) {
    *out = orig;
    return LUNAR_OK;
  }
  int cat, rc = item_category(s, orig, patch, &cat);
  if (rc) {
    json_decref(orig);
    return rc;
  }
  if (cat != V_MAP) return merge_scalars(s, orig, patch, is_delete, out);
  if (!m->merge_key) {
    json_decref(orig);
    return fail(s, "this list has no merge key, so its items cannot be merged or deleted one by one");
  }
  return merge_objects(s, orig, patch, m, out);
}

/* mergeSliceHandler. `orig` is consumed. */
static int merge_list(smp *s, json_t *orig, const json_t *patch, const meta *m, int is_delete,
                      json_t **out) {
  if ((m->strategy & LUNAR_PODTYPES_MERGE) || is_delete) return merge_slice(s, orig, patch, m, is_delete, out);
  json_decref(orig);
  return (*out = json_deep_copy(patch)) ? LUNAR_OK : oom(s); /* replaced, as written */
}

/* ---- directives on objects ------------------------------------------------ */

static int listed(const json_t *list, const char *key) {
  size_t i;
  json_t *v;
  json_array_foreach(list, i, v) if (json_is_string(v) && strcmp(json_string_value(v), key) == 0) return 1;
  return 0;
}

/* applyRetainKeysDirective */
static int retain_keys(smp *s, json_t *orig, const json_t *patch) {
  json_t *list = json_object_get(patch, RETAIN_KEYS);
  if (!list) return LUNAR_OK;
  if (!json_is_array(list)) return fail(s, "\"$retainKeys\" must be a list of field names");
  const char *key;
  json_t *v;
  void *tmp;
  json_object_foreach((json_t *)patch, key, v) {
    if (json_is_null(v) || strcmp(key, RETAIN_KEYS) == 0 || has_prefix(key, DELETE_PREFIX) ||
        has_prefix(key, ORDER_PREFIX))
      continue;
    if (!listed(list, key))
      return fail(s, "\"%s\" is in the patch but not in its \"$retainKeys\" list", key);
  }
  json_object_foreach_safe(orig, tmp, key, v) {
    if (!listed(list, key)) json_object_del(orig, key);
  }
  return LUNAR_OK;
}

/* validatePatchWithSetOrderList: the patch items must appear in the order
 * list, in the same relative order. */
static int check_order(smp *s, const json_t *plist, const json_t *order, const char *mk,
                       const char *field) {
  size_t np = json_array_size(plist), no = json_array_size(order), pi = 0, si = 0;
  if (!plist || np == 0 || no == 0) return LUNAR_OK;
  while (pi < np && si < no) {
    const json_t *p = json_array_get(plist, pi);
    json_t *d = json_object_get(p, DIRECTIVE);
    if (d) { /* deletions and other directives take no place */
      pi++;
      continue;
    }
    int eq;
    if (mk) {
      const json_t *o = json_array_get(order, si);
      int rc = require_key(s, p, mk, "the patch item");
      if (!rc) rc = require_key(s, o, mk, "the \"$setElementOrder\" item");
      if (rc) return rc;
      eq = same(json_object_get(p, mk), json_object_get(o, mk));
    } else {
      eq = same(p, json_array_get(order, si));
    }
    pi += eq;
    si++;
  }
  if (pi < np && si >= no)
    return fail(s, "the items of %s in the patch are missing from \"$setElementOrder/%s\" or in another order",
                field, field);
  return LUNAR_OK;
}

/* mergePatchIntoOriginal: merges and orders every list named by a
 * "$setElementOrder/<field>" directive; marks those fields in `done`. */
static int set_element_order(smp *s, json_t *orig, const json_t *patch, const scope *sc, json_t *done) {
  const char *key;
  json_t *order;
  json_object_foreach((json_t *)patch, key, order) {
    if (!has_prefix(key, ORDER_PREFIX)) continue;
    int mark = lunar_json_path_key(&s->path, key);
    int rc = LUNAR_OK;
    const char *field = directive_field(key, ORDER_PREFIX);
    json_t *olist = NULL, *merged = NULL;
    const json_t *plist = NULL;
    meta m;
    items pin = {0}, pout = {0};
    const json_t **ord = NULL, **srv = NULL;
    if (!field) {
      rc = fail(s, "write the directive as \"$setElementOrder/<field>\"");
      goto next;
    }
    if (!json_is_array(order)) {
      rc = fail(s, "must be a list, got %s", lunar_json_kind_name(order));
      goto next;
    }
    olist = json_object_get(orig, field);
    plist = json_object_get(patch, field);
    if ((olist && !json_is_array(olist)) || (plist && !json_is_array(plist))) {
      rc = fail(s, "%s is not a list", field);
      goto next;
    }
    if (lookup(sc, field, &m)) {
      rc = unknown_field(s, sc, field);
      goto next;
    }
    const char *mk = (m.strategy & LUNAR_PODTYPES_MERGE) ? m.merge_key : NULL;
    if ((rc = check_order(s, plist, order, mk, field))) goto next;
    if (olist && !plist) {
      merged = json_incref(olist);
    } else if (!olist && plist) {
      if ((rc = clean_copy(s, plist, 1, &merged))) goto next;
    } else if (olist && plist) {
      int m2 = lunar_json_path_key(&s->path, field);
      rc = merge_list(s, json_incref(olist), plist, &m, 0, &merged);
      lunar_json_path_pop(&s->path, m2);
      if (rc) goto next;
    } else {
      goto next;
    }
    int cat;
    if ((rc = item_category(s, olist, plist, &cat))) goto next;
    if (cat == V_MAP && !mk) {
      rc = fail(s, "%s is replaced as a whole (it has no merge key), so it cannot be ordered", field);
      goto next;
    }
    size_t no = json_array_size(order), ns = olist ? json_array_size(olist) : 0, i;
    json_t *v;
    ord = malloc((no + 1) * sizeof *ord);
    srv = malloc((ns + 1) * sizeof *srv);
    if (!ord || !srv) {
      rc = oom(s);
      goto next;
    }
    json_array_foreach(order, i, v) {
      if (mk && !json_is_object(v)) {
        rc = fail(s, "item %zu is %s, not an object with \"%s\"", i, lunar_json_kind_name(v), mk);
        goto next;
      }
      ord[i] = v;
    }
    for (i = 0; i < ns; i++) srv[i] = json_array_get(olist, i);
    json_t *both;
    if ((rc = partition(s, merged, ord, no, mk, &pin, &pout))) goto next;
    if ((rc = order_items(s, &pin, &pout, ord, no, srv, ns, mk, &both))) goto next;
    if (json_object_set_new(orig, field, both) || json_object_set(done, field, json_true())) rc = oom(s);
  next:
    free(pin.v);
    free(pout.v);
    free(ord);
    free(srv);
    json_decref(merged);
    lunar_json_path_pop(&s->path, mark);
    if (rc) return rc;
  }
  return LUNAR_OK;
}

/* ---- objects ---------------------------------------------------------------- */

/* handleDirectiveInMergeMap */
static int map_directive(smp *s, const json_t *d, const json_t *patch, json_t **out) {
  const char *dv = json_is_string(d) ? json_string_value(d) : "";
  if (strcmp(dv, "replace") == 0) {
    json_t *copy = json_deep_copy(patch);
    if (!copy) return oom(s);
    json_object_del(copy, DIRECTIVE);
    *out = copy;
    return LUNAR_OK;
  }
  if (strcmp(dv, "delete") == 0) return (*out = json_object()) ? LUNAR_OK : oom(s);
  char buf[64];
  return fail(s, "\"$patch: %s\" is not valid on an object (use replace or delete; objects merge by default)",
              json_is_string(d) ? dv : lunar_json_snippet(d, buf, sizeof buf));
}

/* mergeMap. `orig` (an object, or NULL) is consumed; *out is the result. */
static int merge_map(smp *s, json_t *orig, const json_t *patch, const scope *sc, json_t **out) {
  json_t *d = json_object_get(patch, DIRECTIVE);
  if (d) {
    json_decref(orig);
    return map_directive(s, d, patch, out);
  }
  if (!orig && !(orig = json_object())) return oom(s);
  json_t *done = json_object();
  int rc = done ? retain_keys(s, orig, patch) : oom(s);
  if (!rc) rc = set_element_order(s, orig, patch, sc, done);
  const char *key;
  json_t *pv;
  json_object_foreach((json_t *)patch, key, pv) {
    if (rc) break;
    if (strcmp(key, RETAIN_KEYS) == 0 || has_prefix(key, ORDER_PREFIX) || json_object_get(done, key))
      continue;
    const char *k = key;
    int is_delete = 0;
    if (has_prefix(key, DELETE_PREFIX)) {
      if (!(k = directive_field(key, DELETE_PREFIX))) {
        int mark = lunar_json_path_key(&s->path, key);
        rc = fail(s, "write the directive as \"$deleteFromPrimitiveList/<field>\"");
        lunar_json_path_pop(&s->path, mark);
        break;
      }
      is_delete = 1;
    }
    int mark = lunar_json_path_key(&s->path, k);
    json_t *ov = json_object_get(orig, k), *result = NULL;
    meta m;
    if (json_is_null(pv)) {
      json_object_del(orig, k);
    } else if (!ov || category(ov) != category(pv)) {
      if (!is_delete && !(rc = clean_copy(s, pv, 0, &result))) {
        if (!result)
          json_object_del(orig, k);
        else if (json_object_set_new(orig, k, result))
          rc = oom(s);
      }
    } else if (json_is_object(ov) || json_is_array(ov)) {
      if (lookup(sc, k, &m)) {
        rc = unknown_field(s, sc, k);
      } else {
        scope sub = scope_of_value(&m);
        rc = json_is_object(ov) ? merge_map(s, json_incref(ov), pv, &sub, &result)
                                : merge_list(s, json_incref(ov), pv, &m, is_delete, &result);
        if (!rc && json_object_set_new(orig, k, result)) rc = oom(s);
      }
    } else if (json_object_set_new(orig, k, json_deep_copy(pv))) {
      rc = oom(s);
    }
    lunar_json_path_pop(&s->path, mark);
  }
  json_decref(done);
  if (rc) {
    json_decref(orig);
    return rc;
  }
  *out = orig;
  return LUNAR_OK;
}

int lunar_patch_strategic(const json_t *doc, const json_t *patch, const lunar_podtype *type,
                          const char *root, json_t **out, lunar_error *err) {
  smp s = {.err = err};
  lunar_json_path_init(&s.path, root);
  if (!json_is_object(patch))
    return lunar_error_set(err, LUNAR_EINVAL, "strategic merge patch: expected an object, got %s",
                           lunar_json_kind_name(patch));
  if (!json_is_object(doc))
    return fail(&s, "the document is %s, not an object", lunar_json_kind_name(doc));
  json_t *copy = json_deep_copy(doc);
  if (!copy) return oom(&s);
  scope sc = {LUNAR_PODTYPES_OBJECT, 0, type};
  return merge_map(&s, copy, patch, &sc, out);
}
