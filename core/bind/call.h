/* The one way C calls into Lua.
 *
 * lunar_call() runs the function below `nargs` arguments on the stack under
 * lua_pcall with a traceback handler. Unless it is an unlimited top-level
 * call (see `budget`), the call is a *sandboxed* call: it runs
 *   - under an instruction budget, counted by a count hook on every thread
 *     that runs during the call (the calling one, coroutines created before or
 *     during the call: see lunar_call_arm);
 *   - under a wall-clock deadline, checked by the same hook;
 *   - under a memory limit enforced by lunar's allocator (installed on the
 *     state by lunar_call_install): the live heap may grow by at most the limit;
 *   - with the sandbox guards of bind/sandbox.h active (no process exit, no
 *     spawning, no file writes, no debug library, no native loading).
 * Once a limit is hit the hook is re-armed to fire on every instruction, in
 * every frame, so the error escapes any pcall/xpcall/coroutine of the callee:
 * only lunar_call itself returns it.
 *
 * On error it returns LUNAR_EINVAL and leaves one string on the stack: the
 * error message (which carries `file:line` when the error came from Lua code)
 * followed by the traceback. A call stopped by a limit says which limit:
 *   "runner.lua:7: instruction budget exhausted (50000000 instructions; an endless loop?)"
 *   "runner.lua:7: wall-clock deadline exceeded (5 s)"
 *   "runner.lua:7: memory limit exceeded (the call may use 64 MiB)"
 * On success the results are on the stack.
 *
 * budget: VM instructions; 0 means LUNAR_CALL_DEFAULT_BUDGET; negative means
 * unlimited and unsandboxed (only for the top-level entry points: the CLI,
 * `lunar lua`, loading an entrypoint). Inside a sandboxed call every nested
 * call is sandboxed too and never gets more than its caller has left
 * (instructions, time and memory), whatever it asks for.
 * stack: -(nargs + 1), +nresults on success or +1 (message) on error
 */
#ifndef LUNAR_BIND_CALL_H
#define LUNAR_BIND_CALL_H

#include <stddef.h>
#include <lua.h>

/* Limits of one sandboxed call when the caller gives none. */
#define LUNAR_CALL_DEFAULT_BUDGET 50000000L
#define LUNAR_CALL_DEFAULT_SECONDS 5.0
#define LUNAR_CALL_DEFAULT_MEMORY ((size_t)64 << 20)

typedef struct lunar_call_limits {
  long instructions; /* 0: the default; negative: unlimited, unsandboxed */
  double seconds;    /* wall clock; 0: the default */
  size_t memory;     /* bytes the live heap may grow by; 0: the default */
} lunar_call_limits;

int lunar_call(lua_State *L, int nargs, int nresults, long budget);

/* lunar_call with every limit given. `lim` may be NULL (the defaults). */
int lunar_call_with(lua_State *L, int nargs, int nresults, const lunar_call_limits *lim);

/* Installs lunar's allocator and the budget state on L (idempotent; called by
 * luaopen_lunar). Until it runs, calls have no memory limit. */
void lunar_call_install(lua_State *L);

/* 1 while a sandboxed call runs on L's state, else 0. */
int lunar_call_sandboxed(lua_State *L);

/* Puts the budget hook on thread `co` when a sandboxed call is running, so a
 * coroutine created before the call still runs under the budget. */
void lunar_call_arm(lua_State *L, lua_State *co);

/* Instructions left to the running sandboxed call (a large number outside one). */
long long lunar_call_left(lua_State *L);

/* Charges `steps` instructions of work done in C (a pattern match) to the
 * running sandboxed call; raises the budget error, and stops the call like the
 * count hook does, when they exceed what is left. No-op outside a call. */
void lunar_call_charge(lua_State *L, long long steps);

/* lunar.call(limits, fn, ...) -> true, results... | false, message
 * The Lua face of lunar_call, used by the configuration layer to call
 * policies. limits is nil (the defaults), a number of VM instructions, or a
 * table { instructions = n, seconds = s, memory = bytes }. */
int lunar_bind_call(lua_State *L);

/* lunar.sandboxed() -> boolean: whether per-job code is running. */
int lunar_bind_sandboxed(lua_State *L);

#endif
