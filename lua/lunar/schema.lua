-- The schema of a runner entrypoint: every top-level runner setting and every
-- `kubernetes` setting under its GitLab Runner TOML name, with its type.
-- Defaults and meaning are applied by the Pod builder (core/pod/) and listed
-- in the README; this file only says what a valid value looks like.
local T = require "lunar.types"

local S = T.string
local B = T.bool
local I = T.int
local Q = T.quantity
local R = T.regex
local strings = T.list(S)
local smap = T.map(S)

local pull_policy_name = T.enum { "always", "never", "if-not-present", "", "Always", "Never", "IfNotPresent" }
local pull_policy = T.either(pull_policy_name, T.list(pull_policy_name))

local mount_propagation = T.enum { "None", "HostToContainer", "Bidirectional" }

local function volume(extra, required)
  local fields = { name = S, mount_path = S, sub_path = S, read_only = B }
  for k, v in pairs(extra) do fields[k] = v end
  return T.list(T.record(fields, { required = required or { "name", "mount_path" } }))
end

local items = T.map(S)

local volumes = T.record {
  host_path = volume { host_path = S, mount_propagation = mount_propagation },
  pvc = volume { mount_propagation = mount_propagation },
  config_map = volume { items = items },
  secret = volume { items = items },
  empty_dir = volume { medium = T.enum { "", "Memory" }, size_limit = Q, mount_propagation = mount_propagation },
  csi = volume({ driver = S, fs_type = S, volume_attributes = smap }, { "name", "mount_path", "driver" }),
  nfs = volume({ server = S, path = S }, { "name", "mount_path", "server", "path" }),
}

local profile = T.record({
  type = T.enum { "RuntimeDefault", "Localhost", "Unconfined" },
  localhost_profile = S,
}, {
  validate = function(v)
    if v.type == "Localhost" and (v.localhost_profile or "") == "" then
      return "type Localhost needs localhost_profile"
    end
  end,
})

local container_security_context = T.record {
  capabilities = T.record { add = strings, drop = strings },
  privileged = B,
  allow_privilege_escalation = B,
  run_as_user = I,
  run_as_group = I,
  run_as_non_root = B,
  read_only_root_filesystem = B,
  selinux_type = S,
  proc_mount = T.enum { "default", "unmasked", "Default", "Unmasked" },
  seccomp_profile = profile,
  app_armor_profile = profile,
}

local pod_security_context = T.record {
  fs_group = I,
  run_as_group = I,
  run_as_non_root = B,
  run_as_user = I,
  supplemental_groups = T.list(I),
  selinux_type = S,
  seccomp_profile = profile,
  app_armor_profile = profile,
}

local requirement = T.record({ key = S, operator = T.enum { "In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt" }, values = strings }, { required = { "key", "operator" } })
local node_selector_term = T.record { match_expressions = T.list(requirement), match_fields = T.list(requirement) }
local label_selector = T.record { match_labels = smap, match_expressions = T.list(requirement) }
local pod_affinity_term = T.record({
  label_selector = label_selector,
  namespaces = strings,
  topology_key = S,
  namespace_selector = label_selector,
  match_label_keys = strings,
  mismatch_label_keys = strings,
}, { required = { "topology_key" } })
local pod_affinity = T.record {
  required_during_scheduling_ignored_during_execution = T.list(pod_affinity_term),
  preferred_during_scheduling_ignored_during_execution = T.list(T.record({ weight = I, pod_affinity_term = pod_affinity_term }, { required = { "weight", "pod_affinity_term" } })),
}
local affinity = T.record {
  node_affinity = T.record {
    required_during_scheduling_ignored_during_execution = T.record { node_selector_terms = T.list(node_selector_term) },
    preferred_during_scheduling_ignored_during_execution = T.list(T.record({ weight = I, preference = node_selector_term }, { required = { "weight", "preference" } })),
  },
  pod_affinity = pod_affinity,
  pod_anti_affinity = pod_affinity,
}

local port = T.either(I, S)
local handler = T.record {
  exec = T.record { command = strings },
  http_get = T.record({ host = S, port = port, path = S, scheme = T.enum { "HTTP", "HTTPS" }, http_headers = T.list(T.record({ name = S, value = S }, { required = { "name", "value" } })) }, { required = { "port" } }),
  tcp_socket = T.record({ host = S, port = port }, { required = { "port" } }),
}

local service = T.record({
  name = S,
  alias = S,
  command = strings,
  entrypoint = strings,
  environment = strings,
}, { required = { "name" } })

-- pod_spec entries: static patches here; function entries are allowed by the
-- validator (lunar.config) because any list element may be a function.
local pod_spec_entry = T.record({
  name = S,
  patch = {
    name = "a YAML/JSON string or a table",
    check = function(v)
      if type(v) ~= "string" and type(v) ~= "table" then
        return "expected a YAML or JSON string, or a table, got " .. T.describe(v)
      end
    end,
  },
  patch_path = S,
  patch_type = T.enum { "merge", "json", "strategic" },
}, {
  validate = function(v)
    if v.patch ~= nil and v.patch_path ~= nil then
      return "ambiguous patch: both patch and patch_path are set; keep one"
    end
    if v.patch == nil and v.patch_path == nil then return "needs patch or patch_path" end
  end,
})

local kubernetes = {
  -- connection and identity
  host = S, context = S, kubeconfig = S, cert_file = S, key_file = S, ca_file = S,
  request_timeout = T.number, connect_timeout = T.number,
  bearer_token = S, bearer_token_file = S, bearer_token_overwrite_allowed = B,
  insecure_skip_tls_verify = B, qps = T.number, burst = I,
  namespace = S, namespace_overwrite_allowed = R, namespace_per_job = B,
  service_account = S, service_account_overwrite_allowed = R,
  automount_service_account_token = B,
  image_pull_secrets = strings, use_service_account_image_pull_secrets = B,
  -- images and pull policy
  image = S, helper_image = S, helper_image_flavor = T.enum { "", "alpine", "ubuntu", "ubi-fips", "alpine-latest", "alpine3.19", "alpine3.21" },
  helper_image_autoset_arch_and_os = B,
  pull_policy = pull_policy, allowed_pull_policies = T.list(pull_policy_name),
  allowed_images = strings, allowed_services = strings,
  allowed_users = strings, allowed_groups = strings,
  -- scheduling and placement
  node_selector = smap, node_selector_overwrite_allowed = R,
  node_tolerations = smap, node_tolerations_overwrite_allowed = R,
  affinity = affinity, scheduler_name = S, priority_class_name = S, runtime_class_name = S,
  pod_disruption_budget = B,
  -- metadata
  pod_labels = smap, pod_labels_overwrite_allowed = R,
  pod_annotations = smap, pod_annotations_overwrite_allowed = R,
  -- security
  privileged = B, allow_privilege_escalation = B, cap_add = strings, cap_drop = strings,
  pod_security_context = pod_security_context,
  build_container_security_context = container_security_context,
  helper_container_security_context = container_security_context,
  service_container_security_context = container_security_context,
  init_permissions_container_security_context = container_security_context,
  -- networking, lifecycle, pod spec
  dns_policy = T.enum { "none", "default", "cluster-first", "cluster-first-with-host-net", "",
    "None", "Default", "ClusterFirst", "ClusterFirstWithHostNet" },
  dns_config = T.record { nameservers = strings, searches = strings, options = T.list(T.record({ name = S, value = S }, { required = { "name" } })) },
  host_aliases = T.list(T.record({ ip = S, hostnames = strings }, { required = { "ip", "hostnames" } })),
  container_lifecycle = T.record { post_start = handler, pre_stop = handler },
  pod_termination_grace_period_seconds = I, cleanup_grace_period_seconds = I,
  pod_spec = T.list(pod_spec_entry),
  services = T.list(service),
  volumes = volumes,
  -- lunar: how services run (native sidecars need Kubernetes 1.29+)
  sidecars = T.enum { "native", "containers" },
  -- timing, retries, paths (used by the lifecycle)
  poll_interval = I, poll_timeout = I, resource_availability_check_max_attempts = I,
  cleanup_resources_timeout = S, retry_limit = I, retry_backoff_max = I,
  retry_limits = T.map(I), logs_base_dir = S, scripts_base_dir = S,
  print_pod_warning_events = B,
}

-- The resource settings: 4 classes x {cpu, memory, ephemeral_storage} x
-- {limit, request}, each with its *_overwrite_max_allowed cap (no pod-level
-- ephemeral storage).
for _, class in ipairs { "", "service_", "helper_", "pod_" } do
  for _, res in ipairs { "cpu", "memory", "ephemeral_storage" } do
    if not (class == "pod_" and res == "ephemeral_storage") then
      for _, kind in ipairs { "limit", "request" } do
        local key = class .. res .. "_" .. kind
        kubernetes[key] = Q
        kubernetes[key .. "_overwrite_max_allowed"] = Q
      end
    end
  end
end

local M = {}

M.kubernetes = T.record(kubernetes)

-- stages = { <stage name> = function(job, layout, default) ... end }: only
-- the stages lunar runs (lunar.stages.names), so a typo is a load error.
local stage_overrides
do
  local override = {
    name = "a function",
    check = function(v)
      if type(v) ~= "function" then return "expected a function(job, layout, default), got " .. T.describe(v) end
    end,
  }
  local fields = {}
  for _, name in ipairs(require "lunar.stages.names") do fields[name] = override end
  stage_overrides = T.record(fields)
end

-- `on` handlers: observers of each step of a job (lunar.lifecycle.emit).
local handlers = {}
for _, event in ipairs { "job_received", "job_started", "pod_created", "pod_running", "stage_finished",
  "job_finished", "job_resumed" } do
  handlers[event] = { name = "a function", check = function(v) if type(v) ~= "function" then return "expected a function(job, data), got " .. T.describe(v) end end }
end

M.runner = T.record {
  name = S,
  url = S,
  token = S,
  token_file = S,
  builds_dir = S,
  cache_dir = S,
  environment = strings,
  concurrent = I,
  limit = I,
  request_concurrency = I,
  check_interval = I,
  output_limit = I,
  shell = T.enum { "bash", "sh" },
  tls_ca_file = S,
  pre_get_sources_script = S,
  post_get_sources_script = S,
  pre_build_script = S,
  post_build_script = S,
  kubernetes = M.kubernetes,
  shutdown_timeout = I,
  listen_address = S,
  system_id = S,
  on = T.record(handlers),
  stages = stage_overrides,
}

return M
