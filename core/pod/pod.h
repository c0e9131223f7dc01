/* The Pod builder: (resolved settings, job payload, job variables) -> the
 * Kubernetes Pod of a job, as GitLab Runner's Kubernetes executor would build
 * it, in the pod-native layout of lunar (see README "Execution model").
 *
 * The input is one table, assembled by lua/lunar/render.lua:
 *   runner        { name, short_token, builds_dir, ... } the runner's top-level settings
 *   kubernetes    the kubernetes settings after policies and per-job overwrites,
 *                 under their GitLab Runner names (one row each: lua/lunar/settings.lua)
 *   job           the payload fields the builder reads: id, image,
 *                 runner_info.timeout, job_info.{project_id, project_name, name,
 *                 root_namespace_id}, git_info.{sha, before_sha, ref}
 *   services      the services to run, in order: { name, alias, entrypoint,
 *                 command, variables, pull_policy, executor_opts } (runner services,
 *                 then the job's; or what the `services` policy returned);
 *                 variables are { key, value } (expanded) or { key, secret_key }
 *   service_resources  { "<index>": { service_cpu_limit = ..., ... } } per-service overwrites
 *   values        name -> value of the job's final variables (lua/lunar/variables.lua),
 *                 for expanding image names, aliases, volume paths and labels
 *   layout        { builds_dir, project_dir, tmp_dir, scripts_dir, logs_dir, cache_dir }
 *   pull_policy_by_image  { "<image>": [policies] } from a pull_policy policy (optional)
 *   name          the Pod's name
 *   unique_name   its prefix before the suffix (the `pod` label)
 *   env           the build container's environment: { name, value } with
 *                 `$` doubled (lua/lunar/stages.lua)
 *   concurrent_id, project_runner_id  integers (optional, 0)
 *   server_version  "1.30" (optional; host aliases need 1.7 or later)
 *   plan          the stage plan of the job (see lua/lunar/stages): { containers
 *                 (init containers, build and helper commands), secret (the job
 *                 Secret's name), pull_secret (when it holds registry
 *                 credentials), cache (the job has a cache: share cache_dir) }
 *
 * Errors are LUNAR_EINVAL with a message naming the setting, variable or
 * image at fault, e.g. `disallowed image: "evil:latest" is not on
 * kubernetes.allowed_images ["registry.example.com/ci-*"]`.
 */
#ifndef LUNAR_POD_POD_H
#define LUNAR_POD_POD_H

#include <lua.h>

#include "util/error.h"

/* Builds the Pod for the input table at stack index `input`; `array_mt` is
 * the stack index of the metatable that marks a table as a JSON array
 * (bind/json.h's: the builder marks its lists with it). On success pushes the
 * Pod and the list of warnings (what the runner would log for this job;
 * strings) and returns LUNAR_OK; on failure pushes nothing and returns
 * LUNAR_EINVAL (or LUNAR_ENOMEM) with the message in err. The Lua face
 * (lunar.pod.build) is bind/pod.c. */
int lunar_pod_build(lua_State *L, int input, int array_mt, lunar_error *err);

#endif
