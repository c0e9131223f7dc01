/* Images of the Pod: the build image, the helper image for the node's
 * architecture and OS, the allow lists, and pull policies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pod/internal.h"
#include "util/glob.h"

#define HELPER_REPO "registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper"
#define HELPER_VERSION "v19.3.0"

int pod_build_image(pod_ctx *c, char **out) {
  const char *name = pod_str(json_object_get(c->job, "image"), "name");
  if (!*name) name = pod_kstr(c, "image");
  if (!*name)
    return lunar_error_set(c->err, LUNAR_EINVAL,
                           "the job names no image and kubernetes.image is not set: set a default image");
  *out = pod_expand(c, name);
  return *out ? LUNAR_OK : LUNAR_ENOMEM;
}

static const char *helper_arch(const char *arch) {
  static const char *map[][2] = {{"amd64", "x86_64"}, {"x86_64", "x86_64"}, {"arm64", "arm64"},
                                 {"aarch64", "arm64"}, {"arm", "arm"},      {"armv6l", "arm"},
                                 {"armv7l", "arm"},    {"s390x", "s390x"},  {"ppc64le", "ppc64le"},
                                 {"riscv64", "riscv64"}};
  for (size_t i = 0; i < sizeof map / sizeof *map; i++)
    if (!strcmp(arch, map[i][0])) return map[i][1];
  return NULL;
}

static const char *windows_release(const char *build) {
  static const char *map[][2] = {{"10.0.17763", "1809"}, {"10.0.20348", "21H2"}, {"10.0.26100", "24H2"}};
  for (size_t i = 0; i < sizeof map / sizeof *map; i++)
    if (!strncmp(build, map[i][0], strlen(map[i][0]))) return map[i][1];
  return NULL;
}

char *pod_helper_image(pod_ctx *c) {
  const char *configured = pod_kstr(c, "helper_image");
  if (*configured) return pod_expand(c, configured);
  const json_t *sel = pod_kget(c, "node_selector");
  const char *arch_label = pod_str(sel, "kubernetes.io/arch");
  const char *arch = *arch_label ? helper_arch(arch_label) : "x86_64";
  if (!arch) {
    pod_warn(c, "no helper image for architecture \"%s\" (node selector kubernetes.io/arch); using x86_64, or set kubernetes.helper_image", arch_label);
    arch = "x86_64";
  }
  const char *flavor = pod_kstr(c, "helper_image_flavor");
  char prefix[32] = "";
  if (*flavor && strcmp(flavor, "alpine") != 0) snprintf(prefix, sizeof prefix, "%s-", flavor);
  char image[512];
  if (c->windows) {
    const char *build = pod_str(sel, "node.kubernetes.io/windows-build");
    const char *release = *build ? windows_release(build) : NULL;
    if (!release) {
      pod_warn(c, "unknown Windows build \"%s\" (node selector node.kubernetes.io/windows-build); using the servercore 21H2 helper", build);
      release = "21H2";
    }
    snprintf(image, sizeof image, "%s:%s-%s-servercore%s", HELPER_REPO, arch, HELPER_VERSION, release);
  } else {
    snprintf(image, sizeof image, "%s:%s%s-%s", HELPER_REPO, prefix, arch, HELPER_VERSION);
  }
  return strdup(image);
}

/* The image name without its tag or digest. */
static void strip_tag(const char *image, char *out, size_t size) {
  snprintf(out, size, "%s", image);
  char *at = strchr(out, '@');
  if (at) *at = '\0';
  char *slash = strrchr(out, '/');
  char *colon = strrchr(slash ? slash : out, ':');
  if (colon) *colon = '\0';
}

int pod_check_allowed(pod_ctx *c, const char *list_key, const char *image, const char *what) {
  const json_t *list = pod_kget(c, list_key);
  if (!json_array_size(list)) return LUNAR_OK;
  size_t i;
  json_t *p;
  json_array_foreach(list, i, p) {
    int r = lunar_glob_match(json_string_value(p), image, c->err);
    if (r < 0) return lunar_error_wrap(c->err, "kubernetes.%s[%zu]", list_key, i + 1);
    if (r) return LUNAR_OK;
  }
  /* the configured default image and the helper image are always allowed */
  char *def = pod_expand(c, pod_kstr(c, "image"));
  int is_default = def && *def && !strcmp(def, image);
  free(def);
  if (is_default) return LUNAR_OK;
  char *helper = pod_helper_image(c), a[512], b[512];
  strip_tag(helper ? helper : "", a, sizeof a);
  strip_tag(image, b, sizeof b);
  free(helper);
  if (!strcmp(a, b)) return LUNAR_OK;
  char *listed = json_dumps(list, JSON_COMPACT);
  lunar_error_set(c->err, LUNAR_EINVAL,
                  "disallowed image: the %s image \"%s\" is not on kubernetes.%s %s; use an image that matches one of "
                  "the patterns, or ask the runner's administrator to allow it",
                  what, image, list_key, listed ? listed : "[...]");
  free(listed);
  return LUNAR_EINVAL;
}

/* "always" -> "Always" ...; NULL for an unknown name. */
static const char *k8s_policy(const char *p) {
  if (!strcmp(p, "always")) return "Always";
  if (!strcmp(p, "never")) return "Never";
  if (!strcmp(p, "if-not-present")) return "IfNotPresent";
  if (!*p) return "";
  return NULL;
}

/* A string or a list of strings as a new array (NULL when unset or empty). */
static json_t *as_list(const json_t *v) {
  if (json_is_string(v)) {
    json_t *a = json_array();
    json_array_append(a, (json_t *)v);
    return a;
  }
  if (json_is_array(v) && json_array_size(v)) return json_deep_copy(v);
  return NULL;
}

/* Maps a list of lunar names to Kubernetes names. NULL + error on a bad one. */
static json_t *mapped(pod_ctx *c, const json_t *list, const char *where) {
  json_t *out = json_array();
  size_t i;
  json_t *p;
  json_array_foreach(list, i, p) {
    const char *name = json_string_value(p);
    const char *k = name ? k8s_policy(name) : NULL;
    if (!k) {
      json_decref(out);
      lunar_error_set(c->err, LUNAR_EINVAL, "%s: unsupported pull policy \"%s\" (use always, never or if-not-present)",
                      where, name ? name : "?");
      return NULL;
    }
    json_array_append_new(out, json_string(k));
  }
  return out;
}

static int contains(const json_t *list, const char *s) {
  size_t i;
  json_t *x;
  json_array_foreach(list, i, x) if (!strcmp(json_string_value(x), s)) return 1;
  return 0;
}

json_t *pod_pull_policies(pod_ctx *c, const char *container, const json_t *image_obj, const char *image) {
  const json_t *by_image = json_object_get(json_object_get(c->in, "pull_policy_by_image"), image);
  json_t *config = by_image ? as_list(by_image) : as_list(pod_kget(c, "pull_policy"));
  json_t *requested = as_list(json_object_get(image_obj, "pull_policy"));
  const char *source = "GitLab pipeline config";
  if (!requested) {
    requested = config ? json_incref(config) : NULL;
    source = by_image ? "the runner's pull_policy policy" : "Runner config";
  }
  if (!requested) {
    requested = json_pack("[s]", "");
    source = "Runner config (default)";
  }
  json_t *allowed_src = as_list(pod_kget(c, "allowed_pull_policies"));
  if (!allowed_src && config) allowed_src = json_incref(config);
  json_t *want = mapped(c, requested, container);
  json_t *allowed = allowed_src ? mapped(c, allowed_src, "kubernetes.allowed_pull_policies") : NULL;
  json_t *out = NULL;
  if (!want || (allowed_src && !allowed)) goto done;
  if (!allowed) { /* nothing configured: whatever the job asks for */
    out = json_incref(want);
    goto done;
  }
  out = json_array();
  size_t i;
  json_t *p;
  json_array_foreach(want, i, p) if (contains(allowed, json_string_value(p))) json_array_append(out, p);
  if (!json_array_size(out)) {
    char *w = json_dumps(want, JSON_COMPACT), *a = json_dumps(allowed, JSON_COMPACT);
    lunar_error_set(c->err, LUNAR_EINVAL,
                    "invalid pull policy for container \"%s\": pull_policy %s defined in %s is not one of the "
                    "allowed_pull_policies %s",
                    container, w ? w : "?", source, a ? a : "?");
    free(w);
    free(a);
    json_decref(out);
    out = NULL;
  }
done:
  json_decref(config);
  json_decref(requested);
  json_decref(allowed_src);
  json_decref(want);
  json_decref(allowed);
  return out;
}
