/* lunar.patch: the patch algorithms for Lua.
 *
 *   lunar.patch.merge(doc, patch)            -> doc | nil, message   RFC 7386
 *   lunar.patch.json(doc, ops)               -> doc | nil, message   RFC 6902
 *   lunar.patch.strategic(doc, patch [, kind]) -> doc | nil, message
 *   lunar.patch.check(doc [, kind])          -> true | nil, message  Pod type check
 *   lunar.patch.apply(spec, { name =, patch_type =, patch =, source = })
 *                                            -> spec | nil, message
 * kind is "PodSpec" (the default) or "Pod". Documents are Lua tables as
 * lunar.json maps them; results are new tables, arguments are not changed.
 * Wrong argument types raise; patches that fail return nil and a message.
 * apply parses a string patch as YAML or JSON (`source` names it in
 * positions, "patch" by default), applies it to the PodSpec and checks the
 * result; its messages start with `name`.
 */
#ifndef LUNAR_BIND_PATCH_H
#define LUNAR_BIND_PATCH_H

#include <lua.h>

/* Opens lunar.patch and leaves it on the stack. stack: +1 */
int lunar_patch_open(lua_State *L);

#endif
