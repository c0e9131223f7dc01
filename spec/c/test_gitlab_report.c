/* The job reporter (gitlab/report.h) against a scripted HTTP server: the
 * ack, the trace loop (pacing, 416 resync, 403 abort, touch), cancellation
 * from Job-Status, the final update (202, 412, 416, retries), the resume
 * probe and failure reason mapping. Intervals are shortened by options. */
#include "check.h"
#include "gitlab/report.h"
#include "httpscript.h"
#include "util/crc32.h"

static unsigned crc_of(const char *s) { return lunar_crc32_update(0, s, strlen(s)); }

static script_server srv_;

typedef struct ctx {
  lunar_loop *loop;
  lunar_gitlab *g;
  lunar_trace *trace;
  lunar_gitlab_report *r;
  int verdict, acked;
  int probed, probe_rc;
  size_t probe_size;
  int graceful, aborts;
  int finished, accepted;
  char msg[LUNAR_ERROR_MAX];
  int free_on_cancel;
} ctx;

static void on_cancel(int graceful, void *ud) {
  ctx *c = ud;
  if (graceful) c->graceful++;
  else c->aborts++;
  if (c->free_on_cancel) {
    lunar_gitlab_report_free(c->r);
    c->r = NULL;
  }
}

static void on_finished(int accepted, const lunar_error *err, void *ud) {
  ctx *c = ud;
  c->finished++;
  c->accepted = accepted;
  snprintf(c->msg, sizeof c->msg, "%s", err->msg);
}

static void on_ack(int verdict, void *ud) {
  ctx *c = ud;
  c->acked++;
  c->verdict = verdict;
}

static void on_probe(int rc, size_t size, void *ud) {
  ctx *c = ud;
  c->probed++;
  c->probe_rc = rc;
  c->probe_size = size;
}

static const char *const reasons[] = {"script_failure", "runner_system_failure", "unknown_failure",
                                      "runner_configuration_error"};

static int setup(ctx *c, const char *script, long interval_ms) {
  memset(c, 0, sizeof *c);
  c->verdict = -1;
  if (script_load(&srv_, script) != 0) return -1;
  lunar_error err;
  lunar_loop_new(&c->loop, &err);
  lunar_gitlab_options o = {0};
  o.url = srv_.url;
  o.token = "glrt-runner";
  o.backoff_base_ms = 5;
  CHECK_INT(lunar_gitlab_new(c->loop, &o, &c->g, &err), LUNAR_OK);
  const char *masked[] = {"hunter2"};
  lunar_trace_options to = {0};
  to.masked = masked;
  to.n_masked = 1;
  CHECK_INT(lunar_trace_new(&to, &c->trace, &err), LUNAR_OK);
  lunar_gitlab_report_options ro = {0};
  ro.job_id = 42;
  ro.job_token = "glcbt-jobtoken";
  ro.kick_ms = 20;
  ro.interval_ms = interval_ms;
  ro.touch_ms = 60000;
  ro.final_backoff_ms = 20;
  ro.failure_reasons = reasons;
  ro.n_failure_reasons = 4;
  lunar_gitlab_report_callbacks cb = {on_cancel, on_finished, c};
  return lunar_gitlab_report_new(c->g, c->trace, &ro, &cb, &c->r, &err);
}

static void teardown(ctx *c) {
  lunar_gitlab_report_free(c->r);
  lunar_trace_free(c->trace);
  lunar_gitlab_free(c->g);
  lunar_loop_free(c->loop);
}

static void say(ctx *c, const char *s) {
  lunar_trace_write(c->trace, s, strlen(s));
  if (c->r) lunar_gitlab_report_kick(c->r);
}

/* Runs the loop until the server saw n requests (or max_ms passed). */
static json_t *until_requests(ctx *c, size_t n, long max_ms) {
  long long end = lunar_loop_now() + max_ms;
  json_t *reqs = script_requests(&srv_);
  while (json_array_size(reqs) < n && lunar_loop_now() < end) {
    lunar_loop_run_once(c->loop, 20, NULL);
    json_decref(reqs);
    reqs = script_requests(&srv_);
  }
  return reqs;
}

static int count_method(json_t *reqs, const char *method) {
  int n = 0;
  for (size_t k = 0; k < json_array_size(reqs); k++) n += strcmp(req_str(reqs, k, "method"), method) == 0;
  return n;
}

/* ---- ack ------------------------------------------------------------------ */

static int ack_with(const char *response) {
  char script[512];
  snprintf(script, sizeof script, "{\"responses\": [%s]}", response);
  ctx c;
  if (setup(&c, script, 200) != 0) return -1;
  CHECK_INT(lunar_gitlab_report_ack(c.r, on_ack, &c, NULL), LUNAR_OK);
  run_until(c.loop, &c.acked, 5000);
  int v = c.verdict;
  teardown(&c);
  return v;
}

static void test_ack_verdicts(void) {
  CHECK_INT(ack_with("{\"status\": 200, \"headers\": {\"Job-Status\": \"running\"}}"), LUNAR_ACK_RUN);
  CHECK_INT(ack_with("{\"status\": 409}"), LUNAR_ACK_RUN);
  CHECK_INT(ack_with("{\"status\": 403}"), LUNAR_ACK_DROP);
  CHECK_INT(ack_with("{\"status\": 404}"), LUNAR_ACK_DROP);
  CHECK_INT(ack_with("{\"status\": 200, \"headers\": {\"Job-Status\": \"canceled\"}}"), LUNAR_ACK_DROP);
  CHECK_INT(ack_with("{\"status\": 200, \"headers\": {\"Job-Status\": \"failed\"}}"), LUNAR_ACK_DROP);
  CHECK_INT(ack_with("{\"status\": 200, \"headers\": {\"Job-Status\": \"canceling\"}}"), LUNAR_ACK_CANCELED);
  /* no answer at all: the build proceeds */
  CHECK_INT(ack_with("{\"drop\": true}, {\"drop\": true}, {\"drop\": true}, {\"drop\": true}, {\"drop\": true}"),
            LUNAR_ACK_RUN);
  json_t *reqs = script_requests(&srv_);
  CHECK_INT(json_array_size(reqs), 5);
  json_decref(reqs);
}

static void test_ack_body(void) {
  ctx c;
  if (setup(&c, "{\"default\": {\"status\": 200}}", 200) != 0) return;
  lunar_gitlab_report_ack(c.r, on_ack, &c, NULL);
  run_until(c.loop, &c.acked, 5000);
  json_t *reqs = script_requests(&srv_);
  CHECK_STR(req_str(reqs, 0, "path"), "/api/v4/jobs/42");
  CHECK_STR(req_header(reqs, 0, "job-token"), "glcbt-jobtoken");
  json_t *b = req_json(reqs, 0);
  CHECK_STR(json_string_value(json_object_get(b, "state")), "running");
  CHECK_INT(json_object_size(json_object_get(b, "output")), 0);
  CHECK(json_is_object(json_object_get(b, "output")));
  json_decref(b);
  json_decref(reqs);
  teardown(&c);
}

/* ---- the trace loop ---------------------------------------------------------- */

static void test_first_output_goes_out_before_the_interval(void) {
  ctx c;
  /* a 60 s interval: only the kick can make the PATCH come this soon */
  if (setup(&c, "{\"defaults\": {\"PATCH \": {\"status\": 202, \"range\": true}}}", 60000) != 0) return;
  lunar_gitlab_report_start(c.r);
  say(&c, "hello hunter2\n");
  json_t *reqs = until_requests(&c, 1, 3000);
  CHECK_INT(json_array_size(reqs), 1);
  CHECK_STR(req_str(reqs, 0, "method"), "PATCH");
  CHECK_STR(req_str(reqs, 0, "path"), "/api/v4/jobs/42/trace?debug_trace=false");
  CHECK_STR(req_header(reqs, 0, "content-range"), "0-14");
  CHECK_STR(req_str(reqs, 0, "body"), "hello [MASKED]\n");
  json_decref(reqs);
  /* later output waits for the interval: nothing more within a second */
  for (int k = 0; k < 10; k++) lunar_loop_run_once(c.loop, 20, NULL);
  say(&c, "more\n");
  reqs = until_requests(&c, 2, 1000);
  CHECK_INT(json_array_size(reqs), 1);
  json_decref(reqs);
  CHECK_INT(lunar_gitlab_report_sent(c.r), 15);
  teardown(&c);
}

static void test_one_patch_in_flight_and_contiguous_ranges(void) {
  ctx c;
  if (setup(&c, "{\"defaults\": {\"PATCH \": {\"status\": 202, \"range\": true, \"delay\": 0.15},"
                "\"PUT \": {\"status\": 200}}}", 50) != 0)
    return;
  lunar_gitlab_report_start(c.r);
  char line[64], all[4096] = "";
  long long end = lunar_loop_now() + 1500;
  int k = 0;
  while (lunar_loop_now() < end) {
    snprintf(line, sizeof line, "line %d\n", k++);
    strcat(all, line);
    say(&c, line);
    lunar_loop_run_once(c.loop, 10, NULL);
  }
  lunar_gitlab_report_finish(c.r, "success", NULL, 0);
  run_until(c.loop, &c.finished, 5000);
  CHECK_INT(c.finished, 1);
  CHECK_INT(c.accepted, 1);
  json_t *reqs = script_requests(&srv_);
  size_t next = 0;
  int ok = 1, patches = 0;
  char *got = calloc(1, 8192);
  double prev_end = 0;
  for (size_t i = 0; i < json_array_size(reqs); i++) {
    if (strcmp(req_str(reqs, i, "method"), "PATCH") != 0) continue;
    patches++;
    size_t a, b;
    sscanf(req_header(reqs, i, "content-range"), "%zu-%zu", &a, &b);
    const char *body = req_str(reqs, i, "body");
    ok = ok && a == next && b == a + strlen(body) - 1;
    strcat(got, body);
    next = b + 1;
    /* the next PATCH arrives only after the previous one was answered */
    ok = ok && req_time(reqs, i) >= prev_end;
    prev_end = req_time(reqs, i) + 0.15;
  }
  CHECK(ok);
  CHECK(patches >= 2);
  CHECK(patches < k); /* batched, not one per line */
  CHECK_STR(got, all);
  CHECK_STR(req_str(reqs, json_array_size(reqs) - 1, "method"), "PUT");
  free(got);
  json_decref(reqs);
  teardown(&c);
}

static void test_416_resyncs_to_gitlabs_offset(void) {
  ctx c;
  if (setup(&c, "{\"responses\": [{\"match\": \"PATCH \", \"status\": 416, \"headers\": {\"Range\": \"0-3\"}}],"
                "\"defaults\": {\"PATCH \": {\"status\": 202, \"range\": true}, \"PUT \": {\"status\": 200}}}",
            50) != 0)
    return;
  lunar_gitlab_report_start(c.r);
  say(&c, "abcdef12");
  json_t *reqs = until_requests(&c, 2, 3000);
  CHECK_STR(req_header(reqs, 0, "content-range"), "0-7");
  CHECK_STR(req_header(reqs, 1, "content-range"), "3-7");
  CHECK_STR(req_str(reqs, 1, "body"), "def12");
  json_decref(reqs);
  teardown(&c);
}

static void test_403_on_patch_aborts_once_and_stops_the_loop(void) {
  ctx c;
  if (setup(&c, "{\"defaults\": {\"PATCH \": {\"status\": 403}}}", 50) != 0) return;
  lunar_gitlab_report_start(c.r);
  say(&c, "x\n");
  run_until(c.loop, &c.aborts, 3000);
  CHECK_INT(c.aborts, 1);
  CHECK_INT(c.graceful, 0);
  say(&c, "y\n");
  for (int k = 0; k < 20; k++) lunar_loop_run_once(c.loop, 20, NULL);
  json_t *reqs = script_requests(&srv_);
  CHECK_INT(json_array_size(reqs), 1);
  json_decref(reqs);
  teardown(&c);
}

static void test_job_status_canceling_then_canceled(void) {
  ctx c;
  if (setup(&c, "{\"responses\": ["
                "{\"match\": \"PATCH \", \"status\": 202, \"range\": true, \"headers\": {\"Job-Status\": \"canceling\"}},"
                "{\"match\": \"PATCH \", \"status\": 202, \"range\": true, \"headers\": {\"Job-Status\": \"canceling\"}},"
                "{\"match\": \"PATCH \", \"status\": 202, \"range\": true, \"headers\": {\"Job-Status\": \"canceled\"}}]}",
            30) != 0)
    return;
  lunar_gitlab_report_start(c.r);
  say(&c, "1\n");
  json_t *reqs = until_requests(&c, 1, 3000);
  json_decref(reqs);
  run_until(c.loop, &c.graceful, 2000);
  CHECK_INT(c.graceful, 1);
  say(&c, "2\n");
  reqs = until_requests(&c, 2, 3000);
  json_decref(reqs);
  for (int k = 0; k < 10; k++) lunar_loop_run_once(c.loop, 10, NULL);
  CHECK_INT(c.graceful, 1); /* acted on once */
  CHECK_INT(c.aborts, 0);
  say(&c, "3\n");
  run_until(c.loop, &c.aborts, 3000);
  CHECK_INT(c.aborts, 1);
  teardown(&c);
}

static void test_freeing_from_the_cancel_callback(void) {
  ctx c;
  if (setup(&c, "{\"defaults\": {\"PATCH \": {\"status\": 202, \"headers\": {\"Job-Status\": \"canceled\"}}}}", 30) != 0)
    return;
  c.free_on_cancel = 1;
  lunar_gitlab_report_start(c.r);
  say(&c, "bye\n");
  run_until(c.loop, &c.aborts, 3000);
  CHECK_INT(c.aborts, 1);
  CHECK(c.r == NULL);
  teardown(&c); /* ASan: no use after free, no leak */
}

static void test_touch_after_quiet_spell(void) {
  ctx c;
  if (setup(&c, "{\"defaults\": {\"PATCH \": {\"status\": 202, \"range\": true}, \"PUT \": {\"status\": 200}}}", 50) != 0)
    return;
  lunar_gitlab_report_free(c.r);
  lunar_gitlab_report_options ro = {0};
  ro.job_id = 42;
  ro.job_token = "glcbt-jobtoken";
  ro.kick_ms = 10;
  ro.interval_ms = 50;
  ro.touch_ms = 300;
  lunar_gitlab_report_callbacks cb = {on_cancel, on_finished, &c};
  lunar_gitlab_report_new(c.g, c.trace, &ro, &cb, &c.r, NULL);
  lunar_gitlab_report_start(c.r);
  say(&c, "abc");
  json_t *reqs = until_requests(&c, 2, 3000);
  CHECK_STR(req_str(reqs, 0, "method"), "PATCH");
  CHECK_STR(req_str(reqs, 1, "method"), "PUT");
  CHECK(req_time(reqs, 1) - req_time(reqs, 0) >= 0.25); /* not before the touch interval */
  json_t *b = req_json(reqs, 1);
  CHECK_STR(json_string_value(json_object_get(b, "state")), "running");
  json_t *out = json_object_get(b, "output");
  char want[32];
  snprintf(want, sizeof want, "crc32:%08x", crc_of("abc"));
  CHECK_STR(json_string_value(json_object_get(out, "checksum")), want);
  CHECK_INT(json_integer_value(json_object_get(out, "bytesize")), 3);
  CHECK(json_object_get(b, "failure_reason") == NULL);
  json_decref(b);
  json_decref(reqs);
  teardown(&c);
}

/* ---- the final update ----------------------------------------------------------- */

static void test_final_update_sends_the_rest_then_the_state(void) {
  ctx c;
  if (setup(&c, "{\"defaults\": {\"PATCH \": {\"status\": 202, \"range\": true}, \"PUT \": {\"status\": 200}}}", 60000) != 0)
    return;
  lunar_gitlab_report_start(c.r);
  say(&c, "out\n");
  json_t *reqs = until_requests(&c, 1, 3000);
  json_decref(reqs);
  lunar_trace_write(c.trace, "tail hunt", 9); /* "hunt" is held back until the flush */
  lunar_gitlab_report_finish(c.r, "failed", "image_pull_failure", 2);
  run_until(c.loop, &c.finished, 5000);
  CHECK_INT(c.finished, 1);
  CHECK_INT(c.accepted, 1);
  CHECK_STR(c.msg, "");
  reqs = script_requests(&srv_);
  CHECK_INT(json_array_size(reqs), 3);
  CHECK_STR(req_header(reqs, 1, "content-range"), "4-12");
  CHECK_STR(req_str(reqs, 1, "body"), "tail hunt");
  json_t *b = req_json(reqs, 2);
  CHECK_STR(json_string_value(json_object_get(b, "state")), "failed");
  /* image_pull_failure is not in this GitLab's list: the compatible reason */
  CHECK_STR(json_string_value(json_object_get(b, "failure_reason")), "runner_system_failure");
  CHECK_INT(json_integer_value(json_object_get(b, "exit_code")), 2);
  char want[32];
  snprintf(want, sizeof want, "crc32:%08x", crc_of("out\ntail hunt"));
  CHECK_STR(json_string_value(json_object_get(b, "checksum")), want);
  CHECK_STR(json_string_value(json_object_get(json_object_get(b, "output"), "checksum")), want);
  CHECK_INT(json_integer_value(json_object_get(json_object_get(b, "output"), "bytesize")), 13);
  json_decref(b);
  json_decref(reqs);
  CHECK_INT(lunar_gitlab_report_requests(c.r), 3);
  teardown(&c);
}

static void test_final_202_and_412_repeat_the_put(void) {
  ctx c;
  if (setup(&c, "{\"responses\": [{\"match\": \"PUT \", \"status\": 202},"
                "{\"match\": \"PUT \", \"status\": 412}],"
                "\"defaults\": {\"PATCH \": {\"status\": 202, \"range\": true}, \"PUT \": {\"status\": 200}}}",
            50) != 0)
    return;
  say(&c, "done\n");
  lunar_gitlab_report_finish(c.r, "success", "ignored", 0);
  run_until(c.loop, &c.finished, 5000);
  CHECK_INT(c.accepted, 1);
  json_t *reqs = script_requests(&srv_);
  CHECK_INT(count_method(reqs, "PUT"), 3);
  CHECK_INT(count_method(reqs, "PATCH"), 1); /* released after the 202: nothing to resend */
  json_t *b = req_json(reqs, json_array_size(reqs) - 1);
  CHECK_STR(json_string_value(json_object_get(b, "state")), "success");
  CHECK(json_object_get(b, "failure_reason") == NULL);
  CHECK(json_object_get(b, "exit_code") == NULL);
  json_decref(b);
  json_decref(reqs);
  teardown(&c);
}

static void test_final_416_resends_from_gitlabs_offset(void) {
  ctx c;
  if (setup(&c, "{\"responses\": [{\"match\": \"PATCH \", \"status\": 416, \"headers\": {\"Range\": \"0-2\"}}],"
                "\"defaults\": {\"PATCH \": {\"status\": 202, \"range\": true}, \"PUT \": {\"status\": 200}}}",
            50) != 0)
    return;
  say(&c, "abcdef");
  lunar_gitlab_report_finish(c.r, "success", NULL, 0);
  run_until(c.loop, &c.finished, 5000);
  json_t *reqs = script_requests(&srv_);
  CHECK_INT(json_array_size(reqs), 3);
  CHECK_STR(req_header(reqs, 0, "content-range"), "0-5");
  CHECK_STR(req_header(reqs, 1, "content-range"), "2-5");
  CHECK_STR(req_str(reqs, 2, "method"), "PUT");
  json_decref(reqs);
  teardown(&c);
}

static void test_final_403_on_flush_goes_on_to_the_put(void) {
  ctx c;
  if (setup(&c, "{\"defaults\": {\"PATCH \": {\"status\": 403}, \"PUT \": {\"status\": 403}}}", 50) != 0) return;
  say(&c, "abc");
  lunar_gitlab_report_finish(c.r, "failed", "script_failure", 1);
  run_until(c.loop, &c.finished, 5000);
  CHECK_INT(c.finished, 1);
  CHECK_INT(c.accepted, 1);
  CHECK(strstr(c.msg, "GitLab no longer runs the job (403)") != NULL);
  json_t *reqs = script_requests(&srv_);
  CHECK_INT(json_array_size(reqs), 2);
  json_decref(reqs);
  CHECK_INT(c.aborts, 0); /* the job is over anyway: no cancel callback */
  teardown(&c);
}

static void test_final_attempts_retried_then_given_up(void) {
  ctx c;
  if (setup(&c, "{\"defaults\": {\"PUT \": {\"status\": 500, \"body\": \"db down\"}}}", 50) != 0) return;
  lunar_gitlab_report_free(c.r);
  lunar_gitlab_report_options ro = {0};
  ro.job_id = 42;
  ro.job_token = "glcbt-jobtoken";
  ro.interval_ms = 20;
  ro.final_backoff_ms = 10;
  ro.final_retry_limit = 3;
  lunar_gitlab_report_callbacks cb = {on_cancel, on_finished, &c};
  lunar_gitlab_report_new(c.g, c.trace, &ro, &cb, &c.r, NULL);
  lunar_gitlab_report_finish(c.r, "success", NULL, 0);
  run_until(c.loop, &c.finished, 10000);
  CHECK_INT(c.finished, 1);
  CHECK_INT(c.accepted, 0);
  CHECK(strstr(c.msg, "final update given up after 3 attempts") != NULL);
  CHECK(strstr(c.msg, "answered 500 after 5 attempts: db down") != NULL);
  json_t *reqs = script_requests(&srv_);
  CHECK_INT(json_array_size(reqs), 15); /* 3 attempts x 5 tries of the client */
  json_decref(reqs);
  CHECK_INT(lunar_gitlab_report_requests(c.r), 15);
  teardown(&c);
}

static void test_final_retry_recovers(void) {
  ctx c;
  if (setup(&c, "{\"responses\": [{\"match\": \"PUT \", \"status\": 400}],"
                "\"defaults\": {\"PUT \": {\"status\": 200}}}", 50) != 0)
    return;
  lunar_gitlab_report_finish(c.r, "success", NULL, 0);
  run_until(c.loop, &c.finished, 10000);
  CHECK_INT(c.accepted, 1);
  json_t *reqs = script_requests(&srv_);
  CHECK_INT(json_array_size(reqs), 2);
  json_decref(reqs);
  teardown(&c);
}

static void test_ack_canceled_sends_job_canceled_verbatim(void) {
  ctx c;
  if (setup(&c, "{\"responses\": [{\"status\": 200, \"headers\": {\"Job-Status\": \"canceling\"}}],"
                "\"default\": {\"status\": 200}}", 50) != 0)
    return;
  lunar_gitlab_report_ack(c.r, on_ack, &c, NULL);
  run_until(c.loop, &c.acked, 5000);
  CHECK_INT(c.verdict, LUNAR_ACK_CANCELED);
  lunar_gitlab_report_finish(c.r, "failed", "job_canceled", 0);
  run_until(c.loop, &c.finished, 5000);
  json_t *reqs = script_requests(&srv_);
  json_t *b = req_json(reqs, 1);
  CHECK_STR(json_string_value(json_object_get(b, "failure_reason")), "job_canceled");
  json_decref(b);
  json_decref(reqs);
  teardown(&c);
}

/* ---- resume probe -------------------------------------------------------------- */

static void probe_with(const char *response, int want_rc, size_t want_size) {
  char script[512];
  snprintf(script, sizeof script, "{\"default\": %s}", response);
  ctx c;
  if (setup(&c, script, 50) != 0) return;
  CHECK_INT(lunar_gitlab_report_probe(c.r, on_probe, &c, NULL), LUNAR_OK);
  run_until(c.loop, &c.probed, 5000);
  CHECK_INT(c.probe_rc, want_rc);
  CHECK_INT(c.probe_size, want_size);
  json_t *reqs = script_requests(&srv_);
  CHECK_STR(req_str(reqs, 0, "method"), "PATCH");
  CHECK_STR(req_header(reqs, 0, "content-range"), "0-0");
  CHECK_STR(req_str(reqs, 0, "body"), "");
  json_decref(reqs);
  teardown(&c);
}

static void test_probe(void) {
  probe_with("{\"status\": 416, \"headers\": {\"Range\": \"0-1500\"}}", LUNAR_OK, 1500);
  probe_with("{\"status\": 202, \"headers\": {\"Range\": \"0-0\"}}", LUNAR_OK, 0);
  probe_with("{\"status\": 403}", LUNAR_ENOTFOUND, 0);
  probe_with("{\"status\": 202, \"headers\": {\"Job-Status\": \"canceled\"}}", LUNAR_ENOTFOUND, 0);
  probe_with("{\"status\": 500}", LUNAR_EIO, 0);
}

static void test_resumed_trace_continues_at_gitlabs_offset(void) {
  ctx c;
  if (setup(&c, "{\"responses\": [{\"status\": 416, \"headers\": {\"Range\": \"0-1500\", \"Job-Status\": \"canceling\"}}],"
                "\"defaults\": {\"PATCH \": {\"status\": 202, \"range\": true}, \"PUT \": {\"status\": 200}}}", 50) != 0)
    return;
  lunar_trace_free(c.trace);
  c.trace = NULL;
  lunar_gitlab_report_set_trace(c.r, NULL);
  lunar_gitlab_report_probe(c.r, on_probe, &c, NULL);
  run_until(c.loop, &c.probed, 5000);
  CHECK_INT(c.probe_size, 1500);
  lunar_trace_options to = {0};
  to.base = c.probe_size;
  lunar_trace_new(&to, &c.trace, NULL);
  lunar_gitlab_report_set_trace(c.r, c.trace);
  lunar_gitlab_report_start(c.r);
  run_until(c.loop, &c.graceful, 2000);
  CHECK_INT(c.graceful, 1); /* the probe's canceling, told once the loop runs */
  say(&c, "resumed\n");
  lunar_gitlab_report_finish(c.r, "success", NULL, 0);
  run_until(c.loop, &c.finished, 5000);
  json_t *reqs = script_requests(&srv_);
  CHECK_STR(req_header(reqs, 1, "content-range"), "1500-1507");
  json_t *b = req_json(reqs, 2);
  json_t *out = json_object_get(b, "output");
  CHECK(json_object_get(out, "checksum") == NULL); /* the first 1500 bytes were never seen */
  CHECK_INT(json_integer_value(json_object_get(out, "bytesize")), 1508);
  json_decref(b);
  json_decref(reqs);
  teardown(&c);
}

/* ---- failure reasons ------------------------------------------------------------- */

static void test_failure_reason_mapping(void) {
  const char *const list[] = {"script_failure", "runner_configuration_error", "unknown_failure"};
  CHECK_STR(lunar_gitlab_failure_reason(NULL, list, 3), "script_failure");
  CHECK_STR(lunar_gitlab_failure_reason("", list, 3), "script_failure");
  CHECK_STR(lunar_gitlab_failure_reason("runner_configuration_error", list, 3), "runner_configuration_error");
  /* always allowed even when the list lacks them */
  CHECK_STR(lunar_gitlab_failure_reason("job_execution_timeout", list, 3), "job_execution_timeout");
  CHECK_STR(lunar_gitlab_failure_reason("runner_system_failure", list, 0), "runner_system_failure");
  /* compatibility table */
  CHECK_STR(lunar_gitlab_failure_reason("image_pull_failure", list, 3), "runner_system_failure");
  CHECK_STR(lunar_gitlab_failure_reason("runner_configuration_error", list, 0), "script_failure");
  CHECK_STR(lunar_gitlab_failure_reason("runner_external_dependency_failure", list, 3), "runner_system_failure");
  /* neither accepted nor mappable */
  CHECK_STR(lunar_gitlab_failure_reason("job_canceled", list, 3), "unknown_failure");
  CHECK_STR(lunar_gitlab_failure_reason("runner_interrupted", list, 3), "unknown_failure");
  /* GitLab's current list when the payload has none */
  CHECK_STR(lunar_gitlab_failure_reason("runner_interrupted", NULL, 0), "runner_interrupted");
  CHECK_STR(lunar_gitlab_failure_reason("image_pull_failure", NULL, 0), "runner_system_failure");
  CHECK_STR(lunar_gitlab_failure_reason("job_canceled", NULL, 0), "unknown_failure");
}

int main(void) {
  if (script_start(&srv_, "{}") != 0) return 1;
  RUN(test_failure_reason_mapping);
  RUN(test_ack_verdicts);
  RUN(test_ack_body);
  RUN(test_first_output_goes_out_before_the_interval);
  RUN(test_one_patch_in_flight_and_contiguous_ranges);
  RUN(test_416_resyncs_to_gitlabs_offset);
  RUN(test_403_on_patch_aborts_once_and_stops_the_loop);
  RUN(test_job_status_canceling_then_canceled);
  RUN(test_freeing_from_the_cancel_callback);
  RUN(test_touch_after_quiet_spell);
  RUN(test_final_update_sends_the_rest_then_the_state);
  RUN(test_final_202_and_412_repeat_the_put);
  RUN(test_final_416_resends_from_gitlabs_offset);
  RUN(test_final_403_on_flush_goes_on_to_the_put);
  RUN(test_final_attempts_retried_then_given_up);
  RUN(test_final_retry_recovers);
  RUN(test_ack_canceled_sends_job_canceled_verbatim);
  RUN(test_probe);
  RUN(test_resumed_trace_continues_at_gitlabs_offset);
  script_stop(&srv_);
  return check_summary();
}
