/* Dropping members of a JSON text before parsing (the Pod watch skips the
 * spec and managedFields of each event's Pod). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json/skim.h"

static const char *const PATHS[] = {"object.spec", "object.metadata.managedFields", NULL};

static char *skim(const char *in) {
  static char out[4096];
  size_t n = lunar_json_skim(in, strlen(in), out, PATHS);
  if (n == (size_t)-1) return "(fail)";
  out[n] = '\0';
  return out;
}

static void test_members_go_wherever_they_stand(void) {
  CHECK_STR(skim("{\"type\":\"ADDED\",\"object\":{\"spec\":{\"a\":[1,{\"b\":\"}\"}]},\"status\":{}}}"),
            "{\"type\":\"ADDED\",\"object\":{\"status\":{}}}");
  CHECK_STR(skim("{\"object\":{\"kind\":\"Pod\",\"spec\":{},\"status\":{\"phase\":\"Running\"}}}"),
            "{\"object\":{\"kind\":\"Pod\",\"status\":{\"phase\":\"Running\"}}}");
  CHECK_STR(skim("{\"object\":{\"kind\":\"Pod\",\"spec\":{\"x\":\"a\\\"b\"}}}"), "{\"object\":{\"kind\":\"Pod\"}}");
  CHECK_STR(skim("{\"object\":{\"spec\":{}}}"), "{\"object\":{}}");
  CHECK_STR(skim("{\"object\":{\"metadata\":{\"name\":\"p\",\"managedFields\":[{\"manager\":\"k\"}]},\"spec\":1}}"),
            "{\"object\":{\"metadata\":{\"name\":\"p\"}}}");
  CHECK_STR(skim("{ \"object\" : { \"a\" : 1 , \"spec\" : { } , \"b\" : 2 } }"),
            "{ \"object\" : { \"a\" : 1 ,  \"b\" : 2 } }");
}

static void test_only_the_paths_named(void) {
  /* a label called spec, a spec at the top, a spec inside the status stay */
  const char *in = "{\"spec\":1,\"object\":{\"metadata\":{\"labels\":{\"spec\":\"x\"}},\"status\":{\"spec\":2},"
                   "\"list\":[{\"spec\":3}]}}";
  CHECK_STR(skim(in), in);
  CHECK_STR(skim("[{\"object\":{\"spec\":1}}]"), "[{\"object\":{\"spec\":1}}]");
}

static void test_what_cannot_be_scanned_is_left_to_the_parser(void) {
  CHECK_STR(skim("{\"object\":{\"spec\":\"unterminated"), "(fail)");
  CHECK_STR(skim("{\"object\":{\"spec\" 1}}"), "(fail)");
  char deep[200];
  memset(deep, '[', 100);
  deep[100] = '\0';
  CHECK_STR(skim(deep), "(fail)");
  CHECK_STR(skim("}"), "(fail)");
}

int main(void) {
  RUN(test_members_go_wherever_they_stand);
  RUN(test_only_the_paths_named);
  RUN(test_what_cannot_be_scanned_is_left_to_the_parser);
  return check_summary();
}
