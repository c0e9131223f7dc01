/* Messages for failed Kubernetes API requests that name the fix.
 *
 * Each message says what was attempted and on what ("create pods \"job-1\" in
 * namespace \"ci\""), what went wrong (with the server's Status message when
 * there is one), and what to change: a setting, a credential, an RBAC rule.
 */
#ifndef LUNAR_KUBE_EXPLAIN_H
#define LUNAR_KUBE_EXPLAIN_H

#include <jansson.h>
#include <stddef.h>

#include "kube/connection.h"
#include "util/error.h"

/* What a request acts on, for messages and RBAC hints. Strings borrowed;
 * NULL when not applicable. */
typedef struct lunar_kube_target {
  const char *verb;        /* RBAC verb: "create", "get", "list", "watch", "delete", "patch" */
  const char *group;       /* API group, "" or NULL for the core group */
  const char *resource;    /* "pods", "secrets", ... */
  const char *subresource; /* "log" or NULL */
  const char *namespace;   /* NULL for cluster-scoped requests */
  const char *name;        /* NULL for collections */
} lunar_kube_target;

/* Writes e.g. `create pods "job-1" in namespace "ci"` into buf. */
void lunar_kube_describe(const lunar_kube_target *t, char *buf, size_t size);

/* A request that got no usable response: `curl_code` is the CURLcode and
 * `detail` libcurl's message. Returns LUNAR_EIO. */
int lunar_kube_explain_transport(lunar_error *err, const lunar_kube_target *t,
                                 const lunar_kube_config *cfg, int curl_code, const char *detail,
                                 long timeout_ms, int attempts);

/* A request the server answered with an error status; `body` is the parsed
 * response (a Status object, or NULL). Returns LUNAR_ENOTFOUND for 404 and
 * LUNAR_EIO otherwise. */
int lunar_kube_explain_status(lunar_error *err, const lunar_kube_target *t,
                              const lunar_kube_config *cfg, long status, const json_t *body,
                              int attempts);

#endif
