/* lunar_pod_build: the Pod's metadata (name, labels, annotations) and
 * pod-level fields; containers, volumes and scheduling live beside it. */
#include <lauxlib.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "pod/internal.h"
#include "pod/pod.h"
#include "util/names.h"

/* Go's time.Duration format for whole seconds: 1h0m0s, 1m30s, 45s. */
static void go_duration(long long s, char *out, size_t size) {
  if (s >= 3600) snprintf(out, size, "%lldh%lldm%llds", s / 3600, s % 3600 / 60, s % 60);
  else if (s >= 60) snprintf(out, size, "%lldm%llds", s / 60, s % 60);
  else snprintf(out, size, "%llds", s);
}

static long long job_timeout(pod_ctx *c) {
  int info = pod_table(c, c->job, "runner_info");
  lua_Integer t = 0;
  int ok = pod_int(c, info, "timeout", &t);
  if (info) lua_pop(c->L, 1);
  return ok && t > 0 ? t : 7200;
}

static void label(pod_ctx *c, int labels, const char *key, const char *value) {
  char clean[LUNAR_NAMES_LABEL_MAX + 1];
  lunar_names_label_value(value, clean);
  lua_pushstring(c->L, clean);
  lua_setfield(c->L, labels, key);
}

/* Label keys in GitLab Runner's own domain are reserved. */
static int reserved_label(const char *key) {
  if (!strcasestr(key, "runner.gitlab.com")) return 0; /* the common case */
  regex_t re;
  if (regcomp(&re, "^(.*\\.)?runner\\.gitlab\\.com(/.*)?$", REG_EXTENDED | REG_ICASE | REG_NOSUB)) return 0;
  int hit = regexec(&re, key, 0, NULL, 0) == 0;
  regfree(&re);
  return hit;
}

static const char *var(pod_ctx *c, const char *name) { return pod_str(c, c->vars, name); }

static void num(pod_ctx *c, int t, const char *key, char *out, size_t size) {
  lua_Integer v = 0;
  if (pod_int(c, t, key, &v)) snprintf(out, size, "%lld", (long long)v);
  else out[0] = '\0';
}

static int metadata(pod_ctx *c, int pod, const char *unique, const char *name) {
  lua_State *L = c->L;
  int top = lua_gettop(L);
  int info = pod_table(c, c->job, "job_info");
  int git = pod_table(c, c->job, "git_info");
  int runner = pod_table(c, c->in, "runner");
  int meta = pod_new_obj(c), labels = pod_new_obj(c), ann = pod_new_obj(c);
  char buf[64];
  /* the user's labels first: the defaults below cannot be overridden */
  int user = pod_table(c, c->k, "pod_labels");
  if (user) {
    lua_pushnil(L);
    while (lua_next(L, user)) {
      const char *key = lua_tostring(L, -2);
      if (reserved_label(key)) {
        pod_warn(c, "pod label \"%s\" is in the reserved runner.gitlab.com domain and was dropped", key);
      } else {
        const char *value = pod_expand(c, lua_tostring(L, -1));
        if (!value) {
          lua_settop(L, top);
          return LUNAR_ENOMEM;
        }
        label(c, labels, key, value);
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  label(c, labels, "pod", unique);
  num(c, info, "project_id", buf, sizeof buf);
  label(c, labels, "project.runner.gitlab.com/id", buf);
  label(c, labels, "project.runner.gitlab.com/name", pod_str(c, info, "project_name"));
  label(c, labels, "project.runner.gitlab.com/namespace", var(c, "CI_PROJECT_NAMESPACE"));
  label(c, labels, "project.runner.gitlab.com/namespace-id", var(c, "CI_PROJECT_NAMESPACE_ID"));
  label(c, labels, "project.runner.gitlab.com/root-namespace", var(c, "CI_PROJECT_ROOT_NAMESPACE"));
  num(c, info, "root_namespace_id", buf, sizeof buf);
  label(c, labels, "project.runner.gitlab.com/root-namespace-id", buf);
  label(c, labels, "job.runner.gitlab.com/pod", unique);
  label(c, labels, "manager.runner.gitlab.com/name", pod_str(c, runner, "name"));
  label(c, labels, "manager.runner.gitlab.com/id-short", pod_str(c, runner, "short_token"));

  /* default annotations first: the user's may override them */
  num(c, c->job, "id", buf, sizeof buf);
  lua_pushstring(L, buf), lua_setfield(L, ann, "job.runner.gitlab.com/id");
  lua_pushstring(L, var(c, "CI_JOB_URL")), lua_setfield(L, ann, "job.runner.gitlab.com/url");
  lua_pushstring(L, pod_str(c, git, "sha")), lua_setfield(L, ann, "job.runner.gitlab.com/sha");
  lua_pushstring(L, pod_str(c, git, "before_sha")), lua_setfield(L, ann, "job.runner.gitlab.com/before_sha");
  lua_pushstring(L, pod_str(c, git, "ref")), lua_setfield(L, ann, "job.runner.gitlab.com/ref");
  lua_pushstring(L, pod_str(c, info, "name")), lua_setfield(L, ann, "job.runner.gitlab.com/name");
  go_duration(job_timeout(c), buf, sizeof buf);
  lua_pushstring(L, buf), lua_setfield(L, ann, "job.runner.gitlab.com/timeout");
  num(c, info, "project_id", buf, sizeof buf);
  lua_pushstring(L, buf), lua_setfield(L, ann, "project.runner.gitlab.com/id");
  user = pod_table(c, c->k, "pod_annotations");
  if (user) {
    lua_pushnil(L);
    while (lua_next(L, user)) {
      const char *value = pod_expand(c, lua_tostring(L, -1));
      if (!value) {
        lua_settop(L, top);
        return LUNAR_ENOMEM;
      }
      lua_setfield(L, ann, lua_tostring(L, -3));
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  const char *ns = pod_kstr(c, "namespace");
  if (!*ns) {
    pod_warn(c, "Namespace is empty, therefore assuming 'default'.");
    ns = "default";
  }
  pod_set_str(c, meta, "name", name);
  pod_set_str(c, meta, "namespace", ns);
  lua_pushvalue(L, labels), pod_set(c, meta, "labels");
  lua_pushvalue(L, ann), pod_set(c, meta, "annotations");
  lua_pushvalue(L, meta), pod_set(c, pod, "metadata");
  lua_settop(L, top);
  return LUNAR_OK;
}

static void pod_fields(pod_ctx *c, int spec) {
  lua_State *L = c->L;
  int top = lua_gettop(L);
  pod_set_str(c, spec, "restartPolicy", "Never");
  pod_set_int(c, spec, "activeDeadlineSeconds", job_timeout(c) + 1);
  pod_set_str(c, spec, "serviceAccountName", pod_kstr(c, "service_account"));
  int b;
  if (pod_bool(c, c->k, "automount_service_account_token", &b)) pod_set_bool(c, spec, "automountServiceAccountToken", b);
  pod_set_str(c, spec, "schedulerName", pod_kstr(c, "scheduler_name"));
  pod_set_str(c, spec, "priorityClassName", pod_kstr(c, "priority_class_name"));
  pod_set_str(c, spec, "runtimeClassName", pod_kstr(c, "runtime_class_name"));
  lua_Integer grace;
  if (pod_int(c, c->k, "pod_termination_grace_period_seconds", &grace))
    pod_set_int(c, spec, "terminationGracePeriodSeconds", grace);
  pod_pod_security(c);
  pod_set(c, spec, "securityContext");
  if (!pod_bool(c, c->k, "use_service_account_image_pull_secrets", &b) || !b) {
    int pulls = pod_new_list(c);
    int names = pod_table(c, c->k, "image_pull_secrets");
    lua_Integer n = names ? (lua_Integer)lua_rawlen(L, names) : 0;
    for (lua_Integer i = 1; i <= n; i++) {
      int ref = pod_new_obj(c);
      lua_rawgeti(L, names, i);
      pod_set(c, ref, "name");
      pod_append(c, pulls);
    }
    int plan = pod_table(c, c->in, "plan");
    const char *own = pod_str(c, plan, "pull_secret");
    if (*own) {
      int ref = pod_new_obj(c);
      pod_set_str(c, ref, "name", own);
      pod_append(c, pulls);
    }
    pod_set_nonempty(c, spec, "imagePullSecrets", pulls);
  }
  lua_settop(L, top);
}

static int need_table(pod_ctx *c, const char *key) {
  int t = pod_table(c, c->in, key);
  if (!t) lunar_error_set(c->err, LUNAR_EINVAL, "pod builder: the input needs a %s table", key);
  return t;
}

int lunar_pod_build(lua_State *L, int input, int array_mt, lunar_error *err) {
  luaL_checkstack(L, 64, "building the Pod");
  pod_ctx ctx = {.L = L, .in = lua_absindex(L, input), .err = err}, *c = &ctx;
  c->array_mt = lua_absindex(L, array_mt);
  int top = lua_gettop(L);
  int rc = LUNAR_EINVAL;
  if (!(c->k = need_table(c, "kubernetes")) || !(c->job = need_table(c, "job")) ||
      !(c->layout = need_table(c, "layout")) || !(c->vars = need_table(c, "values")))
    goto fail;
  c->warnings = pod_new_list(c);
  int sel = pod_table(c, c->k, "node_selector");
  c->windows = !strcmp(pod_str(c, sel, "kubernetes.io/os"), "windows");
  if (sel) lua_pop(L, 1);
  c->helper_image = pod_helper_image(c);

  int pod = pod_new_obj(c);
  pod_set_str(c, pod, "apiVersion", "v1");
  pod_set_str(c, pod, "kind", "Pod");
  int spec = pod_new_obj(c);
  const char *name = pod_str(c, c->in, "name"), *unique = pod_str(c, c->in, "unique_name");
  if (!*name || !*unique) {
    rc = lunar_error_set(err, LUNAR_EINVAL, "pod builder: the input needs name and unique_name");
    goto fail;
  }
  if ((rc = metadata(c, pod, unique, name))) goto fail;
  const char *build_image = pod_build_image(c);
  if (!build_image) goto fail;
  if ((rc = pod_check_allowed(c, "allowed_images", build_image, "job"))) goto fail;
  int mounts = pod_volumes(c, spec);
  if (!mounts) goto fail;
  if ((rc = pod_containers(c, spec, mounts, build_image, c->helper_image))) goto fail;
  pod_scheduling(c, spec);
  if ((rc = pod_host_aliases(c, spec))) goto fail;
  pod_fields(c, spec);
  int res = pod_resources(c, c->k, "pod_");
  if (!res) goto fail;
  pod_set_nonempty(c, spec, "resources", res);
  lua_pushvalue(L, spec);
  pod_set(c, pod, "spec");
  lua_pushvalue(L, pod);
  lua_pushvalue(L, c->warnings);
  lua_replace(L, top + 2);
  lua_replace(L, top + 1);
  lua_settop(L, top + 2);
  return LUNAR_OK;
fail:
  if (!rc) rc = LUNAR_EINVAL;
  if (err && !err->msg[0]) lunar_error_set(err, rc, "pod builder: out of memory");
  lua_settop(L, top);
  return rc;
}
