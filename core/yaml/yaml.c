#include "yaml/yaml.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Bounds against hostile input: nesting depth (an alias may point at its own
 * ancestor) and the number of values aliases may expand to ("billion laughs"). */
#define MAX_DEPTH 64
#define MAX_NODES 1000000
#define MAX_BYTES ((size_t)16 << 20) /* scalar bytes the document expands to */

/* ---- plain scalar resolution ----------------------------------------------
 * As Kubernetes reads YAML (sigs.k8s.io/yaml over go-yaml v2, YAML 1.1):
 * yes/no/on/off/y/n are booleans, 0755 is octal, 0b101 binary, underscores in
 * numbers are dropped. */

static int is_null_word(const char *s, size_t n) {
  return n == 0 || (n == 1 && s[0] == '~') ||
         (n == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

/* 1 true, 0 false, -1 not a boolean (YAML 1.1's words) */
static int bool_word(const char *s, size_t n) {
  static const char *const yes[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", NULL};
  static const char *const no[] = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", NULL};
  for (const char *const *w = yes; *w; w++)
    if (strlen(*w) == n && !memcmp(*w, s, n)) return 1;
  for (const char *const *w = no; *w; w++)
    if (strlen(*w) == n && !memcmp(*w, s, n)) return 0;
  return -1;
}

static int all_in(const char *s, size_t n, const char *set) {
  if (n == 0) return 0;
  for (size_t i = 0; i < n; i++)
    if (!strchr(set, s[i])) return 0;
  return 1;
}

/* Integer forms, as Go's strconv.ParseInt(s, 0, 64) after go-yaml drops the
 * underscores: [-+]? then digits, 0[0-7]+ (octal), 0o/0O, 0x/0X, 0b/0B.
 * Returns 1 and sets *v when `s` is one and fits in json_int_t. */
static int int_word(const char *s, size_t n, json_int_t *v) {
  char buf[72];
  size_t m = 0;
  if (n == 0 || n >= sizeof buf) return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] != '_') buf[m++] = s[i];
  buf[m] = '\0';
  if (m == 0 || (m < n && !(buf[0] >= '0' && buf[0] <= '9') && buf[0] != '-' && buf[0] != '+')) return 0;
  const char *p = buf;
  int neg = 0;
  if (*p == '-' || *p == '+') neg = *p++ == '-';
  int base = 10;
  const char *set = "0123456789";
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) base = 16, p += 2, set = "0123456789abcdefABCDEF";
  else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O')) base = 8, p += 2, set = "01234567";
  else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) base = 2, p += 2, set = "01";
  else if (p[0] == '0' && p[1]) base = 8, p += 1, set = "01234567";
  if (!all_in(p, strlen(p), set)) return 0;
  errno = 0;
  char *end;
  unsigned long long x = strtoull(p, &end, base);
  if (errno || *end) return 0;
  if (neg ? x > (unsigned long long)LLONG_MAX + 1 : x > (unsigned long long)LLONG_MAX) return 0;
  *v = neg ? (json_int_t)(0 - x) : (json_int_t)x;
  return 1;
}

/* Float forms: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, .inf, .nan */
static int float_word(const char *s, size_t n, double *v) {
  char buf[72];
  if (n == 0 || n >= sizeof buf) return 0;
  memcpy(buf, s, n);
  buf[n] = '\0';
  const char *p = buf;
  int neg = 0;
  if (*p == '-' || *p == '+') neg = *p++ == '-';
  if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")) {
    *v = neg ? -INFINITY : INFINITY;
    return 1;
  }
  if (p == buf && (!strcmp(p, ".nan") || !strcmp(p, ".NaN") || !strcmp(p, ".NAN"))) {
    *v = NAN;
    return 1;
  }
  /* validate the shape before strtod, which accepts more (hex, "inf") */
  const char *q = p;
  int digits = 0;
  while (*q >= '0' && *q <= '9') q++, digits++;
  if (*q == '.') {
    q++;
    while (*q >= '0' && *q <= '9') q++, digits++;
  }
  if (!digits) return 0;
  if (*q == 'e' || *q == 'E') {
    q++;
    if (*q == '-' || *q == '+') q++;
    if (!(*q >= '0' && *q <= '9')) return 0;
    while (*q >= '0' && *q <= '9') q++;
  }
  if (*q) return 0;
  *v = strtod(buf, NULL);
  return 1;
}

/* The value a plain scalar stands for. New reference or NULL (no memory). */
static json_t *resolve_plain(const char *s, size_t n) {
  if (is_null_word(s, n)) return json_null();
  int b = bool_word(s, n);
  if (b >= 0) return json_boolean(b);
  json_int_t i;
  if (int_word(s, n, &i)) return json_integer(i);
  double d;
  if (float_word(s, n, &d)) return json_real(d);
  return json_stringn(s, n);
}

/* ---- parse ---------------------------------------------------------------- */

typedef struct build {
  yaml_document_t *doc;
  const char *name;
  long nodes;
  size_t bytes; /* scalar bytes produced so far, aliases counted each time */
  lunar_error *err;
} build;

static int at(build *b, yaml_mark_t mark, const char *fmt, const char *detail) {
  char what[LUNAR_ERROR_MAX / 2];
  snprintf(what, sizeof what, fmt, detail);
  return lunar_error_set(b->err, LUNAR_EINVAL, "%s:%zu:%zu: %s", b->name, mark.line + 1,
                         mark.column + 1, what);
}

static int convert(build *b, yaml_node_t *node, int depth, json_t **out) {
  if (depth > MAX_DEPTH) return at(b, node->start_mark, "%s", "nesting too deep (more than 64 levels, or an alias inside its own anchor)");
  if (++b->nodes > MAX_NODES) return at(b, node->start_mark, "%s", "too many values (aliases expand to more than a million)");
  json_t *v = NULL;
  switch (node->type) {
  case YAML_SCALAR_NODE: {
    const char *s = (const char *)node->data.scalar.value;
    size_t n = node->data.scalar.length;
    if ((b->bytes += n) > MAX_BYTES)
      return at(b, node->start_mark, "%s", "too large (aliases expand to more than 16 MiB of text)");
    /* The loader tags every untagged scalar !!str, so only the style tells a
     * quoted "1" (a string) from a plain 1 (a number). */
    double d;
    if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
      v = json_stringn(s, n);
    } else if (!is_null_word(s, n) && bool_word(s, n) < 0 && float_word(s, n, &d) && !isfinite(d)) {
      /* YAML's .nan and .inf (and 1e999) are numbers that no Kubernetes field
       * takes and JSON cannot carry: say so where they are */
      char what[96];
      snprintf(what, sizeof what, "%.*s is %s, which no Kubernetes field takes (quote it for a string)",
               (int)(n < 40 ? n : 40), s, isnan(d) ? "not a number (NaN)" : "an infinite number");
      return at(b, node->start_mark, "%s", what);
    } else {
      v = resolve_plain(s, n);
    }
    break;
  }
  case YAML_SEQUENCE_NODE: {
    v = json_array();
    if (!v) break;
    for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
      json_t *item = NULL;
      int rc = convert(b, yaml_document_get_node(b->doc, *it), depth + 1, &item);
      if (rc) {
        json_decref(v);
        return rc;
      }
      if (json_array_append_new(v, item)) {
        json_decref(v);
        return lunar_error_set(b->err, LUNAR_ENOMEM, "out of memory");
      }
    }
    break;
  }
  case YAML_MAPPING_NODE: {
    v = json_object();
    if (!v) break;
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
      yaml_node_t *k = yaml_document_get_node(b->doc, p->key);
      if (k->type != YAML_SCALAR_NODE) {
        json_decref(v);
        return at(b, k->start_mark, "%s", "a mapping key must be a plain value, not a list or a mapping");
      }
      if ((b->bytes += k->data.scalar.length) > MAX_BYTES) {
        json_decref(v);
        return at(b, k->start_mark, "%s", "too large (aliases expand to more than 16 MiB of text)");
      }
      char *key = strndup((const char *)k->data.scalar.value, k->data.scalar.length);
      json_t *item = NULL;
      int rc = key ? convert(b, yaml_document_get_node(b->doc, p->value), depth + 1, &item)
                   : lunar_error_set(b->err, LUNAR_ENOMEM, "out of memory");
      if (!rc && json_object_set_new(v, key, item)) rc = lunar_error_set(b->err, LUNAR_ENOMEM, "out of memory");
      free(key);
      if (rc) {
        json_decref(v);
        return rc;
      }
    }
    break;
  }
  default:
    v = json_null();
  }
  if (!v) return lunar_error_set(b->err, LUNAR_ENOMEM, "out of memory");
  *out = v;
  return LUNAR_OK;
}

static int parser_error(yaml_parser_t *p, const char *name, lunar_error *err) {
  if (p->error == YAML_MEMORY_ERROR) return lunar_error_set(err, LUNAR_ENOMEM, "%s: out of memory", name);
  yaml_mark_t m = p->problem_mark;
  if (p->context)
    return lunar_error_set(err, LUNAR_EINVAL, "%s:%zu:%zu: %s %s", name, m.line + 1, m.column + 1,
                           p->problem ? p->problem : "invalid YAML", p->context);
  return lunar_error_set(err, LUNAR_EINVAL, "%s:%zu:%zu: %s", name, m.line + 1, m.column + 1,
                         p->problem ? p->problem : "invalid YAML");
}

/* Refuses nesting deeper than convert() takes before libyaml loads the whole
 * document: its scanner is quadratic in the depth of unclosed flow
 * collections (100,000 `[` took minutes), while the events stop at once. */
static int check_nesting(const char *text, size_t len, const char *name, lunar_error *err) {
  yaml_parser_t parser;
  yaml_event_t ev;
  int depth = 0, rc = LUNAR_OK, end = 0;
  if (!yaml_parser_initialize(&parser)) return lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  while (!end && rc == LUNAR_OK) {
    if (!yaml_parser_parse(&parser, &ev)) {
      rc = parser_error(&parser, name, err);
      break;
    }
    if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) {
      if (++depth > MAX_DEPTH + 1)
        rc = lunar_error_set(err, LUNAR_EINVAL, "%s:%zu:%zu: nesting too deep (more than %d levels)", name,
                             ev.start_mark.line + 1, ev.start_mark.column + 1, MAX_DEPTH);
    } else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
      depth--;
    }
    end = ev.type == YAML_STREAM_END_EVENT;
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  return rc;
}

int lunar_yaml_parse(const char *text, size_t len, const char *name, json_t **out,
                     lunar_error *err) {
  if (!name) name = "YAML";
  yaml_parser_t parser;
  yaml_document_t doc, extra;
  int rc = LUNAR_OK, have_doc = 0, have_extra = 0;
  *out = NULL;
  if ((rc = check_nesting(text, len, name, err)) != LUNAR_OK) return rc;
  if (!yaml_parser_initialize(&parser)) return lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  if (!yaml_parser_load(&parser, &doc)) {
    rc = parser_error(&parser, name, err);
    goto done;
  }
  have_doc = 1;
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (!root) {
    *out = json_null();
    goto done;
  }
  if (!yaml_parser_load(&parser, &extra)) {
    rc = parser_error(&parser, name, err);
    goto done;
  }
  have_extra = 1;
  if (yaml_document_get_root_node(&extra)) {
    rc = lunar_error_set(err, LUNAR_EINVAL, "%s:%zu:%zu: more than one YAML document (a `---` separator); give one", name,
                         extra.start_mark.line + 1, extra.start_mark.column + 1);
    goto done;
  }
  build b = {.doc = &doc, .name = name, .err = err};
  rc = convert(&b, root, 0, out);
done:
  if (have_extra) yaml_document_delete(&extra);
  if (have_doc) yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  return rc;
}

/* ---- emit ----------------------------------------------------------------- */

typedef struct outbuf {
  char *data;
  size_t len, cap;
} outbuf;

static int write_out(void *ctx, unsigned char *buf, size_t size) {
  outbuf *o = ctx;
  if (o->len + size + 1 > o->cap) {
    size_t cap = o->cap ? o->cap : 1024;
    while (cap < o->len + size + 1) cap *= 2;
    char *d = realloc(o->data, cap);
    if (!d) return 0;
    o->data = d, o->cap = cap;
  }
  memcpy(o->data + o->len, buf, size);
  o->len += size;
  o->data[o->len] = '\0';
  return 1;
}

static int emit_scalar(yaml_emitter_t *e, const char *s, size_t n, yaml_scalar_style_t style) {
  yaml_event_t ev;
  if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)n, 1, 1, style)) return 0;
  return yaml_emitter_emit(e, &ev);
}

/* Words a YAML 1.1 reader (kubectl's sigs.k8s.io/yaml, PyYAML) takes for
 * booleans: quoted on the way out so that `CI_SERVER: "yes"` stays a string. */
static int yaml11_bool(const char *s, size_t n) {
  static const char *words[] = {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
                                "on", "On", "ON", "off", "Off", "OFF", NULL};
  for (const char **w = words; *w; w++)
    if (strlen(*w) == n && !memcmp(*w, s, n)) return 1;
  return 0;
}

static int emit_string(yaml_emitter_t *e, const char *s, size_t n) {
  json_t *as_plain = resolve_plain(s, n);
  int ambiguous = !as_plain || !json_is_string(as_plain) || yaml11_bool(s, n);
  json_decref(as_plain);
  yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
  if (ambiguous) style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
  else if (memchr(s, '\n', n)) style = YAML_LITERAL_SCALAR_STYLE;
  return emit_scalar(e, s, n, style);
}

static int emit_value(yaml_emitter_t *e, const json_t *v, int depth) {
  yaml_event_t ev;
  char num[64];
  if (depth > MAX_DEPTH) return 0;
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    const char *key;
    json_t *val;
    if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
        !yaml_emitter_emit(e, &ev))
      return 0;
    json_object_foreach((json_t *)v, key, val) {
      if (!emit_string(e, key, strlen(key)) || !emit_value(e, val, depth + 1)) return 0;
    }
    return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
  }
  case JSON_ARRAY: {
    size_t i;
    json_t *val;
    if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
        !yaml_emitter_emit(e, &ev))
      return 0;
    json_array_foreach(v, i, val) {
      if (!emit_value(e, val, depth + 1)) return 0;
    }
    return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
  }
  case JSON_STRING:
    return emit_string(e, json_string_value(v), json_string_length(v));
  case JSON_INTEGER:
    snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return emit_scalar(e, num, strlen(num), YAML_PLAIN_SCALAR_STYLE);
  case JSON_REAL: {
    double d = json_real_value(v);
    if (isnan(d)) snprintf(num, sizeof num, ".nan");
    else if (isinf(d)) snprintf(num, sizeof num, "%s", d < 0 ? "-.inf" : ".inf");
    else {
      snprintf(num, sizeof num, "%.17g", d);
      if (!strpbrk(num, ".e")) strcat(num, ".0");
    }
    return emit_scalar(e, num, strlen(num), YAML_PLAIN_SCALAR_STYLE);
  }
  case JSON_TRUE:
    return emit_scalar(e, "true", 4, YAML_PLAIN_SCALAR_STYLE);
  case JSON_FALSE:
    return emit_scalar(e, "false", 5, YAML_PLAIN_SCALAR_STYLE);
  default:
    return emit_scalar(e, "null", 4, YAML_PLAIN_SCALAR_STYLE);
  }
}

int lunar_yaml_emit(const json_t *v, char **out, lunar_error *err) {
  yaml_emitter_t e;
  yaml_event_t ev;
  outbuf o = {0};
  int ok;
  *out = NULL;
  if (!yaml_emitter_initialize(&e)) return lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  yaml_emitter_set_output(&e, write_out, &o);
  yaml_emitter_set_unicode(&e, 1);
  yaml_emitter_set_width(&e, -1);
  yaml_emitter_set_indent(&e, 2);
  ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && yaml_emitter_emit(&e, &ev) &&
       yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) && yaml_emitter_emit(&e, &ev) &&
       emit_value(&e, v, 0) && yaml_document_end_event_initialize(&ev, 1) &&
       yaml_emitter_emit(&e, &ev) && yaml_stream_end_event_initialize(&ev) &&
       yaml_emitter_emit(&e, &ev) && yaml_emitter_flush(&e);
  int rc = LUNAR_OK;
  if (!ok) {
    rc = lunar_error_set(err, e.error == YAML_MEMORY_ERROR ? LUNAR_ENOMEM : LUNAR_EINVAL,
                         "cannot write YAML: %s", e.problem ? e.problem : "value nested too deeply");
    free(o.data);
  } else {
    *out = o.data ? o.data : strdup("");
    if (!*out) rc = lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  }
  yaml_emitter_delete(&e);
  return rc;
}
