/* YAML <-> jansson values, through libyaml.
 *
 * Parsing follows the YAML 1.2 core schema for plain scalars: `null`, `~` and
 * an empty value are null; `true`/`false` (any case) are booleans; decimal,
 * `0x` and `0o` integers and decimal floats (with `.inf`, `.nan`) are numbers;
 * everything else, and every quoted scalar, is a string. YAML 1.1 words such
 * as `yes`/`on` stay strings (Kubernetes' sigs.k8s.io/yaml reads them as
 * booleans; lunar follows YAML 1.2, which is what a user quoting "yes" wants).
 * Aliases expand to copies of their anchors. Mapping keys must be scalars.
 * Only a stream of exactly one document is accepted (an empty stream is null).
 *
 * The Lua face (lunar.yaml) is bind/yaml.c.
 *
 * Errors name the input and the position: "runner.lua:pod_spec[1]:3:7: mapping
 * values are not allowed in this context" (line and column are 1-based).
 */
#ifndef LUNAR_YAML_YAML_H
#define LUNAR_YAML_YAML_H

#include <jansson.h>
#include <stddef.h>

#include "util/error.h"

/* Parses `len` bytes of YAML (JSON is YAML too). `name` labels messages (NULL:
 * "YAML"). On success *out is a new reference owned by the caller. Returns
 * LUNAR_OK, LUNAR_EINVAL (syntax, a non-scalar key, several documents) or
 * LUNAR_ENOMEM. */
int lunar_yaml_parse(const char *text, size_t len, const char *name, json_t **out,
                     lunar_error *err);

/* Emits `v` (borrowed) as a block-style YAML document. Strings that would read
 * back as another type (`"true"`, `"1"`, `""`, and YAML 1.1's `"yes"`/`"on"`
 * for the readers that still follow it, kubectl among them) are quoted; multi-line strings
 * use the literal style. On success *out is a NUL-terminated string the caller
 * frees with free(). Returns LUNAR_OK or LUNAR_ENOMEM/LUNAR_EINVAL. */
int lunar_yaml_emit(const json_t *v, char **out, lunar_error *err);

#endif
