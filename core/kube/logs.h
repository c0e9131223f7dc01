/* Reading a container's log (pods/log), following it as it grows, across
 * dropped connections, without duplicating or losing lines.
 *
 * The log is always requested with timestamps. When a followed stream drops,
 * it is requested again with sinceTime set to the second of the last line
 * seen, and the lines already delivered (those before the last timestamp,
 * and as many as were delivered with exactly that timestamp) are skipped. A
 * partial line at the drop is not delivered; it comes again whole.
 * Memory: one line buffer (lines longer than LUNAR_KUBE_LOG_LINE_MAX are
 * delivered in pieces).
 */
#ifndef LUNAR_KUBE_LOGS_H
#define LUNAR_KUBE_LOGS_H

#include "kube/client.h"

#define LUNAR_KUBE_LOG_LINE_MAX (1L << 20)

typedef struct lunar_kube_logs lunar_kube_logs;

/* One line, without its timestamp and '\n' (`line` NUL-terminated, borrowed);
 * `timestamp` is the server's RFC 3339 time of the line (borrowed). Return
 * nonzero to stop. Runs on the loop: must not run the loop or stop this
 * reader. */
typedef int (*lunar_kube_log_fn)(const char *line, size_t len, const char *timestamp, void *ud);

/* Called once at the end: the log ended (the container stopped, or not
 * following) or the callback stopped it (rc LUNAR_OK), or it failed for good
 * (err). */
typedef void (*lunar_kube_logs_end_fn)(int rc, const lunar_error *err, void *ud);

typedef struct lunar_kube_logs_opts {
  const char *container;  /* NULL: the only container */
  int follow;
  const char *since_time; /* RFC 3339; NULL: from the start */
  long tail_lines;        /* > 0: only the last lines (first request only) */
} lunar_kube_logs_opts;

/* Errors: LUNAR_EINVAL, LUNAR_ENOMEM. *out is valid until on_end is called or
 * lunar_kube_logs_stop. */
int lunar_kube_logs_start(lunar_kube_client *c, const char *ns, const char *pod,
                          const lunar_kube_logs_opts *opts, lunar_kube_log_fn on_line,
                          lunar_kube_logs_end_fn on_end, void *ud, lunar_kube_logs **out,
                          lunar_error *err);

/* Stops without calling back. NULL-safe. Not from inside its own callback. */
void lunar_kube_logs_stop(lunar_kube_logs *l);

/* How many times the log was requested again after a drop. */
long lunar_kube_logs_reconnects(const lunar_kube_logs *l);

/* Parses an RFC 3339 time with optional fraction ("2024-05-01T10:00:00.5Z",
 * "...+02:00") into seconds since the epoch and nanoseconds. Returns 0, or -1
 * when malformed. */
int lunar_kube_parse_time(const char *s, size_t len, long long *sec, long *nsec);

#endif
