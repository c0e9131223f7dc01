/* A minimal HTTP/1.x server on the runner's loop for /metrics and /healthz
 * (listen_address). GET only, one request per connection, answers at once;
 * at most LUNAR_SERVER_CLIENTS connections, each closed after 5 s without a
 * whole request. Not a general web server: a scraper and a probe are its
 * only clients.
 */
#ifndef LUNAR_METRICS_SERVER_H
#define LUNAR_METRICS_SERVER_H

#include "loop/loop.h"
#include "metrics/metrics.h"
#include "util/error.h"

#define LUNAR_SERVER_CLIENTS 16

typedef struct lunar_server lunar_server;

/* Writes the answer for `path` into body, sets *content_type (static
 * string), returns the HTTP status. */
typedef int (*lunar_server_fn)(const char *path, lunar_buf *body, const char **content_type, void *ud);

/* Listens on `address` ("host:port", ":port", "[v6]:port"; port 0 picks one).
 * Writes the bound "host:port" into bound. *out belongs to the caller.
 * Errors: LUNAR_EINVAL (a malformed address), LUNAR_EIO (cannot bind: the
 * message names the address and the reason), LUNAR_ENOMEM. */
int lunar_server_start(lunar_loop *loop, const char *address, lunar_server_fn fn, void *ud,
                       lunar_server **out, char *bound, size_t bound_size, lunar_error *err);

/* Closes the listening socket and every connection. NULL-safe. */
void lunar_server_free(lunar_server *s);

#endif
