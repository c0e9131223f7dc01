/* What the Pod watch pays per event: parsing a whole Pod (jansson) against
 * dropping its spec and managedFields first (json/skim.c, what the runner's
 * watch does) and parsing the rest. Prints µs of CPU time per event.
 * usage: lunar_bench_watch_event EVENT.json [N]   (bench/watch_event.lua writes one) */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "json/skim.h"

static const char *const SKIP[] = {"object.spec", "object.metadata.managedFields", NULL};

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: lunar_bench_watch_event EVENT.json [N]\n");
    return 2;
  }
  long n = argc > 2 ? atol(argv[2]) : 20000;
  FILE *f = fopen(argv[1], "rb");
  if (!f) {
    perror(argv[1]);
    return 1;
  }
  static char text[1 << 20], skimmed[1 << 20];
  size_t len = fread(text, 1, sizeof text, f);
  fclose(f);
  size_t kept = lunar_json_skim(text, len, skimmed, SKIP);
  if (kept == (size_t)-1) {
    fprintf(stderr, "%s: cannot be scanned\n", argv[1]);
    return 1;
  }
  for (int skim = 0; skim < 2; skim++) {
    double t0 = cpu_now();
    for (long i = 0; i < n; i++) {
      const char *p = text;
      size_t l = len;
      if (skim) {
        l = lunar_json_skim(text, len, skimmed, SKIP);
        p = skimmed;
      }
      json_t *ev = json_loadb(p, l, 0, NULL);
      if (!ev) return 1;
      json_decref(ev);
    }
    printf("%-28s %6.1f µs per event (%zu bytes parsed)\n", skim ? "skim spec+managedFields, parse" : "parse the whole event",
           (cpu_now() - t0) / (double)n * 1e6, skim ? kept : len);
  }
  return 0;
}
