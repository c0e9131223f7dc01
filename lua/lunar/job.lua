-- GitLab job payloads: checks the fields lunar relies on, with messages that
-- say which field is wrong and what was expected, and builds the read-only
-- `job` value that policies receive.
--
-- job fields: id, name, stage, ref, sha, before_sha, ref_type, tag (bool),
-- project = { id, name, path, namespace, root_namespace, url }, pipeline_id,
-- variables (name -> value, last occurrence wins), variable (name -> full
-- record {key, value, public, masked, file, raw}), image = { name,
-- entrypoint, pull_policy, ... }, services (list of image objects), timeout
-- (seconds), payload (the whole payload).
local readonly = require "lunar.readonly"
local T = require "lunar.types"

local M = {}

local function field(payload, parts)
  local v = payload
  for i = 1, #parts do
    if type(v) ~= "table" then return nil end
    v = v[parts[i]]
  end
  return v
end

local checks = {
  { "id", "integer" },
  { "token", "string" },
  { "job_info", "table" },
  { "job_info.project_id", "integer" },
  { "git_info", "table" },
  { "git_info.sha", "string" },
  { "variables", "list", optional = true },
  { "steps", "list", optional = true },
  { "image", "table", optional = true },
  { "services", "list", optional = true },
  { "runner_info", "table", optional = true },
}
for _, c in ipairs(checks) do
  c.parts = {}
  for part in c[1]:gmatch("[^%.]+") do c.parts[#c.parts + 1] = part end
end

local function check_type(v, kind)
  if kind == "integer" then return math.type(v) == "integer" end
  if kind == "list" then return type(v) == "table" and (next(v) == nil or T.is_list(v)) end
  return type(v) == kind
end

-- `where` names the image in messages: "image", or a service's index.
local function where_text(where)
  return type(where) == "number" and string.format("services[%d]", where) or where
end

local function check_image(name, img, where)
  if type(img) ~= "table" then return string.format("%s: %s: expected an image object", name, where_text(where)) end
  local opts = img.executor_opts
  if type(opts) == "table" then
    for k in pairs(opts) do
      if k ~= "docker" and k ~= "kubernetes" then
        return string.format("%s: %s.executor_opts: unsupported key %q (supported: docker, kubernetes)", name, where_text(where), tostring(k))
      end
    end
    if type(opts.kubernetes) == "table" then
      for k in pairs(opts.kubernetes) do
        if k ~= "user" then
          return string.format("%s: %s.executor_opts.kubernetes: unsupported key %q (supported: user)", name, where_text(where), tostring(k))
        end
      end
    end
  end
end

-- Returns nil, or a message naming the first malformed field.
function M.validate(payload, name)
  name = name or "job payload"
  if type(payload) ~= "table" then return name .. ": expected a JSON object" end
  for _, c in ipairs(checks) do
    local v = field(payload, c.parts)
    if v == nil then
      if not c.optional then return string.format("%s: missing field %s (a GitLab job payload has it; see POST /api/v4/jobs/request)", name, c[1]) end
    elseif not check_type(v, c[2]) then
      return string.format("%s: field %s: expected %s, got %s", name, c[1], c[2] == "list" and "a list" or ("a " .. c[2]), T.describe(v))
    end
  end
  for i, var in ipairs(payload.variables or {}) do
    if type(var) ~= "table" or type(var.key) ~= "string" then
      return string.format("%s: variables[%d]: expected {\"key\": ..., \"value\": ...}", name, i)
    end
    if var.value ~= nil and type(var.value) ~= "string" then
      return string.format("%s: variables[%d] (%s): value must be a string, got %s", name, i, var.key, T.describe(var.value))
    end
  end
  if payload.image then
    local msg = check_image(name, payload.image, "image")
    if msg then return msg end
  end
  for i, svc in ipairs(payload.services or {}) do
    local msg = check_image(name, svc, i)
    if msg then return msg end
  end
  if #payload.git_info.sha < 8 then
    return string.format("%s: field git_info.sha: %q is shorter than 8 characters", name, payload.git_info.sha)
  end
end

-- The read-only job value policies receive.
function M.view(payload)
  local vars, records = {}, {}
  for _, var in ipairs(payload.variables or {}) do
    vars[var.key] = var.value or ""
    records[var.key] = var
  end
  local info, git = payload.job_info or {}, payload.git_info or {}
  local path = info.project_full_path or ""
  local timeout = payload.runner_info and payload.runner_info.timeout or 0
  if math.type(timeout) ~= "integer" or timeout <= 0 then timeout = 7200 end
  local job = {
    id = payload.id,
    name = info.name,
    stage = info.stage,
    pipeline_id = info.pipeline_id,
    ref = git.ref,
    ref_type = git.ref_type,
    tag = git.ref_type == "tag",
    sha = git.sha,
    before_sha = git.before_sha,
    project = {
      id = info.project_id,
      name = info.project_name,
      path = path,
      namespace = path:match("^(.*)/[^/]+$") or vars.CI_PROJECT_NAMESPACE,
      root_namespace = path:match("^([^/]+)/") or vars.CI_PROJECT_ROOT_NAMESPACE,
      url = vars.CI_PROJECT_URL,
    },
    variables = vars,
    variable = records,
    image = payload.image or {},
    services = payload.services or {},
    timeout = timeout,
    payload = payload,
  }
  return readonly.view(job, "lunar.job")
end

return M
