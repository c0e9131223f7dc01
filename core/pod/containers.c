/* The Pod's containers: `build` (the job image), `helper` (the helper image),
 * one per service, and the init containers of the job's stage plan. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pod/internal.h"
#include "util/names.h"
#include "util/quantity.h"

/* Runs the first shell the image has, reading commands from stdin: the
 * command of a container when no stage plan says otherwise. */
static const char DETECT_SHELL[] =
    "if [ -x /usr/local/bin/bash ]; then exec /usr/local/bin/bash; "
    "elif [ -x /usr/bin/bash ]; then exec /usr/bin/bash; "
    "elif [ -x /bin/bash ]; then exec /bin/bash; "
    "elif [ -x /usr/local/bin/sh ]; then exec /usr/local/bin/sh; "
    "elif [ -x /usr/bin/sh ]; then exec /usr/bin/sh; "
    "elif [ -x /bin/sh ]; then exec /bin/sh; "
    "elif [ -x /busybox/sh ]; then exec /busybox/sh; "
    "else echo shell not found; exit 1; fi";

json_t *pod_resources(pod_ctx *c, const json_t *settings, const char *prefix) {
  static const char *res[][2] = {{"cpu", "cpu"}, {"memory", "memory"}, {"ephemeral_storage", "ephemeral-storage"}};
  static const char *kinds[][2] = {{"limit", "limits"}, {"request", "requests"}};
  json_t *out = json_object();
  for (size_t k = 0; k < 2; k++) {
    json_t *list = json_object();
    for (size_t r = 0; r < 3; r++) {
      char key[96];
      snprintf(key, sizeof key, "%s%s_%s", prefix, res[r][0], kinds[k][0]);
      const json_t *v = json_object_get(settings, key);
      const char *q = json_string_value(v);
      char num[64];
      if (json_is_number(v)) { /* a Lua number such as 2 or 0.5 */
        snprintf(num, sizeof num, "%g", json_number_value(v));
        q = num;
      }
      if (!q || !*q) continue;
      lunar_quantity parsed;
      if (lunar_quantity_parse(q, &parsed, c->err)) {
        json_decref(list), json_decref(out);
        lunar_error_wrap(c->err, "kubernetes.%s", key);
        return NULL;
      }
      json_object_set_new(list, res[r][1], json_string(q));
    }
    if (json_object_size(list)) json_object_set_new(out, kinds[k][1], list);
    else json_decref(list);
  }
  return out;
}

/* Environment entries for the variables a container may see: public and
 * runner-internal ones (never masked or other secret ones); the last
 * definition wins at the position of the first; `$` is doubled so that
 * Kubernetes' $(VAR) expansion leaves values alone. */
static void add_env(json_t *env, json_t *index, const char *key, const char *value) {
  size_t n = strlen(value), extra = 0;
  for (size_t i = 0; i < n; i++) extra += value[i] == '$';
  char *escaped = malloc(n + extra + 1), *o = escaped;
  if (!escaped) return;
  for (size_t i = 0; i < n; i++) {
    *o++ = value[i];
    if (value[i] == '$') *o++ = '$';
  }
  *o = '\0';
  json_t *pos = json_object_get(index, key);
  if (pos) {
    json_object_set_new(json_array_get(env, (size_t)json_integer_value(pos)), "value", json_string(escaped));
  } else {
    json_object_set_new(index, key, json_integer((json_int_t)json_array_size(env)));
    json_array_append_new(env, json_pack("{ssss}", "name", key, "value", escaped));
  }
  free(escaped);
}

static json_t *job_env(pod_ctx *c, json_t *index) {
  json_t *env = json_array();
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(c->in, "variables"), i, v) {
    if (!json_is_true(json_object_get(v, "public")) && !json_is_true(json_object_get(v, "internal"))) continue;
    add_env(env, index, pod_str(v, "key"), pod_str(v, "value"));
  }
  return env;
}

static json_t *string_list(const json_t *v) {
  return (json_is_array(v) && json_array_size(v)) ? json_deep_copy(v) : NULL;
}

static json_t *ports(const json_t *image_obj) {
  const json_t *p = json_object_get(image_obj, "ports");
  if (!json_array_size(p)) return NULL;
  json_t *out = json_array();
  size_t i;
  json_t *x;
  json_array_foreach(p, i, x) {
    json_t *port = json_pack("{sO}", "containerPort", json_object_get(x, "number"));
    const char *proto = pod_str(x, "protocol");
    json_object_set_new(port, "protocol", json_string(!strcasecmp(proto, "udp") ? "UDP" : "TCP"));
    pod_set_str(port, "name", pod_str(x, "name"));
    json_array_append_new(out, port);
  }
  return out;
}

/* Fields every container of the job shares: image, pull policy, resources,
 * mounts, security context, lifecycle hooks. */
static json_t *container(pod_ctx *c, const char *name, const char *image, const json_t *image_obj,
                         const json_t *policy_image_obj, const json_t *resources, const json_t *mounts,
                         const char *security_key, int job_user) {
  json_t *policies = pod_pull_policies(c, name, policy_image_obj, image);
  if (!policies) return NULL;
  json_t *ct = json_pack("{ssss}", "name", name, "image", image);
  pod_set_str(ct, "imagePullPolicy", json_string_value(json_array_get(policies, 0)));
  json_decref(policies);
  if (json_object_size(resources)) json_object_set(ct, "resources", (json_t *)resources);
  json_object_set_new(ct, "volumeMounts", json_deep_copy(mounts));
  json_t *sec = pod_container_security(c, security_key, name, job_user ? image_obj : NULL);
  if (sec) json_object_set_new(ct, "securityContext", sec);
  const json_t *hooks = pod_kget(c, "container_lifecycle");
  if (json_object_size(hooks)) json_object_set_new(ct, "lifecycle", pod_camelize(hooks));
  return ct;
}

/* The plan's entry for container `name`, or NULL. */
static const json_t *plan_entry(pod_ctx *c, const char *name) {
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(json_object_get(c->in, "plan"), "containers"), i, e)
    if (!strcmp(pod_str(e, "name"), name)) return e;
  return NULL;
}

/* The command of a job container: the plan's, else the shell detector; the
 * job's `image: entrypoint` becomes the command with ours as its arguments. */
static void set_command(pod_ctx *c, json_t *ct, const char *name, const json_t *image_obj) {
  const json_t *entry = plan_entry(c, name);
  json_t *cmd = entry ? string_list(json_object_get(entry, "command")) : NULL;
  if (!cmd) cmd = json_pack("[sss]", "sh", "-c", DETECT_SHELL);
  json_t *entrypoint = string_list(json_object_get(image_obj, "entrypoint"));
  int cleared = entrypoint && json_array_size(entrypoint) == 1 && !*json_string_value(json_array_get(entrypoint, 0));
  if (entrypoint && !cleared) {
    json_object_set_new(ct, "command", entrypoint);
    json_object_set_new(ct, "args", cmd);
  } else {
    json_decref(entrypoint);
    json_object_set_new(ct, "command", cmd);
  }
}

/* Splits "a, b c" into aliases. New array. */
static json_t *aliases(const char *s) {
  json_t *out = json_array();
  const char *p = s;
  while (*p) {
    while (*p == ',' || *p == ' ') p++;
    size_t n = strcspn(p, ", ");
    if (n) json_array_append_new(out, json_stringn(p, n));
    p += n;
  }
  return out;
}

/* Container name of a service: the first alias not used yet that is a valid
 * DNS-1123 label, else svc-<n>. Every alias looked at is marked used. */
static void service_name(const json_t *alias_list, json_t *used, int *unnamed, char *out, size_t size) {
  size_t i;
  json_t *a;
  json_array_foreach(alias_list, i, a) {
    const char *s = json_string_value(a);
    int fresh = !json_object_get(used, s);
    json_object_set_new(used, s, json_true());
    if (fresh && !lunar_names_dns_label_problem(s)) {
      snprintf(out, size, "%s", s);
      return;
    }
  }
  snprintf(out, size, "svc-%d", (*unnamed)++);
}

static int by_name(const void *a, const void *b) {
  return strcmp(pod_str(*(json_t *const *)a, "name"), pod_str(*(json_t *const *)b, "name"));
}

static int service_containers(pod_ctx *c, json_t *list, const json_t *mounts) {
  const json_t *services = json_object_get(c->in, "services");
  const json_t *overrides = json_object_get(c->in, "service_resources");
  json_t *used = json_object();
  int unnamed = 0, rc = LUNAR_OK;
  size_t n = json_array_size(services), i;
  json_t **built = calloc(n ? n : 1, sizeof *built);
  for (i = 0; i < n; i++) {
    const json_t *svc = json_array_get(services, i);
    char *image = pod_expand(c, pod_str(svc, "name"));
    char *alias = pod_expand(c, pod_str(svc, "alias"));
    char name[64], idx[24];
    json_t *alias_list = aliases(alias ? alias : "");
    service_name(alias_list, used, &unnamed, name, sizeof name);
    json_decref(alias_list);
    free(alias);
    if (!image || (rc = pod_check_allowed(c, "allowed_services", image, "service"))) {
      free(image);
      rc = rc ? rc : LUNAR_ENOMEM;
      break;
    }
    snprintf(idx, sizeof idx, "%zu", i + 1);
    const json_t *own = json_object_get(overrides, idx);
    json_t *res = pod_resources(c, own ? own : c->k, "service_");
    json_t *ct = res ? container(c, name, image, svc, svc, res, mounts, "service_container_security_context", 1) : NULL;
    json_decref(res);
    free(image);
    if (!ct) {
      lunar_error_wrap(c->err, "service %s", pod_str(svc, "name"));
      rc = LUNAR_EINVAL;
      break;
    }
    json_t *entrypoint = string_list(json_object_get(svc, "entrypoint"));
    json_t *command = string_list(json_object_get(svc, "command"));
    if (entrypoint) json_object_set_new(ct, "command", entrypoint);
    if (command) json_object_set_new(ct, "args", command);
    json_t *p = ports(svc);
    if (p) json_object_set_new(ct, "ports", p);
    /* the job's public variables, then the service's own, expanded */
    json_t *index = json_object();
    json_t *env = job_env(c, index);
    size_t j;
    json_t *v;
    json_array_foreach(json_object_get(svc, "variables"), j, v) {
      char *value = pod_expand(c, pod_str(v, "value"));
      if (value) add_env(env, index, pod_str(v, "key"), value);
      free(value);
    }
    json_decref(index);
    json_object_set_new(ct, "env", env);
    built[i] = ct;
  }
  if (!rc) {
    qsort(built, n, sizeof *built, by_name);
    for (i = 0; i < n; i++) json_array_append_new(list, built[i]);
  } else {
    for (i = 0; i < n; i++) json_decref(built[i]);
  }
  free(built);
  json_decref(used);
  return rc;
}

/* Init containers of the plan: each runs one pre-build stage on the helper
 * (or build) image, with the helper's resources and mounts. */
static int init_containers(pod_ctx *c, json_t *spec, const json_t *mounts, const char *build_image,
                           const char *helper_image) {
  json_t *inits = json_array();
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(json_object_get(c->in, "plan"), "containers"), i, e) {
    if (!json_is_true(json_object_get(e, "init"))) continue;
    int on_build = !strcmp(pod_str(e, "image"), "build");
    const json_t *image_obj = json_object_get(c->job, "image");
    json_t *res = pod_resources(c, c->k, on_build ? "" : "helper_");
    json_t *ct = res ? container(c, pod_str(e, "name"), on_build ? build_image : helper_image, image_obj, image_obj, res,
                                 mounts, on_build ? "build_container_security_context" : "helper_container_security_context",
                                 on_build)
                     : NULL;
    json_decref(res);
    if (!ct) {
      json_decref(inits);
      return LUNAR_EINVAL;
    }
    json_object_del(ct, "lifecycle"); /* hooks are for the long-running containers */
    json_object_set_new(ct, "command", json_deep_copy(json_object_get(e, "command")));
    json_array_append_new(inits, ct);
  }
  if (json_array_size(inits)) json_object_set_new(spec, "initContainers", inits);
  else json_decref(inits);
  return LUNAR_OK;
}

int pod_containers(pod_ctx *c, json_t *spec, const json_t *mounts, const char *build_image,
                   const char *helper_image) {
  json_t *list = json_array();
  const json_t *image_obj = json_object_get(c->job, "image");
  int rc = LUNAR_EINVAL;

  json_t *res = pod_resources(c, c->k, "");
  json_t *build = res ? container(c, "build", build_image, image_obj, image_obj, res, mounts,
                                  "build_container_security_context", 1)
                      : NULL;
  json_decref(res);
  if (!build) goto done;
  set_command(c, build, "build", image_obj);
  json_t *index = json_object();
  json_object_set_new(build, "env", job_env(c, index));
  json_decref(index);
  json_t *p = ports(image_obj);
  if (p) json_object_set_new(build, "ports", p);
  json_array_append_new(list, build);

  res = pod_resources(c, c->k, "helper_");
  /* the helper pulls as the job image asks, and never takes the job's user */
  json_t *helper = res ? container(c, "helper", helper_image, NULL, image_obj, res, mounts,
                                   "helper_container_security_context", 0)
                       : NULL;
  json_decref(res);
  if (!helper) goto done;
  set_command(c, helper, "helper", NULL);
  json_array_append_new(list, helper);

  if (service_containers(c, list, mounts)) goto done;
  if (init_containers(c, spec, mounts, build_image, helper_image)) goto done;
  json_object_set(spec, "containers", list);
  rc = LUNAR_OK;
done:
  json_decref(list);
  return rc;
}
