-- The job's variables as GitLab Runner assembles them (reference: GitLab
-- runner API §10.1-10.3), and the paths of the job inside its Pod.
--
-- list() returns the final ordered list: runner variables placed before the
-- job's (CI_JOB_IMAGE, CI_RUNNER_SHORT_TOKEN, the runner's `environment`,
-- CI_BUILDS_DIR, CI_PROJECT_DIR, CI_CONCURRENT_ID, CI_CONCURRENT_PROJECT_ID,
-- CI_SERVER, CI_JOB_STATUS, CI_JOB_TIMEOUT), then the payload's variables in
-- order, then the runner variables that override the payload
-- (CI_DISPOSABLE_ENVIRONMENT, CI_RUNNER_VERSION, CI_RUNNER_REVISION,
-- CI_RUNNER_EXECUTABLE_ARCH, RUNNER_TEMP_PROJECT_DIR, GITLAB_ENV), with
-- CI_SERVER_TLS_CA_FILE before the job's when the runner has a CA for
-- GitLab. Every entry is
-- { key, value, public, internal, masked, file, raw, content }: values are
-- expanded once against the unexpanded list (last definition wins) unless
-- raw; a file variable's value is the path of its file and `content` holds
-- what goes in the file.
local lunar = require "lunar"

local M = {}

local REVISION = "lunar"

-- The project directory under builds_dir: the repository path without .git,
-- else project-<id>.
function M.project_path(payload)
  local url = payload.git_info and payload.git_info.repo_url or ""
  local path = url:match("^%a[%w+.-]*://[^/]+/(.-)$") or ""
  path = path:gsub("%.git$", ""):gsub("/+$", "")
  if path == "" or path:find("%.%.") then
    path = "project-" .. tostring(payload.job_info and payload.job_info.project_id or 0)
  end
  return path
end

-- The first 9 characters of the runner token after its known prefix.
function M.short_token(token)
  token = token or ""
  token = token:gsub("^glrt%-t%d_", ""):gsub("^glrt%-", ""):gsub("^glrtr%-", "")
  return token:sub(1, 9)
end

-- Paths of the job inside its Pod. `runner` is the runner's resolved top-level
-- settings (builds_dir, cache_dir, kubernetes.scripts_base_dir/logs_base_dir).
function M.layout(payload, runner)
  local k = runner.kubernetes or {}
  local builds = (runner.builds_dir or "/builds"):gsub("/+$", "")
  if builds == "" then builds = "/builds" end
  local pid = tostring(payload.job_info.project_id)
  local jid = tostring(payload.id)
  local function base(dir) return ((dir or ""):gsub("[/\\]+$", "")) end
  local project_dir = builds .. "/" .. M.project_path(payload)
  return {
    builds_dir = builds,
    project_dir = project_dir,
    tmp_dir = project_dir .. ".tmp",
    cache_dir = runner.cache_dir or "/cache",
    scripts_dir = base(k.scripts_base_dir) .. "/scripts-" .. pid .. "-" .. jid,
    logs_dir = base(k.logs_base_dir) .. "/logs-" .. pid .. "-" .. jid,
  }
end

-- Lookup table name -> value of an unexpanded list; file variables stand for
-- their path.
local function lookup_table(list)
  local t = {}
  for _, v in ipairs(list) do t[v.key] = v.value end
  return t
end

-- Splits "K=V" runner environment entries.
local function environment(entries)
  local out = {}
  for _, e in ipairs(entries or {}) do
    local k, v = e:match("^([^=]+)=(.*)$")
    if k then out[#out + 1] = { key = k, value = v, internal = true } end
  end
  return out
end

-- The dotenv file ($GITLAB_ENV) through which a stage passes variables on.
function M.env_file(layout) return layout.tmp_dir .. "/gitlab_runner_env" end

-- list(payload, runner, layout, opts) -> the ordered list described above.
-- opts: { short_token, concurrent_id, concurrent_project_id, version, arch,
-- tls_ca (the PEM text of the runner's CA for GitLab) }
function M.list(payload, runner, layout, opts)
  opts = opts or {}
  local timeout = payload.runner_info and payload.runner_info.timeout
  if math.type(timeout) ~= "integer" or timeout <= 0 then timeout = 7200 end
  local list = {}
  local function add(key, value, extra)
    local v = { key = key, value = value, internal = true }
    for k, x in pairs(extra or {}) do v[k] = x end
    list[#list + 1] = v
  end
  local image = payload.image and payload.image.name
  if image and image ~= "" then add("CI_JOB_IMAGE", image) end
  add("CI_RUNNER_SHORT_TOKEN", opts.short_token or "")
  for _, v in ipairs(environment(runner.environment)) do list[#list + 1] = v end
  add("CI_BUILDS_DIR", layout.builds_dir)
  add("CI_PROJECT_DIR", layout.project_dir)
  add("CI_CONCURRENT_ID", tostring(opts.concurrent_id or 0))
  add("CI_CONCURRENT_PROJECT_ID", tostring(opts.concurrent_project_id or 0))
  add("CI_SERVER", "yes")
  add("CI_JOB_STATUS", "running")
  add("CI_JOB_TIMEOUT", tostring(timeout))
  if opts.tls_ca then add("CI_SERVER_TLS_CA_FILE", opts.tls_ca, { public = true, file = true, raw = true }) end
  for _, v in ipairs(payload.variables or {}) do
    list[#list + 1] = {
      key = v.key, value = v.value or "", public = v.public == true, masked = v.masked == true,
      file = v.file == true, raw = v.raw == true,
    }
  end
  add("CI_DISPOSABLE_ENVIRONMENT", "true")
  add("CI_RUNNER_VERSION", lunar.version)
  add("CI_RUNNER_REVISION", REVISION)
  add("CI_RUNNER_EXECUTABLE_ARCH", opts.arch or "linux/amd64")
  add("RUNNER_TEMP_PROJECT_DIR", layout.tmp_dir)
  add("GITLAB_ENV", M.env_file(layout))

  -- file variables stand for their path, in expansion and in the environment
  for _, v in ipairs(list) do
    if v.file then v.content, v.value = v.value, layout.tmp_dir .. "/" .. v.key end
  end
  local raw_values = lookup_table(list)
  local expand, find = lunar.util.expand, string.find
  -- A value that uses a secret variable (masked, or not public) carries a
  -- secret: it is marked `secret_ref` (the name it used), and lunar keeps it
  -- out of the Pod spec like the secret itself.
  local secret = M.secret_names(list)
  local used
  local tracking = setmetatable({}, { __index = function(_, name)
    if secret[name] then used = used or name end
    return raw_values[name]
  end })
  for _, v in ipairs(list) do
    if v.raw then
      -- left as written
    elseif v.file then
      if find(v.content, "$", 1, true) then v.content = expand(v.content, raw_values) end
    elseif find(v.value, "$", 1, true) then
      used = nil
      v.value = expand(v.value, tracking)
      v.secret_ref = used
    end
  end
  return list
end

-- name -> true for the variables whose value must stay out of the Pod spec:
-- masked ones and the job's non-public ones (CI_JOB_TOKEN, protected ...).
-- A file variable stands for its path in expansion, which is no secret.
function M.secret_names(list)
  local t = {}
  for _, v in ipairs(list) do
    if (v.masked or not (v.public or v.internal)) and not v.file then t[v.key] = true end
  end
  return t
end

-- name -> value of the final list (last wins), for expanding settings.
M.lookup = lookup_table

-- Expands s with a lookup table (M.lookup), as GitLab Runner expands cache
-- keys, cache policies and release lines.
function M.expand_in(values, s)
  s = s or ""
  if not s:find("$", 1, true) then return s end
  return lunar.util.expand(s, values)
end

-- Go's strconv.ParseBool: true, false, or nil when s is not a boolean.
local BOOLS = {
  ["1"] = true, t = true, T = true, TRUE = true, ["true"] = true, True = true,
  ["0"] = false, f = false, F = false, FALSE = false, ["false"] = false, False = false,
}
function M.bool(s) return BOOLS[s or ""] end

return M
