/* RFC 6902 JSON Patch: every example of appendix A, the error cases with
 * their messages, RFC 6901 escapes, and operations on a PodSpec. */
#include "check.h"
#include "jsontest.h"
#include "patch/apply.h"
#include "patch/json.h"

/* Applies `ops` to `doc`: the sorted compact result, or "error: <message>". */
static const char *patched(const char *doc, const char *ops) {
  json_t *d = J(doc), *p = J(ops), *out = NULL;
  lunar_error err;
  int rc = lunar_patch_json(d, p, &out, &err);
  const char *s = outcome(rc, out, &err, 1);
  CHECK_STR(S(d), N(doc)); /* the input is never changed, even by a failing patch */
  json_decref(d);
  json_decref(p);
  json_decref(out);
  return s;
}

static void test_a1_adding_an_object_member(void) {
  CHECK_STR(patched("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\"}]"),
            N("{\"baz\":\"qux\",\"foo\":\"bar\"}"));
}

static void test_a2_adding_an_array_element(void) {
  CHECK_STR(patched("{\"foo\":[\"bar\",\"baz\"]}", "[{\"op\":\"add\",\"path\":\"/foo/1\",\"value\":\"qux\"}]"),
            N("{\"foo\":[\"bar\",\"qux\",\"baz\"]}"));
}

static void test_a3_removing_an_object_member(void) {
  CHECK_STR(patched("{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"remove\",\"path\":\"/baz\"}]"),
            N("{\"foo\":\"bar\"}"));
}

static void test_a4_removing_an_array_element(void) {
  CHECK_STR(patched("{\"foo\":[\"bar\",\"qux\",\"baz\"]}", "[{\"op\":\"remove\",\"path\":\"/foo/1\"}]"),
            N("{\"foo\":[\"bar\",\"baz\"]}"));
}

static void test_a5_replacing_a_value(void) {
  CHECK_STR(patched("{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"replace\",\"path\":\"/baz\",\"value\":\"boo\"}]"),
            N("{\"baz\":\"boo\",\"foo\":\"bar\"}"));
}

static void test_a6_moving_a_value(void) {
  CHECK_STR(patched("{\"foo\":{\"bar\":\"baz\",\"waldo\":\"fred\"},\"qux\":{\"corge\":\"grault\"}}",
                    "[{\"op\":\"move\",\"from\":\"/foo/waldo\",\"path\":\"/qux/thud\"}]"),
            N("{\"foo\":{\"bar\":\"baz\"},\"qux\":{\"corge\":\"grault\",\"thud\":\"fred\"}}"));
}

static void test_a7_moving_an_array_element(void) {
  CHECK_STR(patched("{\"foo\":[\"all\",\"grass\",\"cows\",\"eat\"]}",
                    "[{\"op\":\"move\",\"from\":\"/foo/1\",\"path\":\"/foo/3\"}]"),
            N("{\"foo\":[\"all\",\"cows\",\"eat\",\"grass\"]}"));
}

static void test_a8_testing_a_value_success(void) {
  CHECK_STR(patched("{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}",
                    "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"qux\"},"
                    "{\"op\":\"test\",\"path\":\"/foo/1\",\"value\":2}]"),
            N("{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}"));
}

static void test_a9_testing_a_value_error(void) {
  CHECK_STR(patched("{\"baz\":\"qux\"}", "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"bar\"}]"),
            "error: json patch operation 0 (test): /baz is \"qux\", expected \"bar\"");
}

static void test_a10_adding_a_nested_member_object(void) {
  CHECK_STR(patched("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/child\",\"value\":{\"grandchild\":{}}}]"),
            N("{\"foo\":\"bar\",\"child\":{\"grandchild\":{}}}"));
}

static void test_a11_ignoring_unrecognized_elements(void) {
  CHECK_STR(patched("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\",\"xyz\":123}]"),
            N("{\"foo\":\"bar\",\"baz\":\"qux\"}"));
}

static void test_a12_adding_to_a_nonexistent_target(void) {
  CHECK_STR(patched("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz/bat\",\"value\":\"qux\"}]"),
            "error: json patch operation 0 (add): cannot add /baz/bat: /baz does not exist");
}

static void test_a13_invalid_json_patch_document(void) {
  const char *text = "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\",\"op\":\"remove\"}]";
  json_t *ops = NULL;
  lunar_error err;
  CHECK_INT(lunar_patch_parse(text, strlen(text), "patch", &ops, &err), LUNAR_EINVAL);
  CHECK_STR(err.msg, "patch:1:45: duplicate object key near '\"op\"'");
  CHECK(ops == NULL);
}

static void test_a14_escape_ordering(void) {
  CHECK_STR(patched("{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":10}]"),
            N("{\"/\":9,\"~1\":10}"));
}

static void test_a15_comparing_strings_and_numbers(void) {
  CHECK_STR(patched("{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":\"10\"}]"),
            "error: json patch operation 0 (test): /~01 is 10, expected \"10\"");
}

static void test_a16_adding_an_array_value(void) {
  CHECK_STR(patched("{\"foo\":[\"bar\"]}", "[{\"op\":\"add\",\"path\":\"/foo/-\",\"value\":[\"abc\",\"def\"]}]"),
            N("{\"foo\":[\"bar\",[\"abc\",\"def\"]]}"));
}

static void test_pointer_escapes_reach_keys_with_slash_and_tilde(void) {
  CHECK_STR(patched("{\"nodeSelector\":{\"kubernetes.io/arch\":\"amd64\",\"a~b\":\"1\"}}",
                    "[{\"op\":\"replace\",\"path\":\"/nodeSelector/kubernetes.io~1arch\",\"value\":\"arm64\"},"
                    "{\"op\":\"remove\",\"path\":\"/nodeSelector/a~0b\"}]"),
            N("{\"nodeSelector\":{\"kubernetes.io/arch\":\"arm64\"}}"));
  CHECK_STR(patched("{}", "[{\"op\":\"add\",\"path\":\"/a~2\",\"value\":1}]"),
            "error: json patch operation 0 (add): invalid JSON pointer \"/a~2\": \"~\" must be followed by 0 or 1");
  CHECK_STR(patched("{}", "[{\"op\":\"add\",\"path\":\"a\",\"value\":1}]"),
            "error: json patch operation 0 (add): invalid JSON pointer \"a\": it must be empty or start with \"/\"");
}

static void test_numbers_compare_by_value_and_objects_ignore_order(void) {
  CHECK_STR(patched("{\"a\":1,\"o\":{\"x\":1,\"y\":[1,2]}}",
                    "[{\"op\":\"test\",\"path\":\"/a\",\"value\":1.0},"
                    "{\"op\":\"test\",\"path\":\"/o\",\"value\":{\"y\":[1,2],\"x\":1}}]"),
            N("{\"a\":1,\"o\":{\"x\":1,\"y\":[1,2]}}"));
  CHECK_STR(patched("{\"o\":{\"y\":[1,2]}}", "[{\"op\":\"test\",\"path\":\"/o/y\",\"value\":[2,1]}]"),
            "error: json patch operation 0 (test): /o/y is [1,2], expected [2,1]");
}

static void test_operations_on_a_pod_spec(void) {
  const char *spec = "{\"containers\":[{\"name\":\"build\",\"args\":[\"a\"]},{\"name\":\"helper\"}],\"dnsPolicy\":\"ClusterFirst\"}";
  CHECK_STR(patched(spec, "[{\"op\":\"add\",\"path\":\"/containers/0/args/-\",\"value\":\"b\"},"
                          "{\"op\":\"copy\",\"from\":\"/containers/0/args\",\"path\":\"/containers/1/args\"},"
                          "{\"op\":\"move\",\"from\":\"/dnsPolicy\",\"path\":\"/hostname\"},"
                          "{\"op\":\"add\",\"path\":\"/containers/2\",\"value\":{\"name\":\"sidecar\"}}]"),
            N("{\"containers\":[{\"name\":\"build\",\"args\":[\"a\",\"b\"]},{\"name\":\"helper\",\"args\":[\"a\",\"b\"]},"
              "{\"name\":\"sidecar\"}],\"hostname\":\"ClusterFirst\"}"));
  CHECK_STR(patched(spec, "[{\"op\":\"test\",\"path\":\"/dnsPolicy\",\"value\":\"ClusterFirst\"},"
                          "{\"op\":\"replace\",\"path\":\"/dnsPolicy\",\"value\":\"None\"},"
                          "{\"op\":\"test\",\"path\":\"/dnsPolicy\",\"value\":\"Default\"}]"),
            "error: json patch operation 2 (test): /dnsPolicy is \"None\", expected \"Default\"");
}

static void test_errors_name_the_operation_and_what_is_wrong(void) {
  const char *doc = "{\"list\":[1,2,3],\"s\":\"x\"}";
  CHECK_STR(patched(doc, "[{\"op\":\"remove\",\"path\":\"/nope\"}]"),
            "error: json patch operation 0 (remove): /nope does not exist");
  CHECK_STR(patched(doc, "[{\"op\":\"replace\",\"path\":\"/list/3\",\"value\":0}]"),
            "error: json patch operation 0 (replace): /list/3: index 3 is out of range (the list has 3 items)");
  CHECK_STR(patched(doc, "[{\"op\":\"add\",\"path\":\"/list/5\",\"value\":0}]"),
            "error: json patch operation 0 (add): cannot add /list/5: index 5 is out of range (the list has 3 items)");
  CHECK_STR(patched(doc, "[{\"op\":\"add\",\"path\":\"/list/01\",\"value\":0}]"),
            "error: json patch operation 0 (add): cannot add /list/01: \"01\" is not a list index or \"-\"");
  CHECK_STR(patched(doc, "[{\"op\":\"remove\",\"path\":\"/list/-\"}]"),
            "error: json patch operation 0 (remove): /list/-: \"-\" is not a list index");
  CHECK_STR(patched(doc, "[{\"op\":\"add\",\"path\":\"/s/x\",\"value\":0}]"),
            "error: json patch operation 0 (add): cannot add /s/x: /s is a string, not an object or a list");
  CHECK_STR(patched(doc, "[{\"op\":\"move\",\"from\":\"/list\",\"path\":\"/list/0\"}]"),
            "error: json patch operation 0 (move): cannot move /list into its own child /list/0");
  CHECK_STR(patched(doc, "[{\"op\":\"copy\",\"from\":\"/missing\",\"path\":\"/x\"}]"),
            "error: json patch operation 0 (copy): /missing does not exist");
  CHECK_STR(patched(doc, "[{\"op\":\"test\",\"path\":\"/s\",\"value\":\"x\"},{\"op\":\"frob\",\"path\":\"/s\"}]"),
            "error: json patch operation 1: unknown op \"frob\" (valid: add, remove, replace, move, copy, test)");
  CHECK_STR(patched(doc, "[{\"path\":\"/s\"}]"), "error: json patch operation 0: missing \"op\"");
  CHECK_STR(patched(doc, "[{\"op\":\"add\",\"value\":1}]"), "error: json patch operation 0 (add): missing \"path\"");
  CHECK_STR(patched(doc, "[{\"op\":\"add\",\"path\":\"/a\"}]"), "error: json patch operation 0 (add): missing \"value\"");
  CHECK_STR(patched(doc, "[{\"op\":\"move\",\"path\":\"/a\"}]"), "error: json patch operation 0 (move): missing \"from\"");
  CHECK_STR(patched(doc, "[{\"op\":\"add\",\"path\":5,\"value\":1}]"),
            "error: json patch operation 0 (add): \"path\" must be a string, got an integer");
  CHECK_STR(patched(doc, "[\"add\"]"), "error: json patch operation 0: expected an object, got a string");
  CHECK_STR(patched(doc, "{\"op\":\"add\"}"), "error: json patch: expected a list of operations, got an object");
  CHECK_STR(patched(doc, "[{\"op\":\"remove\",\"path\":\"\"}]"),
            "error: json patch operation 0 (remove): cannot remove the whole document");
}

static void test_root_pointer_replaces_the_document_and_move_onto_itself_is_a_no_op(void) {
  CHECK_STR(patched("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"\",\"value\":{\"b\":2}}]"), N("{\"b\":2}"));
  CHECK_STR(patched("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"\",\"value\":[1]}]"), N("[1]"));
  CHECK_STR(patched("{\"a\":{\"b\":1}}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a\"}]"), N("{\"a\":{\"b\":1}}"));
}

/* Each copy of the array into itself doubles it: 22 operations would make
 * four million values. The copies of one patch are bounded. */
static void test_copy_growth_is_bounded(void) {
  char ops[4096] = "[";
  for (int i = 0; i < 22; i++)
    strcat(ops, i ? ",{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/a/-\"}" : "{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/a/-\"}");
  strcat(ops, "]");
  const char *got = patched("{\"a\":[1,2,3,4]}", ops);
  CHECK(strstr(got, "error: ") == got && strstr(got, "copies too much") != NULL);
}

/* What the API server's JSON patch library (evanphx/json-patch v4) does
 * beyond RFC 6902: a replace of a missing member sets it, a missing member
 * tests equal to null, negative indices count from the end. */
static void test_the_api_servers_library_behaviours(void) {
  CHECK_STR(patched("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/b\",\"value\":2}]"), N("{\"a\":1,\"b\":2}"));
  CHECK_STR(patched("{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/b\",\"value\":null}]"), N("{\"a\":1}"));
  CHECK(strstr(patched("{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":null}]"), "error: ") != NULL);
  CHECK_STR(patched("{\"l\":[1,2,3]}", "[{\"op\":\"add\",\"path\":\"/l/-1\",\"value\":9}]"), N("{\"l\":[1,2,3,9]}"));
  CHECK_STR(patched("{\"l\":[1,2,3]}", "[{\"op\":\"replace\",\"path\":\"/l/-1\",\"value\":9}]"), N("{\"l\":[1,2,9]}"));
  CHECK_STR(patched("{\"l\":[1,2,3]}", "[{\"op\":\"remove\",\"path\":\"/l/-3\"}]"), N("{\"l\":[2,3]}"));
  CHECK(strstr(patched("{\"l\":[1,2,3]}", "[{\"op\":\"remove\",\"path\":\"/l/-4\"}]"), "error: ") != NULL);
  CHECK(strstr(patched("{\"l\":[1]}", "[{\"op\":\"replace\",\"path\":\"/l/5\",\"value\":0}]"), "error: ") != NULL);
}

int main(void) {
  RUN(test_the_api_servers_library_behaviours);
  RUN(test_copy_growth_is_bounded);
  RUN(test_a1_adding_an_object_member);
  RUN(test_a2_adding_an_array_element);
  RUN(test_a3_removing_an_object_member);
  RUN(test_a4_removing_an_array_element);
  RUN(test_a5_replacing_a_value);
  RUN(test_a6_moving_a_value);
  RUN(test_a7_moving_an_array_element);
  RUN(test_a8_testing_a_value_success);
  RUN(test_a9_testing_a_value_error);
  RUN(test_a10_adding_a_nested_member_object);
  RUN(test_a11_ignoring_unrecognized_elements);
  RUN(test_a12_adding_to_a_nonexistent_target);
  RUN(test_a13_invalid_json_patch_document);
  RUN(test_a14_escape_ordering);
  RUN(test_a15_comparing_strings_and_numbers);
  RUN(test_a16_adding_an_array_value);
  RUN(test_pointer_escapes_reach_keys_with_slash_and_tilde);
  RUN(test_numbers_compare_by_value_and_objects_ignore_order);
  RUN(test_operations_on_a_pod_spec);
  RUN(test_errors_name_the_operation_and_what_is_wrong);
  RUN(test_root_pointer_replaces_the_document_and_move_onto_itself_is_a_no_op);
  return check_summary();
}
