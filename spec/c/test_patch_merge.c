/* RFC 7386 JSON Merge Patch: every example of the RFC (section 3 and
 * appendix A), and that the inputs are left as they were. */
#include "check.h"
#include "jsontest.h"
#include "patch/merge.h"

/* Applies `patch` to `doc` and returns the sorted compact result. */
static const char *merged(const char *doc, const char *patch) {
  json_t *d = J(doc), *p = J(patch), *out = NULL;
  lunar_error err;
  int rc = lunar_patch_merge(d, p, &out, &err);
  const char *s = outcome(rc, out, &err, 0);
  json_decref(d);
  json_decref(p);
  json_decref(out);
  return s;
}

static void test_rfc7386_appendix_a(void) {
  static const char *const cases[][3] = {
      {"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
      {"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
      {"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
      {"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
      {"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
      {"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
      {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
      {"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
      {"[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
      {"{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
      {"{\"a\":\"foo\"}", "null", "null"},
      {"{\"a\":\"foo\"}", "\"bar\"", "\"bar\""},
      {"{\"e\":null}", "{\"a\":1}", "{\"a\":1,\"e\":null}"},
      {"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
      {"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    CHECK_STR(merged(cases[i][0], cases[i][1]), N(cases[i][2]));
}

static void test_rfc7386_section_3_example(void) {
  CHECK_STR(merged("{\"title\":\"Goodbye!\",\"author\":{\"givenName\":\"John\",\"familyName\":\"Doe\"},"
                   "\"tags\":[\"example\",\"sample\"],\"content\":\"This will be unchanged\"}",
                   "{\"title\":\"Hello!\",\"phoneNumber\":\"+01-123-456-7890\",\"author\":{\"familyName\":null},"
                   "\"tags\":[\"example\"]}"),
            N("{\"title\":\"Hello!\",\"author\":{\"givenName\":\"John\"},\"tags\":[\"example\"],"
              "\"content\":\"This will be unchanged\",\"phoneNumber\":\"+01-123-456-7890\"}"));
}

static void test_pod_spec_lists_are_replaced_and_maps_merged(void) {
  CHECK_STR(merged("{\"containers\":[{\"name\":\"build\",\"image\":\"a\"},{\"name\":\"helper\"}],"
                   "\"nodeSelector\":{\"arch\":\"amd64\",\"os\":\"linux\"}}",
                   "{\"containers\":[{\"name\":\"build\",\"image\":\"b\"}],\"nodeSelector\":{\"os\":null,\"zone\":\"a\"},"
                   "\"hostname\":\"ci\"}"),
            N("{\"containers\":[{\"name\":\"build\",\"image\":\"b\"}],\"nodeSelector\":{\"arch\":\"amd64\",\"zone\":\"a\"},"
              "\"hostname\":\"ci\"}"));
}

static void test_inputs_are_not_changed_and_key_order_is_kept(void) {
  json_t *d = J("{\"z\":{\"y\":1},\"a\":2}"), *p = J("{\"z\":{\"x\":3},\"a\":null}"), *out = NULL;
  lunar_error err;
  CHECK_INT(lunar_patch_merge(d, p, &out, &err), LUNAR_OK);
  CHECK_STR(S(d), "{\"a\":2,\"z\":{\"y\":1}}");
  CHECK_STR(S(p), "{\"a\":null,\"z\":{\"x\":3}}");
  char *s = json_dumps(out, JSON_COMPACT);
  CHECK_STR(s, "{\"z\":{\"y\":1,\"x\":3}}");
  free(s);
  json_decref(d);
  json_decref(p);
  json_decref(out);
}

int main(void) {
  RUN(test_rfc7386_appendix_a);
  RUN(test_rfc7386_section_3_example);
  RUN(test_pod_spec_lists_are_replaced_and_maps_merged);
  RUN(test_inputs_are_not_changed_and_key_order_is_kept);
  return check_summary();
}
