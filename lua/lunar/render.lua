-- Rendering a job: (runner, job payload) -> the Kubernetes objects of that job.
--
--   1. the payload is checked (lunar.payload.validate) and wrapped read-only;
--   2. policies are resolved (lunar.resolve);
--   3. the job's variables are assembled (lunar.variables) and the KUBERNETES_*
--      overwrites applied (lunar.overwrites);
--   4. the C Pod builder makes the Pod (lunar.pod.build);
--   5. pod_spec entries apply in list order: a function entry gets (job, pod)
--      and returns the changed pod or a patch { patch_type = ..., patch = ... };
--      a patch entry applies its merge, json or strategic patch to the PodSpec.
--
-- Errors are raised as { message = "..." } tables; lunar.render catches them
-- and returns nil, message.
local lunar = require "lunar"
local payloads = require "lunar.payload"
local resolve = require "lunar.resolve"
local readonly = require "lunar.readonly"
local variables = require "lunar.variables"
local overwrites = require "lunar.overwrites"
local stages = require "lunar.stages"
local pull_credentials = require "lunar.pull_credentials"
local config = require "lunar.config"
local apicheck = require "lunar.apicheck"

local M = {}

local function fail(fmt, ...) error({ message = string.format(fmt, ...) }, 0) end

local read_file = require("lunar.files").read

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
    source = entry.patch_path, -- names the file in YAML/JSON syntax errors
  })
  if not spec then fail("%s", err) end
  pod.spec = spec
end

-- Strategic merge patch directives that Kubernetes kept as plain keys (it
-- applies `$patch` only in objects it merges and in lists that merge by key;
-- in a list it replaces whole, e.g. tolerations, the key stays as written).
-- The API server drops such unknown keys when it decodes the Pod, and GitLab
-- Runner's decode of the patched PodSpec does the same: so does lunar, with a
-- warning, as the last step of the pod_spec entries.
local function is_directive(k)
  return k == "$patch" or k == "$retainKeys" or k:match("^%$setElementOrder/") or k:match("^%$deleteFromPrimitiveList/")
end

local function drop_plain_directives(t, path, warnings)
  for k, v in pairs(t) do
    local at = type(k) == "number" and string.format("%s[%d]", path, k - 1)
      or (path == "" and tostring(k) or (path .. "." .. tostring(k)))
    if type(k) == "string" and is_directive(k) then
      t[k] = nil
      warnings[#warnings + 1] = string.format(
        "pod_spec: %s is not applied there (Kubernetes applies directives in objects it merges and in lists that merge by key); it was kept as a plain field and is dropped from the Pod", at)
    elseif type(v) == "table" then
      drop_plain_directives(v, at, warnings)
    end
  end
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
        local ok, err = lunar.patch.check(result, "Pod")
        if not ok then fail("%s: %s", label, err) end
        pod = result
      end
    else
      apply_patch(pod, entry, label)
    end
  end
  return pod
end

-- Checks the shape the Pod must keep, whatever the pod_spec entries did.
-- (Field types are checked when the Pod is encoded.)
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
end

-- The runner token: `token`, else the contents of `token_file` when
-- readable (read once per runner).
local tokens = setmetatable({}, { __mode = "k" })
local function runner_token(runner, settings)
  local t = tokens[runner]
  if t then return t end
  t = ""
  if type(settings.token) == "string" then
    t = settings.token
  elseif type(settings.token_file) == "string" then
    local text = read_file(settings.token_file)
    if text then t = text:gsub("%s+$", "") end
  end
  tokens[runner] = t
  return t
end

-- 8 characters [a-z0-9] from the job id and attempt: the same job renders
-- the same Pod name, a retried Pod gets another.
local function name_suffix(id, attempt)
  local h = 2166136261
  for c in (tostring(id) .. "/" .. tostring(attempt or 0)):gmatch(".") do
    h = ((h ~ c:byte()) * 16777619) % 4294967296
  end
  local alphabet, out = "abcdefghijklmnopqrstuvwxyz0123456789", {}
  for _ = 1, 8 do
    local i = h % 36
    out[#out + 1] = alphabet:sub(i + 1, i + 1)
    h = (h // 36) + i * 7919 + 104729
  end
  return table.concat(out)
end

-- The part of the payload the Pod builder reads (converting all of it to C
-- would cost more than building the Pod).
local function builder_job(payload)
  local info, git = payload.job_info, payload.git_info
  return {
    id = payload.id,
    image = payload.image,
    runner_info = payload.runner_info,
    job_info = { project_id = info.project_id, project_name = info.project_name, name = info.name,
      root_namespace_id = info.root_namespace_id },
    git_info = { sha = git.sha, before_sha = git.before_sha, ref = git.ref },
  }
end

-- The Pod's (and the job Secret's) name: runner-<short token>-project-<id>-
-- concurrent-<n>, made an RFC 1123 label and cut to 54 characters, then the
-- suffix. Returns name, unique name (the `pod` label).
local function pod_name(short, payload, opts)
  local unique = lunar.util.rfc1123(string.format("runner-%s-project-%d-concurrent-%d", short,
    payload.job_info.project_id, opts.project_runner_id or 0), 54)
  return unique .. "-" .. name_suffix(payload.id, opts.attempt), unique
end

-- The runner's settings as the stage scripts see them: with the `stages`
-- overrides, which resolve leaves out.
local function stage_settings(settings, overrides)
  if overrides == nil then return settings end
  local t = {}
  for k, v in pairs(settings) do t[k] = v end
  t.stages = overrides
  return t
end

-- Services' own variables, expanded against the job's. A value that used a
-- variable which is not public (or is masked) goes into the job Secret and
-- the service reads it from there: secret values never appear in the Pod spec.
local function service_variables(services, records, values, files)
  local secret = {}
  for _, rec in ipairs(records) do
    secret[rec.key] = (rec.masked or not (rec.public or rec.internal)) or nil
  end
  local out = {}
  for i, svc in ipairs(services) do
    local copy = {}
    for k, v in pairs(svc) do copy[k] = v end
    local list = {}
    for _, v in ipairs(svc.variables or {}) do
      local used_secret = false
      local lookup = setmetatable({}, { __index = function(_, name)
        if secret[name] then used_secret = true end
        return values[name]
      end })
      local value = lunar.util.expand(v.value or "", lookup)
      if used_secret or v.masked or v.public == false then
        local key = string.format("service-%d.%s", i, v.key)
        files[key] = value
        list[#list + 1] = { key = v.key, secret_key = key }
      else
        list[#list + 1] = { key = v.key, value = value }
      end
    end
    copy.variables = lunar.json.array(list)
    out[i] = copy
  end
  return lunar.json.array(out)
end

local function has_stage(plan, prefix)
  for _, c in ipairs(plan.containers) do
    for _, st in ipairs(c.stages or {}) do
      if st:sub(1, #prefix) == prefix then return true end
    end
  end
  return false
end

-- The job Secret: every stage script, the variables (secret ones live only
-- here), file variables and registry credentials. Created before the Pod,
-- then owned by it.
local function job_secret(pod, files, dockercfg)
  -- stringData: every entry is text, and the API server does the base64
  local data = {}
  for key, content in pairs(files) do data[key] = content end
  if dockercfg then data[".dockerconfigjson"] = dockercfg end
  local labels = {}
  for k, v in pairs(pod.metadata.labels) do labels[k] = v end
  return {
    apiVersion = "v1",
    kind = "Secret",
    metadata = { name = pod.metadata.name, namespace = pod.metadata.namespace, labels = labels },
    type = dockercfg and "kubernetes.io/dockerconfigjson" or "Opaque",
    stringData = data,
  }
end

-- Secret values of a job: name -> value of every masked or non-public
-- variable, and of public ones whose value used one (secret_ref).
local MIN_SECRET = 8 -- GitLab refuses to mask shorter values
local function secret_values(records)
  local out = {}
  for _, rec in ipairs(records) do
    if (rec.masked or rec.secret_ref or not (rec.public or rec.internal)) and not rec.file
        and type(rec.value) == "string" and #rec.value >= MIN_SECRET then
      out[#out + 1] = { name = rec.key, value = rec.value }
    end
  end
  return out
end

-- The path of the first string in `t` that contains `needle`.
local function find_in(t, needle, path)
  if type(t) == "string" then return t:find(needle, 1, true) and path or nil end
  if type(t) ~= "table" then return nil end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    local sub = type(k) == "number" and string.format("%s[%d]", path, k - 1) or (path .. "." .. tostring(k))
    if type(k) == "string" and k:find(needle, 1, true) then return sub end
    local found = find_in(t[k], needle, sub)
    if found then return found end
  end
end

-- The Pod spec never holds a secret value: not in an image name, a label, an
-- annotation, a node selector, an env value, anywhere. One JSON encoding and
-- a plain search per secret; the walk that names the field only on a hit.
local function check_no_secret(pod, secrets, text)
  if #secrets == 0 or not text then return end
  for _, sv in ipairs(secrets) do
    local encoded = lunar.json.encode(sv.value):sub(2, -2)
    if text:find(encoded, 1, true) then
      local where = find_in(pod, sv.value, "pod") or "pod"
      fail("%s would carry the value of the secret variable %s (masked or not public): secret values reach the Pod only through the job Secret; use the variable by name inside the job instead",
        where, sv.name)
    end
  end
end

-- Job data in lunar's own annotations: control characters escaped, so that
-- a ref or job name cannot forge lines where annotations are shown.
local JOB_ANNOTATIONS = { "job.runner.gitlab.com/ref", "job.runner.gitlab.com/name", "job.runner.gitlab.com/url" }
local function escape_controls(s)
  return (s:gsub("[%c\127]", function(c)
    if c == "\n" then return "\\n" elseif c == "\t" then return "\\t" elseif c == "\r" then return "\\r" end
    return string.format("\\x%02x", c:byte())
  end))
end
M.escape_controls = escape_controls

-- Secret values of the payload as given (before any rendering), for scrubbing
-- messages: masked or non-public variables.
local function payload_secrets(payload)
  local out = {}
  if type(payload) ~= "table" or type(payload.variables) ~= "table" then return out end
  for _, v in ipairs(payload.variables) do
    if type(v) == "table" and type(v.value) == "string" and (v.masked == true or v.public == false) and #v.value >= 1 then
      out[#out + 1] = v.value
    end
  end
  if type(payload.token) == "string" and payload.token ~= "" then out[#out + 1] = payload.token end
  return out
end

-- A message for stderr or the job log: no secret value, nor a piece of one
-- (any 8 bytes of it), and no control character from job data but newlines
-- and tabs.
local PIECE = 8
local function scrub(msg, secrets)
  msg = tostring(msg)
  for _, sv in ipairs(secrets) do
    if #sv >= 4 and msg:find(sv, 1, true) then
      msg = msg:gsub(sv:gsub("%p", "%%%0"), "[MASKED]")
    end
  end
  for _, sv in ipairs(secrets) do
    if #sv > PIECE and #sv <= 512 then
      local i = 1
      while i <= #sv - PIECE + 1 do
        local piece = sv:sub(i, i + PIECE - 1)
        if msg:find(piece, 1, true) then
          msg = msg:gsub(piece:gsub("%p", "%%%0"), "[MASKED]")
        end
        i = i + 1
      end
    end
  end
  return (msg:gsub("[\0-\8\11-\31\127]", function(c) return string.format("\\x%02x", c:byte()) end))
end
M.scrub = scrub

local render_objects

-- render_objects(runner, payload [, opts]) -> { pod, secret, objects,
-- warnings, log, ... } or raises { message }. opts: payload_name,
-- concurrent_id, project_runner_id, server_version, attempt, pull_attempt
-- (which policy of a pull_policy list: 0 the first; pull_fallback in the
-- result says whether a next one exists).
-- Messages and warnings never carry a secret of the job (see scrub).
function M.render_objects(runner, payload, opts)
  local ok, result = pcall(render_objects, runner, payload, opts)
  local secrets = payload_secrets(payload)
  if not ok then
    if type(result) == "table" and result.message then
      error({ message = scrub(result.message, secrets) }, 0)
    end
    error(scrub(result, secrets), 0)
  end
  if #secrets > 0 then
    for i, w in ipairs(result.warnings) do result.warnings[i] = scrub(w, secrets) end
  end
  return result
end

function render_objects(runner, payload, opts)
  opts = opts or {}
  local msg = payloads.validate(payload, opts.payload_name)
  if msg then fail("%s", msg) end
  local jobv = payloads.view(payload)
  local r = resolve.resolve(runner, payload, jobv)
  -- a service without a name (from the settings or the job) is skipped: no
  -- container, no host alias, no svc-N number (GitLab Runner)
  local named = {}
  for _, svc in ipairs(r.services) do
    if type(svc) == "table" and type(svc.name) == "string" and svc.name ~= "" then named[#named + 1] = svc end
  end
  r.services = named
  local settings = r.settings
  local short = variables.short_token(runner_token(runner, settings))
  local plan = stages.plan(payload, {
    short_token = short, concurrent_id = opts.concurrent_id or 0,
    concurrent_project_id = opts.project_runner_id or 0, runner_name = settings.name,
  }, stage_settings(settings, config.lookup(runner).config.stages), { validated = true, job = jobv })
  local vars = plan.records
  local k, per_service, log = overwrites.apply(settings.kubernetes, vars, { id = payload.id, services = r.services },
    plan.values)
  local os_label = type(k.node_selector) == "table" and k.node_selector["kubernetes.io/os"]
  if os_label and os_label ~= "" and os_label ~= "linux" and os_label ~= "windows" and os_label ~= "freebsd" then
    fail('node selector kubernetes.io/os: unsupported OSType "%s" (the helper image exists for linux, windows and freebsd)', os_label)
  end
  local service_resources = {}
  for i, res in pairs(per_service) do service_resources[tostring(i)] = res end
  local files = {}
  for key, content in pairs(plan.files) do files[key] = content end
  local services = service_variables(r.services, vars, plan.values, files)
  local dockercfg, registry_warnings = pull_credentials.dockerconfigjson(payload, plan.values)
  local name, unique = pod_name(short, payload, opts)
  local input = {
    runner = { name = settings.name or "", short_token = short },
    name = name,
    unique_name = unique,
    kubernetes = k,
    job = builder_job(payload),
    services = services,
    service_resources = service_resources,
    values = plan.values,
    env = plan.env,
    layout = plan.layout,
    pull_policy_by_image = r.pull_policy_by_image,
    plan = {
      containers = plan.containers, secret = name, pull_secret = dockercfg and name or nil,
      cache = has_stage(plan, "restore_cache") or has_stage(plan, "archive_cache"),
    },
    concurrent_id = opts.concurrent_id or 0,
    project_runner_id = opts.project_runner_id or 0,
    server_version = opts.server_version,
    pull_attempt = opts.pull_attempt or 0,
  }
  local pod, warnings = lunar.pod.build(input)
  if not pod then fail("%s", warnings) end
  for _, w in ipairs(plan.warnings) do warnings[#warnings + 1] = w end
  for _, w in ipairs(registry_warnings) do warnings[#warnings + 1] = w end
  if type(k.node_selector) == "table" and k.node_selector["kubernetes.io/os"] == "windows" then
    warnings[#warnings + 1] = "the node selector picks Windows nodes, but lunar's stage scripts are POSIX shell: the job's containers cannot run them there"
  end
  pod = apply_pod_spec(pod, r.pod_spec, jobv)
  if r.pod_spec and #r.pod_spec > 0 then drop_plain_directives(pod, "", warnings) end
  check_pod(pod)
  local ann = type(pod.metadata) == "table" and pod.metadata.annotations
  if type(ann) == "table" then
    for _, key in ipairs(JOB_ANNOTATIONS) do
      if type(ann[key]) == "string" then ann[key] = escape_controls(ann[key]) end
    end
  end
  local text = lunar.json.encode(pod)
  check_no_secret(pod, secret_values(vars), text)
  local secret = job_secret(pod, files, dockercfg)
  apicheck.objects(pod, secret, text)
  return {
    pod = pod, secret = secret, objects = { secret, pod }, warnings = warnings, log = log,
    settings = settings, kubernetes = k, variables = vars, layout = plan.layout, plan = plan,
    pull_fallback = input.pull_fallback == true,
  }
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
