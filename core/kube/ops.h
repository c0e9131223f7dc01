/* The Kubernetes API operations lunar's lifecycle needs, on top of
 * lunar_kube_submit: get, list (label and field selectors), create (a 409
 * AlreadyExists reads the object and accepts it when it carries the labels
 * sent: a retry, lunar's or libcurl's own resend on a dead keep-alive
 * connection, may meet what its lost first attempt created), delete (grace period,
 * propagation policy), merge patch, the server version and
 * SelfSubjectAccessReview. Watch and logs are in kube/watch.h and kube/logs.h.
 *
 * Every function submits one request (create: up to two) and reports through
 * `done` like lunar_kube_submit; *out (may be NULL) is the call to cancel.
 * Resources: pods, secrets, events, configmaps, serviceaccounts, services,
 * persistentvolumeclaims, namespaces, poddisruptionbudgets, and
 * selfsubjectaccessreviews; other names are LUNAR_EINVAL.
 */
#ifndef LUNAR_KUBE_OPS_H
#define LUNAR_KUBE_OPS_H

#include "kube/client.h"

/* Writes the URL path of `t` (its group/version are looked up from the
 * resource) and appends `query` ("a=b&c=d", already escaped; may be NULL).
 * Fills t->group. Errors: LUNAR_EINVAL (unknown resource, too long). */
int lunar_kube_path(lunar_kube_target *t, const char *query, char *buf, size_t size,
                    lunar_error *err);

/* Appends "&key=<escaped value>" (or "key=..." at the start) to a query. */
void lunar_kube_query_add(char *query, size_t size, const char *key, const char *value);

int lunar_kube_get(lunar_kube_client *c, const char *resource, const char *ns, const char *name,
                   lunar_kube_done_fn done, void *ud, lunar_kube_call **out, lunar_error *err);

/* selectors may be NULL. */
int lunar_kube_list(lunar_kube_client *c, const char *resource, const char *ns,
                    const char *label_selector, const char *field_selector,
                    lunar_kube_done_fn done, void *ud, lunar_kube_call **out, lunar_error *err);

/* `obj` is borrowed. *out is always NULL: a create cannot be cancelled (it may
 * go on with a GET after a conflict). */
int lunar_kube_create(lunar_kube_client *c, const char *resource, const char *ns, json_t *obj,
                      lunar_kube_done_fn done, void *ud, lunar_kube_call **out,
                      lunar_error *err);

/* grace_seconds < 0: the object's default; propagation NULL: the server's
 * ("Background", "Foreground", "Orphan"). */
int lunar_kube_delete(lunar_kube_client *c, const char *resource, const char *ns,
                      const char *name, long grace_seconds, const char *propagation,
                      lunar_kube_done_fn done, void *ud, lunar_kube_call **out, lunar_error *err);

/* An RFC 7386 merge patch (application/merge-patch+json), e.g. to set
 * metadata.ownerReferences. `patch` is borrowed. */
int lunar_kube_patch(lunar_kube_client *c, const char *resource, const char *ns,
                     const char *name, json_t *patch, lunar_kube_done_fn done, void *ud,
                     lunar_kube_call **out, lunar_error *err);

/* GET /version. */
int lunar_kube_version(lunar_kube_client *c, lunar_kube_done_fn done, void *ud,
                       lunar_kube_call **out, lunar_error *err);

/* POST a SelfSubjectAccessReview for `verb` on group/resource/subresource in
 * ns (NULL: cluster) and name (may be NULL); the answer is res->body.status
 * (allowed, reason). */
int lunar_kube_access_review(lunar_kube_client *c, const char *verb, const char *group,
                             const char *resource, const char *subresource, const char *ns,
                             const char *name, lunar_kube_done_fn done, void *ud,
                             lunar_kube_call **out, lunar_error *err);

#endif
