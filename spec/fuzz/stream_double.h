/* A scripted HTTP/1.1 server on loopback, in a thread of the fuzz process, for
 * the targets that read streamed bodies from the API server (watch, pods/log).
 *
 * The input is a list of responses separated by FUZZ_SEP lines; each is one
 * mode byte and the body. Request k gets response k; past the end, 403 (the
 * client gives up). Mode (byte % 4): 0 the body then close, 1 with an exact
 * Content-Length, 2 with a Content-Length larger than the body (the stream
 * drops), 3 chunked. The body is written in pieces whose sizes follow the
 * mode byte, so lines and UTF-8 sequences are split across reads.
 */
#ifndef LUNAR_SPEC_FUZZ_STREAM_DOUBLE_H
#define LUNAR_SPEC_FUZZ_STREAM_DOUBLE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "kube/client.h"
#include "loop/loop.h"

#define DOUBLE_MAX_RESPONSES 8

static struct {
  pthread_mutex_t mu;
  int fd, port;
  char *parts[DOUBLE_MAX_RESPONSES];
  size_t lens[DOUBLE_MAX_RESPONSES];
  size_t n, next;
} dbl = {.mu = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

static void dbl_write(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return;
    p += w, n -= (size_t)w;
  }
}

static void dbl_serve(int fd) {
  char req[8192];
  size_t got = 0;
  while (got < sizeof req - 1) { /* the request head */
    ssize_t r = recv(fd, req + got, sizeof req - 1 - got, 0);
    if (r <= 0) return;
    got += (size_t)r;
    req[got] = '\0';
    if (strstr(req, "\r\n\r\n")) break;
  }
  char *body = NULL;
  size_t len = 0;
  int mode = -1;
  pthread_mutex_lock(&dbl.mu);
  if (dbl.next < dbl.n) {
    size_t k = dbl.next++;
    len = dbl.lens[k] ? dbl.lens[k] - 1 : 0;
    mode = dbl.lens[k] ? (unsigned char)dbl.parts[k][0] : 0;
    body = malloc(len + 1);
    if (body && len) memcpy(body, dbl.parts[k] + 1, len);
  }
  pthread_mutex_unlock(&dbl.mu);
  char head[256];
  if (mode < 0 || !body) {
    const char *s = "{\"kind\":\"Status\",\"code\":403,\"message\":\"the script is over\"}";
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n", strlen(s));
    dbl_write(fd, head, (size_t)n);
    dbl_write(fd, s, strlen(s));
    free(body);
    return;
  }
  int n;
  switch (mode % 4) {
  case 1: n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", len); break;
  case 2: n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", len + 10); break;
  case 3: n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"); break;
  default: n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"); break;
  }
  dbl_write(fd, head, (size_t)n);
  size_t piece = 1 + (size_t)(mode >> 2) % 64;
  for (size_t at = 0; at < len; at += piece) {
    size_t k = len - at < piece ? len - at : piece;
    if (mode % 4 == 3) {
      char ch[32];
      int c = snprintf(ch, sizeof ch, "%zx\r\n", k);
      dbl_write(fd, ch, (size_t)c);
    }
    dbl_write(fd, body + at, k);
    if (mode % 4 == 3) dbl_write(fd, "\r\n", 2);
  }
  if (mode % 4 == 3) dbl_write(fd, "0\r\n\r\n", 5);
  free(body);
}

static void *dbl_thread(void *arg) {
  (void)arg;
  for (;;) {
    int c = accept(dbl.fd, NULL, NULL);
    if (c < 0) continue;
    dbl_serve(c);
    shutdown(c, SHUT_WR);
    close(c);
  }
  return NULL;
}

/* Starts the server once per process. Returns 0, or -1. */
static int dbl_start(void) {
  if (dbl.fd >= 0) return 0;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &al) != 0)
    return -1;
  dbl.fd = fd;
  dbl.port = ntohs(a.sin_port);
  pthread_t t;
  if (pthread_create(&t, NULL, dbl_thread, NULL) != 0) return -1;
  pthread_detach(t);
  return 0;
}

/* Loads the responses of one input (copies). */
static void dbl_script(const uint8_t *data, size_t size) {
  pthread_mutex_lock(&dbl.mu);
  fuzz_free_parts(dbl.parts, dbl.n);
  dbl.n = 0;
  dbl.next = 0;
  /* count the parts: as many as the separators say, up to the maximum */
  size_t n = 1;
  for (const uint8_t *p = data, *end = data + size; n < DOUBLE_MAX_RESPONSES;) {
    const uint8_t *q = memmem(p, (size_t)(end - p), FUZZ_SEP, sizeof FUZZ_SEP - 1);
    if (!q) break;
    n++;
    p = q + sizeof FUZZ_SEP - 1;
  }
  if (fuzz_split(data, size, dbl.parts, dbl.lens, n) == 0) dbl.n = n;
  pthread_mutex_unlock(&dbl.mu);
}

/* A client of the double (no retries of its own beyond `retries`, no waits). */
static lunar_kube_client *dbl_client(lunar_loop *loop, int retries) {
  lunar_kube_config *cfg = calloc(1, sizeof *cfg);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", dbl.port);
  cfg->server = strdup(url);
  cfg->namespace = strdup("ci");
  cfg->source = strdup("fuzz");
  lunar_kube_options opt = {.qps = -1, .retry_limit = retries, .retry_backoff_max_ms = 1,
                            .timeout_ms = 2000, .connect_timeout_ms = 1000};
  lunar_kube_client *c = NULL;
  lunar_error err;
  if (lunar_kube_client_new(loop, cfg, &opt, &c, &err) != LUNAR_OK) {
    fprintf(stderr, "fuzz: no kube client: %s\n", err.msg);
    abort();
  }
  return c;
}

static lunar_loop *loop;
static lunar_kube_client *client;

/* Both stream targets: the double, a loop and a client that does not retry
 * (a retry waits at least 500 ms: the fuzz loop would crawl). */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  lunar_error err;
  if (dbl_start() || lunar_loop_new(&loop, &err)) abort();
  client = dbl_client(loop, 1);
  return 0;
}

/* Runs the loop until *done is set. */
static void dbl_run(lunar_loop *loop, const int *done) {
  lunar_error err;
  while (!*done)
    if (lunar_loop_run_once(loop, 100, &err) != LUNAR_OK) {
      fprintf(stderr, "fuzz: loop: %s\n", err.msg);
      abort();
    }
}

#endif
