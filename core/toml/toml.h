/* TOML -> jansson values, through toml++ (the only C++ in lunar; see toml.cpp).
 *
 * Used by `lunar migrate` to read GitLab Runner's config.toml. The mapping:
 *   table -> object, array -> array, string -> string, integer -> integer,
 *   float -> real, boolean -> true/false, and the four date/time types ->
 *   their TOML text as a string (GitLab Runner's config has none that lunar reads).
 *
 * The Lua face (lunar.toml) is bind/toml.c.
 *
 * Errors name the input and the position: "config.toml:12:7: expected '='"
 * (line and column are 1-based).
 */
#ifndef LUNAR_TOML_TOML_H
#define LUNAR_TOML_TOML_H

/* C linkage for toml.cpp, for these headers too (util/error.h has no guard
 * of its own) */
#ifdef __cplusplus
extern "C" {
#endif

#include <jansson.h>
#include <stddef.h>

#include "util/error.h"

/* Parses `len` bytes of TOML 1.0. `name` labels messages (NULL: "TOML").
 * On success *out is a new reference owned by the caller, and, when `lines` is
 * not NULL, *lines a new object owned by the caller mapping the path of every
 * key to the line where it was written: "runners[1].kubernetes.cpu_limit" -> 14
 * (array items are 1-based, keys are joined with '.' as written, unquoted).
 * Returns LUNAR_OK, LUNAR_EINVAL (syntax, duplicate keys, ...) or LUNAR_ENOMEM;
 * on failure *out and *lines are left NULL. */
int lunar_toml_parse(const char *text, size_t len, const char *name, json_t **out,
                     json_t **lines, lunar_error *err);

#ifdef __cplusplus
}
#endif

#endif
