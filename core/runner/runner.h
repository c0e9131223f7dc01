/* `lunar run`: the runner process.
 *
 * The runner object owns the one event loop, the Kubernetes client, the
 * GitLab client and the current Lua entry (bind/entry.h). It verifies the
 * runner token, lists its own Pods (resuming the jobs still running, see
 * job.h), watches its Pods with one watch, and asks GitLab for jobs while it
 * has room (concurrent, limit, request_concurrency, check_interval). Each job
 * is a state machine in job.c advanced by completed requests, watch events
 * and timers.
 *
 * Signals: SIGQUIT stops taking jobs and exits when the running ones have
 * finished; SIGTERM/SIGINT do the same and abort what is left after
 * shutdown_timeout; SIGHUP loads the entrypoint again into a new Lua state
 * and switches to it only when it is valid (running jobs keep theirs).
 * Log lines go to stderr, one event a line.
 */
#ifndef LUNAR_RUNNER_RUNNER_H
#define LUNAR_RUNNER_RUNNER_H

#include <lua.h>

#include "util/error.h"

typedef struct lunar_runner_options {
  const char *entry_path;   /* RUNNER.lua */
  lua_State *parent;        /* for package.path/cpath (may be NULL) */
  lua_CFunction open_lunar; /* opens `lunar` in the runner's Lua states: luaopen_lunar */
  int max_jobs;             /* > 0: exit after that many jobs ended (tests, demo) */
} lunar_runner_options;

/* Runs until told to stop. Returns the process exit status: 0 after a clean
 * shutdown, 1 when start-up failed (err says why: the entrypoint, the
 * cluster, the token). */
int lunar_runner_main(const lunar_runner_options *opt, lunar_error *err);

#endif
