/* Volumes and the mounts every container gets. User volumes come first, in
 * GitLab Runner's order (host_path, secret, pvc, config_map, empty_dir, csi,
 * nfs), then lunar's own: `scripts` (the job Secret, read-only), `logs` (the
 * status dir, shared by build and helper) and `repo` (the builds dir, unless
 * a user volume is mounted there). Mount paths, sub paths and PVC names are
 * expanded with the job's variables. */
#include <stdlib.h>
#include <string.h>

#include "pod/internal.h"

typedef json_t *(*source_fn)(pod_ctx *c, const json_t *v, const char *name);

static json_t *host_path(pod_ctx *c, const json_t *v, const char *name) {
  (void)c, (void)name;
  const char *path = pod_str(v, "host_path");
  if (!*path) path = pod_str(v, "mount_path"); /* as GitLab Runner 9.3 did */
  return json_pack("{s{ss}}", "hostPath", "path", path);
}

static json_t *items(const json_t *v) {
  const json_t *m = json_object_get(v, "items");
  if (!json_object_size(m)) return NULL;
  json_t *out = json_array();
  /* sorted by key so that the Pod is the same for the same settings */
  const char **keys = malloc(json_object_size(m) * sizeof *keys);
  size_t n = 0;
  const char *key;
  json_t *x;
  json_object_foreach((json_t *)m, key, x) keys[n++] = key;
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
      const char *t = keys[j];
      keys[j] = keys[j - 1], keys[j - 1] = t;
    }
  for (size_t i = 0; i < n; i++)
    json_array_append_new(out, json_pack("{ssss}", "key", keys[i], "path", pod_str(m, keys[i])));
  free(keys);
  return out;
}

static json_t *secret(pod_ctx *c, const json_t *v, const char *name) {
  (void)c;
  json_t *src = json_pack("{ss}", "secretName", name);
  json_t *it = items(v);
  if (it) json_object_set_new(src, "items", it);
  return json_pack("{so}", "secret", src);
}

static json_t *pvc(pod_ctx *c, const json_t *v, const char *name) {
  (void)c;
  json_t *src = json_pack("{ss}", "claimName", name);
  if (json_is_true(json_object_get(v, "read_only"))) json_object_set_new(src, "readOnly", json_true());
  return json_pack("{so}", "persistentVolumeClaim", src);
}

static json_t *config_map(pod_ctx *c, const json_t *v, const char *name) {
  (void)c;
  json_t *src = json_pack("{ss}", "name", name);
  json_t *it = items(v);
  if (it) json_object_set_new(src, "items", it);
  return json_pack("{so}", "configMap", src);
}

static json_t *empty_dir(pod_ctx *c, const json_t *v, const char *name) {
  (void)c, (void)name;
  json_t *src = json_object();
  pod_set_str(src, "medium", pod_str(v, "medium"));
  pod_set_str(src, "sizeLimit", pod_str(v, "size_limit"));
  return json_pack("{so}", "emptyDir", src);
}

static json_t *csi(pod_ctx *c, const json_t *v, const char *name) {
  (void)c, (void)name;
  json_t *src = json_pack("{ss}", "driver", pod_str(v, "driver"));
  pod_set_str(src, "fsType", pod_str(v, "fs_type"));
  if (json_is_true(json_object_get(v, "read_only"))) json_object_set_new(src, "readOnly", json_true());
  const json_t *attrs = json_object_get(v, "volume_attributes");
  if (json_object_size(attrs)) json_object_set_new(src, "volumeAttributes", json_deep_copy(attrs));
  return json_pack("{so}", "csi", src);
}

static json_t *nfs(pod_ctx *c, const json_t *v, const char *name) {
  (void)c, (void)name;
  json_t *src = json_pack("{ssss}", "server", pod_str(v, "server"), "path", pod_str(v, "path"));
  if (json_is_true(json_object_get(v, "read_only"))) json_object_set_new(src, "readOnly", json_true());
  return json_pack("{so}", "nfs", src);
}

static const struct {
  const char *key;
  source_fn source;
  int expand_name;
} kinds[] = {{"host_path", host_path, 0}, {"secret", secret, 0},         {"pvc", pvc, 1},
             {"config_map", config_map, 0}, {"empty_dir", empty_dir, 0}, {"csi", csi, 0},
             {"nfs", nfs, 0}};

static int has_volume(const json_t *volumes, const char *name) {
  size_t i;
  json_t *v;
  json_array_foreach(volumes, i, v) if (!strcmp(pod_str(v, "name"), name)) return 1;
  return 0;
}

/* Adds one user volume and its mount. Returns LUNAR_OK or an error. */
static int user_volume(pod_ctx *c, const json_t *v, source_fn source, int expand_name, json_t *volumes,
                       json_t *mounts, int *covers_builds) {
  char *name = expand_name ? pod_expand(c, pod_str(v, "name")) : strdup(pod_str(v, "name"));
  char *mount_path = pod_expand(c, pod_str(v, "mount_path"));
  char *sub_path = pod_expand(c, pod_str(v, "sub_path"));
  int rc = (name && mount_path && sub_path) ? LUNAR_OK : LUNAR_ENOMEM;
  if (rc) goto done;
  if (!has_volume(volumes, name)) { /* PVCs of the same name are one volume */
    json_t *vol = source(c, v, name);
    json_object_set_new(vol, "name", json_string(name));
    json_array_append_new(volumes, vol);
  }
  json_t *m = json_pack("{ssss}", "name", name, "mountPath", mount_path);
  pod_set_str(m, "subPath", sub_path);
  if (json_is_true(json_object_get(v, "read_only"))) json_object_set_new(m, "readOnly", json_true());
  pod_set_str(m, "mountPropagation", pod_str(v, "mount_propagation"));
  json_array_append_new(mounts, m);
  const char *builds = pod_str(c->layout, "builds_dir");
  if (!strcmp(mount_path, builds)) *covers_builds = 1;
done:
  free(name);
  free(mount_path);
  free(sub_path);
  return rc;
}

json_t *pod_volumes(pod_ctx *c, json_t *spec) {
  json_t *volumes = json_array(), *user_mounts = json_array(), *mounts = json_array();
  const json_t *conf = pod_kget(c, "volumes");
  int covers_builds = 0;
  for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(conf, kinds[k].key), i, v) {
      if (user_volume(c, v, kinds[k].source, kinds[k].expand_name, volumes, user_mounts, &covers_builds)) {
        json_decref(volumes), json_decref(user_mounts), json_decref(mounts);
        return NULL;
      }
    }
  }
  /* lunar's own volumes */
  const char *secret_name = pod_str(json_object_get(c->in, "plan"), "secret");
  if (*secret_name)
    json_array_append_new(volumes, json_pack("{ss s{ss si}}", "name", "scripts", "secret", "secretName", secret_name,
                                             "defaultMode", 0555));
  else
    json_array_append_new(volumes, json_pack("{ss s{}}", "name", "scripts", "emptyDir"));
  json_array_append_new(volumes, json_pack("{ss s{}}", "name", "logs", "emptyDir"));
  if (!covers_builds) json_array_append_new(volumes, json_pack("{ss s{}}", "name", "repo", "emptyDir"));

  json_array_append_new(mounts, json_pack("{ss ss sb}", "name", "scripts", "mountPath",
                                          pod_str(c->layout, "scripts_dir"), "readOnly", 1));
  json_array_append_new(mounts, json_pack("{ss ss}", "name", "logs", "mountPath", pod_str(c->layout, "logs_dir")));
  json_array_extend(mounts, user_mounts);
  if (!covers_builds)
    json_array_append_new(mounts, json_pack("{ss ss}", "name", "repo", "mountPath", pod_str(c->layout, "builds_dir")));
  json_decref(user_mounts);
  json_object_set_new(spec, "volumes", volumes);
  return mounts;
}
