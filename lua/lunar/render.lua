-- Rendering a job: (runner, job payload) -> the Kubernetes objects of that job.
--
--   1. the payload is checked (lunar.job.validate) and wrapped read-only;
--   2. policies are resolved (lunar.resolve);
--   3. the C Pod builder makes the Pod (lunar.pod.build);
--   4. pod_spec entries apply in list order: a function entry gets (job, pod)
--      and returns the changed pod or a patch { patch_type = ..., patch = ... };
--      a patch entry applies its merge, json or strategic patch to the PodSpec.
--
-- Errors are raised as { message = "..." } tables; lunar.render catches them
-- and returns nil, message.
local lunar = require "lunar"
local jobs = require "lunar.job"
local resolve = require "lunar.resolve"
local readonly = require "lunar.readonly"

local M = {}

local function fail(fmt, ...) error({ message = string.format(fmt, ...) }, 0) end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  return text
end

local function entry_label(entry, i)
  if type(entry) == "table" and type(entry.name) == "string" and entry.name ~= "" then
    return string.format("pod_spec[%d] (%s)", i, entry.name)
  end
  return string.format("pod_spec[%d]", i)
end

-- Applies one patch entry { patch_type, patch | patch_path } to pod.spec.
local function apply_patch(pod, entry, label)
  if not lunar.patch then fail("%s: this build has no patch support", label) end
  local patch = entry.patch
  if entry.patch_path then
    local text, err = read_file(entry.patch_path)
    if not text then fail("%s: cannot read patch_path: %s", label, err) end
    patch = text
  end
  local spec, err = lunar.patch.apply(pod.spec, {
    name = label, patch_type = entry.patch_type or "strategic", patch = patch,
  })
  if not spec then fail("%s", err) end
  pod.spec = spec
end

local function apply_pod_spec(pod, pod_spec, jobv)
  for i, entry in ipairs(pod_spec) do
    local label = entry_label(entry, i)
    if type(entry) == "function" then
      local result = resolve.call(label, entry, jobv, pod)
      if type(result) ~= "table" then
        fail("%s: the function returned %s; return the changed pod, or a patch {patch_type = ..., patch = ...}", label, type(result))
      end
      result = readonly.copy(result)
      if result.patch ~= nil or result.patch_type ~= nil then
        apply_patch(pod, result, label)
      else
        if result.spec == nil or type(result.spec) ~= "table" then
          fail("%s: the returned pod has no spec table", label)
        end
        pod = result
      end
    else
      apply_patch(pod, entry, label)
    end
  end
  return pod
end

-- Checks the shape the Pod must keep, whatever the patches did.
local function check_pod(pod)
  if type(pod.spec) ~= "table" then fail("pod: spec must be a table") end
  if type(pod.spec.containers) ~= "table" or #pod.spec.containers == 0 then
    fail("pod: spec.containers must be a non-empty list")
  end
  for i, c in ipairs(pod.spec.containers) do
    if type(c) ~= "table" or type(c.name) ~= "string" or c.name == "" then
      fail("pod: spec.containers[%d] needs a name", i)
    end
  end
  local ok, err = lunar.json.encode(pod)
  if not ok then fail("pod: %s", err) end
end

-- render(runner, payload [, opts]) -> { pod = ..., warnings = {...} } or raises.
function M.render_objects(runner, payload, opts)
  opts = opts or {}
  local msg = jobs.validate(payload, opts.payload_name)
  if msg then fail("%s", msg) end
  local jobv = jobs.view(payload)
  local settings, build_payload, pod_spec = resolve.resolve(runner, payload, jobv)
  local pod, warnings = lunar.pod.build(settings, build_payload, {
    concurrent_id = opts.concurrent_id or 0,
    project_runner_id = opts.project_runner_id or 0,
    server_version = opts.server_version,
  })
  if not pod then fail("%s", warnings) end
  pod = apply_pod_spec(pod, pod_spec, jobv)
  check_pod(pod)
  return { pod = pod, warnings = warnings or {}, settings = settings, payload = build_payload }
end

-- lunar.render(runner, payload [, opts]) -> pod, warnings | nil, message
function M.render(runner, payload, opts)
  local ok, result = pcall(M.render_objects, runner, payload, opts)
  if not ok then
    if type(result) == "table" and result.message then return nil, result.message end
    error(result, 0)
  end
  return result.pod, result.warnings
end

return M
