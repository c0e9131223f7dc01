/* Lua patterns in the sandbox (bind/pattern.c): string.find, match, gmatch
 * and gsub with a pattern and a subject from the input (pattern FUZZ_SEP
 * subject), inside a sandboxed call with a small budget. A pattern error or an
 * exhausted budget is fine; a crash, a hang past the budget or UB is not. */
#include "bind/call.h"
#include "fuzz.h"
#include "lua_common.h"

static const char setup[] =
    "local lunar = require 'lunar'\n"
    "local function use(s, p)\n"
    "  string.find(s, p); string.find(s, p, -3); string.match(s, p, 2)\n"
    "  for a in string.gmatch(s, p) do end\n"
    "  string.gsub(s, p, '%0%0', 50)\n"
    "  string.gsub(s, p, function(x) return x end)\n"
    "end\n"
    "return function(text)\n"
    "  local i, j = string.find(text, '\\n--8<--\\n', 1, true)\n"
    "  local p, s = text, ''\n"
    "  if i then p, s = text:sub(1, i - 1), text:sub(j + 1) end\n"
    "  local ok, e = lunar.call({ instructions = 200000, seconds = 2 }, function() return pcall(use, s, p) end)\n"
    "end\n";

FUZZ_LUA_TARGET(setup)
