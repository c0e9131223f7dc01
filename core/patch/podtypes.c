#include "patch/podtypes.h"

#include <stdlib.h>
#include <string.h>

#include "patch/podtypes_data.inc"

const lunar_podtype *lunar_podtypes_pod(void) { return &schema_types[T_Pod]; }

const lunar_podtype *lunar_podtypes_podspec(void) { return &schema_types[T_PodSpec]; }

const lunar_podtype *lunar_podtypes_find(const char *name) {
  for (size_t i = 0; i < T_COUNT_; i++)
    if (strcmp(schema_types[i].name, name) == 0) return &schema_types[i];
  return NULL;
}

static int compare_field(const void *key, const void *elem) {
  return strcmp((const char *)key, ((const lunar_podtype_field *)elem)->name);
}

const lunar_podtype_field *lunar_podtypes_field(const lunar_podtype *type,
                                                   const char *name) {
  if (!type || !name) return NULL;
  return bsearch(name, type->fields, type->nfields, sizeof type->fields[0], compare_field);
}

const lunar_podtype *lunar_podtypes_type_of(const lunar_podtype_field *field) {
  if (!field || field->type < 0 || field->type >= T_COUNT_) return NULL;
  return &schema_types[field->type];
}

const char *lunar_podtypes_kind_name(lunar_podtype_kind kind) {
  switch (kind) {
  case LUNAR_PODTYPES_OBJECT:
  case LUNAR_PODTYPES_MAP: return "an object";
  case LUNAR_PODTYPES_LIST: return "a list";
  case LUNAR_PODTYPES_STRING: return "a string";
  case LUNAR_PODTYPES_INTEGER: return "an integer";
  case LUNAR_PODTYPES_NUMBER: return "a number";
  case LUNAR_PODTYPES_BOOLEAN: return "a boolean";
  case LUNAR_PODTYPES_QUANTITY: return "a quantity (a string such as \"500m\", or a number)";
  case LUNAR_PODTYPES_INT_OR_STRING: return "an integer or a string";
  case LUNAR_PODTYPES_ANY:
  case LUNAR_PODTYPES_NONE:
  default: return "a value";
  }
}
