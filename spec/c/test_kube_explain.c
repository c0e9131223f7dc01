/* Messages for failures that the integration specs cannot provoke (DNS, a
 * bad CA file, a cluster-scoped 403) (kube/explain.h). */
#include <curl/curl.h>

#include "check.h"
#include "kube/explain.h"

static lunar_kube_config cfg = {.server = "https://api.example.com:6443",
                                .source = "kubeconfig /k (context \"prod\")"};

static void test_describe(void) {
  char buf[256];
  lunar_kube_target t = {.verb = "get", .resource = "pods", .subresource = "log",
                         .namespace = "ci", .name = "job-1"};
  lunar_kube_describe(&t, buf, sizeof buf);
  CHECK_STR(buf, "get pods/log \"job-1\" in namespace \"ci\"");
  lunar_kube_target list = {.verb = "list", .resource = "namespaces"};
  lunar_kube_describe(&list, buf, sizeof buf);
  CHECK_STR(buf, "list namespaces");
}

static void test_transport_failures_name_the_setting(void) {
  lunar_error err;
  lunar_kube_target t = {.verb = "list", .resource = "pods", .namespace = "ci"};
  CHECK_INT(lunar_kube_explain_transport(&err, &t, &cfg, CURLE_COULDNT_RESOLVE_HOST,
                                         "Could not resolve host: api.example.com", 0, 1),
            LUNAR_EIO);
  CHECK_STR(err.msg, "list pods in namespace \"ci\": cannot resolve the API server's host name in "
                     "https://api.example.com:6443 (Could not resolve host: api.example.com, from "
                     "kubeconfig /k (context \"prod\")): check kubernetes.host or the kubeconfig's "
                     "cluster server, and DNS");
  lunar_kube_explain_transport(&err, &t, &cfg, CURLE_SSL_CACERT_BADFILE, "error setting certificate file", 0, 1);
  CHECK(strstr(err.msg, "the CA bundle cannot be used (error setting certificate file): "
                        "kubernetes.ca_file") != NULL);
  lunar_kube_explain_transport(&err, &t, &cfg, CURLE_OPERATION_TIMEDOUT, "", 1500, 3);
  CHECK(strstr(err.msg, "timed out after 1500 ms waiting for the API server at "
                        "https://api.example.com:6443 (after 3 attempts)") != NULL);
}

static void test_cluster_scoped_403_asks_for_a_cluster_role(void) {
  lunar_error err;
  lunar_kube_target t = {.verb = "list", .resource = "namespaces"};
  json_t *body = json_pack("{s:s, s:s}", "reason", "Forbidden", "message",
                           "namespaces is forbidden: User \"bob\" cannot list resource "
                           "\"namespaces\" in API group \"\" at the cluster scope");
  CHECK_INT(lunar_kube_explain_status(&err, &t, &cfg, 403, body, 1), LUNAR_EIO);
  CHECK(strstr(err.msg, "user \"bob\" needs RBAC permission to list namespaces; add this rule to "
                        "a ClusterRole and a ClusterRoleBinding") != NULL);
  json_decref(body);
  /* without a Status body the user is named by the credentials' source */
  lunar_kube_target p = {.verb = "get", .resource = "pods", .namespace = "ci", .name = "x"};
  lunar_kube_explain_status(&err, &p, &cfg, 403, NULL, 1);
  CHECK(strstr(err.msg, "the user of kubeconfig /k (context \"prod\") needs RBAC permission to "
                        "get pods in namespace \"ci\"") != NULL);
}

int main(void) {
  RUN(test_describe);
  RUN(test_transport_failures_name_the_setting);
  RUN(test_cluster_scoped_403_asks_for_a_cluster_role);
  return check_summary();
}
