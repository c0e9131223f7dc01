/* The pods/log stream (kube/logs.c over kube/client.c's line splitting):
 * timestamps, over-long lines, dropped and chunked streams, served by
 * a scripted loopback server; and lunar_kube_parse_time on each line's head. */
#include "kube/logs.h"
#include "stream_double.h"

typedef struct state {
  int done;
  long lines;
} state;

static int on_line(const char *line, size_t len, const char *ts, void *ud) {
  state *s = ud;
  if (line[len] != '\0' || strlen(ts) > 63) abort();
  return ++s->lines > 100000;
}

static void on_end(int rc, const lunar_error *err, void *ud) {
  (void)rc, (void)err;
  ((state *)ud)->done = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  long long sec;
  long nsec;
  const uint8_t *sp = memchr(data, ' ', size);
  (void)lunar_kube_parse_time((const char *)data, sp ? (size_t)(sp - data) : size, &sec, &nsec);

  dbl_script(data, size);
  state s = {0};
  lunar_kube_logs *l = NULL;
  lunar_error err;
  lunar_kube_logs_opts o = {.container = "build", .follow = 1};
  if (lunar_kube_logs_start(client, "ci", "job-1", &o, on_line, on_end, &s, &l, &err) != LUNAR_OK)
    abort();
  dbl_run(loop, &s.done);
  return 0;
}
