/* The one way C calls into Lua.
 *
 * lunar_call() runs the function below `nargs` arguments on the stack under
 * lua_pcall with a traceback handler and an instruction budget, so that a
 * policy stuck in a loop fails its job instead of freezing the runner.
 * On error it returns LUNAR_EINVAL and leaves one string on the stack: the
 * error message (which carries `file:line` when the error came from Lua code)
 * followed by the traceback. On success the results are on the stack.
 * budget: VM instructions; 0 means LUNAR_CALL_DEFAULT_BUDGET; negative means
 * unlimited (only for the top-level entry points: the CLI, `lunar lua`). A
 * nested call never gets more than its caller has left.
 * stack: -(nargs + 1), +nresults on success or +1 (message) on error
 */
#ifndef LUNAR_BIND_CALL_H
#define LUNAR_BIND_CALL_H

#include <lua.h>

/* Instruction budget for one policy call when the caller gives none. */
#define LUNAR_CALL_DEFAULT_BUDGET 50000000L

int lunar_call(lua_State *L, int nargs, int nresults, long budget);

/* lunar.call(budget, fn, ...) -> true, results... | false, message
 * The Lua face of lunar_call, used by the configuration layer to call
 * policies. budget is a number of VM instructions (nil: the default). */
int lunar_bind_call(lua_State *L);

#endif
