/* The job trace: masking of secrets, token prefixes and URL parameters, UTF-8
 * repair and the output limit, over log bytes from the API server.
 * Input: masked values (one a line) FUZZ_SEP token prefixes (one a line)
 * FUZZ_SEP log bytes. The log is written whole into one trace and in pieces
 * (cut where the input's hash says) into another: both must store the same
 * bytes, and the CRC must be that of the stored bytes. */
#include "fuzz.h"
#include "trace/trace.h"
#include "util/crc32.h"

static size_t lines(char *s, const char **out, size_t max) {
  size_t n = 0;
  for (char *p = s; n < max;) {
    char *nl = strchr(p, '\n');
    out[n++] = p;
    if (!nl) break;
    *nl = '\0';
    p = nl + 1;
  }
  return n;
}

static lunar_trace *make(const lunar_trace_options *o) {
  lunar_trace *t = NULL;
  lunar_error err;
  if (lunar_trace_new(o, &t, &err) != LUNAR_OK) abort();
  return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *parts[3];
  size_t lens[3];
  if (fuzz_split(data, size, parts, lens, 3)) return 0;
  const char *masked[32], *prefixes[32];
  lunar_trace_options o = {0};
  o.masked = masked;
  o.n_masked = lines(parts[0], masked, 32);
  o.token_prefixes = prefixes;
  o.n_token_prefixes = lens[1] ? lines(parts[1], prefixes, 32) : 0;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 1099511628211ull;
  if (h % 3 == 0) o.limit = 16 + (size_t)(h >> 8) % 256; /* reach the output limit */

  lunar_trace *whole = make(&o), *cut = make(&o);
  const char *log = parts[2];
  size_t n = lens[2];
  lunar_trace_write(whole, log, n);
  lunar_trace_flush(whole);
  for (size_t at = 0; at < n;) {
    size_t k = 1 + (size_t)(h >> 17) % 7;
    h = h * 6364136223846793005ull + 1442695040888963407ull;
    if (k > n - at) k = n - at;
    lunar_trace_write(cut, log + at, k);
    at += k;
  }
  lunar_trace_flush(cut);

  size_t n1, n2;
  const char *d1 = lunar_trace_data(whole, 0, &n1), *d2 = lunar_trace_data(cut, 0, &n2);
  if (n1 != n2 || (n1 && memcmp(d1, d2, n1) != 0)) {
    fprintf(stderr, "the trace depends on how the log was cut:\n  whole: %.*s\n  cut:   %.*s\n",
            (int)n1, d1 ? d1 : "", (int)n2, d2 ? d2 : "");
    abort();
  }
  uint32_t crc;
  if (lunar_trace_crc32(whole, &crc) != 0 || crc != lunar_crc32_update(0, d1, n1)) {
    fprintf(stderr, "the trace CRC is not that of its bytes\n");
    abort();
  }
  lunar_trace_free(whole);
  lunar_trace_free(cut);
  fuzz_free_parts(parts, 3);
  return 0;
}
