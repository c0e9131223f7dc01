/* lunar_pod_build: the Pod's metadata (name, labels, annotations) and
 * pod-level fields; containers, volumes and scheduling live beside it. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
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

static long long job_timeout(const pod_ctx *c) {
  json_t *t = json_object_get(json_object_get(c->job, "runner_info"), "timeout");
  return json_is_integer(t) && json_integer_value(t) > 0 ? json_integer_value(t) : 7200;
}

static const char *var(const pod_ctx *c, const char *name) { return pod_str(c->vars, name); }

static void label(json_t *labels, const char *key, const char *value) {
  char clean[LUNAR_NAMES_LABEL_MAX + 1];
  lunar_names_label_value(value, clean);
  json_object_set_new(labels, key, json_string(clean));
}

/* Label keys in GitLab Runner's own domain are reserved. */
static int reserved_label(const char *key) {
  regex_t re;
  if (regcomp(&re, "^(.*\\.)?runner\\.gitlab\\.com(/.*)?$", REG_EXTENDED | REG_ICASE | REG_NOSUB)) return 0;
  int hit = regexec(&re, key, 0, NULL, 0) == 0;
  regfree(&re);
  return hit;
}

static int metadata(pod_ctx *c, json_t *pod, const char *unique, const char *name) {
  const json_t *info = json_object_get(c->job, "job_info");
  const json_t *runner = json_object_get(c->in, "runner");
  char num[32];
  json_t *labels = json_object(), *ann = json_object();
  const char *key;
  json_t *v;
  /* the user's labels first: the defaults below cannot be overridden */
  json_object_foreach((json_t *)pod_kget(c, "pod_labels"), key, v) {
    if (reserved_label(key)) {
      pod_warn(c, "pod label \"%s\" is in the reserved runner.gitlab.com domain and was dropped", key);
      continue;
    }
    char *value = pod_expand(c, json_string_value(v));
    if (!value) goto nomem;
    label(labels, key, value);
    free(value);
  }
  label(labels, "pod", unique);
  snprintf(num, sizeof num, "%lld", (long long)json_integer_value(json_object_get(info, "project_id")));
  label(labels, "project.runner.gitlab.com/id", num);
  label(labels, "project.runner.gitlab.com/name", pod_str(info, "project_name"));
  label(labels, "project.runner.gitlab.com/namespace", var(c, "CI_PROJECT_NAMESPACE"));
  label(labels, "project.runner.gitlab.com/namespace-id", var(c, "CI_PROJECT_NAMESPACE_ID"));
  label(labels, "project.runner.gitlab.com/root-namespace", var(c, "CI_PROJECT_ROOT_NAMESPACE"));
  json_t *root_id = json_object_get(info, "root_namespace_id");
  snprintf(num, sizeof num, "%lld", (long long)json_integer_value(root_id));
  label(labels, "project.runner.gitlab.com/root-namespace-id", json_is_integer(root_id) ? num : "");
  label(labels, "job.runner.gitlab.com/pod", unique);
  label(labels, "manager.runner.gitlab.com/name", pod_str(runner, "name"));
  label(labels, "manager.runner.gitlab.com/id-short", pod_str(runner, "short_token"));

  /* default annotations first: the user's may override them */
  const json_t *git = json_object_get(c->job, "git_info");
  char timeout[32];
  go_duration(job_timeout(c), timeout, sizeof timeout);
  snprintf(num, sizeof num, "%lld", (long long)json_integer_value(json_object_get(c->job, "id")));
  json_object_set_new(ann, "job.runner.gitlab.com/id", json_string(num));
  json_object_set_new(ann, "job.runner.gitlab.com/url", json_string(var(c, "CI_JOB_URL")));
  json_object_set_new(ann, "job.runner.gitlab.com/sha", json_string(pod_str(git, "sha")));
  json_object_set_new(ann, "job.runner.gitlab.com/before_sha", json_string(pod_str(git, "before_sha")));
  json_object_set_new(ann, "job.runner.gitlab.com/ref", json_string(pod_str(git, "ref")));
  json_object_set_new(ann, "job.runner.gitlab.com/name", json_string(pod_str(info, "name")));
  json_object_set_new(ann, "job.runner.gitlab.com/timeout", json_string(timeout));
  snprintf(num, sizeof num, "%lld", (long long)json_integer_value(json_object_get(info, "project_id")));
  json_object_set_new(ann, "project.runner.gitlab.com/id", json_string(num));
  json_object_foreach((json_t *)pod_kget(c, "pod_annotations"), key, v) {
    char *value = pod_expand(c, json_string_value(v));
    if (!value) goto nomem;
    json_object_set_new(ann, key, json_string(value));
    free(value);
  }
  const char *ns = pod_kstr(c, "namespace");
  if (!*ns) {
    pod_warn(c, "Namespace is empty, therefore assuming 'default'.");
    ns = "default";
  }
  json_object_set_new(pod, "metadata", json_pack("{sssssoso}", "name", name, "namespace", ns, "labels", labels,
                                                 "annotations", ann));
  return LUNAR_OK;
nomem:
  json_decref(labels);
  json_decref(ann);
  return LUNAR_ENOMEM;
}

/* runner-<short token>-project-<id>-concurrent-<n>, made RFC 1123, cut to 54. */
static void unique_name(pod_ctx *c, char *out, size_t size) {
  const json_t *runner = json_object_get(c->in, "runner");
  char raw[256];
  snprintf(raw, sizeof raw, "runner-%s-project-%lld-concurrent-%lld", pod_str(runner, "short_token"),
           (long long)json_integer_value(json_object_get(json_object_get(c->job, "job_info"), "project_id")),
           (long long)json_integer_value(json_object_get(c->in, "project_runner_id")));
  lunar_names_rfc1123(raw, out, size - 1 < 54 ? size - 1 : 54);
}

static void pod_fields(pod_ctx *c, json_t *spec) {
  json_object_set_new(spec, "restartPolicy", json_string("Never"));
  json_object_set_new(spec, "activeDeadlineSeconds", json_integer(job_timeout(c) + 1));
  pod_set_str(spec, "serviceAccountName", pod_kstr(c, "service_account"));
  int b;
  if (pod_kbool(c, "automount_service_account_token", &b)) json_object_set_new(spec, "automountServiceAccountToken", json_boolean(b));
  pod_set_str(spec, "schedulerName", pod_kstr(c, "scheduler_name"));
  pod_set_str(spec, "priorityClassName", pod_kstr(c, "priority_class_name"));
  pod_set_str(spec, "runtimeClassName", pod_kstr(c, "runtime_class_name"));
  const json_t *grace = pod_kget(c, "pod_termination_grace_period_seconds");
  if (json_is_integer(grace)) json_object_set(spec, "terminationGracePeriodSeconds", (json_t *)grace);
  json_t *sec = pod_pod_security(c);
  if (sec) json_object_set_new(spec, "securityContext", sec);
  if (!pod_kbool(c, "use_service_account_image_pull_secrets", &b) || !b) {
    json_t *pulls = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(pod_kget(c, "image_pull_secrets"), i, s)
      json_array_append_new(pulls, json_pack("{sO}", "name", s));
    const char *own = pod_str(json_object_get(c->in, "plan"), "pull_secret");
    if (*own) json_array_append_new(pulls, json_pack("{ss}", "name", own));
    if (json_array_size(pulls)) json_object_set_new(spec, "imagePullSecrets", pulls);
    else json_decref(pulls);
  }
}

int lunar_pod_build(const json_t *input, json_t **pod_out, json_t **warnings_out, lunar_error *err) {
  pod_ctx c = {.in = input, .err = err};
  c.k = json_object_get(input, "kubernetes");
  c.job = json_object_get(input, "job");
  c.layout = json_object_get(input, "layout");
  c.vars = json_object();
  c.warnings = json_array();
  *pod_out = *warnings_out = NULL;
  json_t *pod = json_pack("{ssss}", "apiVersion", "v1", "kind", "Pod");
  json_t *spec = json_object(), *mounts = NULL;
  char *build_image = NULL, *helper_image = NULL;
  int rc = LUNAR_EINVAL;
  if (!json_is_object(c.k) || !json_is_object(c.job) || !json_is_object(c.layout)) {
    rc = lunar_error_set(err, LUNAR_EINVAL, "pod builder: the input needs kubernetes, job and layout objects");
    goto done;
  }
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(input, "variables"), i, v)
    json_object_set(c.vars, pod_str(v, "key"), json_object_get(v, "value"));
  c.windows = !strcmp(pod_str(pod_kget(&c, "node_selector"), "kubernetes.io/os"), "windows");

  char unique[64], name[80];
  unique_name(&c, unique, sizeof unique);
  const char *suffix = pod_str(input, "name_suffix");
  snprintf(name, sizeof name, "%s-%.8s", unique, *suffix ? suffix : "00000000");
  if ((rc = metadata(&c, pod, unique, name))) goto done;
  if ((rc = pod_build_image(&c, &build_image))) goto done;
  if ((rc = pod_check_allowed(&c, "allowed_images", build_image, "job"))) goto done;
  helper_image = pod_helper_image(&c);
  if (!helper_image) goto done;
  if (!(mounts = pod_volumes(&c, spec))) {
    rc = LUNAR_EINVAL;
    goto done;
  }
  if ((rc = pod_containers(&c, spec, mounts, build_image, helper_image))) goto done;
  if ((rc = pod_scheduling(&c, spec))) goto done;
  if ((rc = pod_host_aliases(&c, spec))) goto done;
  pod_fields(&c, spec);
  json_t *pod_res = pod_resources(&c, c.k, "pod_");
  if (!pod_res) goto done;
  if (json_object_size(pod_res)) json_object_set(spec, "resources", pod_res);
  json_decref(pod_res);
  json_object_set(pod, "spec", spec);
  *pod_out = json_incref(pod);
  *warnings_out = json_incref(c.warnings);
  rc = LUNAR_OK;
done:
  if (rc && err && !err->msg[0]) lunar_error_set(err, rc, "pod builder: out of memory");
  json_decref(pod);
  json_decref(spec);
  json_decref(mounts);
  json_decref(c.vars);
  json_decref(c.warnings);
  free(build_image);
  free(helper_image);
  return rc;
}
