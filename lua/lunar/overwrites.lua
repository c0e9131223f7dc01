-- Per-job overwrites: the KUBERNETES_* job variables GitLab Runner honours
-- (reference: kubernetes-executor §2), behind the same gates. Which variable
-- overwrites which setting behind which gate is said once, in the setting's
-- row (lunar.settings, field `overwrite`); this file applies them.
--
-- An empty gate disables an overwrite, an empty variable keeps the setting.
-- As upstream, regexes match anywhere in the value (anchor them with ^...$).
-- A refused overwrite fails the job with a message naming the variable, the
-- value and the gate. Service variables in a service's `variables:` overwrite
-- that service's resources only.
local lunar = require "lunar"
local settings = require "lunar.settings"

local M = {}

local function fail(fmt, ...) error({ message = string.format(fmt, ...) }, 0) end

local function set(v) return v ~= nil and v ~= "" end

-- The overwrites by kind, from the setting rows (lunar.settings).
local SCALARS, MAPS, RESOURCES, BOOLS = {}, {}, {}, {}
do
  local by_kind = { scalar = SCALARS, map = MAPS, resource = RESOURCES, bool = BOOLS }
  for _, o in ipairs(settings.overwrites) do
    local list = by_kind[o.kind]
    list[#list + 1] = o
  end
end

-- Copies the settings table one level deep, and the maps we may change.
local function copy(k)
  local out = {}
  for key, v in pairs(k) do out[key] = v end
  for _, o in ipairs(MAPS) do
    local m = {}
    for kk, vv in pairs(k[o.key] or {}) do m[kk] = vv end
    out[o.key] = m
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

-- Checks a requested quantity against the cap; returns the value to use.
local function capped(r, cap, value, var)
  local ok, err = lunar.util.quantity_valid(value)
  if not ok then fail("%s: %s", var, err) end
  ok, err = lunar.util.quantity_valid(cap)
  if not ok then fail("kubernetes.%s: %s", r.gate, err) end
  if lunar.util.quantity_cmp(value, cap) > 0 then
    fail("%s: the resource %q requested %q is higher than the limit allowed %q (kubernetes.%s)",
      var, r.field, value, cap, r.gate)
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
  if not wanted(vars, payload) then return k, {}, {} end
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

  -- a secret: the log line does not show the value
  for _, b in ipairs(BOOLS) do
    local value = values[b.var]
    if k[b.gate] == true and set(value) then
      out[b.key] = value
      log[#log + 1] = string.format("%q overwritten with \"XXXXXXXX...\"", b.label)
    end
  end

  for _, m in ipairs(MAPS) do
    local gate = k[m.gate]
    if set(gate) then
      for _, v in ipairs(vars) do
        -- an empty value is skipped, except for a toleration: there it
        -- tolerates every taint (no key, operator Exists, no effect), as
        -- GitLab Runner documents
        local tolerate_all = m.toleration and v.value == ""
        if v.key:sub(1, #m.prefix) == m.prefix and (set(v.value) or tolerate_all) then
          local key, val
          if m.toleration then
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
    local cap, value = k[r.gate], values[r.var]
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
        local cap = k[r.gate]
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

  return out, per_service, log
end

return M
