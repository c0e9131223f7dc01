/* Volumes and the mounts every container gets. User volumes come first, in
 * GitLab Runner's order (host_path, secret, pvc, config_map, empty_dir, csi,
 * nfs), then lunar's own: `scripts` (the job Secret, read-only), `logs` (the
 * status dir, shared by build and helper) and `repo` (the builds dir, unless
 * a user volume is mounted there). Mount paths, sub paths and PVC names are
 * expanded with the job's variables. */
#include <lauxlib.h>
#include <string.h>

#include "pod/internal.h"

/* Each source pushes the volume's source object and returns its field name. */
typedef const char *(*source_fn)(pod_ctx *c, int v, const char *name);

static void read_only(pod_ctx *c, int v, int out) {
  int b;
  if (pod_bool(c, v, "read_only", &b) && b) pod_set_bool(c, out, "readOnly", 1);
}

static const char *host_path(pod_ctx *c, int v, const char *name) {
  (void)name;
  const char *path = pod_str(c, v, "host_path");
  if (!*path) path = pod_str(c, v, "mount_path"); /* as GitLab Runner 9.3 did */
  int out = pod_new_obj(c);
  pod_set_str(c, out, "path", path);
  return "hostPath";
}

/* Sets out.items from the key -> path map at v.items, sorted by key. */
static void items(pod_ctx *c, int v, int out) {
  lua_State *L = c->L;
  int m = pod_table(c, v, "items");
  if (!m) return;
  int keys = pod_sorted_keys(c, m);
  int list = pod_new_list(c);
  lua_Integer n = (lua_Integer)lua_rawlen(L, keys);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, keys, i);
    const char *key = lua_tostring(L, -1);
    int item = pod_new_obj(c);
    pod_set_str(c, item, "key", key);
    pod_set_str(c, item, "path", pod_str(c, m, key));
    pod_append(c, list);
    lua_pop(L, 1);
  }
  pod_set_nonempty(c, out, "items", list);
  lua_pop(L, 3); /* list, keys, m */
}

static const char *secret(pod_ctx *c, int v, const char *name) {
  int out = pod_new_obj(c);
  pod_set_str(c, out, "secretName", name);
  items(c, v, out);
  return "secret";
}

static const char *pvc(pod_ctx *c, int v, const char *name) {
  int out = pod_new_obj(c);
  pod_set_str(c, out, "claimName", name);
  read_only(c, v, out);
  return "persistentVolumeClaim";
}

static const char *config_map(pod_ctx *c, int v, const char *name) {
  int out = pod_new_obj(c);
  pod_set_str(c, out, "name", name);
  items(c, v, out);
  return "configMap";
}

static const char *empty_dir(pod_ctx *c, int v, const char *name) {
  (void)name;
  int out = pod_new_obj(c);
  pod_set_str(c, out, "medium", pod_str(c, v, "medium"));
  const char *size = pod_str(c, v, "size_limit");
  while (*size == ' ' || *size == '\t') size++; /* a blank size_limit is unset */
  pod_set_str(c, out, "sizeLimit", size);
  return "emptyDir";
}

static const char *csi(pod_ctx *c, int v, const char *name) {
  (void)name;
  int out = pod_new_obj(c);
  pod_set_str(c, out, "driver", pod_str(c, v, "driver"));
  pod_set_str(c, out, "fsType", pod_str(c, v, "fs_type"));
  read_only(c, v, out);
  int attrs = pod_table(c, v, "volume_attributes");
  if (attrs) {
    pod_copy(c, attrs);
    pod_set(c, out, "volumeAttributes");
    lua_pop(c->L, 1);
  }
  return "csi";
}

static const char *nfs(pod_ctx *c, int v, const char *name) {
  (void)name;
  int out = pod_new_obj(c);
  pod_set_str(c, out, "server", pod_str(c, v, "server"));
  pod_set_str(c, out, "path", pod_str(c, v, "path"));
  read_only(c, v, out);
  return "nfs";
}

static const struct {
  const char *key;
  source_fn source;
  int expand_name;
} kinds[] = {{"host_path", host_path, 0}, {"secret", secret, 0},         {"pvc", pvc, 1},
             {"config_map", config_map, 0}, {"empty_dir", empty_dir, 0}, {"csi", csi, 0},
             {"nfs", nfs, 0}};

static int has_volume(pod_ctx *c, int volumes, const char *name) {
  lua_Integer n = (lua_Integer)lua_rawlen(c->L, volumes);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(c->L, volumes, i);
    int same = !strcmp(pod_str(c, lua_gettop(c->L), "name"), name);
    lua_pop(c->L, 1);
    if (same) return 1;
  }
  return 0;
}

/* Pushes a mount {name, mountPath[, readOnly]}. */
static void mount(pod_ctx *c, const char *name, const char *path, int ro) {
  int m = pod_new_sized(c, 3);
  pod_set_str(c, m, "name", name);
  pod_set_str(c, m, "mountPath", path);
  if (ro) pod_set_bool(c, m, "readOnly", 1);
}

/* Adds one user volume (unless one of that name exists: PVCs of the same
 * name are one volume) and its mount. */
enum { COVERS_BUILDS = 1, COVERS_CACHE = 2 };

static int user_volume(pod_ctx *c, int v, int kind, int volumes, int mounts, int *covered) {
  lua_State *L = c->L;
  int top = lua_gettop(L);
  const char *name = kinds[kind].expand_name ? pod_expand(c, pod_str(c, v, "name")) : pod_str(c, v, "name");
  const char *mount_path = name ? pod_expand(c, pod_str(c, v, "mount_path")) : NULL;
  const char *sub_path = mount_path ? pod_expand(c, pod_str(c, v, "sub_path")) : NULL;
  if (!sub_path) {
    lua_settop(L, top);
    return LUNAR_ENOMEM;
  }
  if (!has_volume(c, volumes, name)) {
    int vol = pod_new_obj(c);
    pod_set_str(c, vol, "name", name);
    const char *field = kinds[kind].source(c, v, name);
    pod_set(c, vol, field);
    pod_append(c, volumes);
  }
  int ro = 0;
  pod_bool(c, v, "read_only", &ro);
  mount(c, name, mount_path, ro);
  int m = lua_gettop(L);
  pod_set_str(c, m, "subPath", sub_path);
  pod_set_str(c, m, "mountPropagation", pod_str(c, v, "mount_propagation"));
  pod_append(c, mounts);
  if (!strcmp(mount_path, pod_str(c, c->layout, "builds_dir"))) *covered |= COVERS_BUILDS;
  if (!strcmp(mount_path, pod_str(c, c->layout, "cache_dir"))) *covered |= COVERS_CACHE;
  lua_settop(L, top);
  return LUNAR_OK;
}

int pod_volumes(pod_ctx *c, int spec) {
  lua_State *L = c->L;
  int top = lua_gettop(L);
  int conf = pod_table(c, c->k, "volumes");
  int volumes = pod_new_list(c), user_mounts = pod_new_list(c);
  int covered = 0;
  for (int k = 0; conf && k < (int)(sizeof kinds / sizeof *kinds); k++) {
    int list = pod_table(c, conf, kinds[k].key);
    lua_Integer n = list ? (lua_Integer)lua_rawlen(L, list) : 0;
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, list, i);
      int rc = user_volume(c, lua_gettop(L), k, volumes, user_mounts, &covered);
      lua_pop(L, 1);
      if (rc) {
        lua_settop(L, top);
        return 0;
      }
    }
    if (list) lua_pop(L, 1);
  }
  /* lunar's own volumes */
  int plan = pod_table(c, c->in, "plan");
  const char *secret_name = pod_str(c, plan, "secret");
  int vol = pod_new_obj(c), src = pod_new_obj(c);
  pod_set_str(c, vol, "name", "scripts");
  if (*secret_name) {
    pod_set_str(c, src, "secretName", secret_name);
    pod_set_int(c, src, "defaultMode", 0555);
    pod_set(c, vol, "secret");
  } else {
    pod_set(c, vol, "emptyDir");
  }
  pod_append(c, volumes);
  /* the builds dir unless a user volume is there; the cache dir when the job
   * has a cache, so that restore-cache and helper share it */
  int cache = 0;
  pod_bool(c, plan, "cache", &cache);
  int want[] = {1, !(covered & COVERS_BUILDS), cache && !(covered & COVERS_CACHE)};
  static const char *own[] = {"logs", "repo", "cache"};
  for (int i = 0; i < 3; i++) {
    if (!want[i]) continue;
    vol = pod_new_obj(c);
    pod_set_str(c, vol, "name", own[i]);
    pod_new_obj(c);
    pod_set(c, vol, "emptyDir");
    pod_append(c, volumes);
  }
  lua_pushvalue(L, volumes);
  pod_set(c, spec, "volumes");

  int mounts = pod_new_list(c);
  mount(c, "scripts", pod_str(c, c->layout, "scripts_dir"), 1);
  pod_append(c, mounts);
  mount(c, "logs", pod_str(c, c->layout, "logs_dir"), 0);
  pod_append(c, mounts);
  lua_Integer n = (lua_Integer)lua_rawlen(L, user_mounts);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, user_mounts, i);
    pod_append(c, mounts);
  }
  if (want[1]) {
    mount(c, "repo", pod_str(c, c->layout, "builds_dir"), 0);
    pod_append(c, mounts);
  }
  if (want[2]) {
    mount(c, "cache", pod_str(c, c->layout, "cache_dir"), 0);
    pod_append(c, mounts);
  }
  lua_replace(L, top + 1);
  lua_settop(L, top + 1);
  return top + 1;
}
