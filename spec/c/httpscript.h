/* Runs spec/c/http_script.py (a scripted HTTP server) for one C test and
 * reads back the requests it saw.
 *
 *   script_server s;
 *   script_start(&s, "{}");                        once per test program
 *   script_load(&s, "{\"responses\": [{\"status\": 200}]}");   per test
 *   ... point a client at s.url, run the loop ...
 *   json_t *reqs = script_requests(&s);   (caller decrefs)
 *   script_stop(&s);
 */
#ifndef LUNAR_SPEC_HTTPSCRIPT_H
#define LUNAR_SPEC_HTTPSCRIPT_H

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loop/loop.h"

typedef struct script_server {
  pid_t pid;
  int port;
  char url[64];
  char script[64];
  char record[64];
} script_server;

/* tls_dir non-NULL: HTTPS, with the CA in tls_dir/ca.crt. */
static inline int script_start_tls(script_server *s, const char *script_json, const char *tls_dir) {
  memset(s, 0, sizeof *s);
  snprintf(s->script, sizeof s->script, "/tmp/lunar-script-XXXXXX");
  int fd = mkstemp(s->script);
  if (fd < 0) return -1;
  if (write(fd, script_json, strlen(script_json)) != (ssize_t)strlen(script_json)) return -1;
  close(fd);
  snprintf(s->record, sizeof s->record, "/tmp/lunar-record-XXXXXX");
  fd = mkstemp(s->record);
  if (fd < 0) return -1;
  close(fd);
  int p[2];
  if (pipe(p) != 0) return -1;
  s->pid = fork();
  if (s->pid == 0) {
    dup2(p[1], 1);
    close(p[0]);
    close(p[1]);
    execlp("python3", "python3", "spec/c/http_script.py", s->script, s->record, tls_dir, (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  FILE *f = fdopen(p[0], "r");
  if (!f || fscanf(f, "%d", &s->port) != 1) {
    fprintf(stderr, "http_script.py did not start\n");
    if (f) fclose(f);
    return -1;
  }
  fclose(f);
  snprintf(s->url, sizeof s->url, "%s://127.0.0.1:%d", tls_dir ? "https" : "http", s->port);
  return 0;
}

static inline int script_start(script_server *s, const char *script_json) {
  return script_start_tls(s, script_json, NULL);
}

/* Replaces the script and forgets the requests seen so far. */
static inline int script_load(script_server *s, const char *script_json) {
  CURL *e = curl_easy_init();
  char url[96];
  snprintf(url, sizeof url, "%s/__script", s->url);
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, script_json);
  CURLcode rc = curl_easy_perform(e);
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(e);
  if (rc != CURLE_OK || status != 200) {
    fprintf(stderr, "cannot load the script into http_script.py\n");
    return -1;
  }
  return 0;
}

/* A loopback URL where nobody listens. */
static inline void script_dead_url(char *out, size_t size) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  socklen_t len = sizeof a;
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, (struct sockaddr *)&a, sizeof a);
  getsockname(fd, (struct sockaddr *)&a, &len);
  close(fd);
  snprintf(out, size, "http://127.0.0.1:%d", ntohs(a.sin_port));
}

static inline void script_stop(script_server *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
  }
  s->pid = 0;
  unlink(s->script);
  unlink(s->record);
}

/* The requests so far, oldest first (a new array). */
static json_t *script_requests(script_server *s) {
  json_t *all = json_array();
  FILE *f = fopen(s->record, "r");
  if (!f) return all;
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    json_t *r = json_loads(line, 0, NULL);
    if (r) json_array_append_new(all, r);
  }
  free(line);
  fclose(f);
  return all;
}

/* Fields of the n-th request, borrowed from `reqs`. */
static const char *req_str(json_t *reqs, size_t n, const char *field) {
  return json_string_value(json_object_get(json_array_get(reqs, n), field));
}
static const char *req_header(json_t *reqs, size_t n, const char *name) {
  return json_string_value(json_object_get(json_object_get(json_array_get(reqs, n), "headers"), name));
}
static inline double req_time(json_t *reqs, size_t n) {
  return json_real_value(json_object_get(json_array_get(reqs, n), "t"));
}
/* The n-th request's body parsed as JSON (a new reference, or NULL). */
static json_t *req_json(json_t *reqs, size_t n) {
  const char *b = req_str(reqs, n, "body");
  return b ? json_loads(b, 0, NULL) : NULL;
}

/* Runs the loop until *flag is set or max_ms passed. */
static inline void run_until(lunar_loop *loop, const int *flag, long max_ms) {
  long long end = lunar_loop_now() + max_ms;
  lunar_error err;
  while (!*flag && lunar_loop_now() < end) lunar_loop_run_once(loop, 50, &err);
}

#endif
