/* Where a value sits in a document, for messages: "spec.containers[0].env".
 * Keys are joined with ".", list indexes written as "[i]". A path lives on
 * the stack of the walk that builds it; nothing to free. Paths longer than
 * the buffer are cut. */
#ifndef LUNAR_JSON_PATH_H
#define LUNAR_JSON_PATH_H

#include <stddef.h>

typedef struct lunar_json_path {
  char buf[512];
  size_t len;
} lunar_json_path;

/* Starts at `root` (NULL or "" for an empty path). */
void lunar_json_path_init(lunar_json_path *p, const char *root);

/* Appends ".key" (or "key" at the start) / "[index]". Each returns a mark for
 * lunar_json_path_pop, which restores the path as it was. */
size_t lunar_json_path_key(lunar_json_path *p, const char *key);
size_t lunar_json_path_index(lunar_json_path *p, long long index);
void lunar_json_path_pop(lunar_json_path *p, size_t mark);

/* The path, or `empty` when it is empty. */
const char *lunar_json_path_str(const lunar_json_path *p, const char *empty);

#endif
