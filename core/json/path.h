/* Where a value sits in a document, for messages: "spec.containers[0].env".
 * Keys are joined with ".", list indexes written as "[i]". Pushing records
 * only a pointer (the key must stay alive while it is on the path) and the
 * text is formatted when a message asks for it: walks over whole Pods push a
 * key per field and rarely fail. A path lives on the stack of its walk;
 * nothing to free. Paths deeper than LUNAR_JSON_PATH_DEPTH keep their first
 * frames; text longer than the buffer is cut. */
#ifndef LUNAR_JSON_PATH_H
#define LUNAR_JSON_PATH_H

#include <stddef.h>

#define LUNAR_JSON_PATH_DEPTH 96

typedef struct lunar_json_path {
  struct {
    const char *key; /* NULL for a list index */
    long long index;
  } frames[LUNAR_JSON_PATH_DEPTH];
  int depth;
  char buf[512];
} lunar_json_path;

/* Starts at `root` (NULL or "" for an empty path); root is borrowed. */
void lunar_json_path_init(lunar_json_path *p, const char *root);

/* Appends a key / a list index. Each returns a mark for lunar_json_path_pop,
 * which restores the path as it was. */
int lunar_json_path_key(lunar_json_path *p, const char *key);
int lunar_json_path_index(lunar_json_path *p, long long index);
void lunar_json_path_pop(lunar_json_path *p, int mark);

/* The path as text (in p's buffer, valid until the next call), or `empty`
 * when the path is empty. */
const char *lunar_json_path_str(lunar_json_path *p, const char *empty);

#endif
