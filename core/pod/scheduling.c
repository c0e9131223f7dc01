/* Where and how the Pod runs: node selector, tolerations, affinity, DNS, host
 * aliases (one per service so that `alias:port` reaches it on localhost). */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "pod/internal.h"
#include "util/names.h"

/* node_tolerations: "key[=value]" -> "Effect"; a key with `=` is operator
 * Equal, else Exists (an empty key tolerates every taint). Sorted by key. */
static void tolerations(pod_ctx *c, int spec) {
  lua_State *L = c->L;
  int top = lua_gettop(L);
  int m = pod_table(c, c->k, "node_tolerations");
  if (!m) return;
  int keys = pod_sorted_keys(c, m);
  lua_Integer n = (lua_Integer)lua_rawlen(L, keys);
  int out = pod_new_list(c);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, keys, i);
    const char *key = lua_tostring(L, -1);
    int t = pod_new_obj(c);
    const char *eq = strchr(key, '=');
    if (eq) {
      lua_pushlstring(L, key, (size_t)(eq - key));
      pod_set(c, t, "key");
      pod_set_str(c, t, "operator", "Equal");
      lua_pushstring(L, eq + 1);
      pod_set(c, t, "value");
    } else {
      if (*key) pod_set_str(c, t, "key", key); /* no key: every taint */
      pod_set_str(c, t, "operator", "Exists");
    }
    const char *effect = pod_str(c, m, key);
    if (*effect) pod_set_str(c, t, "effect", effect); /* no effect: every effect */
    pod_append(c, out);
    lua_pop(L, 1);
  }
  pod_set_nonempty(c, spec, "tolerations", out);
  lua_settop(L, top);
}

/* GitLab's spellings and Kubernetes' own; "" (unset) is ClusterFirst. */
static const char *dns_policy(const char *s) {
  if (!strcmp(s, "none") || !strcmp(s, "None")) return "None";
  if (!strcmp(s, "default") || !strcmp(s, "Default")) return "Default";
  if (!strcmp(s, "cluster-first-with-host-net") || !strcmp(s, "ClusterFirstWithHostNet")) return "ClusterFirstWithHostNet";
  return "ClusterFirst";
}

void pod_scheduling(pod_ctx *c, int spec) {
  lua_State *L = c->L;
  int top = lua_gettop(L);
  int sel = pod_table(c, c->k, "node_selector");
  if (sel && !pod_empty(c, sel)) {
    pod_copy(c, sel);
    pod_set(c, spec, "nodeSelector");
  }
  tolerations(c, spec);
  int aff = pod_table(c, c->k, "affinity");
  if (aff) pod_camelize(c, aff);
  else pod_new_obj(c);
  pod_set(c, spec, "affinity");
  pod_set_str(c, spec, "dnsPolicy", dns_policy(pod_kstr(c, "dns_policy")));
  int dns = pod_table(c, c->k, "dns_config");
  if (dns && !pod_empty(c, dns)) {
    pod_camelize(c, dns);
    pod_set(c, spec, "dnsConfig");
  }
  lua_settop(L, top);
}

/* Appends `name` to the list unless it is there. */
static void add_unique(pod_ctx *c, int names, const char *name) {
  lua_Integer n = (lua_Integer)lua_rawlen(c->L, names);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(c->L, names, i);
    int same = !strcmp(lua_tostring(c->L, -1), name);
    lua_pop(c->L, 1);
    if (same) return;
  }
  lua_pushstring(c->L, name);
  pod_append(c, names);
}

/* Hostnames derived from a service image: registry/ns/img:tag gives
 * registry__ns__img and registry-ns-img, when valid DNS subdomains. */
static void image_hostnames(pod_ctx *c, const char *image, int names) {
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
  if (!lunar_names_dns_subdomain_problem(a)) add_unique(c, names, a);
  if (!lunar_names_dns_subdomain_problem(b)) add_unique(c, names, b);
}

int pod_host_aliases(pod_ctx *c, int spec) {
  lua_State *L = c->L;
  int top = lua_gettop(L);
  if (!pod_server_at_least(c, 7, "services get no host aliases")) return LUNAR_OK; /* hostAliases: 1.7 */
  int list = pod_new_list(c), names = pod_new_list(c);
  int services = pod_table(c, c->in, "services");
  lua_Integer n = services ? (lua_Integer)lua_rawlen(L, services) : 0;
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, services, i);
    int svc = lua_gettop(L);
    if (pod_len(c, svc, "ports")) { /* proxied, not aliased */
      lua_pop(L, 1);
      continue;
    }
    const char *image = pod_expand(c, pod_str(c, svc, "name"));
    const char *alias = image ? pod_expand(c, pod_str(c, svc, "alias")) : NULL;
    if (!alias) {
      lua_settop(L, top);
      return LUNAR_ENOMEM;
    }
    image_hostnames(c, image, names);
    for (const char *p = alias; *p;) {
      while (*p == ',' || *p == ' ') p++;
      size_t len = strcspn(p, ", ");
      if (!len) break;
      char one[256];
      snprintf(one, sizeof one, "%.*s", (int)len, p);
      const char *why = lunar_names_dns_subdomain_problem(one);
      if (why) {
        lunar_error_set(c->err, LUNAR_EINVAL, "the alias \"%s\" of service \"%s\" is not a valid DNS name: it %s", one,
                        image, why);
        lua_settop(L, top);
        return LUNAR_EINVAL;
      }
      add_unique(c, names, one);
      p += len;
    }
    lua_settop(L, svc - 1);
  }
  if (lua_rawlen(L, names)) {
    int entry = pod_new_obj(c);
    pod_set_str(c, entry, "ip", "127.0.0.1");
    lua_pushvalue(L, names);
    pod_set(c, entry, "hostnames");
    pod_append(c, list);
  }
  int conf = pod_table(c, c->k, "host_aliases");
  lua_Integer m = conf ? (lua_Integer)lua_rawlen(L, conf) : 0;
  for (lua_Integer i = 1; i <= m; i++) {
    lua_rawgeti(L, conf, i);
    pod_copy(c, -1);
    pod_append(c, list);
    lua_pop(L, 1);
  }
  pod_set_nonempty(c, spec, "hostAliases", list);
  lua_settop(L, top);
  return LUNAR_OK;
}
