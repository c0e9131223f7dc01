/* Shared by the files of core/pod: the build context and small accessors.
 * Not a public interface.
 *
 * The builder reads its input from Lua tables and writes the Pod into new
 * Lua tables directly, through the Lua C API: every render would otherwise
 * pay for converting the input to C values and the Pod back to Lua, which
 * cost more than building the Pod itself (see bench/render.lua).
 *
 * Stack discipline: a function that returns a stack index ("pushes") leaves
 * exactly that one value on top; everything else leaves the stack as it found
 * it. Strings returned by pod_str stay valid while the table they came from
 * is reachable (it anchors them).
 */
#ifndef LUNAR_POD_INTERNAL_H
#define LUNAR_POD_INTERNAL_H

#include <lua.h>

#include "util/error.h"

typedef struct pod_ctx {
  lua_State *L;
  int in;       /* the input table */
  int k;        /* input.kubernetes */
  int job;      /* input.job */
  int layout;   /* input.layout */
  int vars;     /* input.values: name -> value of the job's variables */
  int warnings; /* list of strings */
  int array_mt; /* the metatable that marks tables as JSON arrays */
  int windows;  /* the node selector picks Windows nodes */
  const char *helper_image; /* computed once (anchored on the stack) */
  lunar_error *err;
} pod_ctx;

/* ---- reading the input ---- */
/* t[key] as a string, "" when missing or not a string. */
const char *pod_str(pod_ctx *c, int t, const char *key);
/* A kubernetes setting as a string, "" when unset. */
const char *pod_kstr(pod_ctx *c, const char *key);
/* Pushes t[key] and returns its absolute index when it is a table; else pushes
 * nothing and returns 0. */
int pod_table(pod_ctx *c, int t, const char *key);
/* 1 when t[key] is a boolean (stored in *value). */
int pod_bool(pod_ctx *c, int t, const char *key, int *value);
/* 1 when t[key] is an integer (stored in *value). */
int pod_int(pod_ctx *c, int t, const char *key, lua_Integer *value);
/* Number of elements of the list at t[key] (0 when missing). */
int pod_len(pod_ctx *c, int t, const char *key);

/* ---- writing the Pod ---- */
int pod_new_obj(pod_ctx *c);                       /* pushes {} */
int pod_new_sized(pod_ctx *c, int fields);         /* pushes {} with room for `fields` keys */
int pod_new_list(pod_ctx *c);                      /* pushes [] (encodes as a JSON array) */
void pod_set_str(pod_ctx *c, int obj, const char *key, const char *s); /* only non-empty s */
void pod_set_int(pod_ctx *c, int obj, const char *key, lua_Integer v);
void pod_set_bool(pod_ctx *c, int obj, const char *key, int v);
void pod_set(pod_ctx *c, int obj, const char *key); /* pops the value on top into obj[key] */
void pod_append(pod_ctx *c, int list);              /* pops the value on top onto the list */
/* Sets obj[key] to the table at t when it has any entry (list or map). */
void pod_set_nonempty(pod_ctx *c, int obj, const char *key, int t);
/* 1 when the table at t has no entry. */
int pod_empty(pod_ctx *c, int t);
/* Pushes the list of the string keys of the map at m, sorted. */
int pod_sorted_keys(pod_ctx *c, int m);
/* Pushes a deep copy of the value at idx (lists stay lists). */
void pod_copy(pod_ctx *c, int idx);
/* Pushes a copy of the snake_case settings table at idx with camelCase keys
 * (keys of map fields such as match_labels are kept). */
void pod_camelize(pod_ctx *c, int idx);

/* 1 when the API server is Kubernetes 1.<minor> or later, or its version is
 * unknown (input.server_version unset: assume a current cluster); else warns
 * "... older than 1.<minor>: <otherwise>" and returns 0. */
int pod_server_at_least(pod_ctx *c, int minor, const char *otherwise);

/* Appends a warning. */
void pod_warn(pod_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Pushes `s` with the job's variables expanded (GitLab rules); returns the
 * pushed string, or NULL (nothing pushed) with c->err set. */
const char *pod_expand(pod_ctx *c, const char *s);

/* ---- images.c ---- */
/* Pushes the build image (the job's, expanded, else the config's). */
const char *pod_build_image(pod_ctx *c);
/* Pushes the helper image for the node selector (warns about an unknown
 * architecture or Windows build). Called once per build: c->helper_image. */
const char *pod_helper_image(pod_ctx *c);
/* Checks `image` against kubernetes.<list_key>. LUNAR_OK or LUNAR_EINVAL. */
int pod_check_allowed(pod_ctx *c, const char *list_key, const char *image, const char *what);
/* Pushes the first effective pull policy of a container (Kubernetes name,
 * possibly ""), from the image object at image_obj (0: none), or returns NULL
 * with the error set. */
const char *pod_pull_policy(pod_ctx *c, const char *container, int image_obj, const char *image);

/* ---- security.c ---- */
/* Pushes the container security context (nil when empty). image_obj (0:
 * none) gives the job's user for build and services. */
void pod_container_security(pod_ctx *c, const char *settings_key, const char *container, int image_obj);
/* Pushes spec.securityContext, or nil. */
void pod_pod_security(pod_ctx *c);

/* ---- resources (containers.c) ---- */
/* Pushes {limits, requests} for the class prefix read from the settings table
 * at `settings`, or returns 0 (nothing pushed) with the error set. */
int pod_resources(pod_ctx *c, int settings, const char *prefix);

/* ---- volumes.c ---- */
/* Sets spec.volumes and pushes the mounts every container gets, or returns 0
 * with the error set. */
int pod_volumes(pod_ctx *c, int spec);

/* ---- containers.c ---- */
int pod_containers(pod_ctx *c, int spec, int mounts, const char *build_image, const char *helper_image);

/* ---- scheduling.c ---- */
void pod_scheduling(pod_ctx *c, int spec);
int pod_host_aliases(pod_ctx *c, int spec);

#endif
