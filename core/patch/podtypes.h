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
typedef enum lunar_podtype_kind {
  LUNAR_PODTYPES_NONE = 0,
  LUNAR_PODTYPES_ANY,
  LUNAR_PODTYPES_OBJECT, /* a typed object: see lunar_podtypes_type_of */
  LUNAR_PODTYPES_MAP,    /* an object with arbitrary keys, values of kind `item` */
  LUNAR_PODTYPES_LIST,   /* items of kind `item` */
  LUNAR_PODTYPES_STRING,
  LUNAR_PODTYPES_INTEGER,
  LUNAR_PODTYPES_NUMBER,
  LUNAR_PODTYPES_BOOLEAN,
  LUNAR_PODTYPES_QUANTITY,
  LUNAR_PODTYPES_INT_OR_STRING
} lunar_podtype_kind;

/* Strategy bits of a list field; 0 means the list is replaced as a whole. */
enum {
  LUNAR_PODTYPES_MERGE = 1,      /* merge: by merge_key for objects, as a set for scalars */
  LUNAR_PODTYPES_RETAIN_KEYS = 2 /* Kubernetes adds $retainKeys when it computes patches */
};

typedef struct lunar_podtype_field {
  const char *name;          /* JSON name */
  unsigned char kind;        /* lunar_podtype_kind of the value */
  unsigned char item;        /* for LIST and MAP: kind of the items */
  unsigned char strategy;    /* LUNAR_PODTYPES_MERGE | LUNAR_PODTYPES_RETAIN_KEYS */
  const char *merge_key;     /* merging list of objects: the identifying field */
  short type;                /* the object type of the value or of its items, or -1 */
} lunar_podtype_field;

typedef struct lunar_podtype {
  const char *name;                /* e.g. "Container" */
  const lunar_podtype_field *fields; /* sorted by name (strcmp) */
  size_t nfields;
} lunar_podtype;

/* The roots: a whole Pod, and a PodSpec (what pod_spec patches apply to). */
const lunar_podtype *lunar_podtypes_pod(void);
const lunar_podtype *lunar_podtypes_podspec(void);

/* The type named `name` ("Container", "Volume", ...), or NULL. */
const lunar_podtype *lunar_podtypes_find(const char *name);

/* The field `name` of `type`, or NULL when the type has no such field or
 * `type` is NULL. */
const lunar_podtype_field *lunar_podtypes_field(const lunar_podtype *type,
                                                   const char *name);

/* The object type of a field's value (for OBJECT) or of its items (for LIST
 * and MAP of OBJECT), or NULL. NULL-safe. */
const lunar_podtype *lunar_podtypes_type_of(const lunar_podtype_field *field);

/* "a list", "an object", "a string", ...: how messages name a kind. */
const char *lunar_podtypes_kind_name(lunar_podtype_kind kind);

#endif
