/* kubeconfig files (the format kubectl reads: YAML, or JSON).
 *
 * Supported: several files merged the way kubectl merges $KUBECONFIG (for
 * each cluster, user and context name the first file defining it wins; the
 * first current-context set wins), the current or a named context, the
 * context's namespace, certificate-authority(-data), client-certificate(-data),
 * client-key(-data), token, tokenFile, insecure-skip-tls-verify. Relative
 * paths resolve against the directory of the file that holds them.
 * Not supported, with an error that says what to use instead: exec credential
 * plugins and auth-provider entries.
 */
#ifndef LUNAR_KUBE_KUBECONFIG_H
#define LUNAR_KUBE_KUBECONFIG_H

#include <jansson.h>

#include "kube/connection.h"
#include "util/error.h"

/* Loads the files in `paths` (a ':'-separated list; files that do not exist
 * are skipped like kubectl does) and fills cfg (server, CA, credentials,
 * namespace, source) from `context` (NULL or "": the current context).
 * Errors: LUNAR_ENOTFOUND when none of the files exists (message: what was
 * looked for), LUNAR_EINVAL for a bad or unsupported entry (message: the file,
 * the context/cluster/user and the field), LUNAR_EIO, LUNAR_ENOMEM. */
int lunar_kubeconfig_load(const char *paths, const char *context, lunar_kube_config *cfg,
                          lunar_error *err);

/* The same from already parsed documents: docs[i] (borrowed) was read from
 * files[i], which is used for messages and to resolve relative paths. */
int lunar_kubeconfig_resolve(json_t *const *docs, const char *const *files, size_t n,
                             const char *context, lunar_kube_config *cfg, lunar_error *err);

#endif
