/* The sandbox of per-job code.
 *
 * Per-job code (policies, `stages` overrides, `on` handlers) runs inside a
 * sandboxed lunar_call (bind/call.h). The functions it could use to end or
 * escape the runner are replaced, in the standard library tables themselves,
 * by guards: outside a sandboxed call a guard calls the original unchanged (the
 * entrypoint's load phase, the CLI and the specs keep the whole library);
 * inside one it raises "<file:line>: <name> is not available to per-job code
 * (lunar's sandbox: ...)". Because the library tables are changed before any
 * entrypoint runs, a `local exit = os.exit` captured at load time is the guard
 * too.
 *
 * Refused inside a sandboxed call:
 *   os.exit, os.execute, os.remove, os.rename, os.tmpname, os.setlocale,
 *   io.popen, io.tmpfile, io.write, io.output (with a file), io.open in any
 *   mode other than "r"/"rb", file:write/setvbuf/seek on anything but stderr,
 *   dofile, load/loadfile of binary chunks, package.loadlib, package.searchers,
 *   require of a module that is not loaded yet, every debug function but
 *   debug.traceback, collectgarbage other than "count"/"collect"/"step"/
 *   "isrunning", setmetatable with a __gc field (finalizers run outside any
 *   budget), rawset on read-only views, the lunar.kube client.
 * coroutine.resume and coroutine.wrap arm the budget hook on the coroutine
 * they run, so a coroutine made before the call is counted too.
 */
#ifndef LUNAR_BIND_SANDBOX_H
#define LUNAR_BIND_SANDBOX_H

#include <lua.h>

/* Installs the guards in the state's standard library tables and in the
 * `lunar` table on top of the stack (idempotent). stack: unchanged */
void lunar_sandbox_install(lua_State *L);

#endif
