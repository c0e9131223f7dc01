#include "kube/explain.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

static int set(const char *s) { return s && *s; }

void lunar_kube_describe(const lunar_kube_target *t, char *buf, size_t size) {
  int n = snprintf(buf, size, "%s %s%s%s", t->verb ? t->verb : "request",
                   t->resource ? t->resource : "", set(t->subresource) ? "/" : "",
                   set(t->subresource) ? t->subresource : "");
  if (n < 0 || (size_t)n >= size) return;
  if (set(t->name)) n += snprintf(buf + n, size - (size_t)n, " \"%s\"", t->name);
  if (n < 0 || (size_t)n >= size) return;
  if (set(t->namespace)) snprintf(buf + n, size - (size_t)n, " in namespace \"%s\"", t->namespace);
}

/* "the CA in /x" or "the system's CA bundle", for TLS messages. */
static void trusted(const lunar_kube_config *cfg, char *buf, size_t size) {
  if (cfg->ca_file) snprintf(buf, size, "trusted CA: %s", cfg->ca_file);
  else if (cfg->ca_data) snprintf(buf, size, "trusted CA: certificate-authority-data of %s", cfg->source);
  else snprintf(buf, size, "trusted CA: the system's CA bundle");
}

int lunar_kube_explain_transport(lunar_error *err, const lunar_kube_target *t,
                                 const lunar_kube_config *cfg, int curl_code, const char *detail,
                                 long timeout_ms, int attempts) {
  char what[512], ca[600], tries[64] = "";
  lunar_kube_describe(t, what, sizeof what);
  if (!set(detail)) detail = curl_easy_strerror((CURLcode)curl_code);
  if (attempts > 1) snprintf(tries, sizeof tries, " (after %d attempts)", attempts);
  const char *srv = cfg->server;
  switch (curl_code) {
  case CURLE_PEER_FAILED_VERIFICATION:
    trusted(cfg, ca, sizeof ca);
    return lunar_error_set(err, LUNAR_EIO,
                           "%s: the API server's certificate is not trusted (%s; %s): set "
                           "kubernetes.ca_file to the CA bundle of the cluster (in a kubeconfig: "
                           "certificate-authority or certificate-authority-data; in a Pod: the "
                           "service account's ca.crt), and check that %s is the API server's "
                           "address",
                           what, detail, ca, srv);
  case CURLE_SSL_CACERT_BADFILE:
    return lunar_error_set(err, LUNAR_EIO,
                           "%s: the CA bundle cannot be used (%s): kubernetes.ca_file (or the "
                           "kubeconfig's certificate-authority) must be a PEM file of CA "
                           "certificates",
                           what, detail);
  case CURLE_SSL_CERTPROBLEM:
    return lunar_error_set(err, LUNAR_EIO,
                           "%s: the client certificate or key cannot be used (%s): "
                           "kubernetes.cert_file and key_file (or the kubeconfig's "
                           "client-certificate and client-key) must be a matching PEM pair",
                           what, detail);
  case CURLE_COULDNT_RESOLVE_HOST:
    return lunar_error_set(err, LUNAR_EIO,
                           "%s: cannot resolve the API server's host name in %s (%s, from %s): "
                           "check kubernetes.host or the kubeconfig's cluster server, and DNS",
                           what, srv, detail, cfg->source);
  case CURLE_COULDNT_CONNECT:
    return lunar_error_set(err, LUNAR_EIO,
                           "%s: cannot connect to the API server at %s%s (%s, from %s): check "
                           "kubernetes.host or the kubeconfig's cluster server, and that the API "
                           "server is up and reachable from here (firewall, proxy)",
                           what, srv, tries, detail, cfg->source);
  case CURLE_OPERATION_TIMEDOUT:
    return lunar_error_set(err, LUNAR_EIO,
                           "%s: timed out after %ld ms waiting for the API server at %s%s (%s): "
                           "the server is slow or unreachable; check the network path, or raise "
                           "kubernetes.request_timeout",
                           what, timeout_ms, srv, tries, detail);
  case CURLE_SSL_CONNECT_ERROR:
    return lunar_error_set(err, LUNAR_EIO,
                           "%s: the TLS handshake with %s failed%s (%s): check that the address "
                           "speaks HTTPS, and that the client certificate (if any) is accepted",
                           what, srv, tries, detail);
  default:
    return lunar_error_set(err, LUNAR_EIO, "%s: request to the API server at %s failed%s: %s",
                           what, srv, tries, detail);
  }
}

/* Copies the `User "x"` of a Forbidden message into buf ("" when absent). */
static void user_of(const char *msg, char *buf, size_t size) {
  buf[0] = '\0';
  const char *p = msg ? strstr(msg, "User \"") : NULL;
  if (!p) return;
  p += 6;
  const char *q = strchr(p, '"');
  if (!q) return;
  snprintf(buf, size, "%.*s", (int)(q - p), p);
}

int lunar_kube_explain_status(lunar_error *err, const lunar_kube_target *t,
                              const lunar_kube_config *cfg, long status, const json_t *body,
                              int attempts) {
  char what[512];
  lunar_kube_describe(t, what, sizeof what);
  const char *msg = json_string_value(json_object_get(body, "message"));
  const char *reason = json_string_value(json_object_get(body, "reason"));
  if (!set(msg)) msg = "(no message)";
  if (!set(reason)) reason = "";
  json_t *details = json_object_get(body, "details");
  const char *dkind = json_string_value(json_object_get(details, "kind"));
  const char *dname = json_string_value(json_object_get(details, "name"));

  if (status == 401)
    return lunar_error_set(err, LUNAR_EIO,
                           "%s: Unauthorized (401): the token or client certificate was rejected "
                           "by the API server at %s: check the credentials from %s (an expired "
                           "or rotated token? a token or certificate of another cluster?)",
                           what, cfg->server, cfg->source);
  if (status == 403) {
    char user[256], who[300], res[200], scope[200];
    user_of(msg, user, sizeof user);
    snprintf(who, sizeof who, user[0] ? "user \"%s\"" : "the user of %s",
             user[0] ? user : cfg->source);
    snprintf(res, sizeof res, "%s%s%s", t->resource ? t->resource : "",
             set(t->subresource) ? "/" : "", set(t->subresource) ? t->subresource : "");
    if (set(t->namespace))
      snprintf(scope, sizeof scope, "a Role in namespace \"%s\" and a RoleBinding", t->namespace);
    else
      snprintf(scope, sizeof scope, "a ClusterRole and a ClusterRoleBinding");
    return lunar_error_set(err, LUNAR_EIO,
                           "%s: forbidden (403): %s. Fix: %s needs RBAC permission to %s %s%s%s%s; "
                           "add this rule to %s for it (README, \"Connecting to Kubernetes\", "
                           "has the whole Role lunar needs):\n"
                           "  - apiGroups: [\"%s\"]\n"
                           "    resources: [\"%s\"]\n"
                           "    verbs: [\"%s\"]",
                           what, msg, who, t->verb ? t->verb : "?", res,
                           set(t->namespace) ? " in namespace \"" : "",
                           set(t->namespace) ? t->namespace : "", set(t->namespace) ? "\"" : "",
                           scope, t->group ? t->group : "", res, t->verb ? t->verb : "?");
  }
  if (status == 404) {
    int ns_missing = dkind && dname && set(t->namespace) && strcmp(dname, t->namespace) == 0 &&
                     (strcmp(dkind, "namespaces") == 0 || strcmp(dkind, "Namespace") == 0);
    if (ns_missing)
      return lunar_error_set(err, LUNAR_ENOTFOUND,
                             "%s: namespace \"%s\" does not exist: create it (kubectl create "
                             "namespace %s) or set kubernetes.namespace to an existing one",
                             what, t->namespace, t->namespace);
    return lunar_error_set(err, LUNAR_ENOTFOUND, "%s: not found (404): %s", what, msg);
  }
  if (status == 429 || status >= 500) {
    char tries[64] = "";
    if (attempts > 1) snprintf(tries, sizeof tries, " after %d attempts", attempts);
    return lunar_error_set(err, LUNAR_EIO,
                           "%s: the API server at %s is %s (%ld %s)%s: %s; raise "
                           "kubernetes.retry_limit or retry_backoff_max to wait longer",
                           what, cfg->server, status == 429 ? "throttling requests" : "failing",
                           status, reason, tries, msg);
  }
  if (status == 409)
    return lunar_error_set(err, LUNAR_EIO, "%s: conflict (409 %s): %s", what, reason, msg);
  if (status == 422)
    return lunar_error_set(err, LUNAR_EIO, "%s: rejected as invalid (422): %s", what, msg);
  return lunar_error_set(err, LUNAR_EIO, "%s: HTTP %ld %s: %s", what, status, reason, msg);
}
