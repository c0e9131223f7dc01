#include "patch/json.h"

#include <string.h>

#include "json/value.h"
#include "patch/pointer.h"

#define OOM(err) lunar_error_set(err, LUNAR_ENOMEM, "out of memory")

/* The parent of the location `p` points to, for add and remove. */
static json_t *parent_of(json_t *doc, const lunar_pointer *p, const char *verb, lunar_error *err) {
  char where[512];
  json_t *parent = lunar_patch_pointer_get(doc, p, p->count - 1, err);
  if (!parent) {
    lunar_error_wrap(err, "cannot %s %s", verb, p->text);
    return NULL;
  }
  if (!json_is_object(parent) && !json_is_array(parent)) {
    lunar_error_set(err, LUNAR_EINVAL, "cannot %s %s: %s is %s, not an object or a list", verb,
                    p->text, p->count == 1 ? "the document" : lunar_patch_pointer_prefix(p, p->count - 1, where, sizeof where),
                    lunar_json_kind_name(parent));
    return NULL;
  }
  return parent;
}

/* Adds `value` (owned, consumed) at `p`. */
static int add(json_t **doc, const lunar_pointer *p, json_t *value, lunar_error *err) {
  if (p->count == 0) {
    json_decref(*doc);
    *doc = value;
    return LUNAR_OK;
  }
  json_t *parent = parent_of(*doc, p, "add", err);
  if (!parent) {
    json_decref(value);
    return LUNAR_EINVAL;
  }
  const char *last = p->tokens[p->count - 1];
  if (json_is_object(parent))
    return json_object_set_new(parent, last, value) ? OOM(err) : LUNAR_OK;
  size_t size = json_array_size(parent), idx;
  if (strcmp(last, "-") == 0) return json_array_append_new(parent, value) ? OOM(err) : LUNAR_OK;
  if (lunar_patch_pointer_index_in(last, size, 1, &idx)) {
    json_decref(value);
    if (last[0] == '-' && last[1] >= '0' && last[1] <= '9')
      return lunar_error_set(err, LUNAR_EINVAL, "cannot add %s: index %s is out of range (the list has %zu items)",
                             p->text, last, size);
    return lunar_error_set(err, LUNAR_EINVAL, "cannot add %s: \"%s\" is not a list index or \"-\"",
                           p->text, last);
  }
  if (idx > size) {
    json_decref(value);
    return lunar_error_set(err, LUNAR_EINVAL,
                           "cannot add %s: index %zu is out of range (the list has %zu items)",
                           p->text, idx, size);
  }
  return json_array_insert_new(parent, idx, value) ? OOM(err) : LUNAR_OK;
}

static int remove_at(json_t *doc, const lunar_pointer *p, lunar_error *err) {
  if (p->count == 0) return lunar_error_set(err, LUNAR_EINVAL, "cannot remove the whole document");
  if (!lunar_patch_pointer_get(doc, p, p->count, err)) return LUNAR_EINVAL;
  json_t *parent = lunar_patch_pointer_get(doc, p, p->count - 1, err);
  const char *last = p->tokens[p->count - 1];
  if (json_is_object(parent)) return json_object_del(parent, last) ? OOM(err) : LUNAR_OK;
  size_t idx = 0;
  lunar_patch_pointer_index_in(last, json_array_size(parent), 0, &idx); /* valid: the get above succeeded */
  return json_array_remove(parent, idx) ? OOM(err) : LUNAR_OK;
}

/* 1 when the location `p` names a missing member of an existing object. */
static int missing_member(json_t *doc, const lunar_pointer *p) {
  if (p->count == 0) return 0;
  json_t *parent = lunar_patch_pointer_get(doc, p, p->count - 1, NULL);
  return parent && json_is_object(parent) && !json_object_get(parent, p->tokens[p->count - 1]);
}

/* As the API server's JSON patch library: a replace of a missing member of
 * an object sets it. */
static int replace(json_t **doc, const lunar_pointer *p, json_t *value, lunar_error *err) {
  if (missing_member(*doc, p)) {
    json_t *parent = lunar_patch_pointer_get(*doc, p, p->count - 1, err);
    return json_object_set_new(parent, p->tokens[p->count - 1], value) ? OOM(err) : LUNAR_OK;
  }
  if (!lunar_patch_pointer_get(*doc, p, p->count, err)) {
    json_decref(value);
    return LUNAR_EINVAL;
  }
  if (p->count == 0) {
    json_decref(*doc);
    *doc = value;
    return LUNAR_OK;
  }
  json_t *parent = lunar_patch_pointer_get(*doc, p, p->count - 1, err);
  const char *last = p->tokens[p->count - 1];
  if (json_is_object(parent)) return json_object_set_new(parent, last, value) ? OOM(err) : LUNAR_OK;
  size_t idx = 0;
  lunar_patch_pointer_index_in(last, json_array_size(parent), 0, &idx);
  return json_array_set_new(parent, idx, value) ? OOM(err) : LUNAR_OK;
}

/* 1 when `inner` points to `outer` or below it (strictly below when
 * `strict`). */
static int is_within(const lunar_pointer *outer, const lunar_pointer *inner, int strict) {
  if (inner->count < outer->count + (strict ? 1 : 0)) return 0;
  for (size_t i = 0; i < outer->count; i++)
    if (strcmp(outer->tokens[i], inner->tokens[i]) != 0) return 0;
  return 1;
}

static int string_member(const json_t *op, const char *name, const char **out, lunar_error *err) {
  json_t *v = json_object_get(op, name);
  if (!v) return lunar_error_set(err, LUNAR_EINVAL, "missing \"%s\"", name);
  if (!json_is_string(v))
    return lunar_error_set(err, LUNAR_EINVAL, "\"%s\" must be a string, got %s", name,
                           lunar_json_kind_name(v));
  *out = json_string_value(v);
  return LUNAR_OK;
}

/* A copy of the operation's "value", owned by the caller. */
static int value_member(const json_t *op, json_t **out, lunar_error *err) {
  json_t *v = json_object_get(op, "value");
  if (!v) return lunar_error_set(err, LUNAR_EINVAL, "missing \"value\"");
  return (*out = json_deep_copy(v)) ? LUNAR_OK : OOM(err);
}

/* `copy` may double the document with each operation: the values copied by
 * one patch may weigh at most COPY_BUDGET (values, plus string bytes / 16). */
#define COPY_BUDGET 1000000

/* The weight of v, counted up to `limit` (then it stops). */
static size_t weight(const json_t *v, size_t limit) {
  size_t w = 1;
  if (json_is_string(v)) return w + json_string_length(v) / 16;
  if (json_is_array(v)) {
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
      if (w > limit) break;
      w += weight(x, limit - w);
    }
  } else if (json_is_object(v)) {
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
      if (w > limit) break;
      w += strlen(k) / 16 + weight(x, limit - w);
    }
  }
  return w;
}

/* Runs one operation whose op name is `name` and whose path is parsed.
 * `copied`: the weight copied so far by the patch. */
static int run(json_t **doc, const json_t *op, const char *name, const lunar_pointer *path,
               size_t *copied, lunar_error *err) {
  if (strcmp(name, "add") == 0 || strcmp(name, "replace") == 0) {
    json_t *value;
    int rc = value_member(op, &value, err);
    if (rc) return rc;
    return name[0] == 'a' ? add(doc, path, value, err) : replace(doc, path, value, err);
  }
  if (strcmp(name, "remove") == 0) return remove_at(*doc, path, err);
  if (strcmp(name, "test") == 0) {
    json_t *want = json_object_get(op, "value");
    if (!want) return lunar_error_set(err, LUNAR_EINVAL, "missing \"value\"");
    /* as the API server's library: a missing member tests equal to null */
    if (json_is_null(want) && missing_member(*doc, path)) return LUNAR_OK;
    json_t *got = lunar_patch_pointer_get(*doc, path, path->count, err);
    if (!got) return LUNAR_EINVAL;
    if (lunar_json_equal(got, want)) return LUNAR_OK;
    char g[200], w[200];
    return lunar_error_set(err, LUNAR_EINVAL, "%s is %s, expected %s",
                           path->count ? path->text : "the document",
                           lunar_json_snippet(got, g, sizeof g), lunar_json_snippet(want, w, sizeof w));
  }
  /* move and copy */
  const char *from_text;
  int rc = string_member(op, "from", &from_text, err);
  if (rc) return rc;
  lunar_pointer from;
  if ((rc = lunar_patch_pointer_parse(from_text, &from, err))) return rc;
  json_t *value = lunar_patch_pointer_get(*doc, &from, from.count, err);
  if (!value) {
    rc = LUNAR_EINVAL;
  } else if (name[0] == 'c') {
    *copied += weight(value, COPY_BUDGET + 1);
    if (*copied > COPY_BUDGET) {
      rc = lunar_error_set(err, LUNAR_EINVAL, "the patch copies too much (more than %d values in all)", COPY_BUDGET);
    } else {
      json_t *copy = json_deep_copy(value);
      rc = copy ? add(doc, path, copy, err) : OOM(err);
    }
  } else if (is_within(&from, path, 1)) {
    rc = lunar_error_set(err, LUNAR_EINVAL, "cannot move %s into its own child %s", from.text, path->text);
  } else if (is_within(&from, path, 0)) {
    rc = LUNAR_OK; /* moving a value onto itself changes nothing */
  } else {
    json_incref(value);
    if ((rc = remove_at(*doc, &from, err)))
      json_decref(value);
    else
      rc = add(doc, path, value, err);
  }
  lunar_patch_pointer_clear(&from);
  return rc;
}

static const char *const op_names[] = {"add", "remove", "replace", "move", "copy", "test"};

int lunar_patch_json(const json_t *doc, const json_t *ops, json_t **out, lunar_error *err) {
  if (!json_is_array(ops))
    return lunar_error_set(err, LUNAR_EINVAL, "json patch: expected a list of operations, got %s",
                           lunar_json_kind_name(ops));
  json_t *result = json_deep_copy(doc);
  if (!result) return OOM(err);
  size_t copied = 0;
  size_t i;
  json_t *op;
  int rc = LUNAR_OK;
  json_array_foreach(ops, i, op) {
    if (!json_is_object(op)) {
      rc = lunar_error_set(err, LUNAR_EINVAL, "json patch operation %zu: expected an object, got %s",
                           i, lunar_json_kind_name(op));
      break;
    }
    const char *name;
    if ((rc = string_member(op, "op", &name, err))) {
      lunar_error_wrap(err, "json patch operation %zu", i);
      break;
    }
    int known = 0;
    for (size_t k = 0; k < sizeof op_names / sizeof op_names[0]; k++) known |= strcmp(name, op_names[k]) == 0;
    if (!known) {
      rc = lunar_error_set(err, LUNAR_EINVAL,
                           "json patch operation %zu: unknown op \"%s\" (valid: add, remove, replace, move, copy, test)",
                           i, name);
      break;
    }
    const char *path_text;
    lunar_pointer path;
    if (!(rc = string_member(op, "path", &path_text, err)) &&
        !(rc = lunar_patch_pointer_parse(path_text, &path, err))) {
      rc = run(&result, op, name, &path, &copied, err);
      lunar_patch_pointer_clear(&path);
    }
    if (rc) {
      lunar_error_wrap(err, "json patch operation %zu (%s)", i, name);
      if (rc != LUNAR_ENOMEM) {
        rc = LUNAR_EINVAL; /* a missing location is an invalid patch */
        if (err) err->code = rc;
      }
      break;
    }
  }
  if (rc) {
    json_decref(result);
    return rc;
  }
  *out = result;
  return LUNAR_OK;
}
