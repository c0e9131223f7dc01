/* Watching a collection, the way an informer does, with bounded memory.
 *
 * Without a starting resourceVersion the watch lists first (each item is
 * reported as ADDED) and then watches from the list's resourceVersion. Every
 * event moves the resourceVersion on, bookmarks included
 * (allowWatchBookmarks). When the stream ends or drops, the watch reconnects
 * from the last resourceVersion seen, so nothing is missed or repeated; when
 * the server answers 410 Gone (that version is compacted away), it lists
 * again and reports the difference: ADDED and MODIFIED for what is new or
 * changed, DELETED (with a stub object: name, namespace) for what vanished
 * meanwhile. Memory: one line buffer plus the name and resourceVersion of
 * each object seen.
 */
#ifndef LUNAR_KUBE_WATCH_H
#define LUNAR_KUBE_WATCH_H

#include "kube/client.h"

typedef struct lunar_kube_watch lunar_kube_watch;

/* One event: type "ADDED", "MODIFIED" or "DELETED", the object (borrowed for
 * the call). Return nonzero to stop the watch (it then ends with LUNAR_OK).
 * Runs on the loop: may submit requests, must not run the loop or stop this
 * watch. */
typedef int (*lunar_kube_event_fn)(const char *type, json_t *object, void *ud);

/* Called once when the watch ends by itself: stopped by the event callback
 * (rc LUNAR_OK) or failed for good (rc < 0, err says why). `resource_version`
 * (borrowed) is the last one seen, to resume from later. */
typedef void (*lunar_kube_watch_end_fn)(int rc, const char *resource_version,
                                        const lunar_error *err, void *ud);

typedef struct lunar_kube_watch_opts {
  const char *label_selector, *field_selector; /* NULL: none */
  const char *resource_version; /* NULL or "": list first */
  long server_timeout_s;        /* timeoutSeconds of each watch request; 0: 300 */
  /* NULL, or members of each watch event not to parse (json/skim.h paths
   * such as "object.spec"; borrowed for the watch's life). Objects from a
   * list keep them. */
  const char *const *skip;
} lunar_kube_watch_opts;

/* Starts watching `resource` in ns. *out (borrowed) is valid until on_end is
 * called or lunar_kube_watch_stop. Errors: LUNAR_EINVAL, LUNAR_ENOMEM. */
int lunar_kube_watch_start(lunar_kube_client *c, const char *resource, const char *ns,
                           const lunar_kube_watch_opts *opts, lunar_kube_event_fn on_event,
                           lunar_kube_watch_end_fn on_end, void *ud, lunar_kube_watch **out,
                           lunar_error *err);

/* Stops without calling back. NULL-safe. Not from inside its own on_event. */
void lunar_kube_watch_stop(lunar_kube_watch *w);

/* The last resourceVersion seen (borrowed; "" before the first). */
const char *lunar_kube_watch_resource_version(const lunar_kube_watch *w);

/* How often the watch listed (the first list included) and reconnected. */
void lunar_kube_watch_stats(const lunar_kube_watch *w, long *lists, long *reconnects);

#endif
