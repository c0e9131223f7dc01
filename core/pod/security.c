/* Security contexts: capabilities (NET_RAW dropped by default on Linux),
 * privileged and privilege escalation, user and group (container settings,
 * then the pod's, then the job image's `kubernetes.user` within
 * allowed_users/allowed_groups), SELinux, seccomp, AppArmor, procMount. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pod/internal.h"

/* Global capabilities: {NET_RAW: drop} on Linux, then cap_add entries add,
 * then cap_drop entries drop; the last word on a capability wins. Order: as
 * written, NET_RAW first. */
static void global_caps(pod_ctx *c, json_t **add, json_t **drop) {
  *add = json_array();
  *drop = json_array();
  const json_t *adds = pod_kget(c, "cap_add"), *drops = pod_kget(c, "cap_drop");
  size_t i;
  json_t *x;
  int net_raw_added = 0;
  json_array_foreach(adds, i, x) if (!strcmp(json_string_value(x), "NET_RAW")) net_raw_added = 1;
  if (!c->windows && !net_raw_added) json_array_append_new(*drop, json_string("NET_RAW"));
  json_array_foreach(adds, i, x) {
    int dropped = 0;
    size_t j;
    json_t *y;
    json_array_foreach(drops, j, y) if (json_equal(x, y)) dropped = 1;
    if (!dropped) json_array_append(*add, x);
  }
  json_array_foreach(drops, i, x) {
    int seen = 0;
    size_t j;
    json_t *y;
    json_array_foreach(*drop, j, y) if (json_equal(x, y)) seen = 1;
    if (!seen) json_array_append(*drop, x);
  }
}

static json_t *profile(const json_t *p) {
  if (!json_is_object(p)) return NULL;
  json_t *out = json_object();
  pod_set_str(out, "type", pod_str(p, "type"));
  pod_set_str(out, "localhostProfile", pod_str(p, "localhost_profile"));
  return out;
}

/* Copies the settings both container and pod contexts share. */
static void common_fields(const json_t *s, json_t *out) {
  static const char *ints[][2] = {{"run_as_user", "runAsUser"}, {"run_as_group", "runAsGroup"}};
  for (size_t i = 0; i < 2; i++) {
    json_t *v = json_object_get(s, ints[i][0]);
    if (json_is_integer(v)) json_object_set(out, ints[i][1], v);
  }
  json_t *v = json_object_get(s, "run_as_non_root");
  if (json_is_boolean(v)) json_object_set(out, "runAsNonRoot", v);
  const char *selinux = pod_str(s, "selinux_type");
  if (*selinux) json_object_set_new(out, "seLinuxOptions", json_pack("{ss}", "type", selinux));
  json_t *p = profile(json_object_get(s, "seccomp_profile"));
  if (p) json_object_set_new(out, "seccompProfile", p);
  p = profile(json_object_get(s, "app_armor_profile"));
  if (p) json_object_set_new(out, "appArmorProfile", p);
}

json_t *pod_pod_security(pod_ctx *c) {
  const json_t *s = pod_kget(c, "pod_security_context");
  if (!json_is_object(s)) return NULL;
  json_t *out = json_object();
  common_fields(s, out);
  json_t *v = json_object_get(s, "fs_group");
  if (json_is_integer(v)) json_object_set(out, "fsGroup", v);
  v = json_object_get(s, "supplemental_groups");
  if (json_is_array(v)) json_object_set_new(out, "supplementalGroups", json_deep_copy(v));
  if (!json_object_size(out)) {
    json_decref(out);
    return NULL;
  }
  return out;
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
static int id_allowed(pod_ctx *c, const char *list, long long id) {
  const json_t *l = pod_kget(c, list);
  size_t i;
  json_t *x;
  json_array_foreach(l, i, x) {
    const char *s = json_string_value(x);
    if (s && parse_id(s, strlen(s)) == id) return 1;
  }
  return id != 0 && json_array_size(l) == 0;
}

/* The job's image user "uid[:gid]" (a string or an integer), validated. Sets
 * *uid and *gid (-1 when absent or refused, with a warning). */
static void job_user(pod_ctx *c, const json_t *image_obj, const char *container, long long *uid,
                     long long *gid) {
  *uid = *gid = -1;
  const json_t *u = json_object_get(json_object_get(json_object_get(image_obj, "executor_opts"), "kubernetes"), "user");
  char buf[64];
  if (json_is_integer(u)) snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(u));
  else if (json_is_string(u)) snprintf(buf, sizeof buf, "%s", json_string_value(u));
  else return;
  if (!*buf) return;
  char *colon = strchr(buf, ':');
  size_t ulen = colon ? (size_t)(colon - buf) : strlen(buf);
  long long a = parse_id(buf, ulen);
  if (a < 0 || !id_allowed(c, "allowed_users", a)) {
    pod_warn(c, "the job's user \"%.*s\" for container \"%s\" is not allowed by kubernetes.allowed_users (root must be listed explicitly); using the image's default user",
             (int)ulen, buf, container);
    return;
  }
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

json_t *pod_container_security(pod_ctx *c, const char *settings_key, const char *container,
                               const json_t *image_obj) {
  const json_t *s = pod_kget(c, settings_key);
  json_t *out = json_object();
  json_t *add, *drop;
  global_caps(c, &add, &drop);
  /* a container's own lists replace the global ones */
  const json_t *caps = json_object_get(s, "capabilities");
  const json_t *own_add = json_object_get(caps, "add"), *own_drop = json_object_get(caps, "drop");
  if (json_is_array(own_add)) {
    json_decref(add);
    add = json_deep_copy(own_add);
  }
  if (json_is_array(own_drop)) {
    json_decref(drop);
    drop = json_deep_copy(own_drop);
  }
  if (json_array_size(add) || json_array_size(drop)) {
    json_t *cap = json_object();
    if (json_array_size(add)) json_object_set(cap, "add", add);
    if (json_array_size(drop)) json_object_set(cap, "drop", drop);
    json_object_set_new(out, "capabilities", cap);
  }
  json_decref(add);
  json_decref(drop);

  static const char *flags[][2] = {{"privileged", "privileged"},
                                   {"allow_privilege_escalation", "allowPrivilegeEscalation"}};
  for (size_t i = 0; i < 2; i++) {
    json_t *v = json_object_get(s, flags[i][0]);
    if (!json_is_boolean(v)) v = json_object_get(c->k, flags[i][0]);
    if (json_is_boolean(v)) json_object_set(out, flags[i][1], v);
  }
  common_fields(s, out);
  json_t *v = json_object_get(s, "read_only_root_filesystem");
  if (json_is_boolean(v)) json_object_set(out, "readOnlyRootFilesystem", v);
  const char *pm = pod_str(s, "proc_mount");
  if (*pm) json_object_set_new(out, "procMount", json_string(!strcasecmp(pm, "unmasked") ? "Unmasked" : "Default"));

  /* user and group: the container's setting, else the pod's, else the job's */
  const json_t *pod_ctx_settings = pod_kget(c, "pod_security_context");
  long long uid = -1, gid = -1;
  if (image_obj) job_user(c, image_obj, container, &uid, &gid);
  static const char *ids[][2] = {{"run_as_user", "runAsUser"}, {"run_as_group", "runAsGroup"}};
  for (size_t i = 0; i < 2; i++) {
    if (json_object_get(out, ids[i][1])) continue;
    json_t *p = json_object_get(pod_ctx_settings, ids[i][0]);
    long long job_id = i == 0 ? uid : gid;
    if (json_is_integer(p)) json_object_set(out, ids[i][1], p);
    else if (job_id >= 0) json_object_set_new(out, ids[i][1], json_integer(job_id));
  }
  if (!json_object_size(out)) {
    json_decref(out);
    return NULL;
  }
  return out;
}
