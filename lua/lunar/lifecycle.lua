-- What `lunar run` asks of Lua: plain data in, plain data out. The C runner
-- (core/runner/) calls these three functions through core/bind/entry.c and
-- nothing else; they never touch the runner's loop.
--
--   settings(runner)                 -> the runner-level settings the C side uses
--   prepare(runner, payload, opts)   -> everything one job needs | nil, message
--   emit(runner, event, job, data)   -> true | nil, message (an `on.<event>` handler failed)
local lunar = require "lunar"
local config = require "lunar.config"
local render = require "lunar.render"
local variables = require "lunar.variables"
local files = require "lunar.files"
local settings = require "lunar.settings"

local M = {}

M.VERSION = lunar.version or "0.1.0"

-- GitLab's URL without trailing '/' and '/ci' (reference §0).
local function base_url(url)
  url = (url or ""):gsub("/+$", "")
  return (url:gsub("/ci$", ""))
end

local function token_of(cfg)
  if type(cfg.token) == "string" then return cfg.token, nil end
  if type(cfg.token_file) == "string" then
    local text, err = files.read(cfg.token_file)
    if not text then return nil, "token_file: " .. tostring(err) end
    return (text:gsub("%s+$", "")), nil
  end
  return nil, "no runner token: set token_file (or token) in the entrypoint"
end

-- The identity that labels this runner's Pods: every Pod it creates carries
-- it, and the watch and the restart recovery only look at Pods that carry it.
-- Two runners (or two replicas with distinct system_id) never share it.
local function identity(short, system_id)
  local id = short ~= "" and short or "lunar"
  if system_id and system_id ~= "" then id = id .. "." .. system_id end
  return lunar.util.rfc1123(id:lower():gsub("[^a-z0-9.-]", "-"), 63)
end

-- The kubernetes settings the C side reads: the Kubernetes client's and the
-- runner's (their rows' read_by), and the two the availability check needs.
local KUBE_CONNECTION = { "service_account", "image_pull_secrets" }
for _, r in ipairs(settings.rows) do
  if r.scope == "kubernetes" and (r.read_by == "client" or r.read_by == "runner") then
    KUBE_CONNECTION[#KUBE_CONNECTION + 1] = r.key
  end
end

-- settings(runner) -> table | nil, message
function M.settings(runner)
  local entry = config.lookup(runner)
  if not entry then return nil, "not a runner returned by lunar.runner" end
  local cfg = entry.config
  if type(cfg.url) ~= "string" or cfg.url == "" then
    return nil, entry.file .. ": url: the GitLab URL is required to run jobs (e.g. url = \"https://gitlab.example.com\")"
  end
  if not cfg.url:match("^https?://") then
    return nil, entry.locate("url") .. ": url: \"" .. cfg.url .. "\" must start with http:// or https://"
  end
  local token, err = token_of(cfg)
  if not token then return nil, entry.file .. ": " .. err end
  if token == "" then return nil, entry.file .. ": the runner token is empty" end
  local k = cfg.kubernetes or {}
  local kube = {}
  for _, key in ipairs(KUBE_CONNECTION) do
    local v = k[key]
    if v == nil then v = settings.by_key.kubernetes[key].default end
    if type(v) ~= "function" then kube[key] = v end
  end
  if type(k.namespace) == "string" then kube.namespace = k.namespace end
  -- cleanup_resources_timeout: a Go duration ("5m", "1m30s", checked at load), in seconds
  kube.cleanup_resources_timeout = require("lunar.stages.drivers").duration(k.cleanup_resources_timeout)
  local short = variables.short_token(token)
  local system_id = cfg.system_id or ""
  local on = {}
  for name, fn in pairs(cfg.on or {}) do
    if type(fn) == "function" then on[#on + 1] = name end
  end
  table.sort(on)
  return {
    name = settings.value(cfg, "name"),
    url = base_url(cfg.url),
    token = token,
    short_token = short,
    system_id = system_id,
    identity = identity(short, system_id),
    tls_ca_file = cfg.tls_ca_file,
    concurrent = settings.value(cfg, "concurrent"),
    limit = settings.value(cfg, "limit"),
    request_concurrency = settings.value(cfg, "request_concurrency"),
    check_interval = settings.value(cfg, "check_interval"),
    output_limit = settings.value(cfg, "output_limit"),
    shutdown_timeout = settings.value(cfg, "shutdown_timeout"),
    listen_address = cfg.listen_address,
    kubernetes = kube,
    handlers = lunar.json.array(on),
    version = M.VERSION,
  }
end

local function masked_values(payload)
  local out, seen = {}, {}
  local function add(v)
    if type(v) == "string" and #v > 0 and not seen[v] then
      seen[v] = true
      out[#out + 1] = v
    end
  end
  for _, v in ipairs(payload.variables or {}) do
    if type(v) == "table" and v.masked == true then add(v.value) end
  end
  add(payload.token)
  return out
end

local function strings_of(list)
  local out = {}
  if type(list) == "table" then
    for _, v in ipairs(list) do if type(v) == "string" then out[#out + 1] = v end end
  end
  return lunar.json.array(out)
end

-- What the `on` handlers get as `job`: the same summary for a job just
-- received and for one resumed after a restart (which only has its Pod).
local function summary(payload)
  local info, git = payload.job_info or {}, payload.git_info or {}
  return {
    id = payload.id, name = info.name, stage = info.stage,
    ref = git.ref, sha = git.sha,
    project = { id = info.project_id, name = info.project_name },
    pipeline_id = (function()
      for _, v in ipairs(payload.variables or {}) do
        if v.key == "CI_PIPELINE_ID" then return tonumber(v.value) end
      end
    end)(),
  }
end

local function debug_trace(payload)
  for _, v in ipairs(payload.variables or {}) do
    if (v.key == "CI_DEBUG_TRACE" or v.key == "CI_DEBUG_SERVICES") and v.value == "true" then return true end
  end
  return false
end

local function image_name(payload, k)
  if type(payload.image) == "table" and type(payload.image.name) == "string" and payload.image.name ~= "" then
    return payload.image.name
  end
  return type(k.image) == "string" and k.image or "(none)"
end

-- prepare(runner, payload_text, opts) -> plan table | nil, message
-- opts: { identity, server_version, attempt, pull_attempt, concurrent_id,
--         project_runner_id } (the two slots: among the runner's running jobs,
--         and among those of the same project; the Pod's name carries the latter)
function M.prepare(runner, text, opts)
  local payload, perr = lunar.json.decode(text)
  if type(payload) ~= "table" then
    return nil, "job payload: not a JSON object" .. (perr and (": " .. tostring(perr)) or "")
  end
  local ok, r = pcall(render.render_objects, runner, payload, {
    payload_name = "job payload",
    server_version = opts.server_version,
    attempt = opts.attempt,
    pull_attempt = opts.pull_attempt,
    concurrent_id = opts.concurrent_id,
    project_runner_id = opts.project_runner_id,
  })
  if not ok then
    if type(r) == "table" and r.message then return nil, r.message end
    return nil, tostring(r)
  end
  local pod, secret = r.pod, r.secret
  local labels = { ["lunar.dev/runner"] = opts.identity }
  for _, obj in ipairs { pod, secret } do
    obj.metadata.labels = obj.metadata.labels or {}
    for key, v in pairs(labels) do obj.metadata.labels[key] = v end
  end
  pod.metadata.annotations = pod.metadata.annotations or {}
  pod.metadata.annotations["lunar.dev/job-id"] = tostring(payload.id)
  local job = {
    id = payload.id,
    token = payload.token,
    masked = lunar.json.array(masked_values(payload)),
    token_prefixes = strings_of(type(payload.features) == "table" and payload.features.token_mask_prefixes),
    failure_reasons = strings_of(type(payload.features) == "table" and payload.features.failure_reasons),
    timeout = (type(payload.runner_info) == "table" and math.tointeger(payload.runner_info.timeout)) or 3600,
    debug_trace = debug_trace(payload),
    summary = summary(payload),
  }
  -- what a restarted runner needs to finish the job: it lives with the job's
  -- other secrets and goes with the Pod
  secret.stringData["lunar-job.json"] = lunar.json.encode(job)
  local out = {
    pod = pod,
    secret = secret,
    namespace = pod.metadata.namespace,
    pod_name = pod.metadata.name,
    image = image_name(payload, r.kubernetes),
    warnings = lunar.json.array(r.warnings or {}),
    overwrites = lunar.json.array(r.log or {}),
    pull_fallback = r.pull_fallback == true,
    job = job,
  }
  return out
end

-- emit(runner, event, job, data) -> true | nil, message
function M.emit(runner, event, job, data)
  local entry = config.lookup(runner)
  local fn = entry and entry.config.on and entry.config.on[event]
  if type(fn) ~= "function" then return true end
  local ok, err = pcall(require("lunar.resolve").call, "on." .. event, fn, job, data)
  if not ok then
    local msg = type(err) == "table" and err.message or tostring(err)
    return nil, (msg:gsub("^policy on%.[%w_]+ failed: ", ""))
  end
  return true
end

return M
