-- Per-job resolution of policies: every kubernetes setting given as a
-- function is called for the job (protected, with an instruction budget) and
-- its result is validated with the same schema as a static value.
--
-- Order (documented in the README): services(job, requested) first, because
-- it decides which images exist (`requested` is the runner's services, then
-- the job's); then pull_policy(job, image) once per distinct image (build
-- image, then each service); then every other function-valued key in
-- alphabetical order, each as f(job). pod_spec functions run later, after the
-- Pod is built (lunar.render).
local lunar = require "lunar"
local config = require "lunar.config"
local setting_rows = require "lunar.settings"
local readonly = require "lunar.readonly"

local M = {}

local function where(fn)
  local info = debug.getinfo(fn, "S")
  return info.short_src .. ":" .. info.linedefined
end

-- Runs in the sandboxed call: the policy, then a plain copy of its first
-- result (a copy that may run the result's __pairs, and that fails on cycles),
-- so both are under the budget and both failures name the policy.
local function call_and_copy(fn, ...)
  return readonly.copy((fn(...)))
end

-- Limits of each per-job call (nil: lunar.call's defaults). Set by tests and
-- by the runner; { instructions = n, seconds = s, memory = bytes }.
M.limits = nil

-- Calls per-job code (a policy, a stage override, an event handler) in the
-- sandbox, under the budget; returns a plain copy of its first result or
-- raises { message = "policy <name> failed: <file:line>: ..." }. The file:line
-- is where the error happened, else where the function is defined.
function M.call(name, fn, ...)
  local ok, result = lunar.call(M.limits, call_and_copy, fn, ...)
  if not ok then
    local msg = type(result) == "string" and result:match("^[^\n]*") or tostring(result)
    if not msg:match("^[^:]+:%d+: ") then msg = where(fn) .. ": " .. msg end
    error({ message = string.format("policy %s failed: %s", name, msg) }, 0)
  end
  return result
end

-- Validates a policy result against `ty`; raises with every problem found.
local function check_result(name, fn, ty, value, path)
  local ctx = config.context(function() return where(fn) end, {
    allow_function = function() return false end,
  })
  ctx.check(ty, value, path)
  if #ctx.errors > 0 then
    error({ message = string.format("policy %s returned an invalid value:\n%s", name, config.format_errors(ctx.errors)) }, 0)
  end
end

local function image_name(img) return type(img) == "table" and img.name or nil end

-- Runner services ({name, alias, command, entrypoint, environment = {"K=V"}})
-- in the payload's service format.
local function runner_services(list)
  local out = {}
  for _, svc in ipairs(list or {}) do
    local vars = {}
    for _, e in ipairs(svc.environment or {}) do
      local k, v = e:match("^([^=]+)=(.*)$")
      if k then vars[#vars + 1] = { key = k, value = v } end
    end
    out[#out + 1] = {
      name = svc.name, alias = svc.alias, command = readonly.copy(svc.command),
      entrypoint = readonly.copy(svc.entrypoint), variables = vars,
    }
  end
  return out
end

-- The services a job asks for: the runner's, then the job's.
local function requested_services(kcfg, payload)
  local list = type(kcfg.services) == "table" and runner_services(kcfg.services) or {}
  for _, svc in ipairs(payload.services or {}) do list[#list + 1] = svc end
  return list
end

local job_services = {
  name = "a list of services",
  check = function(v, path, ctx)
    if type(v) ~= "table" then return "expected a list of service images, got " .. type(v) end
    for i, svc in ipairs(v) do
      local p = string.format("%s[%d]", path, i)
      if type(svc) ~= "table" then
        ctx.fail(p, "expected a service table {name = ..., alias = ...}")
      elseif type(svc.name) ~= "string" or svc.name == "" then
        ctx.fail(p .. ".name", "is required (the service image)")
      end
    end
  end,
}

-- Resolves every policy of `runner` for one job. Returns
--   { settings = plain top-level settings with a plain `kubernetes` table,
--     services = the services to run, pod_spec = the pod_spec list,
--     pull_policy_by_image = { [image] = {policies} } or nil }
-- What does not change from job to job, computed once per runner: plain
-- copies of the static settings (shared by every job's settings: treat them
-- as read-only) and the names of the settings given as functions.
local statics = setmetatable({}, { __mode = "k" })

local function static_part(entry)
  local st = statics[entry]
  if st then return st end
  local cfg = entry.config
  st = { top = {}, kubernetes = {}, functions = {} }
  for key, v in pairs(cfg) do
    if key ~= "kubernetes" and key ~= "on" and key ~= "stages" then st.top[key] = readonly.copy(v) end
  end
  for key, v in pairs(cfg.kubernetes or {}) do
    if type(v) == "function" then
      if key ~= "services" and key ~= "pull_policy" and key ~= "pod_spec" then st.functions[#st.functions + 1] = key end
    elseif key ~= "pod_spec" and key ~= "services" then
      st.kubernetes[key] = readonly.copy(v)
    end
  end
  table.sort(st.functions)
  statics[entry] = st
  return st
end

function M.resolve(runner, payload, jobv)
  local entry = config.lookup(runner)
  assert(entry, "not a runner returned by lunar.runner")
  local cfg = entry.config
  local st = static_part(entry)
  local settings, k = {}, {}
  for key, v in pairs(st.top) do settings[key] = v end
  for key, v in pairs(st.kubernetes) do k[key] = v end
  settings.kubernetes = k
  local kcfg = cfg.kubernetes or {}
  local fields = setting_rows.kubernetes.fields
  local ps = kcfg.pod_spec
  local out = { settings = settings, pod_spec = type(ps) == "function" and { ps } or ps or {} }

  -- services(job, requested) -> the service list to run
  local services = requested_services(kcfg, payload)
  local sfn = kcfg.services
  if type(sfn) == "function" then
    local result = M.call("services", sfn, jobv, readonly.view(services))
    if result == nil then result = {} end
    check_result("services", sfn, job_services, result, "services")
    services = result
  end
  out.services = services

  -- pull_policy(job, image) -> policy per image (build image, then each service)
  local pfn = kcfg.pull_policy
  if type(pfn) == "function" then
    local by_image, images = {}, {}
    local build_image = image_name(payload.image)
    if not build_image or build_image == "" then
      build_image = type(kcfg.image) == "string" and kcfg.image or nil
    end
    if build_image then images[#images + 1] = { name = build_image } end
    for _, svc in ipairs(services) do images[#images + 1] = svc end
    for _, img in ipairs(images) do
      if by_image[img.name] == nil then
        local result = M.call("pull_policy", pfn, jobv, readonly.view(img))
        check_result("pull_policy", pfn, fields.pull_policy, result, "kubernetes.pull_policy")
        by_image[img.name] = type(result) == "string" and { result } or result
      end
    end
    out.pull_policy_by_image = by_image
  end

  for _, key in ipairs(st.functions) do
    local fn = kcfg[key]
    local result = M.call(key, fn, jobv)
    if result ~= nil then
      check_result(key, fn, fields[key], result, "kubernetes." .. key)
      k[key] = result
    end
  end
  return out
end

return M
