/* kubeconfig parsing (kube/kubeconfig.h) and the connection precedence
 * (kube/config.h): settings, in-cluster, kubeconfig. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "kube/config.h"
#include "kube/kubeconfig.h"

/* "Y2EtcGVt" = "ca-pem", "Y2VydA==" = "cert", "a2V5" = "key" */
static const char *doc_main =
    "{\"current-context\": \"dev\","
    " \"clusters\": ["
    "  {\"name\": \"c1\", \"cluster\": {\"server\": \"https://10.0.0.1:6443/\","
    "                               \"certificate-authority-data\": \"Y2EtcGVt\"}},"
    "  {\"name\": \"c2\", \"cluster\": {\"server\": \"https://c2:443\","
    "                               \"certificate-authority\": \"certs/ca.crt\","
    "                               \"insecure-skip-tls-verify\": true}},"
    "  {\"name\": \"noserver\", \"cluster\": {}}],"
    " \"users\": ["
    "  {\"name\": \"data\", \"user\": {\"client-certificate-data\": \"Y2VydA==\","
    "                             \"client-key-data\": \"a2V5\"}},"
    "  {\"name\": \"files\", \"user\": {\"client-certificate\": \"certs/me.crt\","
    "                              \"client-key\": \"/abs/me.key\", \"tokenFile\": \"tok\"}},"
    "  {\"name\": \"token\", \"user\": {\"token\": \"s3cret\"}},"
    "  {\"name\": \"halfcert\", \"user\": {\"client-certificate\": \"me.crt\"}},"
    "  {\"name\": \"eks\", \"user\": {\"exec\": {\"apiVersion\": \"client.authentication.k8s.io/v1\","
    "                                       \"command\": \"aws\", \"args\": [\"eks\", \"get-token\"]}}},"
    "  {\"name\": \"oidc\", \"user\": {\"auth-provider\": {\"name\": \"oidc\"}}}],"
    " \"contexts\": ["
    "  {\"name\": \"dev\", \"context\": {\"cluster\": \"c1\", \"user\": \"data\", \"namespace\": \"ci\"}},"
    "  {\"name\": \"files\", \"context\": {\"cluster\": \"c2\", \"user\": \"files\"}},"
    "  {\"name\": \"tok\", \"context\": {\"cluster\": \"c2\", \"user\": \"token\"}},"
    "  {\"name\": \"half\", \"context\": {\"cluster\": \"c1\", \"user\": \"halfcert\"}},"
    "  {\"name\": \"eks\", \"context\": {\"cluster\": \"c1\", \"user\": \"eks\"}},"
    "  {\"name\": \"oidc\", \"context\": {\"cluster\": \"c1\", \"user\": \"oidc\"}},"
    "  {\"name\": \"lost\", \"context\": {\"cluster\": \"nowhere\", \"user\": \"token\"}},"
    "  {\"name\": \"nouser\", \"context\": {\"cluster\": \"c1\", \"user\": \"ghost\"}},"
    "  {\"name\": \"bare\", \"context\": {\"cluster\": \"noserver\"}}]}";

static int resolve(const char *text, const char *file, const char *context,
                   lunar_kube_config *cfg, lunar_error *err) {
  json_t *doc = json_loads(text, 0, NULL);
  int rc = lunar_kubeconfig_resolve(&doc, &file, 1, context, cfg, err);
  json_decref(doc);
  return rc;
}

static lunar_kube_config *fresh(void) { return calloc(1, sizeof(lunar_kube_config)); }

static void test_current_context_with_data_fields(void) {
  lunar_kube_config *cfg = fresh();
  lunar_error err = {0};
  CHECK_INT(resolve(doc_main, "/home/u/.kube/config", NULL, cfg, &err), LUNAR_OK);
  CHECK_STR(cfg->server, "https://10.0.0.1:6443");
  CHECK_STR(cfg->ca_data, "ca-pem");
  CHECK_INT(cfg->ca_len, 6);
  CHECK(cfg->ca_file == NULL);
  CHECK_STR(cfg->cert_data, "cert");
  CHECK_STR(cfg->key_data, "key");
  CHECK_STR(cfg->namespace, "ci");
  CHECK_STR(cfg->source, "kubeconfig /home/u/.kube/config (context \"dev\")");
  CHECK_INT(cfg->insecure, 0);
  lunar_kube_config_free(cfg);
}

static void test_named_context_with_relative_paths(void) {
  lunar_kube_config *cfg = fresh();
  lunar_error err = {0};
  CHECK_INT(resolve(doc_main, "/etc/kube/config", "files", cfg, &err), LUNAR_OK);
  CHECK_STR(cfg->server, "https://c2:443");
  CHECK_STR(cfg->ca_file, "/etc/kube/certs/ca.crt");
  CHECK_STR(cfg->cert_file, "/etc/kube/certs/me.crt");
  CHECK_STR(cfg->key_file, "/abs/me.key");
  CHECK_STR(cfg->token_file, "/etc/kube/tok");
  CHECK_INT(cfg->insecure, 1);
  CHECK(cfg->namespace == NULL);
  lunar_kube_config_free(cfg);
  cfg = fresh();
  CHECK_INT(resolve(doc_main, "config", "tok", cfg, &err), LUNAR_OK); /* a bare file name */
  CHECK_STR(cfg->ca_file, "./certs/ca.crt");
  CHECK_STR(cfg->token, "s3cret");
  lunar_kube_config_free(cfg);
}

static void expect_error(const char *context, const char *want) {
  lunar_kube_config *cfg = fresh();
  lunar_error err = {0};
  CHECK(resolve(doc_main, "/k/config", context, cfg, &err) != LUNAR_OK);
  CHECK_STR(err.msg, want);
  lunar_kube_config_free(cfg);
}

static void test_missing_pieces_name_what_to_fix(void) {
  expect_error("prod", "kubeconfig /k/config: context \"prod\" not found: set kubernetes.context "
                       "to one of its contexts (dev, files, tok, half, eks, oidc, lost, nouser, bare)");
  expect_error("lost", "kubeconfig /k/config, context \"lost\": cluster \"nowhere\" not found "
                       "(clusters: c1, c2, noserver)");
  expect_error("nouser", "kubeconfig /k/config, context \"nouser\": user \"ghost\" not found "
                         "(users: data, files, token, halfcert, eks, oidc)");
  expect_error("bare", "kubeconfig /k/config, cluster \"noserver\": no server is set (the API "
                       "server's URL, e.g. https://10.0.0.1:6443)");
  expect_error("half", "kubeconfig /k/config, user \"halfcert\": client-certificate is set but "
                       "client-key is missing (a client certificate needs its key)");
  lunar_kube_config *cfg = fresh();
  lunar_error err = {0};
  CHECK(resolve("{\"contexts\": [{\"name\": \"a\", \"context\": {}}]}", "/k/c", NULL, cfg, &err) != 0);
  CHECK_STR(err.msg, "kubeconfig /k/c: no current-context is set: set kubernetes.context to one "
                     "of its contexts (a)");
  lunar_kube_config_free(cfg);
}

static void test_exec_plugin_and_auth_provider_are_refused_with_advice(void) {
  expect_error("eks", "kubeconfig /k/config, user \"eks\": exec credential plugins (here \"aws\") "
                      "are not supported: use a token or client certificate instead "
                      "(kubernetes.bearer_token_file, or token/tokenFile or "
                      "client-certificate/client-key in the kubeconfig)");
  expect_error("oidc", "kubeconfig /k/config, user \"oidc\": auth-provider \"oidc\" is not "
                       "supported: use a token or client certificate instead "
                       "(kubernetes.bearer_token_file, or token/tokenFile or "
                       "client-certificate/client-key in the kubeconfig)");
}

static void test_several_files_merge_first_wins(void) {
  const char *a = "{\"clusters\": [{\"name\": \"c\", \"cluster\": {\"server\": \"https://a\"}}],"
                  " \"users\": [{\"name\": \"u\", \"user\": {\"token\": \"from-a\"}}]}";
  const char *b = "{\"current-context\": \"x\","
                  " \"clusters\": [{\"name\": \"c\", \"cluster\": {\"server\": \"https://b\"}}],"
                  " \"contexts\": [{\"name\": \"x\", \"context\": {\"cluster\": \"c\", \"user\": \"u\"}}],"
                  " \"users\": [{\"name\": \"u\", \"user\": {\"token\": \"from-b\"}}]}";
  json_t *docs[2] = {json_loads(a, 0, NULL), json_loads(b, 0, NULL)};
  const char *files[2] = {"/a/config", "/b/config"};
  lunar_kube_config *cfg = fresh();
  lunar_error err = {0};
  CHECK_INT(lunar_kubeconfig_resolve(docs, files, 2, NULL, cfg, &err), LUNAR_OK);
  CHECK_STR(cfg->server, "https://a");
  CHECK_STR(cfg->token, "from-a");
  CHECK_STR(cfg->source, "kubeconfig /b/config (context \"x\")");
  lunar_kube_config_free(cfg);
  json_decref(docs[0]);
  json_decref(docs[1]);
}

/* ---- precedence, with files in a temporary directory ------------------------ */

static char tmp[64];

static void put(const char *rel, const char *text) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", tmp, rel);
  FILE *f = fopen(p, "w");
  fputs(text, f);
  fclose(f);
}

static void test_precedence(void) {
  snprintf(tmp, sizeof tmp, "/tmp/lunar-kc-XXXXXX");
  CHECK(mkdtemp(tmp) != NULL);
  char sa[256], kc[256], home[256];
  snprintf(sa, sizeof sa, "%s/var/run/secrets/kubernetes.io/serviceaccount", tmp);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "mkdir -p %s %s/home/.kube", sa, tmp);
  CHECK_INT(system(cmd), 0);
  put("var/run/secrets/kubernetes.io/serviceaccount/token", "sa-token\n");
  put("var/run/secrets/kubernetes.io/serviceaccount/ca.crt", "pem");
  put("var/run/secrets/kubernetes.io/serviceaccount/namespace", "runners\n");
  put("kc.json", "{\"current-context\": \"k\", \"clusters\": [{\"name\": \"c\", \"cluster\": "
                 "{\"server\": \"https://from-kubeconfig\"}}], \"contexts\": [{\"name\": \"k\", "
                 "\"context\": {\"cluster\": \"c\"}}]}");
  snprintf(kc, sizeof kc, "%s/missing.json:%s/kc.json", tmp, tmp);
  snprintf(home, sizeof home, "%s/home", tmp);
  lunar_kube_env env = {.kubeconfig = kc, .home = home, .service_host = "10.96.0.1",
                        .service_port = "443", .root = tmp};
  lunar_kube_settings s = {0};
  lunar_kube_config *cfg = NULL;
  lunar_error err = {0};

  /* in-cluster comes before the kubeconfig */
  CHECK_INT(lunar_kube_config_load(&s, &env, &cfg, &err), LUNAR_OK);
  CHECK_STR(cfg->server, "https://10.96.0.1:443");
  CHECK(cfg->token_file && strstr(cfg->token_file, "/serviceaccount/token"));
  CHECK(cfg->ca_file && strstr(cfg->ca_file, "/serviceaccount/ca.crt"));
  CHECK_STR(cfg->namespace, "runners");
  lunar_kube_config_free(cfg);

  /* a context asks for the kubeconfig; explicit settings refine it */
  s.context = "k";
  s.bearer_token = "override";
  s.namespace = "ci";
  CHECK_INT(lunar_kube_config_load(&s, &env, &cfg, &err), LUNAR_OK);
  CHECK_STR(cfg->server, "https://from-kubeconfig");
  CHECK_STR(cfg->token, "override");
  CHECK_STR(cfg->namespace, "ci");
  lunar_kube_config_free(cfg);

  /* host wins over everything */
  lunar_kube_settings h = {.host = "api.example.com:6443/", .bearer_token = "t"};
  CHECK_INT(lunar_kube_config_load(&h, &env, &cfg, &err), LUNAR_OK);
  CHECK_STR(cfg->server, "https://api.example.com:6443");
  CHECK_STR(cfg->namespace, "default");
  CHECK_STR(cfg->source, "settings (kubernetes.host)");
  lunar_kube_config_free(cfg);

  /* inconsistent settings */
  lunar_kube_settings bad = {.host = "h", .cert_file = "/x.crt"};
  CHECK_INT(lunar_kube_config_load(&bad, &env, &cfg, &err), LUNAR_EINVAL);
  CHECK_STR(err.msg, "kubernetes.cert_file is set but kubernetes.key_file is not: a client "
                     "certificate needs its key (set both, PEM files)");
  lunar_kube_settings missing = {.host = "h", .ca_file = "/nonexistent/ca.crt"};
  CHECK_INT(lunar_kube_config_load(&missing, &env, &cfg, &err), LUNAR_EIO);
  CHECK_STR(err.msg, "kubernetes.ca_file /nonexistent/ca.crt: No such file or directory");

  /* nothing configured: say what was tried */
  lunar_kube_env none = {.home = home};
  lunar_kube_settings empty = {0};
  CHECK_INT(lunar_kube_config_load(&empty, &none, &cfg, &err), LUNAR_ENOTFOUND);
  char want[1024];
  snprintf(want, sizeof want,
           "no Kubernetes API configuration found; tried: kubernetes.host (not set), in-cluster "
           "(KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set), kubeconfig "
           "(KUBECONFIG is not set; %s/.kube/config: no such file). Set kubernetes.host with "
           "kubernetes.ca_file and kubernetes.bearer_token_file (or cert_file and key_file), run "
           "lunar in a Pod with a service account, or point KUBECONFIG at a kubeconfig",
           home);
  CHECK_STR(err.msg, want);

  /* the kubeconfig's relative paths resolve against its own directory */
  put("rel.json", "{\"current-context\": \"k\", \"clusters\": [{\"name\": \"c\", \"cluster\": "
                  "{\"server\": \"https://x\", \"certificate-authority\": \"pki/ca.crt\"}}], "
                  "\"contexts\": [{\"name\": \"k\", \"context\": {\"cluster\": \"c\"}}]}");
  snprintf(kc, sizeof kc, "%s/rel.json", tmp);
  lunar_kube_settings viakc = {.kubeconfig = kc};
  CHECK_INT(lunar_kube_config_load(&viakc, &none, &cfg, &err), LUNAR_OK);
  snprintf(want, sizeof want, "%s/pki/ca.crt", tmp);
  CHECK_STR(cfg->ca_file, want);
  lunar_kube_config_free(cfg);

  /* a YAML kubeconfig as kubectl writes it */
  put("config.yaml",
      "apiVersion: v1\n"
      "kind: Config\n"
      "clusters:\n"
      "- cluster:\n"
      "    certificate-authority-data: Y2EtcGVt\n"
      "    server: https://192.168.49.2:8443\n"
      "  name: minikube\n"
      "contexts:\n"
      "- context:\n"
      "    cluster: minikube\n"
      "    namespace: builds\n"
      "    user: minikube\n"
      "  name: minikube\n"
      "current-context: minikube\n"
      "preferences: {}\n"
      "users:\n"
      "- name: minikube\n"
      "  user:\n"
      "    client-certificate: profiles/minikube/client.crt\n"
      "    client-key: profiles/minikube/client.key\n");
  snprintf(kc, sizeof kc, "%s/config.yaml", tmp);
  lunar_kube_settings yaml = {.kubeconfig = kc};
  CHECK_INT(lunar_kube_config_load(&yaml, &none, &cfg, &err), LUNAR_OK);
  CHECK_STR(cfg->server, "https://192.168.49.2:8443");
  CHECK_STR(cfg->ca_data, "ca-pem");
  CHECK_STR(cfg->namespace, "builds");
  snprintf(want, sizeof want, "%s/profiles/minikube/client.key", tmp);
  CHECK_STR(cfg->key_file, want);
  lunar_kube_config_free(cfg);
  put("broken.yaml", "clusters:\n- name: a\n  cluster: {server: [}\n");
  snprintf(kc, sizeof kc, "%s/broken.yaml", tmp);
  lunar_kube_settings broken = {.kubeconfig = kc};
  CHECK_INT(lunar_kube_config_load(&broken, &none, &cfg, &err), LUNAR_EINVAL);
  CHECK(strncmp(err.msg, "kubeconfig: ", 12) == 0 && strstr(err.msg, "broken.yaml:3:") != NULL);

  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  CHECK_INT(system(cmd), 0);
}

int main(void) {
  RUN(test_current_context_with_data_fields);
  RUN(test_named_context_with_relative_paths);
  RUN(test_missing_pieces_name_what_to_fix);
  RUN(test_exec_plugin_and_auth_provider_are_refused_with_advice);
  RUN(test_several_files_merge_first_wins);
  RUN(test_precedence);
  return check_summary();
}
