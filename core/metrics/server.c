#include "metrics/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQUEST_MAX 8192

typedef struct client {
  lunar_server *s;
  int fd;
  size_t len;
  char buf[REQUEST_MAX + 1];
  lunar_loop_timer *timer;
} client;

struct lunar_server {
  lunar_loop *loop;
  int fd;
  lunar_server_fn fn;
  void *ud;
  client *clients[LUNAR_SERVER_CLIENTS];
};

static void drop(client *c) {
  lunar_server *s = c->s;
  lunar_loop_unwatch_fd(s->loop, c->fd);
  lunar_loop_timer_stop(s->loop, c->timer);
  close(c->fd);
  for (int i = 0; i < LUNAR_SERVER_CLIENTS; i++)
    if (s->clients[i] == c) s->clients[i] = NULL;
  free(c);
}

static void on_idle(lunar_loop *loop, void *ud) {
  (void)loop;
  client *c = ud;
  c->timer = NULL;
  drop(c);
}

static const char *reason(int status) {
  switch (status) {
  case 200: return "OK";
  case 400: return "Bad Request";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 503: return "Service Unavailable";
  default: return "Error";
  }
}

/* Small answers fit the socket buffer: one blocking send, bounded by a timeout. */
static void answer(client *c, int status, const char *ctype, const char *body, size_t len) {
  char head[256];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                   status, reason(status), ctype, len);
  int flags = fcntl(c->fd, F_GETFL);
  fcntl(c->fd, F_SETFL, flags & ~O_NONBLOCK);
  struct timeval tv = {.tv_sec = 1};
  setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (send(c->fd, head, (size_t)n, MSG_NOSIGNAL) == n && len) {
    size_t off = 0;
    while (off < len) {
      ssize_t k = send(c->fd, body + off, len - off, MSG_NOSIGNAL);
      if (k <= 0) break;
      off += (size_t)k;
    }
  }
}

static void serve(client *c) {
  char method[16], path[1024];
  if (sscanf(c->buf, "%15s %1023s HTTP/1.", method, path) != 2) {
    answer(c, 400, "text/plain", "bad request\n", 12);
    return;
  }
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
    answer(c, 405, "text/plain", "GET only\n", 9);
    return;
  }
  char *q = strchr(path, '?');
  if (q) *q = '\0';
  lunar_buf body = {0};
  const char *ctype = "text/plain; charset=utf-8";
  int status = c->s->fn(path, &body, &ctype, c->s->ud);
  if (body.failed) status = 503;
  answer(c, status, ctype, strcmp(method, "HEAD") ? body.data : NULL,
         strcmp(method, "HEAD") ? body.len : 0);
  lunar_buf_free(&body);
}

static void on_client(lunar_loop *loop, int fd, void *ud) {
  (void)loop;
  (void)fd;
  client *c = ud;
  ssize_t n = recv(c->fd, c->buf + c->len, REQUEST_MAX - c->len, 0);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    drop(c);
    return;
  }
  c->len += (size_t)n;
  c->buf[c->len] = '\0';
  if (strstr(c->buf, "\r\n\r\n") || strstr(c->buf, "\n\n")) {
    serve(c);
    drop(c);
  } else if (c->len >= REQUEST_MAX) {
    answer(c, 400, "text/plain", "request too large\n", 18);
    drop(c);
  }
}

static void on_accept(lunar_loop *loop, int fd, void *ud) {
  lunar_server *s = ud;
  int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (cfd < 0) return;
  int slot = -1;
  for (int i = 0; i < LUNAR_SERVER_CLIENTS && slot < 0; i++)
    if (!s->clients[i]) slot = i;
  client *c = slot >= 0 ? calloc(1, sizeof *c) : NULL;
  if (!c) {
    close(cfd); /* busy: the scraper tries again */
    return;
  }
  c->s = s;
  c->fd = cfd;
  if (lunar_loop_watch_fd(loop, cfd, on_client, c, NULL) != LUNAR_OK) {
    close(cfd);
    free(c);
    return;
  }
  s->clients[slot] = c;
  c->timer = lunar_loop_timer_start(loop, 5000, on_idle, c);
}

int lunar_server_start(lunar_loop *loop, const char *address, lunar_server_fn fn, void *ud,
                       lunar_server **out, char *bound, size_t bound_size, lunar_error *err) {
  *out = NULL;
  char host[256] = "", port[16] = "";
  const char *colon = strrchr(address, ':');
  if (!colon || !colon[1] || strlen(colon + 1) >= sizeof port || (size_t)(colon - address) >= sizeof host)
    return lunar_error_set(err, LUNAR_EINVAL,
                           "listen_address \"%s\": expected host:port (e.g. \"0.0.0.0:9252\" or \":9252\")",
                           address);
  memcpy(host, address, (size_t)(colon - address));
  strcpy(port, colon + 1);
  if (host[0] == '[') { /* [v6] */
    size_t l = strlen(host);
    if (host[l - 1] != ']')
      return lunar_error_set(err, LUNAR_EINVAL, "listen_address \"%s\": unbalanced [ ]", address);
    memmove(host, host + 1, l - 2);
    host[l - 2] = '\0';
  }
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
  struct addrinfo *ai = NULL;
  int g = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
  if (g != 0)
    return lunar_error_set(err, LUNAR_EINVAL, "listen_address \"%s\": %s", address, gai_strerror(g));
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 16) != 0) {
    int e = errno;
    if (fd >= 0) close(fd);
    freeaddrinfo(ai);
    return lunar_error_set(err, LUNAR_EIO, "listen_address \"%s\": cannot listen: %s", address, strerror(e));
  }
  freeaddrinfo(ai);
  lunar_server *s = calloc(1, sizeof *s);
  if (!s) {
    close(fd);
    return lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  }
  s->loop = loop;
  s->fd = fd;
  s->fn = fn;
  s->ud = ud;
  int rc = lunar_loop_watch_fd(loop, fd, on_accept, s, err);
  if (rc != LUNAR_OK) {
    close(fd);
    free(s);
    return rc;
  }
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  char h[INET6_ADDRSTRLEN] = "?";
  int p = 0;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
    if (ss.ss_family == AF_INET) {
      struct sockaddr_in *a = (struct sockaddr_in *)&ss;
      inet_ntop(AF_INET, &a->sin_addr, h, sizeof h);
      p = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
      inet_ntop(AF_INET6, &a->sin6_addr, h, sizeof h);
      p = ntohs(a->sin6_port);
    }
  }
  snprintf(bound, bound_size, ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", h, p);
  *out = s;
  return LUNAR_OK;
}

void lunar_server_free(lunar_server *s) {
  if (!s) return;
  for (int i = 0; i < LUNAR_SERVER_CLIENTS; i++)
    if (s->clients[i]) drop(s->clients[i]);
  lunar_loop_unwatch_fd(s->loop, s->fd);
  close(s->fd);
  free(s);
}
