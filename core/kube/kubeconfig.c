#include "kube/kubeconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/base64.h"
#include "util/file.h"
#include "yaml/yaml.h"

/* One parsed file. */
typedef struct kdoc {
  json_t *doc;
  const char *file;
} kdoc;

/* Finds the entry `name` of list `list` ("clusters", "users", "contexts") in
 * the first document that has it; returns its inner object (`field`) and the
 * file it came from. */
static json_t *find_named(const kdoc *docs, size_t n, const char *list, const char *field,
                          const char *name, const char **file) {
  for (size_t i = 0; i < n; i++) {
    json_t *arr = json_object_get(docs[i].doc, list);
    size_t j;
    json_t *e;
    json_array_foreach(arr, j, e) {
      const char *nm = json_string_value(json_object_get(e, "name"));
      if (nm && strcmp(nm, name) == 0) {
        *file = docs[i].file;
        json_t *inner = json_object_get(e, field);
        return json_is_object(inner) ? inner : json_object_get(e, "name") ? e : NULL;
      }
    }
  }
  return NULL;
}

/* "a, b, c": the names in every document's `list` (for "choose one of"). */
static void list_names(const kdoc *docs, size_t n, const char *list, char *buf, size_t size) {
  size_t o = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    json_t *arr = json_object_get(docs[i].doc, list);
    size_t j;
    json_t *e;
    json_array_foreach(arr, j, e) {
      const char *nm = json_string_value(json_object_get(e, "name"));
      if (!nm || o + strlen(nm) + 3 >= size) continue;
      o += (size_t)snprintf(buf + o, size - o, "%s%s", o ? ", " : "", nm);
    }
  }
  if (!o) snprintf(buf, size, "none defined");
}

static const char *str(json_t *obj, const char *key) {
  const char *s = json_string_value(json_object_get(obj, key));
  return s && *s ? s : NULL;
}

/* A path from a kubeconfig, resolved against the directory of `file`. */
static char *resolve_path(const char *file, const char *path) {
  if (path[0] == '/') return strdup(path);
  const char *slash = strrchr(file, '/');
  int dirlen = slash ? (int)(slash - file) : 1;
  const char *dir = slash ? file : ".";
  size_t n = (size_t)dirlen + strlen(path) + 2;
  char *out = malloc(n);
  if (out) snprintf(out, n, "%.*s/%s", dirlen, dir, path);
  return out;
}

/* Fills data and len from `<key>-data`, or path from `<key>` (resolved). */
static int take_pem(json_t *obj, const char *key, const char *file, char **path, char **data,
                    size_t *len, const char *where, lunar_error *err) {
  char dkey[64];
  snprintf(dkey, sizeof dkey, "%s-data", key);
  const char *d = str(obj, dkey), *p = str(obj, key);
  if (d) {
    if (lunar_base64_decode(d, data, len, err) != LUNAR_OK)
      return lunar_error_wrap(err, "kubeconfig %s, %s: %s", file, where, dkey);
  } else if (p) {
    *path = resolve_path(file, p);
    if (!*path) return lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  }
  return LUNAR_OK;
}

static int resolve(const kdoc *docs, size_t n, const char *context, lunar_kube_config *cfg,
                   lunar_error *err) {
  char names[512];
  const char *ctxfile = docs[0].file;
  if (!context || !*context) {
    context = NULL;
    for (size_t i = 0; i < n && !context; i++) {
      context = str(docs[i].doc, "current-context");
      ctxfile = docs[i].file;
    }
    if (!context) {
      list_names(docs, n, "contexts", names, sizeof names);
      return lunar_error_set(err, LUNAR_EINVAL,
                             "kubeconfig %s: no current-context is set: set kubernetes.context "
                             "to one of its contexts (%s)",
                             docs[0].file, names);
    }
  }
  json_t *ctx = find_named(docs, n, "contexts", "context", context, &ctxfile);
  if (!ctx) {
    list_names(docs, n, "contexts", names, sizeof names);
    return lunar_error_set(err, LUNAR_EINVAL,
                           "kubeconfig %s: context \"%s\" not found: set kubernetes.context to "
                           "one of its contexts (%s)",
                           ctxfile, context, names);
  }
  const char *cluster_name = str(ctx, "cluster"), *user_name = str(ctx, "user");
  if (!cluster_name)
    return lunar_error_set(err, LUNAR_EINVAL, "kubeconfig %s, context \"%s\": no cluster is set",
                           ctxfile, context);
  const char *cfile = ctxfile, *ufile = ctxfile;
  json_t *cluster = find_named(docs, n, "clusters", "cluster", cluster_name, &cfile);
  if (!cluster) {
    list_names(docs, n, "clusters", names, sizeof names);
    return lunar_error_set(err, LUNAR_EINVAL,
                           "kubeconfig %s, context \"%s\": cluster \"%s\" not found (clusters: %s)",
                           ctxfile, context, cluster_name, names);
  }
  const char *server = str(cluster, "server");
  if (!server)
    return lunar_error_set(err, LUNAR_EINVAL,
                           "kubeconfig %s, cluster \"%s\": no server is set (the API server's URL, "
                           "e.g. https://10.0.0.1:6443)",
                           cfile, cluster_name);
  cfg->server = strdup(server);
  size_t sl = strlen(cfg->server);
  while (sl > 0 && cfg->server[sl - 1] == '/') cfg->server[--sl] = '\0';
  char where[300];
  snprintf(where, sizeof where, "cluster \"%s\"", cluster_name);
  if (take_pem(cluster, "certificate-authority", cfile, &cfg->ca_file, &cfg->ca_data,
               &cfg->ca_len, where, err))
    return err ? err->code : LUNAR_EINVAL;
  cfg->insecure = json_is_true(json_object_get(cluster, "insecure-skip-tls-verify"));

  if (user_name) {
    json_t *user = find_named(docs, n, "users", "user", user_name, &ufile);
    if (!user) {
      list_names(docs, n, "users", names, sizeof names);
      return lunar_error_set(err, LUNAR_EINVAL,
                             "kubeconfig %s, context \"%s\": user \"%s\" not found (users: %s)",
                             ctxfile, context, user_name, names);
    }
    json_t *exec = json_object_get(user, "exec"), *ap = json_object_get(user, "auth-provider");
    char how[300] = "";
    if (exec)
      snprintf(how, sizeof how, "exec credential plugins (here \"%s\") are",
               str(exec, "command") ? str(exec, "command") : "?");
    else if (ap)
      snprintf(how, sizeof how, "auth-provider \"%s\" is", str(ap, "name") ? str(ap, "name") : "?");
    else if (str(user, "username") || str(user, "password"))
      snprintf(how, sizeof how, "basic authentication (username/password) is");
    if (how[0])
      return lunar_error_set(err, LUNAR_EINVAL,
                             "kubeconfig %s, user \"%s\": %s not supported: use a token or client "
                             "certificate instead (kubernetes.bearer_token_file, or token/tokenFile "
                             "or client-certificate/client-key in the kubeconfig)",
                             ufile, user_name, how);
    snprintf(where, sizeof where, "user \"%s\"", user_name);
    if (take_pem(user, "client-certificate", ufile, &cfg->cert_file, &cfg->cert_data,
                 &cfg->cert_len, where, err) ||
        take_pem(user, "client-key", ufile, &cfg->key_file, &cfg->key_data, &cfg->key_len, where,
                 err))
      return err ? err->code : LUNAR_EINVAL;
    int has_cert = cfg->cert_file || cfg->cert_data, has_key = cfg->key_file || cfg->key_data;
    if (has_cert != has_key)
      return lunar_error_set(err, LUNAR_EINVAL,
                             "kubeconfig %s, user \"%s\": %s is set but %s is missing (a client "
                             "certificate needs its key)",
                             ufile, user_name, has_cert ? "client-certificate" : "client-key",
                             has_cert ? "client-key" : "client-certificate");
    const char *tok = str(user, "token"), *tokfile = str(user, "tokenFile");
    if (tok) cfg->token = strdup(tok);
    if (tokfile) cfg->token_file = resolve_path(ufile, tokfile);
  }
  const char *ns = str(ctx, "namespace");
  if (ns) cfg->namespace = strdup(ns);
  char src[LUNAR_ERROR_MAX];
  snprintf(src, sizeof src, "kubeconfig %s (context \"%s\")", ctxfile, context);
  cfg->source = strdup(src);
  if (!cfg->server || !cfg->source) return lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  return LUNAR_OK;
}

int lunar_kubeconfig_resolve(json_t *const *docs, const char *const *files, size_t n,
                             const char *context, lunar_kube_config *cfg, lunar_error *err) {
  kdoc kd[16];
  if (n == 0 || n > 16)
    return lunar_error_set(err, LUNAR_EINVAL, "kubeconfig: between 1 and 16 files are supported");
  for (size_t i = 0; i < n; i++) {
    kd[i].doc = docs[i];
    kd[i].file = files[i];
  }
  return resolve(kd, n, context, cfg, err);
}

/* Parses one kubeconfig file into a JSON document. */
static int parse_file(const char *path, json_t **out, lunar_error *err) {
  char *text = NULL;
  size_t len = 0;
  int rc = lunar_read_file(path, "kubeconfig", &text, &len, err);
  if (rc) return rc;
  rc = lunar_yaml_parse(text, len, path, out, err);
  free(text);
  if (rc) return lunar_error_wrap(err, "kubeconfig");
  if (!json_is_object(*out)) {
    json_decref(*out); /* null (an empty file), a list, a scalar */
    *out = NULL;
    return lunar_error_set(err, LUNAR_EINVAL, "kubeconfig %s: not a kubeconfig (a mapping)", path);
  }
  return LUNAR_OK;
}

int lunar_kubeconfig_load(const char *paths, const char *context, lunar_kube_config *cfg,
                          lunar_error *err) {
  json_t *docs[16];
  char *files[16];
  size_t n = 0;
  int rc = LUNAR_OK;
  char *list = strdup(paths);
  if (!list) return lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  char *save = NULL;
  for (char *p = strtok_r(list, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
    struct stat st;
    if (!*p || stat(p, &st) != 0) continue; /* kubectl skips missing entries */
    if (n == 16) break;
    rc = parse_file(p, &docs[n], err);
    if (rc) goto done;
    files[n++] = p;
  }
  if (n == 0) {
    rc = lunar_error_set(err, LUNAR_ENOTFOUND, "no kubeconfig file at %s", paths);
    goto done;
  }
  rc = lunar_kubeconfig_resolve(docs, (const char *const *)files, n, context, cfg, err);
done:
  for (size_t i = 0; i < n; i++) json_decref(docs[i]);
  free(list);
  return rc;
}
