/* The event loop: one libcurl multi handle, one epoll set, one list of timers.
 *
 * Everything lunar does over the network is an easy handle on this multi
 * handle; everything that waits (backoff, rate limits, poll intervals) is a
 * timer. Nothing blocks except lunar_loop_run_once, which sleeps in
 * epoll_wait until a socket is ready or the next timer (ours or libcurl's) is
 * due. Single-threaded: every function here must be called on the loop's
 * thread.
 *
 * Callbacks (transfer done, timer fired, and libcurl's own write/header
 * callbacks of the transfers) run inside lunar_loop_run_once. They may add and
 * remove transfers and start and stop timers: changes made while libcurl is
 * inside a callback are applied as soon as it returns. They must not run the
 * loop themselves (lunar_loop_run_once returns LUNAR_EINVAL when nested).
 *
 * HTTP/2: the multi handle multiplexes (CURLPIPE_MULTIPLEX), so transfers that
 * ask for HTTP/2 (CURL_HTTP_VERSION_2TLS) share one connection per server.
 */
#ifndef LUNAR_LOOP_LOOP_H
#define LUNAR_LOOP_LOOP_H

#include <curl/curl.h>

#include "util/error.h"

typedef struct lunar_loop lunar_loop;
typedef struct lunar_loop_timer lunar_loop_timer;

/* Called once when a transfer ends (`result` is libcurl's code; the HTTP
 * status is in the easy handle). The easy handle has been removed from the
 * multi handle and belongs to the caller again. */
typedef void (*lunar_loop_done_fn)(lunar_loop *loop, CURL *easy, CURLcode result, void *ud);

/* Called once when a timer is due. The timer is freed right after the call
 * returns: forget the handle inside the callback. */
typedef void (*lunar_loop_timer_fn)(lunar_loop *loop, void *ud);

/* Creates a loop. *out belongs to the caller (lunar_loop_free). Initializes
 * libcurl globally on first use. Errors: LUNAR_ENOMEM, LUNAR_EIO. */
int lunar_loop_new(lunar_loop **out, lunar_error *err);

/* Frees the loop, its timers (without calling them) and the multi handle.
 * Transfers still added are detached without their done callback; their easy
 * handles stay with their owners. NULL-safe. */
void lunar_loop_free(lunar_loop *loop);

/* The multi handle (borrowed), for options such as connection limits. The
 * loop owns CURLMOPT_SOCKETFUNCTION, CURLMOPT_TIMERFUNCTION and their data. */
CURLM *lunar_loop_multi(lunar_loop *loop);

/* Starts `easy` (owned by the caller, who must keep it alive until `done` or
 * lunar_loop_remove). The loop owns the handle's CURLOPT_PRIVATE and sets its
 * CURLOPT_SHARE (TLS sessions and DNS of all transfers): clean the handle up
 * before freeing the loop.
 * Errors: LUNAR_ENOMEM, LUNAR_EIO (libcurl refused the handle). */
int lunar_loop_add(lunar_loop *loop, CURL *easy, lunar_loop_done_fn done, void *ud,
                   lunar_error *err);

/* Stops a transfer without calling its done callback. After this returns
 * libcurl no longer calls the handle's callbacks, and the caller may free it
 * with curl_easy_cleanup... except from inside one of that handle's own
 * libcurl callbacks: there, return an error from the callback instead.
 * Does nothing if `easy` is not in the loop. */
void lunar_loop_remove(lunar_loop *loop, CURL *easy);

/* Calls fn(loop, ud) once, `delay_ms` from now (0: at the end of the current
 * or next iteration). Returns the timer (borrowed; valid until it fires or is
 * stopped), or NULL when out of memory. */
lunar_loop_timer *lunar_loop_timer_start(lunar_loop *loop, long delay_ms, lunar_loop_timer_fn fn,
                                         void *ud);

/* Cancels a timer that has not fired yet. NULL-safe. */
void lunar_loop_timer_stop(lunar_loop *loop, lunar_loop_timer *timer);

/* Milliseconds on a monotonic clock (not wall time). */
long long lunar_loop_now(void);

/* One iteration: waits at most `max_wait_ms` (0: do not wait; negative: until
 * something happens) for sockets and timers, then drives the ready transfers,
 * reports finished ones and fires due timers. Returns LUNAR_OK, or
 * LUNAR_EINVAL when called from inside a loop callback, or LUNAR_EIO when the
 * poller fails. */
int lunar_loop_run_once(lunar_loop *loop, long max_wait_ms, lunar_error *err);

/* 1 while libcurl is running one of its callbacks (write, header...), when
 * memory those callbacks use must not be freed yet; 0 otherwise. */
int lunar_loop_busy(const lunar_loop *loop);

/* How many transfers and timers are pending. With none, run_once would only
 * sleep. */
int lunar_loop_pending(const lunar_loop *loop);

#endif
