/* How long to wait before trying again, shared by the Kubernetes and the
 * GitLab clients (and by anything that retries whole procedures):
 * exponential backoff with jitter, and the server's own "come back at"
 * headers (Retry-After, RateLimit-ResetTime).
 *
 * Pure functions: time and randomness are parameters, so they are
 * unit-tested without a server or a clock.
 */
#ifndef LUNAR_UTIL_BACKOFF_H
#define LUNAR_UTIL_BACKOFF_H

#include <time.h>

/* The wait after failed attempt `attempt` (1-based): base_ms doubled per
 * earlier attempt, capped at max_ms, then "equal jitter": a value between
 * half and all of it, picked by `rnd`. */
long lunar_backoff_delay(long base_ms, long max_ms, int attempt, unsigned rnd);

/* A seed for lunar_backoff_next, different per process and per `salt`. */
unsigned lunar_backoff_seed(const void *salt);

/* Advances *state and returns the next pseudo-random value (not for secrets). */
unsigned lunar_backoff_next(unsigned *state);

/* Parses a header that says when to come back: delay-seconds ("3", "1.5") or
 * an HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT", RFC 1123, relative to
 * `now`). Returns milliseconds (0 for a date in the past, at most one day),
 * or -1 when the value is missing or malformed. */
long lunar_backoff_header_ms(const char *value, time_t now);

#endif
