/* Budgeted string patterns: inside a sandboxed call, string.find, match,
 * gmatch and gsub charge the steps of their match to the call's instruction
 * budget before running (a pattern match is one C call that the count hook
 * cannot interrupt). See pattern.c. */
#ifndef LUNAR_BIND_PATTERN_H
#define LUNAR_BIND_PATTERN_H

#include <lua.h>

/* Replaces the four functions in the state's `string` table (idempotent).
 * stack: unchanged */
void lunar_pattern_install(lua_State *L);

#endif
