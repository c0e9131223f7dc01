/* Shared by the files of core/pod: the build context and small accessors.
 * Not a public interface. */
#ifndef LUNAR_POD_INTERNAL_H
#define LUNAR_POD_INTERNAL_H

#include <jansson.h>

#include "util/error.h"

typedef struct pod_ctx {
  const json_t *in;     /* the whole input (borrowed) */
  const json_t *k;      /* input.kubernetes */
  const json_t *job;    /* input.job */
  const json_t *layout; /* input.layout */
  json_t *vars;         /* name -> value of the job variables (owned) */
  json_t *warnings;     /* array of strings (owned until handed out) */
  int windows;          /* the node selector picks Windows nodes */
  lunar_error *err;
} pod_ctx;

/* ---- accessors: borrowed values, NULL/"" when missing ---- */
const char *pod_str(const json_t *obj, const char *key);        /* "" when missing */
const char *pod_kstr(const pod_ctx *c, const char *key);        /* a kubernetes setting, "" when unset */
int pod_kbool(const pod_ctx *c, const char *key, int *value);   /* 1 when set (value in *value) */
const json_t *pod_kget(const pod_ctx *c, const char *key);      /* NULL when unset */

/* Appends "fmt..." to the warnings. */
void pod_warn(pod_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Expands job variables in `s` (GitLab rules). New string (free) or NULL with
 * c->err set. */
char *pod_expand(pod_ctx *c, const char *s);

/* Sets key to a new string value when `s` is non-empty. */
void pod_set_str(json_t *obj, const char *key, const char *s);

/* Converts a settings table written in snake_case (affinity, dns_config,
 * container_lifecycle...) to the camelCase of the Kubernetes API. Keys under
 * map fields (match_labels, volume_attributes, ...) are kept as written. New
 * reference. */
json_t *pod_camelize(const json_t *v);

/* ---- images.c ---- */
/* The build image: the job's (expanded), else the config image. */
int pod_build_image(pod_ctx *c, char **out);
/* The helper image for the node selector. New string. */
char *pod_helper_image(pod_ctx *c);
/* Checks `image` against kubernetes.<list_key> (allowed_images or
 * allowed_services). LUNAR_OK or LUNAR_EINVAL naming the image and list. */
int pod_check_allowed(pod_ctx *c, const char *list_key, const char *image, const char *what);
/* The effective pull policies for a container (Kubernetes names, possibly ""
 * for the cluster default): requested (the image's own, else the config's) within
 * the allowed ones. New array, or NULL with the error set. */
json_t *pod_pull_policies(pod_ctx *c, const char *container, const json_t *image_obj, const char *image);

/* ---- security.c ---- */
/* The container security context for `settings_key` (e.g.
 * "build_container_security_context"); `image_obj` gives the job user for
 * build and services (NULL for the helper). New reference or NULL when empty. */
json_t *pod_container_security(pod_ctx *c, const char *settings_key, const char *container,
                               const json_t *image_obj);
/* spec.securityContext, or NULL when nothing is set. */
json_t *pod_pod_security(pod_ctx *c);

/* ---- resources ---- */
/* {limits, requests} for the class prefix ("", "service_", "helper_", "pod_")
 * read from `settings` (kubernetes settings or a per-service override). New
 * reference (an empty object when nothing is set) or NULL with the error set. */
json_t *pod_resources(pod_ctx *c, const json_t *settings, const char *prefix);

/* ---- volumes.c ---- */
/* Fills spec.volumes and returns the mounts every container gets (new array). */
json_t *pod_volumes(pod_ctx *c, json_t *spec);

/* ---- containers.c ---- */
int pod_containers(pod_ctx *c, json_t *spec, const json_t *mounts, const char *build_image,
                   const char *helper_image);

/* ---- scheduling.c ---- */
int pod_scheduling(pod_ctx *c, json_t *spec);
int pod_host_aliases(pod_ctx *c, json_t *spec);

#endif
