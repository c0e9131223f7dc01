/* The log path's own cost: log lines (as pods/log delivers them, one line at a
 * time) through the job trace (masking of 10 masked values and the token
 * prefixes, UTF-8 repair, output limit accounting, CRC-32), with the bytes
 * released as GitLab would accept them. Prints MB/s of CPU time on one core.
 * The network (curl, TLS) is not in it: see bench/lifecycle.lua for the
 * whole path against the doubles.
 * usage: lunar_bench_log_path [MB]   (default 200) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trace/trace.h"

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  long mb = argc > 1 ? atol(argv[1]) : 200;
  const char *masked[10] = {"s3cr3t-Pa55w0rd-xyz", "glcbt-64charslongtokenvalue0000", "AKIAIOSFODNN7EXAMPLE",
                            "hunter2hunter2", "postgres://app:pw@db/app", "correct-horse-battery",
                            "0123456789abcdef0123", "token-for-the-registry", "a-deploy-key-value",
                            "yet-another-secret-value"};
  lunar_trace_options o = {.limit = (size_t)1 << 40, .masked = masked, .n_masked = 10};
  lunar_trace *t = NULL;
  lunar_error err;
  if (lunar_trace_new(&o, &t, &err) != LUNAR_OK) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  /* a mix of build output: plain lines, a line with a masked value every 100 */
  char lines[100][128];
  for (int i = 0; i < 100; i++)
    snprintf(lines[i], sizeof lines[i], "[%04d] compiling src/module_%d.c -O2 -Wall%s%s", i, i,
             i == 50 ? " password=" : "", i == 50 ? masked[0] : " ...........................");
  size_t total = (size_t)mb << 20, done = 0;
  double t0 = cpu_now();
  for (long n = 0; done < total; n++) {
    const char *l = lines[n % 100];
    size_t len = strlen(l);
    lunar_trace_write(t, l, len);
    lunar_trace_write(t, "\n", 1);
    done += len + 1;
    if ((n & 1023) == 0) lunar_trace_release(t, lunar_trace_size(t)); /* GitLab took it */
  }
  lunar_trace_flush(t);
  double secs = cpu_now() - t0;
  printf("log path: %.0f MB/s on one core (%ld MB of log lines through masking, UTF-8 repair, CRC-32; budget: at least 100 MB/s)\n",
         (double)done / (1 << 20) / secs, mb);
  lunar_trace_free(t);
  return 0;
}
