/* The watch stream of the API server (kube/watch.c over kube/client.c's line
 * splitting): events, bookmarks, ERROR/410 with a list in between, dropped
 * streams and reconnects, served by a scripted loopback server. */
#include "kube/watch.h"
#include "stream_double.h"

typedef struct state {
  int done, events;
} state;

static int on_event(const char *type, json_t *obj, void *ud) {
  state *s = ud;
  (void)type;
  char *text = json_dumps(obj, JSON_COMPACT);
  free(text);
  return ++s->events > 10000;
}

static void on_end(int rc, const char *rv, const lunar_error *err, void *ud) {
  (void)rc, (void)rv, (void)err;
  ((state *)ud)->done = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dbl_script(data, size);
  state s = {0};
  lunar_kube_watch *w = NULL;
  lunar_error err;
  lunar_kube_watch_opts o = {.resource_version = (size && data[0] % 2) ? "1" : NULL};
  if (lunar_kube_watch_start(client, "pods", "ci", &o, on_event, on_end, &s, &w, &err) != LUNAR_OK)
    abort();
  dbl_run(loop, &s.done);
  return 0;
}
