/* Images of the Pod: the build image, the helper image for the node's
 * architecture and OS, the allow lists, and pull policies. */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "pod/internal.h"
#include "util/glob.h"

#define HELPER_REPO "registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper"
#define HELPER_VERSION "v19.3.0"

const char *pod_build_image(pod_ctx *c) {
  int image = pod_table(c, c->job, "image");
  const char *name = pod_str(c, image, "name");
  if (!*name) name = pod_kstr(c, "image");
  if (!*name) {
    if (image) lua_pop(c->L, 1);
    lunar_error_set(c->err, LUNAR_EINVAL, "the job names no image and kubernetes.image is not set: set a default image");
    return NULL;
  }
  const char *out = pod_expand(c, name);
  if (image) lua_remove(c->L, image);
  return out;
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

const char *pod_helper_image(pod_ctx *c) {
  const char *configured = pod_kstr(c, "helper_image");
  if (*configured) return pod_expand(c, configured);
  int sel = pod_table(c, c->k, "node_selector");
  const char *arch_label = pod_str(c, sel, "kubernetes.io/arch");
  const char *build = pod_str(c, sel, "node.kubernetes.io/windows-build");
  const char *arch = *arch_label ? helper_arch(arch_label) : "x86_64";
  int windows = c->windows;
  int autoset;
  if (pod_bool(c, c->k, "helper_image_autoset_arch_and_os", &autoset) && autoset) {
    /* GitLab Runner's helper_image_autoset_arch_and_os: the architecture and
     * OS of the runner process, not the node selector's (lunar runs on Linux) */
    struct utsname u;
    arch_label = uname(&u) == 0 ? u.machine : "";
    arch = helper_arch(arch_label);
    windows = 0;
  }
  if (!arch) {
    pod_warn(c, "no helper image for architecture \"%s\" (node selector kubernetes.io/arch); using x86_64, or set kubernetes.helper_image", arch_label);
    arch = "x86_64";
  }
  const char *flavor = pod_kstr(c, "helper_image_flavor");
  char prefix[32] = "";
  if (*flavor && strcmp(flavor, "alpine") != 0) snprintf(prefix, sizeof prefix, "%s-", flavor);
  if (windows) {
    const char *release = *build ? windows_release(build) : NULL;
    if (!release) {
      pod_warn(c, "unknown Windows build \"%s\" (node selector node.kubernetes.io/windows-build); using the servercore 21H2 helper", build);
      release = "21H2";
    }
    lua_pushfstring(c->L, "%s:%s-%s-servercore%s", HELPER_REPO, arch, HELPER_VERSION, release);
  } else {
    lua_pushfstring(c->L, "%s:%s%s-%s", HELPER_REPO, prefix, arch, HELPER_VERSION);
  }
  if (sel) lua_remove(c->L, sel);
  return lua_tostring(c->L, -1);
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

/* Pushes the list as JSON-ish text: ["a", "b"]. */
static const char *list_text(pod_ctx *c, int list) {
  luaL_Buffer b;
  luaL_buffinit(c->L, &b);
  luaL_addchar(&b, '[');
  lua_Integer n = (lua_Integer)lua_rawlen(c->L, list);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(c->L, list, i);
    const char *s = lua_tostring(c->L, -1);
    lua_pop(c->L, 1);
    if (i > 1) luaL_addstring(&b, ", ");
    luaL_addchar(&b, '"');
    luaL_addstring(&b, s ? s : "?");
    luaL_addchar(&b, '"');
  }
  luaL_addchar(&b, ']');
  luaL_pushresult(&b);
  return lua_tostring(c->L, -1);
}

int pod_check_allowed(pod_ctx *c, const char *list_key, const char *image, const char *what) {
  lua_State *L = c->L;
  int top = lua_gettop(L);
  int list = pod_table(c, c->k, list_key);
  int rc = LUNAR_OK;
  if (!list || lua_rawlen(L, list) == 0) goto done;
  lua_Integer n = (lua_Integer)lua_rawlen(L, list);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, list, i);
    const char *pattern = lua_tostring(L, -1);
    int r = pattern ? lunar_glob_match(pattern, image, c->err) : 0;
    lua_pop(L, 1);
    if (r < 0) {
      rc = lunar_error_wrap(c->err, "kubernetes.%s[%lld]", list_key, (long long)i);
      goto done;
    }
    if (r) goto done;
  }
  /* the configured default image and the helper image are always allowed */
  const char *def = pod_expand(c, pod_kstr(c, "image"));
  if (def && *def && !strcmp(def, image)) goto done;
  char a[512], b[512];
  strip_tag(c->helper_image ? c->helper_image : "", a, sizeof a);
  strip_tag(image, b, sizeof b);
  if (!strcmp(a, b)) goto done;
  rc = lunar_error_set(c->err, LUNAR_EINVAL,
                       "disallowed image: the %s image \"%s\" is not on kubernetes.%s %s; use an image that matches "
                       "one of the patterns, or ask the runner's administrator to allow it",
                       what, image, list_key, list_text(c, list));
done:
  lua_settop(L, top);
  return rc;
}

/* "always" -> "Always" ...; NULL for an unknown name. */
static const char *k8s_policy(const char *p) {
  if (!strcmp(p, "always")) return "Always";
  if (!strcmp(p, "never")) return "Never";
  if (!strcmp(p, "if-not-present")) return "IfNotPresent";
  /* Kubernetes' own spellings, as GitLab Runner accepts them */
  if (!strcmp(p, "Always")) return "Always";
  if (!strcmp(p, "Never")) return "Never";
  if (!strcmp(p, "IfNotPresent")) return "IfNotPresent";
  if (!*p) return "";
  return NULL;
}

#define MAX_POLICIES 8

typedef struct policies {
  const char *name[MAX_POLICIES]; /* Kubernetes names (static strings) */
  int n;
} policies;

/* Reads a string or a list of strings at the top of the stack (popped) into
 * `out`. Returns 1 when something was set, 0 when unset, -1 on a bad name. */
static int read_policies(pod_ctx *c, policies *out, const char *where) {
  lua_State *L = c->L;
  int idx = lua_gettop(L);
  out->n = 0;
  int rc = 0;
  if (lua_type(L, idx) == LUA_TSTRING) {
    lua_newtable(L);
    lua_pushvalue(L, idx);
    lua_rawseti(L, -2, 1);
    lua_replace(L, idx);
  }
  if (lua_type(L, idx) == LUA_TTABLE) {
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    for (lua_Integer i = 1; i <= n && out->n < MAX_POLICIES; i++) {
      lua_rawgeti(L, idx, i);
      const char *s = lua_tostring(L, -1);
      const char *k = s ? k8s_policy(s) : NULL;
      if (!k) {
        lunar_error_set(c->err, LUNAR_EINVAL, "%s: unsupported pull policy \"%s\" (use always, never or if-not-present)",
                        where, s ? s : "?");
        lua_settop(L, idx - 1);
        return -1;
      }
      lua_pop(L, 1);
      out->name[out->n++] = k;
    }
    rc = out->n > 0;
  }
  lua_settop(L, idx - 1);
  return rc;
}

static void policies_text(const policies *p, char *out, size_t size) {
  size_t len = (size_t)snprintf(out, size, "[");
  for (int i = 0; i < p->n && len < size; i++)
    len += (size_t)snprintf(out + len, size - len, "%s\"%s\"", i ? ", " : "", p->name[i]);
  if (len < size) snprintf(out + len, size - len, "]");
}

const char *pod_pull_policy(pod_ctx *c, const char *container, int image_obj, const char *image) {
  lua_State *L = c->L;
  policies config = {0}, requested = {0}, allowed = {0};
  int has_config, has_requested, has_allowed;
  const char *source = "GitLab pipeline config";

  /* the runner's: a pull_policy policy's answer for this image, else the setting */
  int by_image = pod_table(c, c->in, "pull_policy_by_image");
  int from_policy = 0;
  if (by_image) {
    lua_getfield(L, by_image, image);
    from_policy = !lua_isnil(L, -1);
    lua_remove(L, by_image);
  } else {
    lua_pushnil(L);
  }
  if (!from_policy) {
    lua_pop(L, 1);
    lua_getfield(L, c->k, "pull_policy");
  }
  if ((has_config = read_policies(c, &config, "kubernetes.pull_policy")) < 0) return NULL;
  if (image_obj) lua_getfield(L, image_obj, "pull_policy");
  else lua_pushnil(L);
  if ((has_requested = read_policies(c, &requested, container)) < 0) return NULL;
  if (!has_requested) {
    requested = config;
    source = from_policy ? "the runner's pull_policy policy" : "Runner config";
    if (!has_config) {
      requested.n = 1, requested.name[0] = "";
      source = "Runner config (default)";
    }
  }
  lua_getfield(L, c->k, "allowed_pull_policies");
  if ((has_allowed = read_policies(c, &allowed, "kubernetes.allowed_pull_policies")) < 0) return NULL;
  if (!has_allowed && has_config) allowed = config, has_allowed = 1;
  /* With a list, the first usable policy is tried first; after an image pull
   * failure the runner renders again with input.pull_attempt = 1, 2, ... and
   * each container takes the next one (the last one when it has no more).
   * input.pull_fallback is set when some container has a policy left. */
  lua_Integer attempt = 0;
  pod_int(c, c->in, "pull_attempt", &attempt);
  const char *usable[8];
  int n = 0;
  for (int i = 0; i < requested.n && n < 8; i++) {
    int ok = !has_allowed; /* nothing configured: whatever the job asks for */
    for (int j = 0; !ok && j < allowed.n; j++) ok = !strcmp(requested.name[i], allowed.name[j]);
    if (ok) usable[n++] = requested.name[i];
  }
  if (n > 0) {
    if (attempt + 1 < n) {
      lua_pushboolean(L, 1);
      lua_setfield(L, c->in, "pull_fallback");
    }
    lua_pushstring(L, usable[attempt < n ? attempt : n - 1]);
    return lua_tostring(L, -1);
  }
  char want[256], ok[256];
  policies_text(&requested, want, sizeof want);
  policies_text(&allowed, ok, sizeof ok);
  lunar_error_set(c->err, LUNAR_EINVAL,
                  "invalid pull policy for container \"%s\": pull_policy %s defined in %s is not one of the "
                  "allowed_pull_policies %s",
                  container, want, source, ok);
  return NULL;
}
