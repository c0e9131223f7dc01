/* One synchronous HTTP request through libcurl's easy interface, for the
 * command line only (`lunar doctor` verifying the runner token with GitLab).
 * The runner itself never blocks: its requests go through core/loop. The Lua
 * face (lunar.http) is bind/http.c.
 */
#ifndef LUNAR_UTIL_HTTP_H
#define LUNAR_UTIL_HTTP_H

#include <stddef.h>

#include "util/error.h"

typedef struct lunar_http_request {
  const char *method;       /* "GET", "POST", ... */
  const char *url;
  const char *content_type; /* of body; NULL: none */
  const char *body;         /* NULL: no body */
  size_t body_len;
  const char *ca_file;      /* NULL: the system's CA bundle */
  long timeout_ms;          /* whole request; <= 0: 30 s */
} lunar_http_request;

/* Sends `req` and waits for the answer. On LUNAR_OK, *status is the HTTP
 * status and *body a NUL-terminated response body (*body_len bytes) that the
 * caller frees with free(). Returns LUNAR_EIO when no response came (the
 * message says what libcurl saw: refused, timed out, certificate not trusted)
 * or LUNAR_ENOMEM; *body is NULL then. */
int lunar_http_send(const lunar_http_request *req, long *status, char **body, size_t *body_len,
                    lunar_error *err);

#endif
