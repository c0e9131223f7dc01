-- The job's variables as GitLab Runner assembles them (reference: GitLab
-- runner API §10.1-10.3), and the paths of the job inside its Pod.
--
-- list() returns the final ordered list: runner variables placed before the
-- job's (CI_JOB_IMAGE, CI_RUNNER_SHORT_TOKEN, the runner's `environment`,
-- CI_BUILDS_DIR, CI_PROJECT_DIR, CI_CONCURRENT_ID, CI_CONCURRENT_PROJECT_ID,
-- CI_SERVER, CI_JOB_STATUS, CI_JOB_TIMEOUT), then the payload's variables in
-- order, then the runner variables that override the payload
-- (CI_DISPOSABLE_ENVIRONMENT, CI_RUNNER_VERSION, CI_RUNNER_REVISION,
-- CI_RUNNER_EXECUTABLE_ARCH, RUNNER_TEMP_PROJECT_DIR). Every entry is
-- { key, value, public, internal, masked, file, raw, content }: values are
-- expanded once against the unexpanded list (last definition wins) unless
-- raw; a file variable's value is the path of its file and `content` holds
-- what goes in the file.
local lunar = require "lunar"

local M = {}

local REVISION = "lunar"

-- The project directory under builds_dir: the repository path without .git,
-- else project-<id>.
local function project_path(payload)
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
  local project_dir = builds .. "/" .. project_path(payload)
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

-- list(payload, runner, layout, opts) -> the ordered list described above.
-- opts: { short_token, concurrent_id, concurrent_project_id, version, arch }
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

  -- file variables stand for their path, in expansion and in the environment
  for _, v in ipairs(list) do
    if v.file then v.content, v.value = v.value, layout.tmp_dir .. "/" .. v.key end
  end
  local raw_values = lookup_table(list)
  local expand, find = lunar.util.expand, string.find
  for _, v in ipairs(list) do
    if v.raw then
      -- left as written
    elseif v.file then
      if find(v.content, "$", 1, true) then v.content = expand(v.content, raw_values) end
    elseif find(v.value, "$", 1, true) then
      v.value = expand(v.value, raw_values)
    end
  end
  return list
end

-- name -> value of the final list (last wins), for expanding settings.
M.lookup = lookup_table

return M
