/* The Pod's containers: `build` (the job image), `helper` (the helper image),
 * one per service, and the init containers of the job's stage plan. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pod/internal.h"
#include "util/names.h"
#include "util/quantity.h"

/* The setting names of a resource class: [class][cpu|memory|ephemeral storage][limit|request] */
static const char *const RESOURCE_KEYS[4][3][2] = {
    {{"cpu_limit", "cpu_request"}, {"memory_limit", "memory_request"},
     {"ephemeral_storage_limit", "ephemeral_storage_request"}},
    {{"service_cpu_limit", "service_cpu_request"}, {"service_memory_limit", "service_memory_request"},
     {"service_ephemeral_storage_limit", "service_ephemeral_storage_request"}},
    {{"helper_cpu_limit", "helper_cpu_request"}, {"helper_memory_limit", "helper_memory_request"},
     {"helper_ephemeral_storage_limit", "helper_ephemeral_storage_request"}},
    {{"pod_cpu_limit", "pod_cpu_request"}, {"pod_memory_limit", "pod_memory_request"},
     {"pod_ephemeral_storage_limit", "pod_ephemeral_storage_request"}},
};

int pod_resources(pod_ctx *c, int settings, const char *prefix) {
  static const char *res[] = {"cpu", "memory", "ephemeral-storage"};
  static const char *kinds[] = {"limits", "requests"};
  int class = !strcmp(prefix, "service_") ? 1 : !strcmp(prefix, "helper_") ? 2 : !strcmp(prefix, "pod_") ? 3 : 0;
  lua_State *L = c->L;
  int out = pod_new_obj(c);
  for (size_t k = 0; k < 2; k++) {
    int list = 0;
    for (size_t r = 0; r < 3; r++) {
      const char *key = RESOURCE_KEYS[class][r][k];
      int type = lua_getfield(L, settings, key);
      /* a string, or a Lua number such as 2 or 0.5 (converted in place) */
      const char *q = (type == LUA_TSTRING || type == LUA_TNUMBER) ? lua_tostring(L, -1) : "";
      if (!*q) {
        lua_pop(L, 1);
        continue;
      }
      lunar_quantity parsed;
      if (lunar_quantity_parse(q, &parsed, c->err)) {
        lunar_error_wrap(c->err, "kubernetes.%s", key);
        lua_settop(L, out - 1);
        return 0;
      }
      if (!list) {
        lua_newtable(L);
        lua_insert(L, -2); /* keep the quantity on top */
        list = lua_gettop(L) - 1;
      }
      lua_setfield(L, list, res[r]);
    }
    if (list) pod_set(c, out, kinds[k]);
  }
  return out;
}

/* Environments. input.env is the build container's: the job's public and
 * runner variables, never masked or other secret ones, each name once, `$`
 * already doubled (lua/lunar/stages.lua). A service sees that plus its own
 * variables, given as { key, value } (expanded; `$` is doubled here so that
 * Kubernetes' $(VAR) expansion leaves it alone) or { key, secret_key } when
 * the value used a secret variable: then it is read from the job Secret. */

/* Sets env[`valueFrom`] to the job Secret's key `secret_key` (a value that
 * used a masked variable is read from the Secret, never written in the Pod). */
static void set_secret_ref(pod_ctx *c, int env, const char *secret_key) {
  int from = pod_new_obj(c), ref = pod_new_sized(c, 2);
  int plan = pod_table(c, c->in, "plan");
  pod_set_str(c, ref, "name", pod_str(c, plan, "secret"));
  if (plan) lua_pop(c->L, 1);
  pod_set_str(c, ref, "key", secret_key);
  pod_set(c, from, "secretKeyRef");
  pod_set(c, env, "valueFrom");
}

/* Pushes a copy of input.env and an index name -> position (two values);
 * returns the env's index. */
static int base_env(pod_ctx *c) {
  lua_State *L = c->L;
  int env = pod_new_list(c);
  int index = pod_new_sized(c, 64);
  int src = pod_table(c, c->in, "env");
  lua_Integer n = src ? (lua_Integer)lua_rawlen(L, src) : 0;
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, src, i);
    int e = lua_gettop(L);
    int copy = pod_new_sized(c, 2);
    lua_getfield(L, e, "name");
    lua_pushvalue(L, -1);
    lua_pushinteger(L, i);
    lua_rawset(L, index); /* index[name] = i */
    pod_set(c, copy, "name");
    const char *secret_key = pod_str(c, e, "secret_key");
    if (*secret_key) { /* a value that used a secret: read from the job Secret */
      set_secret_ref(c, copy, secret_key);
    } else {
      lua_getfield(L, e, "value");
      pod_set(c, copy, "value");
    }
    lua_rawseti(L, env, i);
    lua_pop(L, 1);
  }
  if (src) lua_pop(L, 1);
  return env;
}

/* Adds or replaces (at its first position) the variable at v. */
static void add_env(pod_ctx *c, int env, int index, int v) {
  lua_State *L = c->L;
  const char *key = pod_str(c, v, "key");
  const char *secret_key = pod_str(c, v, "secret_key");
  int e = pod_new_sized(c, 2);
  pod_set_str(c, e, "name", key);
  if (*secret_key) {
    set_secret_ref(c, e, secret_key);
  } else {
    const char *value = pod_str(c, v, "value");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (const char *p = value; *p; p++) {
      luaL_addchar(&b, *p);
      if (*p == '$') luaL_addchar(&b, '$');
    }
    luaL_pushresult(&b);
    pod_set(c, e, "value");
  }
  if (lua_getfield(L, index, key) == LUA_TNUMBER) {
    lua_Integer pos = lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_rawseti(L, env, pos);
    return;
  }
  lua_pop(L, 1);
  lua_Integer pos = (lua_Integer)lua_rawlen(L, env) + 1;
  lua_rawseti(L, env, pos);
  lua_pushinteger(L, pos);
  lua_setfield(L, index, key);
}

/* Pushes the container ports of the image object's `ports`, or nothing (0). */
static int ports(pod_ctx *c, int image_obj) {
  lua_State *L = c->L;
  int p = pod_table(c, image_obj, "ports");
  lua_Integer n = p ? (lua_Integer)lua_rawlen(L, p) : 0;
  if (!n) {
    if (p) lua_pop(L, 1);
    return 0;
  }
  int out = pod_new_list(c);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, p, i);
    int x = lua_gettop(L);
    int port = pod_new_obj(c);
    lua_getfield(L, x, "number");
    pod_set(c, port, "containerPort");
    pod_set_str(c, port, "protocol", !strcasecmp(pod_str(c, x, "protocol"), "udp") ? "UDP" : "TCP");
    pod_set_str(c, port, "name", pod_str(c, x, "name"));
    pod_append(c, out);
    lua_pop(L, 1);
  }
  lua_remove(L, p);
  return 1;
}

/* Pushes a container with the fields every container of the job shares:
 * image, pull policy, resources, mounts, security context, lifecycle hooks.
 * Returns 0 (nothing pushed) on error. */
static int container(pod_ctx *c, const char *name, const char *image, int user_obj, int policy_obj, int settings,
                     const char *prefix, int mounts, const char *security_key) {
  lua_State *L = c->L;
  int top = lua_gettop(L);
  const char *policy = pod_pull_policy(c, name, policy_obj, image);
  if (!policy) {
    lua_settop(L, top);
    return 0;
  }
  int res = pod_resources(c, settings, prefix);
  if (!res) {
    lua_settop(L, top);
    return 0;
  }
  int ct = pod_new_sized(c, 12);
  pod_set_str(c, ct, "name", name);
  pod_set_str(c, ct, "image", image);
  pod_set_str(c, ct, "imagePullPolicy", policy);
  pod_set_nonempty(c, ct, "resources", res);
  pod_copy(c, mounts);
  pod_set(c, ct, "volumeMounts");
  pod_container_security(c, security_key, name, user_obj);
  pod_set(c, ct, "securityContext");
  int hooks = pod_table(c, c->k, "container_lifecycle");
  if (hooks) {
    pod_camelize(c, hooks);
    pod_set(c, ct, "lifecycle");
  }
  lua_pushvalue(L, ct);
  lua_replace(L, top + 1);
  lua_settop(L, top + 1);
  return top + 1;
}

/* The plan's container entry named `name`: pushes it, or returns 0. */
static int plan_entry(pod_ctx *c, const char *name) {
  lua_State *L = c->L;
  int plan = pod_table(c, c->in, "plan");
  int list = pod_table(c, plan, "containers");
  lua_Integer n = list ? (lua_Integer)lua_rawlen(L, list) : 0;
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, list, i);
    if (!strcmp(pod_str(c, lua_gettop(L), "name"), name)) {
      lua_replace(L, plan);
      lua_settop(L, plan);
      return plan;
    }
    lua_pop(L, 1);
  }
  lua_settop(L, plan ? plan - 1 : lua_gettop(L));
  return 0;
}

/* A non-empty list of strings at t[key]: pushes a copy, else returns 0. */
static int string_list(pod_ctx *c, int t, const char *key) {
  int l = pod_table(c, t, key);
  if (!l) return 0;
  if (!lua_rawlen(c->L, l)) {
    lua_pop(c->L, 1);
    return 0;
  }
  pod_copy(c, l);
  lua_remove(c->L, l);
  return lua_gettop(c->L);
}

/* The command of a job container: the plan's (without a plan, the image's
 * own); the job's `image: entrypoint` becomes the command with ours as its
 * arguments (`[""]` clears the entrypoint). */
static void set_command(pod_ctx *c, int ct, const char *name, int image_obj) {
  lua_State *L = c->L;
  int top = lua_gettop(L);
  int entry = plan_entry(c, name);
  int cmd = entry ? string_list(c, entry, "command") : 0;
  if (!cmd) {
    lua_settop(L, top);
    return;
  }
  int ep = image_obj ? string_list(c, image_obj, "entrypoint") : 0;
  int cleared = 0;
  if (ep && lua_rawlen(L, ep) == 1) {
    lua_rawgeti(L, ep, 1);
    cleared = lua_type(L, -1) == LUA_TSTRING && lua_rawlen(L, -1) == 0;
    lua_pop(L, 1);
  }
  if (ep && !cleared) {
    lua_pushvalue(L, ep);
    pod_set(c, ct, "command");
    lua_pushvalue(L, cmd);
    pod_set(c, ct, "args");
  } else {
    lua_pushvalue(L, cmd);
    pod_set(c, ct, "command");
  }
  lua_settop(L, top);
}

/* Container name of a service: the first alias not used yet that is a valid
 * DNS-1123 label, else svc-<n>. Every alias looked at is marked used. Pushes
 * the name. */
static const char *service_name(pod_ctx *c, const char *alias, int used, int *unnamed) {
  lua_State *L = c->L;
  const char *p = alias;
  while (*p) {
    while (*p == ',' || *p == ' ') p++;
    size_t n = strcspn(p, ", ");
    if (!n) break;
    lua_pushlstring(L, p, n);
    int fresh = lua_getfield(L, used, lua_tostring(L, -1)) == LUA_TNIL;
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
    lua_setfield(L, used, lua_tostring(L, -2));
    if (fresh && !lunar_names_dns_label_problem(lua_tostring(L, -1))) return lua_tostring(L, -1);
    lua_pop(L, 1);
    p += n;
  }
  lua_pushfstring(L, "svc-%d", (*unnamed)++);
  return lua_tostring(L, -1);
}

static int by_name(lua_State *L) {
  lua_getfield(L, 1, "name");
  lua_getfield(L, 2, "name");
  lua_pushboolean(L, strcmp(lua_tostring(L, -2), lua_tostring(L, -1)) < 0);
  return 1;
}

static int service_containers(pod_ctx *c, int list, int mounts) {
  lua_State *L = c->L;
  int top = lua_gettop(L);
  int services = pod_table(c, c->in, "services");
  int overrides = pod_table(c, c->in, "service_resources");
  int used = pod_new_obj(c), built = pod_new_list(c);
  int unnamed = 0, rc = LUNAR_OK;
  lua_Integer n = services ? (lua_Integer)lua_rawlen(L, services) : 0;
  for (lua_Integer i = 1; i <= n && !rc; i++) {
    lua_rawgeti(L, services, i);
    int svc = lua_gettop(L);
    const char *image = pod_expand(c, pod_str(c, svc, "name"));
    const char *alias = image ? pod_expand(c, pod_str(c, svc, "alias")) : NULL;
    if (!alias) {
      rc = LUNAR_ENOMEM;
      break;
    }
    const char *name = service_name(c, alias, used, &unnamed);
    if ((rc = pod_check_allowed(c, "allowed_services", image, "service"))) break;
    int own = 0;
    if (overrides) {
      lua_pushfstring(L, "%d", (int)i);
      if (lua_gettable(L, overrides) == LUA_TTABLE) own = lua_gettop(L);
      else lua_pop(L, 1);
    }
    int ct = container(c, name, image, svc, svc, own ? own : c->k, "service_", mounts, "service_container_security_context");
    if (!ct) {
      lunar_error_wrap(c->err, "service %s", image);
      rc = LUNAR_EINVAL;
      break;
    }
    if (string_list(c, svc, "entrypoint")) pod_set(c, ct, "command");
    if (string_list(c, svc, "command")) pod_set(c, ct, "args");
    if (ports(c, svc)) pod_set(c, ct, "ports");
    /* the job's public variables, then the service's own */
    int env = base_env(c), index = env + 1;
    int svars = pod_table(c, svc, "variables");
    lua_Integer m = svars ? (lua_Integer)lua_rawlen(L, svars) : 0;
    for (lua_Integer j = 1; j <= m; j++) {
      lua_rawgeti(L, svars, j);
      add_env(c, env, index, lua_gettop(L));
      lua_pop(L, 1);
    }
    lua_pushvalue(L, env);
    pod_set(c, ct, "env");
    lua_pushvalue(L, ct);
    pod_append(c, built);
    lua_settop(L, svc - 1);
  }
  if (!rc) {
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "sort");
    lua_pushvalue(L, built);
    lua_pushcfunction(L, by_name);
    lua_call(L, 2, 0);
    lua_pop(L, 1);
    lua_Integer k = (lua_Integer)lua_rawlen(L, built);
    for (lua_Integer i = 1; i <= k; i++) {
      lua_rawgeti(L, built, i);
      pod_append(c, list);
    }
  }
  lua_settop(L, top);
  return rc;
}

/* Init containers of the plan: each runs one pre-build stage on the helper
 * (or build) image, with that image's resources and mounts. */
static int init_containers(pod_ctx *c, int spec, int mounts, const char *build_image, const char *helper_image,
                           int sidecars) {
  lua_State *L = c->L;
  int top = lua_gettop(L);
  int plan = pod_table(c, c->in, "plan");
  int entries = pod_table(c, plan, "containers");
  int image_obj = pod_table(c, c->job, "image");
  int inits = pod_new_list(c);
  /* native sidecars first: the services start while the sources are fetched */
  lua_Integer ns = sidecars ? (lua_Integer)lua_rawlen(L, sidecars) : 0;
  for (lua_Integer i = 1; i <= ns; i++) {
    lua_rawgeti(L, sidecars, i);
    pod_set_str(c, lua_gettop(L), "restartPolicy", "Always");
    pod_append(c, inits);
  }
  lua_Integer n = entries ? (lua_Integer)lua_rawlen(L, entries) : 0;
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, entries, i);
    int e = lua_gettop(L), init = 0;
    if (!pod_bool(c, e, "init", &init) || !init) {
      lua_pop(L, 1);
      continue;
    }
    int on_build = !strcmp(pod_str(c, e, "image"), "build");
    int ct = container(c, pod_str(c, e, "name"), on_build ? build_image : helper_image, on_build ? image_obj : 0,
                       image_obj, c->k, on_build ? "" : "helper_", mounts,
                       on_build ? "build_container_security_context" : "helper_container_security_context");
    if (!ct) {
      lua_settop(L, top);
      return LUNAR_EINVAL;
    }
    lua_pushnil(L);
    pod_set(c, ct, "lifecycle"); /* hooks are for the long-running containers */
    int cmd = string_list(c, e, "command");
    if (cmd) pod_set(c, ct, "command");
    pod_append(c, inits);
    lua_pop(L, 1);
  }
  pod_set_nonempty(c, spec, "initContainers", inits);
  lua_settop(L, top);
  return LUNAR_OK;
}

int pod_containers(pod_ctx *c, int spec, int mounts, const char *build_image, const char *helper_image) {
  lua_State *L = c->L;
  int top = lua_gettop(L);
  int list = pod_new_list(c);
  int image_obj = pod_table(c, c->job, "image");
  if (!image_obj) {
    pod_new_obj(c); /* no image object: an empty one */
    image_obj = lua_gettop(L);
  }
  int build = container(c, "build", build_image, image_obj, image_obj, c->k, "", mounts,
                        "build_container_security_context");
  if (!build) goto fail;
  set_command(c, build, "build", image_obj);
  /* the build container takes input.env as it is, unless some value comes
   * from the job Secret (then it is converted); services get copies */
  if (pod_table(c, c->in, "env")) {
    int src = lua_gettop(L), converted = 0;
    lua_Integer n = (lua_Integer)lua_rawlen(L, src);
    for (lua_Integer i = 1; i <= n && !converted; i++) {
      lua_rawgeti(L, src, i);
      converted = lua_istable(L, -1) && lua_getfield(L, -1, "secret_key") == LUA_TSTRING;
      lua_settop(L, src);
    }
    if (converted) {
      lua_pop(L, 1);
      base_env(c);
      lua_pop(L, 1); /* the name index; stack: env */
    }
    pod_set(c, build, "env");
  }
  if (ports(c, image_obj)) pod_set(c, build, "ports");
  pod_append(c, list);

  /* the helper pulls as the job image asks, and never takes the job's user */
  int helper = container(c, "helper", helper_image, 0, image_obj, c->k, "helper_", mounts,
                         "helper_container_security_context");
  if (!helper) goto fail;
  set_command(c, helper, "helper", 0);
  pod_append(c, list);

  /* services: native sidecars (Kubernetes 1.29+) or plain containers */
  int native = !strcmp(pod_kstr(c, "sidecars"), "native") &&
               pod_server_at_least(c, 29, "native sidecars are not available, services run as plain containers");
  int sidecars = native ? pod_new_list(c) : 0;
  if (service_containers(c, sidecars ? sidecars : list, mounts)) goto fail;
  if (init_containers(c, spec, mounts, build_image, helper_image, sidecars)) goto fail;
  lua_pushvalue(L, list);
  pod_set(c, spec, "containers");
  lua_settop(L, top);
  return LUNAR_OK;
fail:
  lua_settop(L, top);
  return LUNAR_EINVAL;
}
