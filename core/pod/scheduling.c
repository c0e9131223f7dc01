/* Where and how the Pod runs: node selector, tolerations, affinity, DNS, host
 * aliases (one per service so that `alias:port` reaches it on localhost). */
#include <stdlib.h>
#include <string.h>

#include "pod/internal.h"
#include "util/names.h"

static int by_key(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* node_tolerations: "key[=value]" -> "Effect"; a key with `=` is operator
 * Equal, else Exists (an empty key tolerates every taint). Sorted by key. */
static json_t *tolerations(const json_t *m) {
  size_t n = json_object_size(m), i = 0;
  if (!n) return NULL;
  const char **keys = malloc(n * sizeof *keys);
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)m, key, v) keys[i++] = key;
  qsort(keys, n, sizeof *keys, by_key);
  json_t *out = json_array();
  for (i = 0; i < n; i++) {
    json_t *t = json_object();
    const char *eq = strchr(keys[i], '=');
    if (eq) {
      json_object_set_new(t, "key", json_stringn(keys[i], (size_t)(eq - keys[i])));
      json_object_set_new(t, "operator", json_string("Equal"));
      json_object_set_new(t, "value", json_string(eq + 1));
    } else {
      pod_set_str(t, "key", keys[i]);
      json_object_set_new(t, "operator", json_string("Exists"));
    }
    pod_set_str(t, "effect", pod_str(m, keys[i]));
    json_array_append_new(out, t);
  }
  free(keys);
  return out;
}

static const char *dns_policy(const char *s) {
  if (!strcmp(s, "none")) return "None";
  if (!strcmp(s, "default")) return "Default";
  if (!strcmp(s, "cluster-first-with-host-net")) return "ClusterFirstWithHostNet";
  return "ClusterFirst";
}

int pod_scheduling(pod_ctx *c, json_t *spec) {
  const json_t *sel = pod_kget(c, "node_selector");
  if (json_object_size(sel)) json_object_set_new(spec, "nodeSelector", json_deep_copy(sel));
  json_t *t = tolerations(pod_kget(c, "node_tolerations"));
  if (t) json_object_set_new(spec, "tolerations", t);
  const json_t *aff = pod_kget(c, "affinity");
  json_object_set_new(spec, "affinity", aff ? pod_camelize(aff) : json_object());
  json_object_set_new(spec, "dnsPolicy", json_string(dns_policy(pod_kstr(c, "dns_policy"))));
  const json_t *dns = pod_kget(c, "dns_config");
  if (json_object_size(dns)) json_object_set_new(spec, "dnsConfig", pod_camelize(dns));
  return LUNAR_OK;
}

static void add_unique(json_t *names, const char *name) {
  size_t j;
  json_t *x;
  json_array_foreach(names, j, x) if (!strcmp(json_string_value(x), name)) return;
  json_array_append_new(names, json_string(name));
}

/* Hostnames derived from a service image: registry/ns/img:tag gives
 * registry__ns__img and registry-ns-img, when valid DNS subdomains. */
static void image_hostnames(const char *image, json_t *out) {
  char base[512];
  snprintf(base, sizeof base, "%s", image);
  char *at = strchr(base, '@');
  if (at) *at = '\0';
  char *slash = strrchr(base, '/');
  char *colon = strrchr(slash ? slash : base, ':');
  if (colon) *colon = '\0';
  char a[1024] = "", b[512] = "";
  size_t ai = 0, bi = 0;
  for (const char *p = base; *p && ai < sizeof a - 3 && bi < sizeof b - 2; p++) {
    if (*p == '/') {
      a[ai++] = '_', a[ai++] = '_';
      b[bi++] = '-';
    } else {
      a[ai++] = *p;
      b[bi++] = *p;
    }
  }
  a[ai] = b[bi] = '\0';
  const char *names[] = {a, b};
  for (size_t i = 0; i < 2; i++)
    if (!lunar_names_dns_subdomain_problem(names[i])) add_unique(out, names[i]);
}

/* Kubernetes before 1.7 has no hostAliases. A missing version means unknown:
 * assume a current cluster. */
static int supports_host_aliases(pod_ctx *c) {
  const char *v = pod_str(c->in, "server_version");
  if (!*v) return 1;
  int major = 0, minor = 0;
  if (sscanf(v, "%d.%d", &major, &minor) != 2) {
    pod_warn(c, "cannot read the Kubernetes version \"%s\"; services get no host aliases", v);
    return 0;
  }
  return major > 1 || (major == 1 && minor >= 7);
}

int pod_host_aliases(pod_ctx *c, json_t *spec) {
  json_t *list = json_array();
  if (supports_host_aliases(c)) {
    json_t *names = json_array();
    size_t i;
    json_t *svc;
    json_array_foreach(json_object_get(c->in, "services"), i, svc) {
      if (json_array_size(json_object_get(svc, "ports"))) continue; /* proxied, not aliased */
      char *image = pod_expand(c, pod_str(svc, "name"));
      char *alias = pod_expand(c, pod_str(svc, "alias"));
      if (!image || !alias) {
        free(image), free(alias), json_decref(names), json_decref(list);
        return LUNAR_ENOMEM;
      }
      image_hostnames(image, names);
      const char *p = alias;
      while (*p) {
        while (*p == ',' || *p == ' ') p++;
        size_t n = strcspn(p, ", ");
        if (!n) break;
        char one[256];
        snprintf(one, sizeof one, "%.*s", (int)n, p);
        const char *why = lunar_names_dns_subdomain_problem(one);
        if (why) {
          lunar_error_set(c->err, LUNAR_EINVAL, "the alias \"%s\" of service \"%s\" is not a valid DNS name: it %s", one,
                          image, why);
          free(image), free(alias), json_decref(names), json_decref(list);
          return LUNAR_EINVAL;
        }
        add_unique(names, one);
        p += n;
      }
      free(image);
      free(alias);
    }
    if (json_array_size(names)) json_array_append_new(list, json_pack("{ssso}", "ip", "127.0.0.1", "hostnames", names));
    else json_decref(names);
    size_t j;
    json_t *h;
    json_array_foreach(pod_kget(c, "host_aliases"), j, h) json_array_append_new(list, json_deep_copy(h));
  }
  if (json_array_size(list)) json_object_set_new(spec, "hostAliases", list);
  else json_decref(list);
  return LUNAR_OK;
}
