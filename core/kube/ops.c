#include "kube/ops.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct resource_info {
  const char *resource, *group, *version;
  int namespaced;
} resource_info;

static const resource_info resources[] = {
    {"pods", "", "v1", 1},
    {"secrets", "", "v1", 1},
    {"events", "", "v1", 1},
    {"configmaps", "", "v1", 1},
    {"serviceaccounts", "", "v1", 1},
    {"services", "", "v1", 1},
    {"persistentvolumeclaims", "", "v1", 1},
    {"namespaces", "", "v1", 0},
    {"poddisruptionbudgets", "policy", "v1", 1},
    {"selfsubjectaccessreviews", "authorization.k8s.io", "v1", 0},
    {"selfsubjectreviews", "authentication.k8s.io", "v1", 0},
};

int lunar_kube_path(lunar_kube_target *t, const char *query, char *buf, size_t size,
                    lunar_error *err) {
  const resource_info *ri = NULL;
  for (size_t i = 0; i < sizeof resources / sizeof resources[0]; i++)
    if (t->resource && strcmp(resources[i].resource, t->resource) == 0) ri = &resources[i];
  if (!ri)
    return lunar_error_set(err, LUNAR_EINVAL,
                           "kubernetes: resource \"%s\" is not supported (use pods, secrets, "
                           "events, configmaps, serviceaccounts, services, persistentvolumeclaims, "
                           "namespaces, poddisruptionbudgets)",
                           t->resource ? t->resource : "");
  t->group = ri->group;
  if (!ri->namespaced) t->namespace = NULL;
  char *ename = t->name ? curl_easy_escape(NULL, t->name, 0) : NULL;
  char *ens = t->namespace ? curl_easy_escape(NULL, t->namespace, 0) : NULL;
  int n;
  if (*ri->group) n = snprintf(buf, size, "/apis/%s/%s", ri->group, ri->version);
  else n = snprintf(buf, size, "/api/%s", ri->version);
  if (ens) n += snprintf(buf + n, size - (size_t)n, "/namespaces/%s", ens);
  n += snprintf(buf + n, size - (size_t)n, "/%s", ri->resource);
  if (ename) n += snprintf(buf + n, size - (size_t)n, "/%s", ename);
  if (ename && t->subresource) n += snprintf(buf + n, size - (size_t)n, "/%s", t->subresource);
  if (query && *query) n += snprintf(buf + n, size - (size_t)n, "?%s", query);
  curl_free(ename);
  curl_free(ens);
  if (n < 0 || (size_t)n >= size)
    return lunar_error_set(err, LUNAR_EINVAL, "kubernetes: request path too long");
  return LUNAR_OK;
}

void lunar_kube_query_add(char *query, size_t size, const char *key, const char *value) {
  char *ev = curl_easy_escape(NULL, value, 0);
  size_t n = strlen(query);
  if (ev) snprintf(query + n, size - n, "%s%s=%s", n ? "&" : "", key, ev);
  curl_free(ev);
}

/* Submits method `method` on target t with optional body and query. */
static int simple(lunar_kube_client *c, const char *method, lunar_kube_target t, const char *query,
                  json_t *body, const char *ctype, lunar_kube_done_fn done, void *ud,
                  lunar_kube_call **out, lunar_error *err) {
  char path[4096];
  lunar_kube_target at = t; /* a create posts to the collection; t names the object */
  if (strcmp(method, "POST") == 0) at.name = NULL;
  int rc = lunar_kube_path(&at, query, path, sizeof path, err);
  if (rc) return rc;
  t.group = at.group;
  t.namespace = at.namespace;
  lunar_kube_request req = {.method = method, .path = path, .body = body,
                            .content_type = ctype, .target = t};
  return lunar_kube_submit(c, &req, done, ud, out, err);
}

int lunar_kube_get(lunar_kube_client *c, const char *resource, const char *ns, const char *name,
                   lunar_kube_done_fn done, void *ud, lunar_kube_call **out, lunar_error *err) {
  lunar_kube_target t = {.verb = "get", .resource = resource, .namespace = ns, .name = name};
  return simple(c, "GET", t, NULL, NULL, NULL, done, ud, out, err);
}

int lunar_kube_list(lunar_kube_client *c, const char *resource, const char *ns,
                    const char *label_selector, const char *field_selector,
                    lunar_kube_done_fn done, void *ud, lunar_kube_call **out, lunar_error *err) {
  char q[2048] = "";
  if (label_selector && *label_selector) lunar_kube_query_add(q, sizeof q, "labelSelector", label_selector);
  if (field_selector && *field_selector) lunar_kube_query_add(q, sizeof q, "fieldSelector", field_selector);
  lunar_kube_target t = {.verb = "list", .resource = resource, .namespace = ns};
  return simple(c, "GET", t, q, NULL, NULL, done, ud, out, err);
}

/* ---- create, with the lost-response rule ---------------------------------- */

typedef struct create_ctx {
  lunar_kube_client *c;
  char *resource, *ns, *name;
  json_t *labels; /* the labels sent, to recognize our own object */
  lunar_kube_done_fn done;
  void *ud;
  lunar_kube_response first; /* status/attempts of the create */
  lunar_error conflict;      /* the 409 message, if the object is not ours */
} create_ctx;

static void create_ctx_free(create_ctx *x) {
  free(x->resource);
  free(x->ns);
  free(x->name);
  json_decref(x->labels);
  free(x);
}

/* The object found after a 409: ours when it carries every label we sent. */
static void on_existing(int rc, const lunar_kube_response *res, const lunar_error *err, void *ud) {
  create_ctx *x = ud;
  if (rc == LUNAR_OK) {
    json_t *have = json_object_get(json_object_get(res->body, "metadata"), "labels");
    const char *k;
    json_t *v;
    int ours = json_object_size(x->labels) > 0;
    json_object_foreach(x->labels, k, v) {
      if (!json_equal(json_object_get(have, k), v)) ours = 0;
    }
    if (ours) {
      lunar_kube_response r = *res;
      r.attempts += x->first.attempts;
      x->done(LUNAR_OK, &r, NULL, x->ud);
    } else {
      if (x->first.attempts > 1)
        lunar_error_wrap(&x->conflict, "the existing object does not carry the labels sent, so it "
                                       "is not the one this create made");
      x->done(LUNAR_EIO, &x->first, &x->conflict, x->ud);
    }
  } else {
    x->done(rc, res, err, x->ud);
  }
  create_ctx_free(x);
}

static void on_created(int rc, const lunar_kube_response *res, const lunar_error *err, void *ud) {
  create_ctx *x = ud;
  const char *reason = json_string_value(json_object_get(res->body, "reason"));
  if (rc != LUNAR_OK && res->status == 409 && reason && strcmp(reason, "AlreadyExists") == 0 && x->name) {
    /* An earlier attempt may have created it and lost the response: ours or
     * libcurl's (it resends a request once, unseen, when a reused keep-alive
     * connection turns out to be closed). The labels tell. */
    x->first = *res;
    x->first.body = NULL;
    if (err) x->conflict = *err;
    lunar_error gerr;
    if (lunar_kube_get(x->c, x->resource, x->ns, x->name, on_existing, x, NULL, &gerr) == LUNAR_OK)
      return;
    x->done(gerr.code, res, &gerr, x->ud);
  } else {
    x->done(rc, res, err, x->ud);
  }
  create_ctx_free(x);
}

int lunar_kube_create(lunar_kube_client *c, const char *resource, const char *ns, json_t *obj,
                      lunar_kube_done_fn done, void *ud, lunar_kube_call **out,
                      lunar_error *err) {
  create_ctx *x = calloc(1, sizeof *x);
  if (!x) return lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  json_t *md = json_object_get(obj, "metadata");
  const char *name = json_string_value(json_object_get(md, "name"));
  x->c = c;
  x->resource = strdup(resource ? resource : "");
  x->ns = ns ? strdup(ns) : NULL;
  x->name = name ? strdup(name) : NULL;
  x->labels = json_deep_copy(json_object_get(md, "labels"));
  x->done = done;
  x->ud = ud;
  const char *gen = json_string_value(json_object_get(md, "generateName"));
  lunar_kube_target t = {.verb = "create", .resource = resource, .namespace = ns,
                         .name = name ? name : gen};
  if (out) *out = NULL;
  int rc = simple(c, "POST", t, NULL, obj, NULL, on_created, x, NULL, err);
  if (rc) create_ctx_free(x);
  return rc;
}

int lunar_kube_delete(lunar_kube_client *c, const char *resource, const char *ns,
                      const char *name, long grace_seconds, const char *propagation,
                      lunar_kube_done_fn done, void *ud, lunar_kube_call **out, lunar_error *err) {
  char q[256] = "", g[32];
  if (grace_seconds >= 0) {
    snprintf(g, sizeof g, "%ld", grace_seconds);
    lunar_kube_query_add(q, sizeof q, "gracePeriodSeconds", g);
  }
  if (propagation && *propagation) lunar_kube_query_add(q, sizeof q, "propagationPolicy", propagation);
  lunar_kube_target t = {.verb = "delete", .resource = resource, .namespace = ns, .name = name};
  return simple(c, "DELETE", t, q, NULL, NULL, done, ud, out, err);
}

int lunar_kube_patch(lunar_kube_client *c, const char *resource, const char *ns,
                     const char *name, json_t *patch, lunar_kube_done_fn done, void *ud,
                     lunar_kube_call **out, lunar_error *err) {
  lunar_kube_target t = {.verb = "patch", .resource = resource, .namespace = ns, .name = name};
  return simple(c, "PATCH", t, NULL, patch, "application/merge-patch+json", done, ud, out, err);
}

int lunar_kube_version(lunar_kube_client *c, lunar_kube_done_fn done, void *ud,
                       lunar_kube_call **out, lunar_error *err) {
  lunar_kube_request req = {.method = "GET", .path = "/version",
                            .target = {.verb = "get", .resource = "version"}};
  return lunar_kube_submit(c, &req, done, ud, out, err);
}

int lunar_kube_access_review(lunar_kube_client *c, const char *verb, const char *group,
                             const char *resource, const char *subresource, const char *ns,
                             const char *name, lunar_kube_done_fn done, void *ud,
                             lunar_kube_call **out, lunar_error *err) {
  json_t *ra = json_pack("{s:s, s:s, s:s}", "verb", verb ? verb : "", "group", group ? group : "",
                         "resource", resource ? resource : "");
  if (subresource) json_object_set_new(ra, "subresource", json_string(subresource));
  if (ns) json_object_set_new(ra, "namespace", json_string(ns));
  if (name) json_object_set_new(ra, "name", json_string(name));
  json_t *body = json_pack("{s:s, s:s, s:{s:o}}", "apiVersion", "authorization.k8s.io/v1", "kind",
                           "SelfSubjectAccessReview", "spec", "resourceAttributes", ra);
  if (!body) return lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  lunar_kube_target t = {.verb = "create", .resource = "selfsubjectaccessreviews"};
  int rc = simple(c, "POST", t, NULL, body, NULL, done, ud, out, err);
  json_decref(body);
  return rc;
}
