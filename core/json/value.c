#include "json/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *lunar_json_kind_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "a list";
  case JSON_STRING: return "a string";
  case JSON_INTEGER: return "an integer";
  case JSON_REAL: return "a number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  case JSON_NULL:
  default: return "null";
  }
}

const char *lunar_json_snippet(const json_t *v, char *buf, size_t size) {
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!s) {
    snprintf(buf, size, "%s", lunar_json_kind_name(v));
    return buf;
  }
  size_t len = strlen(s);
  if (len < size) {
    memcpy(buf, s, len + 1);
  } else {
    memcpy(buf, s, size - 4);
    memcpy(buf + size - 4, "...", 4);
  }
  free(s);
  return buf;
}

int lunar_json_equal(const json_t *a, const json_t *b) {
  if (json_is_number(a) && json_is_number(b)) {
    if (json_is_integer(a) && json_is_integer(b))
      return json_integer_value(a) == json_integer_value(b);
    return json_number_value(a) == json_number_value(b);
  }
  if (json_typeof(a) != json_typeof(b)) return 0;
  switch (json_typeof(a)) {
  case JSON_OBJECT: {
    if (json_object_size(a) != json_object_size(b)) return 0;
    const char *key;
    json_t *va;
    json_object_foreach((json_t *)a, key, va) {
      json_t *vb = json_object_get(b, key);
      if (!vb || !lunar_json_equal(va, vb)) return 0;
    }
    return 1;
  }
  case JSON_ARRAY: {
    size_t n = json_array_size(a);
    if (n != json_array_size(b)) return 0;
    for (size_t i = 0; i < n; i++)
      if (!lunar_json_equal(json_array_get(a, i), json_array_get(b, i))) return 0;
    return 1;
  }
  case JSON_STRING:
    return json_string_length(a) == json_string_length(b) &&
           memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
  default:
    return 1; /* true, false, null: same type is same value */
  }
}
