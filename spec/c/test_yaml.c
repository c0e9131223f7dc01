/* YAML parsing (core schema, errors with positions) and emitting (quoting of
 * strings that would read back as other types). */
#include <stdlib.h>

#include "check.h"
#include "yaml/yaml.h"

/* Parses `text` and returns its compact JSON (caller frees), or the error
 * message copied into `msg`. */
static char *parse(const char *text, char *msg) {
  json_t *v = NULL;
  lunar_error err;
  msg[0] = '\0';
  if (lunar_yaml_parse(text, strlen(text), "patch.yaml", &v, &err)) {
    strcpy(msg, err.msg);
    return NULL;
  }
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(v);
  return s;
}

static void test_plain_scalars_follow_the_core_schema(void) {
  char msg[LUNAR_ERROR_MAX];
  char *s = parse("a: 1\nb: -7\nc: 0x1f\nd: 1.5\ne: true\nf: ~\ng: null\nh: yes\ni: \"1\"\nj: '~'\nk: 1.2.3\nl: 1e3\nm:\n", msg);
  CHECK_STR(s, "{\"a\":1,\"b\":-7,\"c\":31,\"d\":1.5,\"e\":true,\"f\":null,\"g\":null,\"h\":true,\"i\":\"1\",\"j\":\"~\",\"k\":\"1.2.3\",\"l\":1000.0,\"m\":null}");
  free(s);
}

/* Patch text is read as Kubernetes reads it: YAML 1.1 booleans and octal. */
static void test_yaml11_scalars_as_kubernetes_reads_them(void) {
  char msg[LUNAR_ERROR_MAX];
  char *s = parse("a: yes\nb: off\nc: On\nd: n\ne: 0755\nf: 0o17\ng: 1_000\nh: 0b101\ni: -0x10\nj: '0755'\nk: 089\nl: nope\n", msg);
  CHECK_STR(s, "{\"a\":true,\"b\":false,\"c\":true,\"d\":false,\"e\":493,\"f\":15,\"g\":1000,\"h\":5,\"i\":-16,\"j\":\"0755\",\"k\":89.0,\"l\":\"nope\"}");
  free(s);
}

static void test_json_is_yaml(void) {
  char msg[LUNAR_ERROR_MAX];
  char *s = parse("{\"containers\": [{\"name\": \"build\", \"args\": [\"a\", \"b\"]}]}", msg);
  CHECK_STR(s, "{\"containers\":[{\"name\":\"build\",\"args\":[\"a\",\"b\"]}]}");
  free(s);
}

static void test_aliases_expand_and_recursion_is_refused(void) {
  char msg[LUNAR_ERROR_MAX];
  char *s = parse("base: &b {cpu: 1}\nother: *b\n", msg);
  CHECK_STR(s, "{\"base\":{\"cpu\":1},\"other\":{\"cpu\":1}}");
  free(s);
  s = parse("a: &x [1, *x]\n", msg);
  CHECK(s == NULL);
  free(s);
}

/* A few aliases of a long string expand to gigabytes: bounded by the bytes
 * they expand to, not only by the number of values. */
static void test_aliases_are_bounded_by_the_bytes_they_expand_to(void) {
  char msg[LUNAR_ERROR_MAX];
  size_t n = 64 * 1024;
  char *text = malloc(n + 4096);
  char *p = text;
  p += sprintf(p, "s: &s '");
  memset(p, 'x', n);
  p += n;
  p += sprintf(p, "'\nl1: &l1 [*s, *s, *s, *s, *s, *s, *s, *s, *s, *s]\n"
                  "l2: &l2 [*l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1]\n"
                  "l3: &l3 [*l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2]\n");
  char *s = parse(text, msg);
  CHECK(s == NULL);
  CHECK(strstr(msg, "aliases expand to more than 16 MiB") != NULL);
  free(s);
  free(text);
}

/* Deep nesting is refused before libyaml loads the document: its scanner is
 * quadratic in the depth of unclosed flow collections (found by
 * spec/fuzz/fuzz_yaml.c: 100,000 `[` ran for minutes). 65 levels still read. */
static void test_deep_nesting_is_refused_at_once(void) {
  char msg[LUNAR_ERROR_MAX];
  size_t n = 100000;
  char *text = malloc(n + 1);
  memset(text, '[', n);
  text[n] = '\0';
  char *s = parse(text, msg);
  CHECK(s == NULL);
  CHECK_STR(msg, "patch.yaml:1:66: nesting too deep (more than 64 levels)");
  free(s);
  memset(text, '[', 65);
  memset(text + 65, ']', 65);
  text[130] = '\0';
  s = parse(text, msg);
  CHECK(s != NULL);
  free(s);
  free(text);
}

/* .nan and .inf are numbers, not strings and not "out of memory"; no
 * Kubernetes field takes them, so the parse says where they are. */
static void test_nan_and_inf_are_named(void) {
  char msg[LUNAR_ERROR_MAX];
  char *s = parse("a: 1\nterminationGracePeriodSeconds: .nan\n", msg);
  CHECK(s == NULL);
  CHECK_STR(msg, "patch.yaml:2:32: .nan is not a number (NaN), which no Kubernetes field takes (quote it for a string)");
  s = parse("x: [-.inf]\n", msg);
  CHECK(s == NULL);
  CHECK(strstr(msg, "patch.yaml:1:5: -.inf is an infinite number") == msg);
  s = parse("x: 1e999\n", msg);
  CHECK(s == NULL);
  s = parse("x: '.nan'\ny: .nano\n", msg);
  CHECK_STR(s, "{\"x\":\".nan\",\"y\":\".nano\"}");
  free(s);
}

static void test_errors_name_input_line_and_column(void) {
  char msg[LUNAR_ERROR_MAX];
  char *s = parse("containers:\n  - name: build\n    image: a: b\n", msg);
  CHECK(s == NULL);
  CHECK_STR(msg, "patch.yaml:3:13: mapping values are not allowed in this context");
  s = parse("a: 1\n---\nb: 2\n", msg);
  CHECK(s == NULL);
  CHECK(strstr(msg, "patch.yaml:2:1: more than one YAML document") == msg);
  s = parse("[1, 2]: x\n", msg);
  CHECK(s == NULL);
  CHECK(strstr(msg, "patch.yaml:1:1: a mapping key must be a plain value") == msg);
}

static void test_empty_input_is_null(void) {
  char msg[LUNAR_ERROR_MAX];
  char *s = parse("", msg);
  CHECK_STR(s, "null");
  free(s);
}

static void test_emit_quotes_ambiguous_strings(void) {
  json_error_t jerr;
  json_t *v = json_loads("{\"a\":\"true\",\"b\":\"1\",\"c\":\"\",\"d\":\"plain\",\"e\":2,\"f\":\"x: y\",\"ci\":\"yes\",\"o\":\"off\","
                         "\"g\":\"two\\nlines\",\"h\":[],\"i\":{},\"j\":null,\"k\":0.5}", 0, &jerr);
  char *out = NULL;
  lunar_error err;
  CHECK_INT(lunar_yaml_emit(v, &out, &err), LUNAR_OK);
  CHECK_STR(out, "a: \"true\"\nb: \"1\"\nc: \"\"\nd: plain\ne: 2\nf: 'x: y'\nci: \"yes\"\no: \"off\"\ng: |-\n  two\n  lines\nh: []\ni: {}\nj: null\nk: 0.5\n");
  /* and it reads back as the same value */
  json_t *back = NULL;
  CHECK_INT(lunar_yaml_parse(out, strlen(out), NULL, &back, &err), LUNAR_OK);
  CHECK(json_equal(v, back));
  json_decref(back);
  json_decref(v);
  free(out);
}

int main(void) {
  RUN(test_plain_scalars_follow_the_core_schema);
  RUN(test_json_is_yaml);
  RUN(test_yaml11_scalars_as_kubernetes_reads_them);
  RUN(test_aliases_expand_and_recursion_is_refused);
  RUN(test_aliases_are_bounded_by_the_bytes_they_expand_to);
  RUN(test_deep_nesting_is_refused_at_once);
  RUN(test_nan_and_inf_are_named);
  RUN(test_errors_name_input_line_and_column);
  RUN(test_empty_input_is_null);
  RUN(test_emit_quotes_ambiguous_strings);
  return check_summary();
}
