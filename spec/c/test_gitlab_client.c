/* The GitLab runner API client (gitlab/client.h) against a scripted HTTP
 * server (spec/c/http_script.py): headers, bodies, retries, long polls,
 * content types, response headers. */
#include "check.h"
#include "gitlab/client.h"
#include "httpscript.h"

typedef struct got {
  int done, rc;
  long status, interval, range_end;
  int attempts, retried;
  char job_status[64], last_update[64], msg[LUNAR_ERROR_MAX];
  json_t *body;
} got;

static void on_done(int rc, const lunar_gitlab_response *res, const lunar_error *err, void *ud) {
  got *g = ud;
  g->done++;
  g->rc = rc;
  g->status = res->status;
  g->interval = res->update_interval_s;
  g->range_end = res->range_end;
  g->attempts = res->attempts;
  g->retried = res->retried;
  snprintf(g->job_status, sizeof g->job_status, "%s", res->job_status ? res->job_status : "");
  snprintf(g->last_update, sizeof g->last_update, "%s", res->last_update ? res->last_update : "");
  snprintf(g->msg, sizeof g->msg, "%s", err->msg);
  g->body = res->body ? json_incref(res->body) : NULL;
}

static void reset(got *g) {
  json_decref(g->body);
  memset(g, 0, sizeof *g);
}

static script_server srv_;

typedef struct fixture {
  script_server srv; /* a copy of srv_ */
  lunar_loop *loop;
  lunar_gitlab *g;
  json_t *info;
} fixture;

/* A client on f->srv.url. */
static int setup_at(fixture *f, const char *script, const char *suffix) {
  (void)script;
  lunar_error err;
  CHECK_INT(lunar_loop_new(&f->loop, &err), LUNAR_OK);
  char url[128];
  snprintf(url, sizeof url, "%s%s", f->srv.url, suffix ? suffix : "");
  f->info = json_pack("{s:s,s:s}", "name", "lunar", "executor", "kubernetes");
  lunar_gitlab_options o = {0};
  o.url = url;
  o.token = "glrt-t1_runnertoken";
  o.system_id = "s_0123456789ab";
  o.info = f->info;
  o.backoff_base_ms = 5;
  int rc = lunar_gitlab_new(f->loop, &o, &f->g, &err);
  CHECK_INT(rc, LUNAR_OK);
  return rc;
}

static int setup(fixture *f, const char *script, const char *suffix) {
  memset(f, 0, sizeof *f);
  f->srv = srv_;
  if (script_load(&f->srv, script) != 0) return -1;
  return setup_at(f, script, suffix);
}

static void teardown(fixture *f) {
  lunar_gitlab_free(f->g);
  lunar_loop_free(f->loop);
  json_decref(f->info);
}

static int is_hex32(const char *s) {
  if (!s || strlen(s) != 32) return 0;
  for (int k = 0; k < 32; k++)
    if (!strchr("0123456789abcdef", s[k])) return 0;
  return 1;
}

static void test_verify_sends_the_runner_token_and_info(void) {
  fixture f;
  if (setup(&f, "{\"responses\": [{\"status\": 200, \"headers\": {\"Content-Type\": "
                "\"application/json\"}, \"body\": \"{\\\"id\\\": 73}\"}]}",
            "/ci/") != 0)
    return;
  got g = {0};
  CHECK_INT(lunar_gitlab_verify(f.g, on_done, &g, NULL, NULL), LUNAR_OK);
  CHECK_INT(g.done, 0); /* never from inside the submitting call */
  run_until(f.loop, &g.done, 5000);
  CHECK_INT(g.done, 1);
  CHECK_INT(g.rc, LUNAR_OK);
  CHECK_INT(g.status, 200);
  CHECK_INT(json_integer_value(json_object_get(g.body, "id")), 73);
  CHECK_STR(g.msg, "");
  json_t *reqs = script_requests(&f.srv);
  CHECK_STR(req_str(reqs, 0, "method"), "POST");
  CHECK_STR(req_str(reqs, 0, "path"), "/api/v4/runners/verify"); /* "/ci/" removed */
  CHECK_STR(req_header(reqs, 0, "runner-token"), "glrt-t1_runnertoken");
  CHECK_STR(req_header(reqs, 0, "content-type"), "application/json");
  CHECK_STR(req_header(reqs, 0, "accept"), "application/json");
  CHECK(is_hex32(req_header(reqs, 0, "x-request-id")));
  const char *ua = req_header(reqs, 0, "user-agent");
  CHECK(ua && strncmp(ua, "lunar ", 6) == 0 && strstr(ua, " (main; c; linux/"));
  json_t *b = req_json(reqs, 0);
  CHECK_STR(json_string_value(json_object_get(b, "token")), "glrt-t1_runnertoken");
  CHECK_STR(json_string_value(json_object_get(b, "system_id")), "s_0123456789ab");
  CHECK_STR(json_string_value(json_object_get(json_object_get(b, "info"), "executor")), "kubernetes");
  json_decref(b);
  json_decref(reqs);
  reset(&g);
  teardown(&f);
}

static void test_bad_urls_are_refused(void) {
  lunar_loop *loop;
  lunar_gitlab *g = NULL;
  lunar_error err;
  lunar_loop_new(&loop, &err);
  lunar_gitlab_options o = {0};
  o.url = "ftp://gitlab.example.com";
  o.token = "t";
  CHECK_INT(lunar_gitlab_new(loop, &o, &g, &err), LUNAR_EINVAL);
  CHECK(strstr(err.msg, "ftp://gitlab.example.com") != NULL);
  o.url = "https://gitlab.example.com/ci";
  CHECK_INT(lunar_gitlab_new(loop, &o, &g, &err), LUNAR_OK);
  CHECK_STR(lunar_gitlab_base_url(g), "https://gitlab.example.com/api/v4");
  lunar_gitlab_free(g);
  lunar_loop_free(loop);
}

static void test_retry_after_is_waited_for(void) {
  fixture f;
  if (setup(&f, "{\"responses\": [{\"status\": 503, \"headers\": {\"Retry-After\": \"1\"}},"
                "{\"status\": 200}]}",
            NULL) != 0)
    return;
  got g = {0};
  lunar_gitlab_verify(f.g, on_done, &g, NULL, NULL);
  run_until(f.loop, &g.done, 10000);
  CHECK_INT(g.status, 200);
  CHECK_INT(g.attempts, 2);
  CHECK_INT(g.retried, 1);
  json_t *reqs = script_requests(&f.srv);
  CHECK_INT(json_array_size(reqs), 2);
  CHECK(req_time(reqs, 1) - req_time(reqs, 0) >= 0.9); /* not the 5 ms backoff */
  /* one logical call keeps its correlation id */
  CHECK_STR(req_header(reqs, 1, "x-request-id"), req_header(reqs, 0, "x-request-id"));
  long requests, retries;
  lunar_gitlab_stats(f.g, &requests, &retries);
  CHECK_INT(requests, 2);
  CHECK_INT(retries, 1);
  json_decref(reqs);
  reset(&g);
  teardown(&f);
}

static void test_ratelimit_resettime_wins_over_retry_after(void) {
  fixture f;
  if (setup(&f, "{\"responses\": [{\"status\": 429, \"headers\": {\"Retry-After\": \"0\","
                "\"RateLimit-ResetTime\": \"{now+2}\"}}, {\"status\": 200}]}",
            NULL) != 0)
    return;
  got g = {0};
  lunar_gitlab_verify(f.g, on_done, &g, NULL, NULL);
  run_until(f.loop, &g.done, 10000);
  CHECK_INT(g.status, 200);
  json_t *reqs = script_requests(&f.srv);
  CHECK(req_time(reqs, 1) - req_time(reqs, 0) >= 0.9);
  json_decref(reqs);
  reset(&g);
  teardown(&f);
}

static void test_five_attempts_then_the_last_answer(void) {
  fixture f;
  if (setup(&f, "{\"responses\": [{\"status\": 500}, {\"status\": 502}, {\"status\": 408},"
                "{\"status\": 599}, {\"status\": 500, \"headers\": {\"Content-Type\": "
                "\"application/json\"}, \"body\": \"{\\\"message\\\": \\\"boom\\\"}\"}],"
                "\"default\": {\"status\": 200}}",
            NULL) != 0)
    return;
  got g = {0};
  lunar_gitlab_update_job(f.g, 7, "glcbt-job", NULL, on_done, &g, NULL, NULL);
  run_until(f.loop, &g.done, 10000);
  CHECK_INT(g.rc, LUNAR_OK);
  CHECK_INT(g.status, 500);
  CHECK_INT(g.attempts, 5);
  CHECK_STR(g.msg, "GitLab PUT /api/v4/jobs/7 answered 500 after 5 attempts: boom");
  reset(&g);
  teardown(&f);
}

static void test_final_statuses_are_not_retried(void) {
  fixture f;
  if (setup(&f, "{\"responses\": [{\"status\": 403, \"body\": \"forbidden\"}, {\"status\": 501}],"
                "\"default\": {\"status\": 200}}",
            NULL) != 0)
    return;
  got g = {0};
  lunar_gitlab_verify(f.g, on_done, &g, NULL, NULL);
  run_until(f.loop, &g.done, 5000);
  CHECK_INT(g.status, 403);
  CHECK_INT(g.attempts, 1);
  CHECK_STR(g.msg, "GitLab POST /api/v4/runners/verify answered 403 after 1 attempt: forbidden");
  reset(&g);
  lunar_gitlab_verify(f.g, on_done, &g, NULL, NULL);
  run_until(f.loop, &g.done, 5000);
  CHECK_INT(g.status, 501);
  CHECK_INT(g.attempts, 1);
  reset(&g);
  teardown(&f);
}

static void test_dropped_connections_are_retried(void) {
  fixture f;
  if (setup(&f, "{\"responses\": [{\"drop\": true}, {\"status\": 200}]}", NULL) != 0) return;
  got g = {0};
  lunar_gitlab_verify(f.g, on_done, &g, NULL, NULL);
  run_until(f.loop, &g.done, 5000);
  CHECK_INT(g.rc, LUNAR_OK);
  CHECK_INT(g.status, 200);
  CHECK_INT(g.attempts, 2);
  reset(&g);
  teardown(&f);
}

static void test_no_server_is_an_io_error_after_five_attempts(void) {
  fixture f;
  script_dead_url(f.srv.url, sizeof f.srv.url);
  if (setup_at(&f, "{}", NULL) != 0) return;
  got g = {0};
  lunar_gitlab_patch_trace(f.g, 9, "glcbt-x", 0, "abc", 3, 0, on_done, &g, NULL, NULL);
  run_until(f.loop, &g.done, 10000);
  CHECK_INT(g.rc, LUNAR_EIO);
  CHECK_INT(g.status, 0);
  CHECK_INT(g.attempts, 5);
  CHECK(strstr(g.msg, "GitLab PATCH /api/v4/jobs/9/trace?debug_trace=false: no answer from") != NULL);
  CHECK(strstr(g.msg, "after 5 attempts") != NULL);
  reset(&g);
  teardown(&f);
}

static void test_long_poll_and_last_update(void) {
  fixture f;
  if (setup(&f, "{\"responses\": [{\"status\": 204, \"headers\": {\"X-GitLab-Last-Update\": \"v1\"}},"
                "{\"status\": 204, \"delay\": 1.2, \"headers\": {\"X-GitLab-Last-Update\": \"v2\"}}]}",
            NULL) != 0)
    return;
  got g = {0};
  lunar_gitlab_request_job(f.g, on_done, &g, NULL, NULL);
  run_until(f.loop, &g.done, 5000);
  CHECK_INT(g.rc, LUNAR_OK);
  CHECK_INT(g.status, 204);
  CHECK_STR(g.last_update, "v1");
  CHECK_STR(lunar_gitlab_last_update(f.g), "v1");
  reset(&g);
  lunar_gitlab_request_job(f.g, on_done, &g, NULL, NULL);
  run_until(f.loop, &g.done, 5000);
  CHECK_INT(g.rc, LUNAR_OK); /* a slow 204 is the long poll, not an error */
  CHECK_INT(g.status, 204);
  CHECK_INT(g.attempts, 1);
  CHECK_STR(lunar_gitlab_last_update(f.g), "v2");
  json_t *reqs = script_requests(&f.srv);
  CHECK_STR(req_str(reqs, 0, "path"), "/api/v4/jobs/request");
  json_t *b0 = req_json(reqs, 0), *b1 = req_json(reqs, 1);
  CHECK(json_object_get(b0, "last_update") == NULL); /* nothing to echo yet */
  CHECK_STR(json_string_value(json_object_get(b1, "last_update")), "v1");
  CHECK_STR(json_string_value(json_object_get(b1, "token")), "glrt-t1_runnertoken");
  CHECK(json_is_object(json_object_get(b1, "info")));
  json_decref(b0);
  json_decref(b1);
  json_decref(reqs);
  reset(&g);
  teardown(&f);
}

static void test_job_201_needs_a_json_content_type(void) {
  fixture f;
  if (setup(&f, "{\"responses\": ["
                "{\"status\": 201, \"headers\": {\"Content-Type\": \"text/html\"}, \"body\": \"{\\\"id\\\": 1}\"},"
                "{\"status\": 201, \"headers\": {\"Content-Type\": \"application/json\"}, \"body\": \"[1]\"},"
                "{\"status\": 201, \"headers\": {\"Content-Type\": \"Application/JSON; charset=utf-8\"},"
                " \"body\": \"{\\\"id\\\": 2, \\\"token\\\": \\\"glcbt-2\\\"}\"}]}",
            NULL) != 0)
    return;
  got g = {0};
  lunar_gitlab_request_job(f.g, on_done, &g, NULL, NULL);
  run_until(f.loop, &g.done, 5000);
  CHECK_INT(g.rc, LUNAR_EINVAL);
  CHECK_INT(g.status, 201);
  CHECK(g.body == NULL);
  CHECK(strstr(g.msg, "Content-Type text/html, not application/json") != NULL);
  reset(&g);
  lunar_gitlab_request_job(f.g, on_done, &g, NULL, NULL);
  run_until(f.loop, &g.done, 5000);
  CHECK_INT(g.rc, LUNAR_EINVAL);
  CHECK(strstr(g.msg, "not a JSON object") != NULL);
  reset(&g);
  lunar_gitlab_request_job(f.g, on_done, &g, NULL, NULL);
  run_until(f.loop, &g.done, 5000);
  CHECK_INT(g.rc, LUNAR_OK);
  CHECK_INT(json_integer_value(json_object_get(g.body, "id")), 2);
  reset(&g);
  teardown(&f);
}

static void test_update_job_body_and_response_headers(void) {
  fixture f;
  if (setup(&f, "{\"responses\": [{\"status\": 200, \"headers\": {\"Job-Status\": \"canceling\","
                "\"X-GitLab-Trace-Update-Interval\": \"5000\"}}]}",
            NULL) != 0)
    return;
  got g = {0};
  json_t *u = json_pack("{s:s,s:{}}", "state", "running", "output");
  lunar_gitlab_update_job(f.g, 918273, "glcbt-secret", u, on_done, &g, NULL, NULL);
  json_decref(u);
  run_until(f.loop, &g.done, 5000);
  CHECK_STR(g.job_status, "canceling");
  CHECK_INT(g.interval, 900); /* capped at 15 min */
  json_t *reqs = script_requests(&f.srv);
  CHECK_STR(req_str(reqs, 0, "method"), "PUT");
  CHECK_STR(req_str(reqs, 0, "path"), "/api/v4/jobs/918273");
  CHECK_STR(req_header(reqs, 0, "job-token"), "glcbt-secret");
  CHECK(req_header(reqs, 0, "runner-token") == NULL);
  json_t *b = req_json(reqs, 0);
  CHECK_STR(json_string_value(json_object_get(b, "state")), "running");
  CHECK_STR(json_string_value(json_object_get(b, "token")), "glcbt-secret");
  CHECK(json_is_object(json_object_get(b, "output")));
  CHECK(json_is_object(json_object_get(b, "info")));
  json_decref(b);
  json_decref(reqs);
  reset(&g);
  teardown(&f);
}

static void test_patch_trace_ranges(void) {
  fixture f;
  if (setup(&f, "{\"responses\": [{\"status\": 202, \"headers\": {\"Range\": \"0-5\", \"Job-Status\": \"running\","
                "\"X-GitLab-Trace-Update-Interval\": \"3\"}},"
                "{\"status\": 416, \"headers\": {\"Range\": \"0-1234\"}},"
                "{\"status\": 416, \"headers\": {\"Range\": \"bytes */x\"}}]}",
            NULL) != 0)
    return;
  got g = {0};
  lunar_gitlab_patch_trace(f.g, 5, "glcbt-t", 0, "hello", 5, 1, on_done, &g, NULL, NULL);
  run_until(f.loop, &g.done, 5000);
  CHECK_INT(g.status, 202);
  CHECK_INT(g.range_end, 5);
  CHECK_INT(g.interval, 3);
  CHECK_STR(g.job_status, "running");
  reset(&g);
  lunar_gitlab_patch_trace(f.g, 5, "glcbt-t", 0, NULL, 0, 0, on_done, &g, NULL, NULL);
  run_until(f.loop, &g.done, 5000);
  CHECK_INT(g.status, 416);
  CHECK_INT(g.range_end, 1234);
  reset(&g);
  lunar_gitlab_patch_trace(f.g, 5, "glcbt-t", 1234, "x", 1, 0, on_done, &g, NULL, NULL);
  run_until(f.loop, &g.done, 5000);
  CHECK_INT(g.range_end, -1);
  json_t *reqs = script_requests(&f.srv);
  CHECK_STR(req_str(reqs, 0, "method"), "PATCH");
  CHECK_STR(req_str(reqs, 0, "path"), "/api/v4/jobs/5/trace?debug_trace=true");
  CHECK_STR(req_header(reqs, 0, "content-range"), "0-4");
  CHECK_STR(req_header(reqs, 0, "content-type"), "text/plain");
  CHECK_STR(req_header(reqs, 0, "job-token"), "glcbt-t");
  CHECK_STR(req_str(reqs, 0, "body"), "hello");
  CHECK_STR(req_str(reqs, 1, "path"), "/api/v4/jobs/5/trace?debug_trace=false");
  CHECK_STR(req_header(reqs, 1, "content-range"), "0-0");
  CHECK_STR(req_header(reqs, 1, "content-length"), "0");
  CHECK_STR(req_str(reqs, 1, "body"), "");
  CHECK_STR(req_header(reqs, 2, "content-range"), "1234-1234");
  json_decref(reqs);
  reset(&g);
  teardown(&f);
}

static void test_cancel_and_free_with_calls_pending(void) {
  fixture f;
  if (setup(&f, "{\"default\": {\"status\": 200, \"delay\": 0.3}}", NULL) != 0) return;
  got a = {0}, b = {0};
  lunar_gitlab_call *ca = NULL;
  lunar_gitlab_verify(f.g, on_done, &a, &ca, NULL);
  lunar_gitlab_verify(f.g, on_done, &b, NULL, NULL);
  lunar_loop_run_once(f.loop, 20, NULL);
  lunar_gitlab_cancel(ca);
  run_until(f.loop, &b.done, 5000);
  CHECK_INT(b.done, 1);
  CHECK_INT(a.done, 0);
  got c = {0};
  lunar_gitlab_verify(f.g, on_done, &c, NULL, NULL);
  lunar_loop_run_once(f.loop, 20, NULL);
  reset(&b);
  teardown(&f); /* frees the pending call without calling back */
  CHECK_INT(c.done, 0);
}

static void test_tls_with_a_ca_file(void) {
  char dir[] = "/tmp/lunar-tls-XXXXXX";
  if (!mkdtemp(dir)) return;
  script_server tls;
  if (script_start_tls(&tls, "{\"default\": {\"status\": 200}}", dir) != 0) return;
  char ca[96];
  snprintf(ca, sizeof ca, "%s/ca.crt", dir);
  lunar_loop *loop;
  lunar_loop_new(&loop, NULL);
  for (int with_ca = 1; with_ca >= 0; with_ca--) {
    lunar_gitlab_options o = {0};
    o.url = tls.url;
    o.token = "glrt-x";
    o.ca_file = with_ca ? ca : NULL;
    o.backoff_base_ms = 5;
    lunar_gitlab *g = NULL;
    CHECK_INT(lunar_gitlab_new(loop, &o, &g, NULL), LUNAR_OK);
    got r = {0};
    lunar_gitlab_verify(g, on_done, &r, NULL, NULL);
    run_until(loop, &r.done, 10000);
    if (with_ca) {
      CHECK_INT(r.rc, LUNAR_OK);
      CHECK_INT(r.status, 200);
    } else { /* the system's CAs do not know this one: final, not retried */
      CHECK_INT(r.rc, LUNAR_EIO);
      CHECK_INT(r.attempts, 1);
      CHECK(strstr(r.msg, "no answer from https://127.0.0.1:") != NULL);
    }
    reset(&r);
    lunar_gitlab_free(g);
  }
  lunar_loop_free(loop);
  script_stop(&tls);
  static const char *const files[] = {"ca.crt", "ca.key", "ca.srl", "server.crt", "server.key",
                                      "server.csr", "server.ext"};
  char path[128];
  for (size_t k = 0; k < sizeof files / sizeof *files; k++) {
    snprintf(path, sizeof path, "%s/%s", dir, files[k]);
    unlink(path);
  }
  rmdir(dir);
}

int main(void) {
  if (script_start(&srv_, "{}") != 0) return 1;
  RUN(test_verify_sends_the_runner_token_and_info);
  RUN(test_bad_urls_are_refused);
  RUN(test_retry_after_is_waited_for);
  RUN(test_ratelimit_resettime_wins_over_retry_after);
  RUN(test_five_attempts_then_the_last_answer);
  RUN(test_final_statuses_are_not_retried);
  RUN(test_dropped_connections_are_retried);
  RUN(test_no_server_is_an_io_error_after_five_attempts);
  RUN(test_long_poll_and_last_update);
  RUN(test_job_201_needs_a_json_content_type);
  RUN(test_update_job_body_and_response_headers);
  RUN(test_patch_trace_ranges);
  RUN(test_cancel_and_free_with_calls_pending);
  RUN(test_tls_with_a_ca_file);
  script_stop(&srv_);
  return check_summary();
}
