/* Where the Kubernetes API server is and how to authenticate to it.
 *
 * lunar_kube_config_load resolves the connection the way kubectl and
 * GitLab Runner do, in this order:
 *   1. explicit settings: `host` set means the connection is exactly what the
 *      settings say (ca_file, cert_file + key_file, bearer_token or
 *      bearer_token_file, insecure_skip_tls_verify);
 *   2. in-cluster: KUBERNETES_SERVICE_HOST/_PORT and the Pod's service account
 *      (token, ca.crt, namespace), unless `context` asks for a kubeconfig;
 *   3. a kubeconfig: `kubeconfig` setting, else $KUBECONFIG (a ':' list), else
 *      ~/.kube/config; `context` or the current context.
 * Then explicit credentials refine whatever source was found: bearer_token /
 * bearer_token_file replace its token, ca_file its CA, cert_file + key_file
 * its client certificate, insecure_skip_tls_verify its verification.
 * When nothing is found the error says what was tried and how to fix it.
 */
#ifndef LUNAR_KUBE_CONFIG_H
#define LUNAR_KUBE_CONFIG_H

#include <stddef.h>

#include "kube/connection.h"
#include "util/error.h"

#define LUNAR_KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* The user's settings (kubernetes.*). Strings are borrowed; NULL or "" = unset. */
typedef struct lunar_kube_settings {
  const char *host, *context, *kubeconfig;
  const char *ca_file, *cert_file, *key_file;
  const char *bearer_token, *bearer_token_file;
  int insecure_skip_tls_verify;
  const char *namespace;
} lunar_kube_settings;

/* The environment the loader looks at (borrowed strings, NULL = unset), so
 * tests can run it against a made-up one. */
typedef struct lunar_kube_env {
  const char *kubeconfig;   /* $KUBECONFIG */
  const char *home;         /* $HOME */
  const char *service_host; /* $KUBERNETES_SERVICE_HOST */
  const char *service_port; /* $KUBERNETES_SERVICE_PORT */
  const char *root;         /* prefix of LUNAR_KUBE_SA_DIR ($LUNAR_KUBE_IN_CLUSTER_ROOT) */
} lunar_kube_env;

/* Reads the process environment into env (borrowed from getenv). */
void lunar_kube_env_from_process(lunar_kube_env *env);

/* Resolves the connection. *out belongs to the caller (lunar_kube_config_free).
 * Errors: LUNAR_ENOTFOUND when no source is configured (the message lists
 * what was tried), LUNAR_EINVAL for an inconsistent or unsupported one (the
 * message names the setting or kubeconfig entry), LUNAR_EIO for unreadable
 * files, LUNAR_ENOMEM. */
int lunar_kube_config_load(const lunar_kube_settings *s, const lunar_kube_env *env,
                           lunar_kube_config **out, lunar_error *err);

#endif
