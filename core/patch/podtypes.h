/* The Kubernetes core/v1 Pod types, as the patch algorithms need them.
 *
 * For every field of the Pod and of every type it contains (PodSpec,
 * Container, Volume and its sources, Affinity, ...): its JSON kind and, for
 * lists, the strategic-merge-patch strategy and merge key that Kubernetes
 * declares (`patchStrategy`/`patchMergeKey` in k8s.io/api, the
 * x-kubernetes-patch-* extensions of the OpenAPI schema).
 *
 * The table is generated (core/patch/podtypes_data.inc, by
 * scripts/gen-patch-podtypes.mjs) and static: every pointer returned here
 * points into it and is never freed.
 */
#ifndef LUNAR_PATCH_PODTYPES_H
#define LUNAR_PATCH_PODTYPES_H

#include <stddef.h>

/* JSON kinds of values. QUANTITY (resource.Quantity) is a string or a number;
 * INT_OR_STRING (intstr.IntOrString) is a string or an integer; ANY is any
 * JSON value. */
typedef enum lunar_schema_kind {
  LUNAR_SCHEMA_NONE = 0,
  LUNAR_SCHEMA_ANY,
  LUNAR_SCHEMA_OBJECT, /* a typed object: see lunar_patch_schema_type_of */
  LUNAR_SCHEMA_MAP,    /* an object with arbitrary keys, values of kind `item` */
  LUNAR_SCHEMA_LIST,   /* items of kind `item` */
  LUNAR_SCHEMA_STRING,
  LUNAR_SCHEMA_INTEGER,
  LUNAR_SCHEMA_NUMBER,
  LUNAR_SCHEMA_BOOLEAN,
  LUNAR_SCHEMA_QUANTITY,
  LUNAR_SCHEMA_INT_OR_STRING
} lunar_schema_kind;

/* Strategy bits of a list field; 0 means the list is replaced as a whole. */
enum {
  LUNAR_SCHEMA_MERGE = 1,      /* merge: by merge_key for objects, as a set for scalars */
  LUNAR_SCHEMA_RETAIN_KEYS = 2 /* Kubernetes adds $retainKeys when it computes patches */
};

typedef struct lunar_schema_field {
  const char *name;          /* JSON name */
  unsigned char kind;        /* lunar_schema_kind of the value */
  unsigned char item;        /* for LIST and MAP: kind of the items */
  unsigned char strategy;    /* LUNAR_SCHEMA_MERGE | LUNAR_SCHEMA_RETAIN_KEYS */
  const char *merge_key;     /* merging list of objects: the identifying field */
  short type;                /* the object type of the value or of its items, or -1 */
} lunar_schema_field;

typedef struct lunar_schema_type {
  const char *name;                /* e.g. "Container" */
  const lunar_schema_field *fields; /* sorted by name (strcmp) */
  size_t nfields;
} lunar_schema_type;

/* The roots: a whole Pod, and a PodSpec (what pod_spec patches apply to). */
const lunar_schema_type *lunar_patch_schema_pod(void);
const lunar_schema_type *lunar_patch_schema_podspec(void);

/* The type named `name` ("Container", "Volume", ...), or NULL. */
const lunar_schema_type *lunar_patch_schema_find(const char *name);

/* The field `name` of `type`, or NULL when the type has no such field or
 * `type` is NULL. */
const lunar_schema_field *lunar_patch_schema_field(const lunar_schema_type *type,
                                                   const char *name);

/* The object type of a field's value (for OBJECT) or of its items (for LIST
 * and MAP of OBJECT), or NULL. NULL-safe. */
const lunar_schema_type *lunar_patch_schema_type_of(const lunar_schema_field *field);

/* "a list", "an object", "a string", ...: how messages name a kind. */
const char *lunar_patch_schema_kind_name(lunar_schema_kind kind);

#endif
