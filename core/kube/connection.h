/* A resolved connection to the Kubernetes API server: what kube/config.h
 * resolves (from settings, in-cluster or a kubeconfig, kube/kubeconfig.h) and
 * what the client (kube/client.h) owns once it is made.
 */
#ifndef LUNAR_KUBE_CONNECTION_H
#define LUNAR_KUBE_CONNECTION_H

#include <stddef.h>

/* A resolved connection. Every string is owned by the config. A `*_data`
 * field holds PEM bytes (decoded from a kubeconfig's *-data field) and is
 * passed to libcurl as a blob; a `*_file` field is a path. */
typedef struct lunar_kube_config {
  char *server; /* https://host:port, without a trailing '/' */
  char *ca_file, *ca_data;
  size_t ca_len;
  char *cert_file, *cert_data;
  size_t cert_len;
  char *key_file, *key_data;
  size_t key_len;
  char *token;      /* a fixed bearer token */
  char *token_file; /* a bearer token re-read when the file changes (wins over token) */
  int insecure;
  char *namespace; /* the default namespace: setting, context or service account; never NULL after load */
  char *source;    /* where this came from, for messages, e.g. `kubeconfig /x (context "y")` */
} lunar_kube_config;

/* Frees the config and every string in it. NULL-safe. */
void lunar_kube_config_free(lunar_kube_config *cfg);

#endif
