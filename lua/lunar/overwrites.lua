-- Per-job overwrites: the KUBERNETES_* job variables GitLab Runner honours
-- (reference: kubernetes-executor §2), behind the same gates:
--
--   KUBERNETES_NAMESPACE_OVERWRITE        namespace_overwrite_allowed (regex)
--   KUBERNETES_SERVICE_ACCOUNT_OVERWRITE  service_account_overwrite_allowed (regex)
--   KUBERNETES_BEARER_TOKEN               bearer_token_overwrite_allowed (bool)
--   KUBERNETES_POD_LABELS_*               pod_labels_overwrite_allowed (regex on "k=v")
--   KUBERNETES_POD_ANNOTATIONS_*          pod_annotations_overwrite_allowed
--   KUBERNETES_NODE_SELECTOR_*            node_selector_overwrite_allowed
--   KUBERNETES_NODE_TOLERATIONS_*         node_tolerations_overwrite_allowed ("k[=v]:Effect")
--   KUBERNETES_[SERVICE_|HELPER_|POD_]{CPU,MEMORY,EPHEMERAL_STORAGE}_{LIMIT,REQUEST}
--                                         <setting>_overwrite_max_allowed (quantity cap)
--
-- An empty gate disables an overwrite, an empty variable keeps the setting.
-- As upstream, regexes match anywhere in the value (anchor them with ^...$).
-- A refused overwrite fails the job with a message naming the variable, the
-- value and the gate. Service variables in a service's `variables:` overwrite
-- that service's resources only.
local lunar = require "lunar"

local M = {}

local function fail(fmt, ...) error({ message = string.format(fmt, ...) }, 0) end

local function set(v) return v ~= nil and v ~= "" end

-- Copies the settings table one level deep, and the maps we may change.
local function copy(k)
  local out = {}
  for key, v in pairs(k) do out[key] = v end
  for _, key in ipairs { "pod_labels", "pod_annotations", "node_selector", "node_tolerations" } do
    local m = {}
    for kk, vv in pairs(k[key] or {}) do m[kk] = vv end
    out[key] = m
  end
  return out
end

local function gate_regex(gate_key, gate, var, value)
  local ok, err = lunar.util.regex_match(gate, value)
  if ok == nil then fail("%s: kubernetes.%s: %s", var, gate_key, err) end
  if not ok then
    fail("%s: the value %q is not allowed: it does not match kubernetes.%s (%q)", var, value, gate_key, gate)
  end
end

local SCALARS = {
  { var = "KUBERNETES_NAMESPACE_OVERWRITE", key = "namespace", gate = "namespace_overwrite_allowed", label = "Namespace" },
  { var = "KUBERNETES_SERVICE_ACCOUNT_OVERWRITE", key = "service_account", gate = "service_account_overwrite_allowed", label = "ServiceAccount" },
}

local MAPS = {
  { prefix = "KUBERNETES_POD_LABELS_", key = "pod_labels", gate = "pod_labels_overwrite_allowed", label = "PodLabels" },
  { prefix = "KUBERNETES_POD_ANNOTATIONS_", key = "pod_annotations", gate = "pod_annotations_overwrite_allowed", label = "PodAnnotations" },
  { prefix = "KUBERNETES_NODE_SELECTOR_", key = "node_selector", gate = "node_selector_overwrite_allowed", label = "NodeSelector" },
  { prefix = "KUBERNETES_NODE_TOLERATIONS_", key = "node_tolerations", gate = "node_tolerations_overwrite_allowed", label = "NodeTolerations" },
}

-- Resource overwrites: variable suffix -> setting suffix and upstream's field name.
local RESOURCES = {}
for _, class in ipairs { { "", "", "" }, { "SERVICE_", "service_", "Service" }, { "HELPER_", "helper_", "Helper" }, { "POD_", "pod_", "Pod" } } do
  for _, res in ipairs { { "CPU", "cpu", "CPU" }, { "MEMORY", "memory", "Memory" }, { "EPHEMERAL_STORAGE", "ephemeral_storage", "EphemeralStorage" } } do
    if not (class[1] == "POD_" and res[1] == "EPHEMERAL_STORAGE") then
      for _, kind in ipairs { { "LIMIT", "limit", "Limit" }, { "REQUEST", "request", "Request" } } do
        RESOURCES[#RESOURCES + 1] = {
          var = "KUBERNETES_" .. class[1] .. res[1] .. "_" .. kind[1],
          key = class[2] .. res[2] .. "_" .. kind[2],
          field = class[3] .. res[3] .. kind[3],
          service = class[1] == "SERVICE_",
        }
      end
    end
  end
end

-- Checks a requested quantity against the cap; returns the value to use.
local function capped(r, cap, value, var)
  local ok, err = lunar.util.quantity_valid(value)
  if not ok then fail("%s: %s", var, err) end
  ok, err = lunar.util.quantity_valid(cap)
  if not ok then fail("kubernetes.%s_overwrite_max_allowed: %s", r.key, err) end
  if lunar.util.quantity_cmp(value, cap) > 0 then
    fail("%s: the resource %q requested %q is higher than the limit allowed %q (kubernetes.%s_overwrite_max_allowed)",
      var, r.field, value, cap, r.key)
  end
  return value
end

-- Applies the overwrites in `vars` (the job's final variable list; `values`,
-- optional, is its name -> value lookup) to the
-- resolved kubernetes settings `k`. Returns the new settings, the per-service
-- resource settings ({ [i] = { service_cpu_limit = ..., ... } } for services
-- whose variables overwrite them), and log lines. Raises { message } on a
-- refused overwrite.
-- Whether the job asks for any overwrite at all (most jobs do not).
local function wanted(vars, payload)
  for _, v in ipairs(vars) do
    if v.key:sub(1, 11) == "KUBERNETES_" then return true end
  end
  for _, svc in ipairs(payload.services or {}) do
    if svc.variables and #svc.variables > 0 then return true end
  end
  return false
end

function M.apply(k, vars, payload, values)
  if not wanted(vars, payload) then
    if k.namespace_per_job then
      local out = copy(k)
      out.namespace = "ci-job-" .. tostring(payload.id)
      return out, {}, {}
    end
    return k, {}, {}
  end
  local out = copy(k)
  local log = {}
  if not values then
    values = {}
    for _, v in ipairs(vars) do values[v.key] = v.value end
  end
  -- the Pod builder and the API server cannot take a NUL byte: refuse it
  -- rather than cut the value short
  for _, v in ipairs(vars) do
    if v.key:sub(1, 11) == "KUBERNETES_" and type(v.value) == "string" and v.value:find("\0", 1, true) then
      fail("%s: the value contains a NUL byte", v.key)
    end
  end
  for i, svc in ipairs(payload.services or {}) do
    for _, v in ipairs(svc.variables or {}) do
      if type(v.value) == "string" and v.value:find("\0", 1, true) then
        fail("services[%d].variables: %s: the value contains a NUL byte", i - 1, tostring(v.key))
      end
    end
  end

  for _, s in ipairs(SCALARS) do
    local value, gate = values[s.var], k[s.gate]
    if set(gate) and set(value) then
      gate_regex(s.gate, gate, s.var, value)
      out[s.key] = value
      log[#log + 1] = string.format("%q overwritten with %q", s.label, value)
    end
  end

  local token = values.KUBERNETES_BEARER_TOKEN
  if k.bearer_token_overwrite_allowed and set(token) then
    out.bearer_token = token
    log[#log + 1] = "\"BearerToken\" overwritten with \"XXXXXXXX...\""
  end

  for _, m in ipairs(MAPS) do
    local gate = k[m.gate]
    if set(gate) then
      for _, v in ipairs(vars) do
        -- an empty value is skipped, except for a toleration: there it
        -- tolerates every taint (no key, operator Exists, no effect), as
        -- GitLab Runner documents
        local tolerate_all = m.key == "node_tolerations" and v.value == ""
        if v.key:sub(1, #m.prefix) == m.prefix and (set(v.value) or tolerate_all) then
          local key, val
          if m.key == "node_tolerations" then
            key, val = v.value:match("^([^:]*):(.*)$")
            if not key then key, val = v.value, "" end
          else
            key, val = v.value:match("^([^=]*)=(.*)$")
            if not key then fail("%s: the value %q is not of the form key=value", v.key, v.value) end
          end
          gate_regex(m.gate, gate, v.key, v.value)
          out[m.key][key] = val
          log[#log + 1] = string.format("%q %q overwritten with %q", m.label, key, val)
        end
      end
    end
  end

  for _, r in ipairs(RESOURCES) do
    local cap, value = k[r.key .. "_overwrite_max_allowed"], values[r.var]
    if set(cap) and set(value) then
      out[r.key] = capped(r, cap, value, r.var)
      log[#log + 1] = string.format("%q overwritten with %q", r.field, value)
    end
  end

  -- per-service overwrites, from each service's own variables
  local per_service = {}
  for i, svc in ipairs(payload.services or {}) do
    local own
    for _, v in ipairs(svc.variables or {}) do
      for _, r in ipairs(RESOURCES) do
        local cap = k[r.key .. "_overwrite_max_allowed"]
        if r.service and v.key == r.var and set(cap) and set(v.value) then
          own = own or {}
          own[r.key] = capped(r, cap, v.value, string.format("services[%d] (%s): %s", i, svc.name or "?", r.var))
        end
      end
    end
    if own then
      for _, r in ipairs(RESOURCES) do
        if r.service and own[r.key] == nil then own[r.key] = out[r.key] end
      end
      per_service[i] = own
    end
  end

  if k.namespace_per_job then out.namespace = "ci-job-" .. tostring(payload.id) end
  return out, per_service, log
end

return M
