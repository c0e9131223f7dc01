/* The Lua face of the Kubernetes client: `lunar.kube`.
 *
 *   local kube = require("lunar").kube
 *   local c, err = kube.client { host = ..., ca_file = ..., bearer_token_file = ...,
 *                                namespace = "ci" }   -- or kubeconfig / in-cluster
 *   c:get("pods", name [, opts])            -> object | nil, message, status
 *   c:list("pods" [, opts])                 -> list object (opts.label_selector, field_selector)
 *   c:create("pods", object [, opts])       -> created object
 *   c:delete("pods", name [, opts])         -> status or object (grace_period_seconds,
 *                                              propagation_policy)
 *   c:patch("secrets", name, patch [, opts]) -> patched object (JSON merge patch)
 *   c:events(pod_name [, opts])             -> EventList of that object
 *   c:version()                             -> { major, minor, gitVersion, ... }
 *   c:can_i(verb, resource [, opts])        -> allowed (boolean), reason
 *   c:watch(resource, opts, fn(type, object) -> false to stop)
 *                                           -> resourceVersion [, "timeout"]
 *   c:logs(pod, opts [, fn(line, timestamp) -> false to stop])
 *                                           -> true [, "timeout"] (without fn: the text)
 *   c:info()  -> { server, namespace, source }     c:stats() -> { requests, retries }
 *   c:close()
 * opts.namespace defaults to the client's namespace; opts.timeout (seconds)
 * bounds watch and logs. Expected failures return nil, message, HTTP status
 * (0 without response); programming errors raise.
 *
 * Calls are synchronous for Lua: each runs the state's one event loop until
 * its own request is done (other requests keep progressing meanwhile). Watch
 * and log callbacks run between loop iterations, so they may call the client.
 */
#ifndef LUNAR_BIND_KUBE_H
#define LUNAR_BIND_KUBE_H

#include <lua.h>

#define LUNAR_KUBE_CLIENT_MT "lunar.kube.client"
#define LUNAR_LOOP_MT "lunar.loop"

/* Opens `lunar.kube` and leaves it on the stack. stack: +1 */
int lunar_kube_open(lua_State *L);

#endif
