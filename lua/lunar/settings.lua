-- Every setting of a runner entrypoint, one row each: its type, its default,
-- what it means, the job variable that may overwrite it and the gate of that
-- variable, and which part of lunar reads it. Everything else is derived from
-- these rows: the validation records (M.runner, M.kubernetes), the per-job
-- overwrites (M.overwrites, used by lunar.overwrites), the runner-level
-- defaults (M.default), and the README's settings and overwrite tables
-- (scripts/gen-settings-doc.lua; `make test` fails when the README is stale).
--
-- A row: { key, type, default = value, default_doc = "text", doc = "text",
--          type_doc = "text", read_by = part, overwrite = {...}, join = true }
--   default      the value used when the key is unset (plain values only);
--   default_doc  how the README shows the default when it is not a plain value;
--   read_by      the part that reads the key (M.PARTS; spec/settings checks that
--                each part does read each of its keys);
--   join         documented in the README row of the key before it;
--   unused       { action = "refuse"|"warn", why = "...", inert = value }: a GitLab
--                Runner setting lunar has no use for, refused or warned about at
--                load (lunar.config) unless it has the inert value.
-- Setting names are GitLab Runner's `[runners.kubernetes]` TOML names.
local T = require "lunar.types"
local C = require "lunar.setting_types"

local S, B, I, N, Q, R = T.string, T.bool, T.int, T.number, T.quantity, T.regex
local strings, smap = T.list(S), T.map(S)

local M = {}

-- The parts of lunar that read settings, and the sources where each does.
M.PARTS = {
  runner = { "lua/lunar/lifecycle.lua", "core/runner/*.c" },
  client = { "core/kube/*.c", "core/bind/*.c", "core/runner/*.c" },
  pod = { "core/pod/*.c", "lua/lunar/render.lua" },
  stages = { "lua/lunar/stages.lua", "lua/lunar/stages/*.lua", "lua/lunar/variables.lua" },
  policies = { "lua/lunar/resolve.lua", "lua/lunar/render.lua" },
  overwrites = { "lua/lunar/overwrites.lua" },
}

M.sections = {}
local section

local function new_section(scope, title, intro)
  section = { scope = scope, title = title, intro = intro, rows = {} }
  M.sections[#M.sections + 1] = section
end

local function row(r)
  r.key, r.type = r[1], r[2]
  r[1], r[2] = nil, nil
  r.scope = section.scope
  r.path = r.scope == "kubernetes" and ("kubernetes." .. r.key) or r.key -- as messages name it
  section.rows[#section.rows + 1] = r
end

-- ---- the runner (top level) ----------------------------------------------
new_section("runner", "**Runner** (top level)")
row { "name", S, default = "lunar", doc = "Runner name, in the `manager.runner.gitlab.com/name` label", read_by = "runner" }
row { "url", S, doc = "GitLab URL", read_by = "runner" }
row { "token", S, doc = "Runner authentication token, or a file holding it (one of the two)", read_by = "runner" }
row { "token_file", S, join = true, read_by = "runner" }
row { "builds_dir", S, default_doc = "`/builds`", doc = "Where projects are checked out in the Pod (`CI_BUILDS_DIR`)", read_by = "stages" }
row { "cache_dir", S, default_doc = "`/cache`", doc = "Cache directory in the helper", read_by = "stages" }
row { "environment", strings, type_doc = "list of `\"K=V\"`", doc = "Extra variables for every job, before the job's own", read_by = "stages" }
row { "concurrent", I, default = 1, doc = "How many jobs run at once, in all and per runner (0: no limit); parallel job requests", read_by = "runner" }
row { "limit", I, default = 0, join = true, read_by = "runner" }
row { "request_concurrency", I, default = 1, join = true, read_by = "runner" }
row { "check_interval", I, default = 3, type_doc = "int (s)", doc = "How often GitLab is asked for jobs when it has none (a job received asks again at once)", read_by = "runner" }
row { "output_limit", I, default = 4096, type_doc = "int (KiB)", doc = "Largest job log: past it one notice, nothing more collected", read_by = "runner" }
row { "shutdown_timeout", I, default = 30, type_doc = "int (s)", doc = "After SIGTERM, how long running jobs may go on before they are aborted", read_by = "runner" }
row { "listen_address", S, doc = "`host:port` of `/metrics` (Prometheus), `/healthz` and `/readyz` (e.g. `\"0.0.0.0:9252\"`); unset: none", read_by = "runner" }
row { "system_id", S, doc = "This runner manager's id (sent to GitLab; part of the Pod label `lunar.dev/runner`): give each replica of one runner its own", read_by = "runner" }
row { "shell", T.enum { "bash", "sh" }, type_doc = "`bash` or `sh`", default = "bash", doc = "Shell of the job scripts (bash when the image has it)", read_by = "stages" }
row { "tls_ca_file", S, doc = "CA bundle for GitLab, also given to jobs as `CI_SERVER_TLS_CA_FILE`", read_by = "runner" }
row { "pre_get_sources_script", S, doc = "Shell run around the stages", read_by = "stages" }
row { "post_get_sources_script", S, join = true, read_by = "stages" }
row { "pre_build_script", S, join = true, read_by = "stages" }
row { "post_build_script", S, join = true, read_by = "stages" }

-- `on` handlers: observers of each step of a job (lunar.lifecycle.emit).
M.EVENTS = { "job_received", "job_started", "pod_created", "pod_running", "stage_finished", "job_finished", "job_resumed" }
do
  local handlers = {}
  for _, event in ipairs(M.EVENTS) do handlers[event] = C.func("(job, data)") end
  local names = {}
  for _, event in ipairs(M.EVENTS) do names[#names + 1] = "`" .. event .. "`" end
  row { "on", T.record(handlers), type_doc = "map of functions", read_by = "runner",
    doc = "Lifecycle handlers (observers): " .. table.concat(names, ", ") .. "; see Running lunar" }
end

-- stages = { <stage name> = function(job, layout, default) ... end }: only
-- the stages lunar runs (lunar.stages.names), so a typo is a load error.
do
  local fields = {}
  for _, name in ipairs(require "lunar.stages.names") do fields[name] = C.func("(job, layout, default)") end
  row { "stages", T.record(fields), type_doc = "map of functions", read_by = "stages",
    doc = "Overrides of the stage scripts (see Execution model)" }
end

-- ---- kubernetes: connection and identity --------------------------------
new_section("kubernetes", "**Connection and identity** (`kubernetes.*`; see Connecting to Kubernetes)")
row { "host", S, doc = "API server URL; kubeconfig context when `host` is empty", read_by = "client" }
row { "context", S, join = true, read_by = "client" }
row { "kubeconfig", S, default_doc = "`$KUBECONFIG`, `~/.kube/config`", doc = "kubeconfig files (a `:`-separated list)", read_by = "client" }
row { "request_timeout", N, type_doc = "number (s)", default = 60, doc = "Per-attempt limits of API requests", read_by = "client" }
row { "connect_timeout", N, default = 10, join = true, read_by = "client" }
row { "ca_file", S, doc = "CA bundle, client certificate and key (`cert_file` needs `key_file`)", read_by = "client" }
row { "cert_file", S, join = true, read_by = "client" }
row { "key_file", S, join = true, read_by = "client" }
row { "bearer_token", S, doc = "Bearer token, or a file holding it (one of the two)", read_by = "client",
  overwrite = { var = "KUBERNETES_BEARER_TOKEN", gate = "bearer_token_overwrite_allowed", label = "BearerToken",
    value = "the API token for this job" } }
row { "bearer_token_file", S, join = true, read_by = "client" }
row { "insecure_skip_tls_verify", B, default = false, doc = "Do not verify the API server's certificate", read_by = "client" }
row { "qps", N, type_doc = "number, int", doc = "Client-side rate limit", read_by = "client" }
row { "burst", I, join = true, read_by = "client" }
row { "namespace", S, default_doc = "`default` (with a warning)", doc = "Namespace of every job object", read_by = "pod",
  overwrite = { var = "KUBERNETES_NAMESPACE_OVERWRITE", gate = "namespace_overwrite_allowed", label = "Namespace",
    value = "the namespace" } }
row { "namespace_per_job", B, default = false, doc = "**Refused** when true (see Settings lunar does not use)",
  unused = { action = "refuse", inert = false,
    why = "lunar follows all its Pods with one watch in one namespace and does not create namespaces; "
      .. "set kubernetes.namespace (or allow KUBERNETES_NAMESPACE_OVERWRITE)" } }
row { "service_account", S, doc = "`spec.serviceAccountName`", read_by = "pod",
  overwrite = { var = "KUBERNETES_SERVICE_ACCOUNT_OVERWRITE", gate = "service_account_overwrite_allowed", label = "ServiceAccount",
    value = "the service account" } }
row { "automount_service_account_token", B, default_doc = "unset", doc = "`spec.automountServiceAccountToken`", read_by = "pod" }
row { "image_pull_secrets", strings, type_doc = "list", doc = "Existing Secrets added to `spec.imagePullSecrets`", read_by = "pod" }
row { "use_service_account_image_pull_secrets", B, default = false, doc = "Send no `imagePullSecrets`, so the service account's apply", read_by = "pod" }
row { "namespace_overwrite_allowed", R, doc = "Gates of `KUBERNETES_NAMESPACE_OVERWRITE`, `KUBERNETES_SERVICE_ACCOUNT_OVERWRITE`", read_by = "overwrites" }
row { "service_account_overwrite_allowed", R, join = true, read_by = "overwrites" }
row { "bearer_token_overwrite_allowed", B, default = false, doc = "Lets a job set `KUBERNETES_BEARER_TOKEN`", read_by = "overwrites" }

-- ---- kubernetes: images and pull policy ---------------------------------
new_section("kubernetes", "**Images and pull policy**")
row { "image", S, doc = "Build image for jobs that name none (variables expanded)", read_by = "pod" }
row { "helper_image", S, read_by = "pod",
  default_doc = "`registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper:<flavor->?<arch>-v19.3.0`",
  doc = "Helper image; the default follows the node selector's `kubernetes.io/arch`, `kubernetes.io/os` and `node.kubernetes.io/windows-build`" }
row { "helper_image_flavor", T.enum { "", "alpine", "ubuntu", "ubi-fips", "alpine-latest", "alpine3.19", "alpine3.21" },
  type_doc = "`alpine`, `ubuntu`, `ubi-fips`, ...", default_doc = "alpine", doc = "Helper image tag prefix", read_by = "pod" }
row { "helper_image_autoset_arch_and_os", B, default = false, read_by = "pod",
  doc = "The helper image for the runner machine's architecture and OS (Linux) instead of the node selector's" }
row { "pull_policy", C.pull_policy, type_doc = "`always`, `never`, `if-not-present`, or a list of them", default_doc = "cluster default",
  doc = "Pull policy of every container; a list is a fallback sequence (the first one is used)", read_by = "pod" }
row { "allowed_pull_policies", T.list(C.pull_policy_name), type_doc = "list", default_doc = "`pull_policy`", read_by = "pod",
  doc = "Policies a job may ask for with `image: pull_policy`; when neither this nor `pull_policy` is set, any policy is allowed (GitLab Runner refuses every one)" }
row { "allowed_images", strings, type_doc = "list of globs", default_doc = "all", read_by = "pod",
  doc = "Build and service images allowed (`*` within a path segment, `**` across, `?`, `[a-z]`, `{a,b}`); the runner's own `image` and the helper image are always allowed" }
row { "allowed_services", strings, join = true, read_by = "pod" }
row { "allowed_users", strings, type_doc = "list", default_doc = "any but root", read_by = "pod",
  doc = "UIDs/GIDs a job may ask for with `image: kubernetes: user` (`\"uid[:gid]\"`); root must be listed. A refused user is a warning and the image's user applies" }
row { "allowed_groups", strings, join = true, read_by = "pod" }

-- ---- kubernetes: resources -----------------------------------------------
-- 4 classes x {cpu, memory, ephemeral_storage} x {limit, request}, each with
-- its *_overwrite_max_allowed cap (no Pod-level ephemeral storage).
M.RESOURCE_CLASSES = {
  { prefix = "", var = "", field = "", name = "build (no prefix)" },
  { prefix = "service_", var = "SERVICE_", field = "Service", name = "`service_`", service = true },
  { prefix = "helper_", var = "HELPER_", field = "Helper", name = "`helper_`" },
  { prefix = "pod_", var = "POD_", field = "Pod", name = "`pod_` (Pod-level `spec.resources`, Kubernetes 1.32+)", no = { ephemeral_storage = true } },
}
M.RESOURCES = {
  { key = "cpu", var = "CPU", field = "CPU" },
  { key = "memory", var = "MEMORY", field = "Memory" },
  { key = "ephemeral_storage", var = "EPHEMERAL_STORAGE", field = "EphemeralStorage" },
}
M.RESOURCE_KINDS = { { key = "limit", var = "LIMIT", field = "Limit" }, { key = "request", var = "REQUEST", field = "Request" } }

new_section("kubernetes", "**Resources**", "For each container class, a `_limit` and a `_request` of `cpu`, `memory` and\n" ..
  "`ephemeral_storage` (*quantity*; empty means not set), and for each of those an `_overwrite_max_allowed`\n" ..
  "(*quantity*) that lets a job raise it with the matching `KUBERNETES_*` variable up to that cap.\n" ..
  "Init containers of the job's stages get the helper's values.")
section.resources = true
for _, class in ipairs(M.RESOURCE_CLASSES) do
  for _, res in ipairs(M.RESOURCES) do
    if not (class.no and class.no[res.key]) then
      for _, kind in ipairs(M.RESOURCE_KINDS) do
        local key = class.prefix .. res.key .. "_" .. kind.key
        row { key, Q, read_by = "pod", class = class,
          overwrite = { var = "KUBERNETES_" .. class.var .. res.var .. "_" .. kind.var, gate = key .. "_overwrite_max_allowed",
            field = class.field .. res.field .. kind.field, service = class.service } }
        row { key .. "_overwrite_max_allowed", Q, read_by = "overwrites", class = class }
      end
    end
  end
end

-- ---- kubernetes: scheduling and placement --------------------------------
new_section("kubernetes", "**Scheduling and placement**")
row { "node_selector", smap, type_doc = "map", doc = "`spec.nodeSelector`; also picks the helper image's arch and OS", read_by = "pod",
  overwrite = { prefix = "KUBERNETES_NODE_SELECTOR_", gate = "node_selector_overwrite_allowed", label = "NodeSelector", value = "`key=value`" } }
row { "node_tolerations", smap, type_doc = "map `\"key[=value]\"` → effect", read_by = "pod",
  doc = "`key=value` tolerates with `Equal`, `key` with `Exists`, `\"\"` tolerates every taint",
  overwrite = { prefix = "KUBERNETES_NODE_TOLERATIONS_", gate = "node_tolerations_overwrite_allowed", label = "NodeTolerations",
    value = "`key[=value]:Effect`", toleration = true } }
row { "affinity", C.affinity, type_doc = "table", default_doc = "`{}`", read_by = "pod",
  doc = "`node_affinity`, `pod_affinity`, `pod_anti_affinity` written in snake_case (`required_during_scheduling_ignored_during_execution`, `node_selector_terms`, `match_expressions`, `topology_key`, ...)" }
row { "scheduler_name", S, doc = "The Pod fields of those names", read_by = "pod" }
row { "priority_class_name", S, join = true, read_by = "pod" }
row { "runtime_class_name", S, join = true, read_by = "pod" }
row { "node_selector_overwrite_allowed", R, doc = "Gates of `KUBERNETES_NODE_SELECTOR_*`, `KUBERNETES_NODE_TOLERATIONS_*`", read_by = "overwrites" }
row { "node_tolerations_overwrite_allowed", R, join = true, read_by = "overwrites" }
row { "pod_disruption_budget", B, default = false, read_by = "runner",
  doc = "A PodDisruptionBudget `<pod>-pdb` with `minAvailable: 1` selecting the job's Pod, owned by it; a failed create fails the job (needs `create` on `poddisruptionbudgets.policy`)" }

-- ---- kubernetes: metadata -----------------------------------------------
new_section("kubernetes", "**Metadata**")
row { "pod_labels", smap, type_doc = "map", read_by = "pod",
  doc = "Extra labels; values expanded and sanitised (`[A-Za-z0-9._-]`, 63 characters); keys under `runner.gitlab.com` are dropped; GitLab Runner's default labels cannot be overridden",
  overwrite = { prefix = "KUBERNETES_POD_LABELS_", gate = "pod_labels_overwrite_allowed", label = "PodLabels", value = "`key=value`" } }
row { "pod_annotations", smap, type_doc = "map", read_by = "pod",
  doc = "Extra annotations, values expanded; they may override the default `job.runner.gitlab.com/*` annotations",
  overwrite = { prefix = "KUBERNETES_POD_ANNOTATIONS_", gate = "pod_annotations_overwrite_allowed", label = "PodAnnotations", value = "`key=value`" } }
row { "pod_labels_overwrite_allowed", R, doc = "Gates of `KUBERNETES_POD_LABELS_*`, `KUBERNETES_POD_ANNOTATIONS_*`", read_by = "overwrites" }
row { "pod_annotations_overwrite_allowed", R, join = true, read_by = "overwrites" }

-- ---- kubernetes: security -----------------------------------------------
new_section("kubernetes", "**Security**")
row { "privileged", B, default_doc = "unset", doc = "Fallback for every container", read_by = "pod" }
row { "allow_privilege_escalation", B, join = true, read_by = "pod" }
row { "cap_add", strings, type_doc = "list", default_doc = "`NET_RAW` dropped on Linux", read_by = "pod",
  doc = "Capabilities of every container; `cap_drop` beats `cap_add`, `cap_add = {\"NET_RAW\"}` keeps NET_RAW" }
row { "cap_drop", strings, join = true, read_by = "pod" }
row { "pod_security_context", C.pod_security_context, type_doc = "table", read_by = "pod",
  doc = "`fs_group`, `run_as_user`, `run_as_group`, `run_as_non_root`, `supplemental_groups`, `selinux_type`, `seccomp_profile`, `app_armor_profile`" }
row { "build_container_security_context", C.container_security_context, type_doc = "table", read_by = "pod",
  doc = "`capabilities = { add, drop }` (each replaces the global list), `privileged`, `allow_privilege_escalation`, `run_as_user`, `run_as_group`, `run_as_non_root`, `read_only_root_filesystem`, `selinux_type`, `proc_mount` (`default`/`unmasked`), `seccomp_profile`/`app_armor_profile` = `{ type = \"RuntimeDefault\"|\"Localhost\"|\"Unconfined\", localhost_profile = ... }`" }
row { "helper_container_security_context", C.container_security_context, join = true, read_by = "pod" }
row { "service_container_security_context", C.container_security_context, join = true, read_by = "pod" }
row { "init_permissions_container_security_context", C.container_security_context, join = true,
  unused = { action = "warn",
    why = "lunar runs no init-permissions container: its init containers run the job's first stages on the "
      .. "helper image with helper_container_security_context" } }
section.outro = "User and group of a container: its own security context, else the Pod's, else the job's\n" ..
  "`image: kubernetes: user` (build and services only, within `allowed_users`/`allowed_groups`)."

-- ---- kubernetes: networking, lifecycle, pod spec ------------------------
new_section("kubernetes", "**Networking, lifecycle, Pod spec**")
row { "dns_policy", T.enum { "none", "default", "cluster-first", "cluster-first-with-host-net", "",
  "None", "Default", "ClusterFirst", "ClusterFirstWithHostNet" },
  type_doc = "`none`, `default`, `cluster-first`, `cluster-first-with-host-net`", default_doc = "`cluster-first`",
  doc = "`spec.dnsPolicy`", read_by = "pod" }
row { "dns_config", C.dns_config, type_doc = "`{ nameservers, searches, options = { { name, value } } }`", doc = "`spec.dnsConfig`", read_by = "pod" }
row { "host_aliases", T.list(C.host_alias), type_doc = "list of `{ ip, hostnames }`", doc = "Added after the services' aliases", read_by = "pod" }
row { "container_lifecycle", C.container_lifecycle, read_by = "pod",
  type_doc = "`{ post_start, pre_stop }`, each `{ exec = { command } }`, `{ http_get = { port, path, host, scheme, http_headers } }` or `{ tcp_socket = { port, host } }`",
  doc = "Hooks on build, helper and services" }
row { "pod_termination_grace_period_seconds", I, default_doc = "Kubernetes' 30", doc = "`spec.terminationGracePeriodSeconds`", read_by = "pod" }
row { "cleanup_grace_period_seconds", I, doc = "Grace period of the Pod delete at cleanup", read_by = "runner" }
row { "services", T.list(C.service), type_doc = "list of `{ name, alias, command, entrypoint, environment = { \"K=V\" } }`",
  doc = "Services of every job, before the job's own", read_by = "policies" }
row { "sidecars", T.enum { "native", "containers" }, type_doc = "`native` or `containers`", default = "containers",
  doc = "Run services as native sidecars (Kubernetes 1.29+) or plain containers", read_by = "pod" }
row { "pod_spec", T.list(C.pod_spec_entry), type_doc = "list", doc = "Patches and functions applied to the built Pod (see Pod patches)", read_by = "policies" }
row { "volumes", C.volumes, type_doc = "table", doc = "See below", read_by = "pod" }
section.outro = "**Volumes**: `volumes = { host_path = {...}, pvc = {...}, config_map = {...}, secret = {...}, empty_dir = {...}, csi = {...}, nfs = {...} }`,\n" ..
  "each a list of volumes mounted in every container. Every volume has `name`, `mount_path`\n" ..
  "(expanded), `sub_path` (expanded) and `read_only`; then `host_path` and `mount_propagation`\n" ..
  "(`None`, `HostToContainer`, `Bidirectional`) for host_path; `mount_propagation` for pvc (whose\n" ..
  "`name`, expanded, is the claim); `items` (key → path) for config_map and secret (the\n" ..
  "volume's name is the object's); `medium` (`\"\"` or `Memory`), `size_limit` (*quantity*) and\n" ..
  "`mount_propagation` for empty_dir; `driver`, `fs_type` and `volume_attributes` for csi;\n" ..
  "`server` and `path` for nfs. A volume mounted at `builds_dir` replaces lunar's own."

-- ---- kubernetes: timing, retries, paths ---------------------------------
new_section("kubernetes", "**Timing, retries, paths**")
row { "poll_interval", I, type_doc = "int (s)", doc = "Warned about (see Settings lunar does not use)",
  unused = { action = "warn",
    why = "lunar follows the Pod through one watch instead of polling its status, so there is no poll period; "
      .. "kubernetes.poll_timeout still bounds how long a Pod may take to start" } }
row { "poll_timeout", I, type_doc = "int (s)", default = 180, doc = "How long a job's Pod may wait to start (scheduling, image pulls) before the job fails", read_by = "runner" }
row { "resource_availability_check_max_attempts", I, default_doc = "0 (off; negative: 5)", read_by = "runner",
  doc = "Before the Pod, check that `service_account` and each `image_pull_secrets` entry exist, N+1 times 5 s apart; then the job fails: `Timed out while waiting for ...`" }
row { "retry_limit", I, type_doc = "int, int (ms)", default_doc = "5, 2000", read_by = "client",
  doc = "Attempts (counting the first) of an API request that failed on the connection or with 429/500/502/503/504; the backoff (from 500 ms, doubling) stops growing at `retry_backoff_max`" }
row { "retry_backoff_max", I, join = true, read_by = "client" }
row { "retry_limits", T.map(I), type_doc = "map error text → int", read_by = "client",
  doc = "An API error whose message contains a text is retried (whatever its class) up to that many attempts; the longest matching text counts" }
row { "cleanup_resources_timeout", T.duration, type_doc = "duration string", default_doc = "`\"5m\"`", read_by = "runner",
  doc = "How long the Pod's delete (with its retries) may take before lunar gives up and logs it (the job Secret and PodDisruptionBudget go with the Pod)" }
row { "print_pod_warning_events", B, default = true, doc = "Print a failed job's Pod warning events in its trace", read_by = "runner" }
row { "logs_base_dir", S, doc = "The status directory becomes `<base>/logs-<project>-<job>`", read_by = "stages" }
row { "scripts_base_dir", S, doc = "The scripts directory becomes `<base>/scripts-<project>-<job>`", read_by = "stages" }

section.outro = "**Settings lunar does not use.** A setting accepted with no effect would be a lie, so each\n" ..
  "GitLab Runner setting lunar has no use for is refused at load or warned about once per load\n" ..
  "(on stderr, with the key and its `file:line`), saying why (the row's `unused` in\n" ..
  "`lua/lunar/settings.lua`):"
section.unused_list = true

-- ---- derived --------------------------------------------------------------

-- Every row, in order; and key -> row for each scope.
M.rows = {}
M.by_key = { runner = {}, kubernetes = {} }
for _, s in ipairs(M.sections) do
  for _, r in ipairs(s.rows) do
    M.rows[#M.rows + 1] = r
    assert(not M.by_key[r.scope][r.key], "two rows for " .. r.key)
    M.by_key[r.scope][r.key] = r
  end
end

local function fields(scope)
  local out = {}
  for key, r in pairs(M.by_key[scope]) do out[key] = r.type end
  return out
end

M.kubernetes = T.record(fields("kubernetes"))
local runner_fields = fields("runner")
runner_fields.kubernetes = M.kubernetes
M.runner = T.record(runner_fields)

-- The value of runner-level setting `key` in the validated table `cfg`, or its
-- default.
function M.value(cfg, key)
  local v = cfg[key]
  if v == nil then return M.by_key.runner[key].default end
  return v
end

-- The per-job overwrites, from the rows' `overwrite` fields, each
--   { kind = "scalar"|"bool"|"map"|"resource", key, var | prefix, gate, label | field, ... }
M.overwrites = {}
for _, r in ipairs(M.rows) do
  local o = r.overwrite
  if o then
    local gate = M.by_key.kubernetes[o.gate]
    assert(gate, "no row for the gate " .. o.gate)
    local kind = o.prefix and "map" or o.field and "resource" or gate.type == B and "bool" or "scalar"
    local d = { kind = kind, key = r.key }
    for k, v in pairs(o) do d[k] = v end
    M.overwrites[#M.overwrites + 1] = d
  end
end

return M
