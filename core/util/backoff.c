#include "util/backoff.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define DAY_MS 86400000L

long lunar_backoff_delay(long base_ms, long max_ms, int attempt, unsigned rnd) {
  long d = base_ms;
  for (int i = 1; i < attempt && d < max_ms; i++) d *= 2;
  if (d > max_ms) d = max_ms;
  long half = d / 2;
  return half + (long)(rnd % (unsigned long)(d - half + 1));
}

unsigned lunar_backoff_seed(const void *salt) {
  return (unsigned)time(NULL) ^ (unsigned)getpid() * 2654435761u ^ (unsigned)(uintptr_t)salt;
}

unsigned lunar_backoff_next(unsigned *state) {
  *state = *state * 1103515245u + 12345u;
  return *state >> 8;
}

long lunar_backoff_header_ms(const char *value, time_t now) {
  if (!value) return -1;
  while (*value == ' ' || *value == '\t') value++;
  if (!*value) return -1;
  if (*value >= '0' && *value <= '9') {
    char *end;
    double secs = strtod(value, &end);
    while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n') end++;
    if (*end || secs < 0) return -1;
    if (secs > DAY_MS / 1000) secs = DAY_MS / 1000;
    return (long)(secs * 1000);
  }
  time_t at = curl_getdate(value, NULL);
  if (at == (time_t)-1) return -1;
  if (at <= now) return 0;
  return at - now > DAY_MS / 1000 ? DAY_MS : (long)(at - now) * 1000;
}
