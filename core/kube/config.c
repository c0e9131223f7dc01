#include "kube/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kube/kubeconfig.h"
#include "util/file.h"

static int set(const char *s) { return s && *s; }

void lunar_kube_env_from_process(lunar_kube_env *env) {
  env->kubeconfig = getenv("KUBECONFIG");
  env->home = getenv("HOME");
  env->service_host = getenv("KUBERNETES_SERVICE_HOST");
  env->service_port = getenv("KUBERNETES_SERVICE_PORT");
  env->root = getenv("LUNAR_KUBE_IN_CLUSTER_ROOT");
}

static void replace(char **field, const char *value) {
  free(*field);
  *field = value ? strdup(value) : NULL;
}

static int file_exists(const char *path, const char *what, lunar_error *err) {
  struct stat st;
  if (stat(path, &st) == 0) return LUNAR_OK;
  return lunar_error_set(err, LUNAR_EIO, "%s %s: %s", what, path, strerror(errno));
}

/* Trims trailing whitespace (a token file usually ends with a newline). */
static void chomp(char *s) {
  size_t n = strlen(s);
  while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
    s[--n] = '\0';
}

/* In-cluster: returns LUNAR_ENOTFOUND with the reason in `why` when this is
 * not a Pod (or the service account is not mounted). */
static int in_cluster(const lunar_kube_env *env, lunar_kube_config *cfg, char *why, size_t size,
                      lunar_error *err) {
  if (!set(env->service_host) || !set(env->service_port)) {
    snprintf(why, size, "in-cluster (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set)");
    return LUNAR_ENOTFOUND;
  }
  char dir[1024], path[1100];
  snprintf(dir, sizeof dir, "%s%s", env->root ? env->root : "", LUNAR_KUBE_SA_DIR);
  snprintf(path, sizeof path, "%s/token", dir);
  struct stat st;
  if (stat(path, &st) != 0) {
    snprintf(why, size, "in-cluster (service account token %s: %s; is automountServiceAccountToken off?)",
             path, strerror(errno));
    return LUNAR_ENOTFOUND;
  }
  char url[600];
  const char *h = env->service_host;
  snprintf(url, sizeof url, strchr(h, ':') ? "https://[%s]:%s" : "https://%s:%s", h,
           env->service_port);
  cfg->server = strdup(url);
  cfg->token_file = strdup(path);
  snprintf(path, sizeof path, "%s/ca.crt", dir);
  if (stat(path, &st) == 0) cfg->ca_file = strdup(path);
  snprintf(path, sizeof path, "%s/namespace", dir);
  char *ns = NULL;
  if (stat(path, &st) == 0 && lunar_read_file(path, "service account namespace", &ns, NULL, err) == 0) {
    chomp(ns);
    if (*ns) cfg->namespace = ns;
    else free(ns);
  }
  char src[1200];
  snprintf(src, sizeof src, "in-cluster service account (%s)", dir);
  cfg->source = strdup(src);
  if (!cfg->server || !cfg->token_file || !cfg->source)
    return lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  return LUNAR_OK;
}

int lunar_kube_config_load(const lunar_kube_settings *s, const lunar_kube_env *env,
                           lunar_kube_config **out, lunar_error *err) {
  *out = NULL;
  int rc = LUNAR_OK;
  lunar_kube_config *cfg = calloc(1, sizeof *cfg);
  if (!cfg) return lunar_error_set(err, LUNAR_ENOMEM, "out of memory");

  if (set(s->cert_file) != set(s->key_file)) {
    rc = lunar_error_set(err, LUNAR_EINVAL,
                         "kubernetes.%s is set but kubernetes.%s is not: a client certificate "
                         "needs its key (set both, PEM files)",
                         set(s->cert_file) ? "cert_file" : "key_file",
                         set(s->cert_file) ? "key_file" : "cert_file");
    goto done;
  }
  if (set(s->bearer_token) && set(s->bearer_token_file)) {
    rc = lunar_error_set(err, LUNAR_EINVAL,
                         "both kubernetes.bearer_token and kubernetes.bearer_token_file are set: "
                         "keep one (bearer_token_file is re-read when the token rotates)");
    goto done;
  }
  const char *checks[][2] = {{s->ca_file, "kubernetes.ca_file"},
                             {s->cert_file, "kubernetes.cert_file"},
                             {s->key_file, "kubernetes.key_file"},
                             {s->bearer_token_file, "kubernetes.bearer_token_file"}};
  for (size_t i = 0; i < 4; i++)
    if (set(checks[i][0]) && (rc = file_exists(checks[i][0], checks[i][1], err))) goto done;

  if (set(s->host)) {
    const char *h = s->host;
    char url[1024];
    snprintf(url, sizeof url, strstr(h, "://") ? "%s" : "https://%s", h);
    size_t n = strlen(url);
    while (n && url[n - 1] == '/') url[--n] = '\0';
    cfg->server = strdup(url);
    cfg->source = strdup("settings (kubernetes.host)");
  } else {
    char tried_ic[1400] = "", tried_kc[1400] = "";
    if (set(s->context)) {
      snprintf(tried_ic, sizeof tried_ic, "in-cluster (skipped: kubernetes.context is set)");
    } else {
      rc = in_cluster(env, cfg, tried_ic, sizeof tried_ic, err);
      if (rc != LUNAR_ENOTFOUND && rc != LUNAR_OK) goto done;
    }
    if (rc == LUNAR_ENOTFOUND || set(s->context)) {
      char home_cfg[1024];
      const char *paths = s->kubeconfig, *from = "kubernetes.kubeconfig";
      if (!set(paths)) paths = env->kubeconfig, from = "KUBECONFIG";
      if (!set(paths)) {
        snprintf(home_cfg, sizeof home_cfg, "%s/.kube/config", set(env->home) ? env->home : "~");
        paths = home_cfg;
        from = "default";
      }
      lunar_error kerr = {0};
      rc = lunar_kubeconfig_load(paths, s->context, cfg, &kerr);
      if (rc == LUNAR_ENOTFOUND) {
        if (strcmp(from, "default") == 0)
          snprintf(tried_kc, sizeof tried_kc, "kubeconfig (KUBECONFIG is not set; %s: no such file)", paths);
        else
          snprintf(tried_kc, sizeof tried_kc, "kubeconfig (%s=%s: no such file)", from, paths);
        rc = lunar_error_set(err, LUNAR_ENOTFOUND,
                             "no Kubernetes API configuration found; tried: kubernetes.host (not "
                             "set), %s, %s. Set kubernetes.host with kubernetes.ca_file and "
                             "kubernetes.bearer_token_file (or cert_file and key_file), run lunar "
                             "in a Pod with a service account, or point KUBECONFIG at a kubeconfig",
                             tried_ic, tried_kc);
        goto done;
      }
      if (rc) {
        if (err) *err = kerr;
        goto done;
      }
    }
  }

  /* Explicit settings refine any source. */
  if (set(s->ca_file)) {
    replace(&cfg->ca_file, s->ca_file);
    replace(&cfg->ca_data, NULL);
  }
  if (set(s->cert_file)) {
    replace(&cfg->cert_file, s->cert_file);
    replace(&cfg->key_file, s->key_file);
    replace(&cfg->cert_data, NULL);
    replace(&cfg->key_data, NULL);
  }
  if (set(s->bearer_token) || set(s->bearer_token_file)) {
    replace(&cfg->token, set(s->bearer_token) ? s->bearer_token : NULL);
    replace(&cfg->token_file, set(s->bearer_token_file) ? s->bearer_token_file : NULL);
  }
  if (s->insecure_skip_tls_verify) cfg->insecure = 1;
  if (set(s->namespace)) replace(&cfg->namespace, s->namespace);
  if (!cfg->namespace) cfg->namespace = strdup("default");
  if (!cfg->server || !cfg->source || !cfg->namespace) {
    rc = lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
    goto done;
  }
  rc = LUNAR_OK;
done:
  if (rc == LUNAR_OK) *out = cfg;
  else lunar_kube_config_free(cfg);
  return rc;
}
