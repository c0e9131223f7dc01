#include "patch/podtypes.h"

#include <stdlib.h>
#include <string.h>

#include "patch/podtypes_data.inc"

const lunar_schema_type *lunar_patch_schema_pod(void) { return &schema_types[T_Pod]; }

const lunar_schema_type *lunar_patch_schema_podspec(void) { return &schema_types[T_PodSpec]; }

const lunar_schema_type *lunar_patch_schema_find(const char *name) {
  for (size_t i = 0; i < T_COUNT_; i++)
    if (strcmp(schema_types[i].name, name) == 0) return &schema_types[i];
  return NULL;
}

static int compare_field(const void *key, const void *elem) {
  return strcmp((const char *)key, ((const lunar_schema_field *)elem)->name);
}

const lunar_schema_field *lunar_patch_schema_field(const lunar_schema_type *type,
                                                   const char *name) {
  if (!type || !name) return NULL;
  return bsearch(name, type->fields, type->nfields, sizeof type->fields[0], compare_field);
}

const lunar_schema_type *lunar_patch_schema_type_of(const lunar_schema_field *field) {
  if (!field || field->type < 0 || field->type >= T_COUNT_) return NULL;
  return &schema_types[field->type];
}

const char *lunar_patch_schema_kind_name(lunar_schema_kind kind) {
  switch (kind) {
  case LUNAR_SCHEMA_OBJECT:
  case LUNAR_SCHEMA_MAP: return "an object";
  case LUNAR_SCHEMA_LIST: return "a list";
  case LUNAR_SCHEMA_STRING: return "a string";
  case LUNAR_SCHEMA_INTEGER: return "an integer";
  case LUNAR_SCHEMA_NUMBER: return "a number";
  case LUNAR_SCHEMA_BOOLEAN: return "a boolean";
  case LUNAR_SCHEMA_QUANTITY: return "a quantity (a string such as \"500m\", or a number)";
  case LUNAR_SCHEMA_INT_OR_STRING: return "an integer or a string";
  case LUNAR_SCHEMA_ANY:
  case LUNAR_SCHEMA_NONE:
  default: return "a value";
  }
}
