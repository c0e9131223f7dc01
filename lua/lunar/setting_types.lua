-- The value types of settings that are more than a scalar: volumes, security
-- contexts, affinity, container hooks, services and pod_spec entries. The
-- settings themselves, one row each, are in lunar.settings; this file only
-- says what a valid value of these composite settings looks like.
local T = require "lunar.types"

local S = T.string
local B = T.bool
local I = T.int
local Q = T.quantity
local strings = T.list(S)
local smap = T.map(S)

local M = {}

local pull_policy_name = T.enum { "always", "never", "if-not-present", "", "Always", "Never", "IfNotPresent" }
M.pull_policy_name = pull_policy_name
M.pull_policy = T.either(pull_policy_name, T.list(pull_policy_name))
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

-- The fields a Pod's and a container's security context share, and each
-- one's own.
local function security_context(own)
  local fields = {
    run_as_user = I, run_as_group = I, run_as_non_root = B, selinux_type = S,
    seccomp_profile = profile, app_armor_profile = profile,
  }
  for k, v in pairs(own) do fields[k] = v end
  return T.record(fields)
end

local container_security_context = security_context {
  capabilities = T.record { add = strings, drop = strings },
  privileged = B,
  allow_privilege_escalation = B,
  read_only_root_filesystem = B,
  proc_mount = T.enum { "default", "unmasked", "Default", "Unmasked" },
}

local pod_security_context = security_context {
  fs_group = I,
  supplemental_groups = T.list(I),
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


M.volumes = volumes
M.pod_security_context = pod_security_context
M.container_security_context = container_security_context
M.affinity = affinity
M.container_lifecycle = T.record { post_start = handler, pre_stop = handler }

M.service = T.record({
  name = S,
  alias = S,
  command = strings,
  entrypoint = strings,
  environment = strings,
}, { required = { "name" } })

M.dns_config = T.record {
  nameservers = strings,
  searches = strings,
  options = T.list(T.record({ name = S, value = S }, { required = { "name" } })),
}

M.host_alias = T.record({ ip = S, hostnames = strings }, { required = { "ip", "hostnames" } })

-- pod_spec entries: static patches here; function entries are allowed by the
-- validator (lunar.config) because any list element may be a function.
M.pod_spec_entry = T.record({
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

-- A value that must be a function: a stage override or an `on` handler.
function M.func(signature)
  return {
    name = "a function",
    check = function(v)
      if type(v) ~= "function" then return "expected a function" .. signature .. ", got " .. T.describe(v) end
    end,
  }
end

return M
