/* A runner entrypoint loaded into a Lua state of its own: the Lua side of
 * `lunar run`. The runner (core/runner/) calls Lua only through these
 * functions, at named points, with plain data (jansson values) in and out:
 *
 *   load      the file runs once and declares a runner; its settings are
 *             read out (lunar.lifecycle.settings)
 *   prepare   one job: policies, render, the job Secret and Pod (lunar.lifecycle.prepare)
 *   emit      one lifecycle event to its `on.<event>` handler (observers)
 *
 * An entry is reference-counted: the runner holds the current one, and every
 * job holds the one it started with, so a reload (SIGHUP) switches new jobs
 * to a new state while running jobs keep theirs. Lua never runs the loop.
 */
#ifndef LUNAR_BIND_ENTRY_H
#define LUNAR_BIND_ENTRY_H

#include <jansson.h>
#include <lua.h>
#include <stddef.h>

#include "util/error.h"

typedef struct lunar_entry lunar_entry;

/* Set in the registry of a runner's Lua state: Lua-facing code that would
 * block the runner (the synchronous lunar.kube client) refuses to run there. */
#define LUNAR_RUNNER_STATE_KEY "lunar.runner_state"

/* Creates a Lua state with the standard libraries and `lunar` (opened by
 * `open_lunar`, which is luaopen_lunar: passed in because the module's root
 * sits above the runner, see bind/module.h), with package.path/cpath copied
 * from `parent` (may be NULL), and loads the entrypoint at `path`. *out (one
 * reference) belongs to the caller.
 * Errors: LUNAR_EINVAL (the file does not load, is invalid, or lacks what
 * `lunar run` needs: the message has the key path and file:line),
 * LUNAR_ENOMEM. */
int lunar_entry_load(lua_State *parent, lua_CFunction open_lunar, const char *path,
                     lunar_entry **out, lunar_error *err);

void lunar_entry_hold(lunar_entry *e);
void lunar_entry_release(lunar_entry *e); /* frees the state with the last reference; NULL-safe */

/* The runner settings (borrowed, valid while the entry lives): name, url,
 * token, short_token, system_id, identity, tls_ca_file, concurrent, limit,
 * request_concurrency, check_interval, output_limit, shutdown_timeout,
 * kubernetes {connection settings, namespace, poll_timeout, ...}, handlers. */
const json_t *lunar_entry_settings(const lunar_entry *e);

/* The path the entry was loaded from (borrowed). */
const char *lunar_entry_path(const lunar_entry *e);

/* Prepares one job from its payload text. `opts` (borrowed): identity,
 * server_version, attempt, pull_attempt. *out (owned by the caller) is the
 * plan: pod, secret, namespace, pod_name, image, warnings, overwrites,
 * pull_fallback, job {id, token, masked, token_prefixes, failure_reasons,
 * timeout, debug_trace, summary}. Errors: LUNAR_EINVAL with the message a
 * user should see in the job's trace (bad payload, failing policy, invalid
 * patch). */
int lunar_entry_prepare(lunar_entry *e, const char *payload, size_t len, const json_t *opts,
                        json_t **out, lunar_error *err);

/* 1 when the entrypoint has an `on.<event>` handler. */
int lunar_entry_handles(const lunar_entry *e, const char *event);

/* Calls `on.<event>(job, data)` (both borrowed). A failing handler returns
 * LUNAR_EINVAL with its message (policy name and file:line); the caller logs it. */
int lunar_entry_emit(lunar_entry *e, const char *event, const json_t *job, const json_t *data,
                     lunar_error *err);

/* Lua memory in use by this entry's state, in bytes. */
size_t lunar_entry_memory(const lunar_entry *e);

#endif
