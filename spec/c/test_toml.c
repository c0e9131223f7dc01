/* TOML parsing through toml++: types, key lines, errors with positions. */
#include <stdlib.h>

#include "check.h"
#include "toml/toml.h"

static void test_types_and_lines(void) {
  const char *text =
      "concurrent = 4\n"
      "[[runners]]\n"
      "  name = \"k8s\"\n"
      "  [runners.kubernetes]\n"
      "    qps = 2.5\n"
      "    privileged = false\n"
      "    at = 1979-05-27T07:32:00Z\n"
      "    pull_policy = [\"always\", \"if-not-present\"]\n"
      "    [runners.kubernetes.node_selector]\n"
      "      \"kubernetes.io/arch\" = \"arm64\"\n";
  json_t *v = NULL, *lines = NULL;
  lunar_error err;
  CHECK(lunar_toml_parse(text, strlen(text), "config.toml", &v, &lines, &err) == LUNAR_OK);
  char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
  CHECK_STR(s,
            "{\"concurrent\":4,\"runners\":[{\"kubernetes\":{\"at\":\"1979-05-27T07:32:00Z\","
            "\"node_selector\":{\"kubernetes.io/arch\":\"arm64\"},\"privileged\":false,"
            "\"pull_policy\":[\"always\",\"if-not-present\"],\"qps\":2.5},\"name\":\"k8s\"}]}");
  free(s);
  CHECK(json_integer_value(json_object_get(lines, "concurrent")) == 1);
  CHECK(json_integer_value(json_object_get(lines, "runners[1].name")) == 3);
  CHECK(json_integer_value(json_object_get(lines, "runners[1].kubernetes.qps")) == 5);
  CHECK(json_integer_value(json_object_get(lines, "runners[1].kubernetes.node_selector.kubernetes.io/arch")) == 10);
  json_decref(v);
  json_decref(lines);
}

static void test_errors_name_file_line_and_column(void) {
  json_t *v = NULL, *lines = NULL;
  lunar_error err;
  const char *bad = "[runners]\nname = \n";
  CHECK(lunar_toml_parse(bad, strlen(bad), "config.toml", &v, &lines, &err) == LUNAR_EINVAL);
  CHECK(v == NULL && lines == NULL);
  CHECK(strncmp(err.msg, "config.toml:2:", 14) == 0);
  const char *dup = "a = 1\na = 2\n";
  CHECK(lunar_toml_parse(dup, strlen(dup), NULL, &v, NULL, &err) == LUNAR_EINVAL);
  CHECK(strncmp(err.msg, "TOML:2:", 7) == 0);
  CHECK(strstr(err.msg, "'a'") != NULL);
}

int main(void) {
  RUN(test_types_and_lines);
  RUN(test_errors_name_file_line_and_column);
  return check_summary();
}
