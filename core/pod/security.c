/* Security contexts: capabilities (NET_RAW dropped by default on Linux),
 * privileged and privilege escalation, user and group (container settings,
 * then the pod's, then the job image's `kubernetes.user` within
 * allowed_users/allowed_groups), SELinux, seccomp, AppArmor, procMount. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pod/internal.h"

/* Whether the list at `list` (0: none) holds the string s. */
static int has(pod_ctx *c, int list, const char *s) {
  if (!list) return 0;
  lua_Integer n = (lua_Integer)lua_rawlen(c->L, list);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(c->L, list, i);
    int same = lua_type(c->L, -1) == LUA_TSTRING && !strcmp(lua_tostring(c->L, -1), s);
    lua_pop(c->L, 1);
    if (same) return 1;
  }
  return 0;
}

/* Appends the strings of `from` (0: none) not in `except` and not yet in `to`. */
static void add_all(pod_ctx *c, int to, int from, int except) {
  if (!from) return;
  lua_Integer n = (lua_Integer)lua_rawlen(c->L, from);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(c->L, from, i);
    const char *s = lua_tostring(c->L, -1);
    if (s && !has(c, except, s) && !has(c, to, s)) pod_append(c, to);
    else lua_pop(c->L, 1);
  }
}

/* Pushes the capabilities table, or nil. Global lists: {NET_RAW: drop} on
 * Linux, then cap_add entries add, then cap_drop entries drop (the last word
 * on a capability wins). A container's own add/drop lists replace them. */
static void capabilities(pod_ctx *c, int settings) {
  lua_State *L = c->L;
  int top = lua_gettop(L);
  int adds = pod_table(c, c->k, "cap_add"), drops = pod_table(c, c->k, "cap_drop");
  int own = pod_table(c, settings, "capabilities");
  int own_add = pod_table(c, own, "add"), own_drop = pod_table(c, own, "drop");
  int add = pod_new_list(c), drop = pod_new_list(c);
  if (own_add) add_all(c, add, own_add, 0);
  else add_all(c, add, adds, drops);
  if (own_drop) {
    add_all(c, drop, own_drop, 0);
  } else {
    if (!c->windows && !has(c, adds, "NET_RAW")) {
      lua_pushliteral(L, "NET_RAW");
      pod_append(c, drop);
    }
    add_all(c, drop, drops, 0);
  }
  int caps = pod_new_obj(c);
  if (lua_rawlen(L, add)) lua_pushvalue(L, add), pod_set(c, caps, "add");
  if (lua_rawlen(L, drop)) lua_pushvalue(L, drop), pod_set(c, caps, "drop");
  int empty = !lua_rawlen(L, add) && !lua_rawlen(L, drop);
  lua_replace(L, top + 1);
  lua_settop(L, top + 1);
  if (empty) {
    lua_pop(L, 1);
    lua_pushnil(L);
  }
}

/* Pushes {type, localhostProfile} for the profile at t[key], or nothing (0). */
static int profile(pod_ctx *c, int t, const char *key) {
  int p = pod_table(c, t, key);
  if (!p) return 0;
  int out = pod_new_obj(c);
  pod_set_str(c, out, "type", pod_str(c, p, "type"));
  pod_set_str(c, out, "localhostProfile", pod_str(c, p, "localhost_profile"));
  lua_remove(c->L, p);
  return 1;
}

/* Copies the settings both container and pod contexts share. */
static void common_fields(pod_ctx *c, int s, int out) {
  lua_Integer v;
  int b;
  if (pod_int(c, s, "run_as_user", &v)) pod_set_int(c, out, "runAsUser", v);
  if (pod_int(c, s, "run_as_group", &v)) pod_set_int(c, out, "runAsGroup", v);
  if (pod_bool(c, s, "run_as_non_root", &b)) pod_set_bool(c, out, "runAsNonRoot", b);
  const char *selinux = pod_str(c, s, "selinux_type");
  if (*selinux) {
    int o = pod_new_obj(c);
    pod_set_str(c, o, "type", selinux);
    pod_set(c, out, "seLinuxOptions");
  }
  if (profile(c, s, "seccomp_profile")) pod_set(c, out, "seccompProfile");
  if (profile(c, s, "app_armor_profile")) pod_set(c, out, "appArmorProfile");
}

void pod_pod_security(pod_ctx *c) {
  lua_State *L = c->L;
  int s = pod_table(c, c->k, "pod_security_context");
  if (!s) {
    lua_pushnil(L);
    return;
  }
  int out = pod_new_obj(c);
  common_fields(c, s, out);
  lua_Integer v;
  if (pod_int(c, s, "fs_group", &v)) pod_set_int(c, out, "fsGroup", v);
  int groups = pod_table(c, s, "supplemental_groups");
  if (groups) {
    pod_copy(c, groups);
    pod_set(c, out, "supplementalGroups");
    lua_pop(L, 1);
  }
  lua_remove(L, s);
  if (pod_empty(c, lua_gettop(L))) {
    lua_pop(L, 1);
    lua_pushnil(L);
  }
}

/* Parses a numeric id; -1 when not a non-negative integer. */
static long long parse_id(const char *s, size_t n) {
  if (n == 0 || n > 10) return -1;
  long long v = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isdigit((unsigned char)s[i])) return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

/* Whether `id` is on kubernetes.<list>; root (0) must be listed explicitly,
 * an empty list allows any other id. */
static int id_allowed(pod_ctx *c, const char *list_key, long long id) {
  int list = pod_table(c, c->k, list_key);
  int n = list ? (int)lua_rawlen(c->L, list) : 0, ok = 0;
  for (int i = 1; i <= n && !ok; i++) {
    lua_rawgeti(c->L, list, i);
    const char *s = lua_tostring(c->L, -1);
    ok = s && parse_id(s, strlen(s)) == id;
    lua_pop(c->L, 1);
  }
  if (list) lua_pop(c->L, 1);
  return ok || (id != 0 && n == 0);
}

/* The job's image user "uid[:gid]" (a string or an integer), validated. Sets
 * *uid and *gid (-1 when absent or refused, with a warning). */
static void job_user(pod_ctx *c, int image_obj, const char *container, long long *uid, long long *gid) {
  lua_State *L = c->L;
  *uid = *gid = -1;
  int top = lua_gettop(L);
  int opts = pod_table(c, image_obj, "executor_opts");
  int k = pod_table(c, opts, "kubernetes");
  char buf[64] = "";
  if (k) {
    lua_getfield(L, k, "user");
    if (lua_isinteger(L, -1)) snprintf(buf, sizeof buf, "%lld", (long long)lua_tointeger(L, -1));
    else if (lua_type(L, -1) == LUA_TSTRING) snprintf(buf, sizeof buf, "%s", lua_tostring(L, -1));
  }
  lua_settop(L, top);
  if (!*buf) return;
  char *colon = strchr(buf, ':');
  size_t ulen = colon ? (size_t)(colon - buf) : strlen(buf);
  /* each part is judged on its own: a refused or unparsable uid drops only
   * runAsUser, an allowed gid is kept (GitLab Runner) */
  long long a = parse_id(buf, ulen);
  if (a < 0 || !id_allowed(c, "allowed_users", a))
    pod_warn(c, "the job's user \"%.*s\" for container \"%s\" is not allowed by kubernetes.allowed_users (root must be listed explicitly); using the image's default user",
             (int)ulen, buf, container);
  else
    *uid = a;
  if (colon) {
    long long g = parse_id(colon + 1, strlen(colon + 1));
    if (g < 0 || !id_allowed(c, "allowed_groups", g))
      pod_warn(c, "the job's group \"%s\" for container \"%s\" is not allowed by kubernetes.allowed_groups; using the image's default group",
               colon + 1, container);
    else
      *gid = g;
  }
}

void pod_container_security(pod_ctx *c, const char *settings_key, const char *container, int image_obj) {
  lua_State *L = c->L;
  int top = lua_gettop(L);
  int s = pod_table(c, c->k, settings_key);
  int out = pod_new_obj(c);
  capabilities(c, s);
  if (lua_isnil(L, -1)) lua_pop(L, 1);
  else pod_set(c, out, "capabilities");
  static const char *flags[][2] = {{"privileged", "privileged"}, {"allow_privilege_escalation", "allowPrivilegeEscalation"}};
  for (size_t i = 0; i < 2; i++) {
    int b;
    if (pod_bool(c, s, flags[i][0], &b) || pod_bool(c, c->k, flags[i][0], &b)) pod_set_bool(c, out, flags[i][1], b);
  }
  common_fields(c, s, out);
  int b;
  if (pod_bool(c, s, "read_only_root_filesystem", &b)) pod_set_bool(c, out, "readOnlyRootFilesystem", b);
  const char *pm = pod_str(c, s, "proc_mount");
  if (*pm) pod_set_str(c, out, "procMount", !strcasecmp(pm, "unmasked") ? "Unmasked" : "Default");

  /* user and group: the container's setting, else the pod's, else the job's */
  int pod_settings = pod_table(c, c->k, "pod_security_context");
  long long uid = -1, gid = -1;
  if (image_obj) job_user(c, image_obj, container, &uid, &gid);
  static const char *ids[][2] = {{"run_as_user", "runAsUser"}, {"run_as_group", "runAsGroup"}};
  for (size_t i = 0; i < 2; i++) {
    lua_getfield(L, out, ids[i][1]);
    int set = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (set) continue;
    lua_Integer v;
    long long job_id = i == 0 ? uid : gid;
    if (pod_int(c, pod_settings, ids[i][0], &v)) pod_set_int(c, out, ids[i][1], v);
    else if (job_id >= 0) pod_set_int(c, out, ids[i][1], job_id);
  }
  lua_pushvalue(L, out);
  lua_replace(L, top + 1);
  lua_settop(L, top + 1);
  if (pod_empty(c, top + 1)) {
    lua_pop(L, 1);
    lua_pushnil(L);
  }
}
