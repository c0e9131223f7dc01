-- The variables of a job as GitLab Runner builds them (reference §10):
-- runner variables placed before the job's, the job's `variables[]`, runner
-- variables placed after; the last definition of a key wins; every value is
-- expanded once against the unexpanded list (raw ones are not); a file-type
-- variable's value is the path of a file under the job's temp dir.
--
-- A record: { key, value (final), content (file variables: what the file
-- holds), public, masked, file, raw, internal (added by the runner) }.
local shell = require "lunar.shell"

local M = {}

local SPECIAL = "[%*#%$@!%?%-0-9]"

-- The name after a `$` at s[i] (Go's os.Expand getShellName): name, width.
-- An empty name with a width means bad syntax: those characters are eaten.
local function shell_name(s, i)
  local c = s:sub(i, i)
  if c == "{" then
    if s:sub(i + 1, i + 1):match(SPECIAL) and s:sub(i + 2, i + 2) == "}" then
      return s:sub(i + 1, i + 1), 3
    end
    local close = s:find("}", i + 1, true)
    if not close then return "", 1 end
    if close == i + 1 then return "", 2 end
    return s:sub(i + 1, close - 1), close - i + 1
  end
  if c:match(SPECIAL) then return c, 1 end
  local name = s:match("^[%w_]*", i)
  return name, #name
end

-- GitLab's lookup: `$$` is a literal `$`, positional and special parameters
-- are empty, anything else is the variable's value or empty.
local function lookup_value(lookup, name)
  if name == "$" then return "$" end
  if #name == 1 and name:match("[%*#@!%?0-9]") then return "" end
  return lookup(name) or ""
end

-- Expands $NAME and ${NAME} in s with lookup(name) -> value | nil.
function M.expand(s, lookup)
  local out, i, n, from = {}, 1, #s, 1
  while i < n do
    if s:byte(i) == 36 then -- "$"
      out[#out + 1] = s:sub(from, i - 1)
      local name, w = shell_name(s, i + 1)
      if name ~= "" then
        out[#out + 1] = lookup_value(lookup, name)
      elseif w == 0 then
        out[#out + 1] = "$"
      end
      i = i + w + 1
      from = i
    else
      i = i + 1
    end
  end
  out[#out + 1] = s:sub(from)
  return table.concat(out)
end

-- Expands s with the final values of a job's variables (key -> value), as
-- GitLab Runner expands cache keys, policies and release lines.
function M.expand_in(index, s)
  return M.expand(s or "", function(name) return index[name] end)
end

local function add(list, key, value, flags)
  local rec = { key = key, value = value or "" }
  for k, v in pairs(flags or {}) do rec[k] = v end
  list[#list + 1] = rec
end

-- "K=V" entries of the runner's `environment` setting.
local function add_environment(list, environment)
  for _, entry in ipairs(environment or {}) do
    local k, v = tostring(entry):match("^([^=]+)=(.*)$")
    if k then add(list, k, v, { internal = true, public = true }) end
  end
end

-- The dotenv file ($GITLAB_ENV) through which a stage passes variables on.
function M.env_file(layout) return layout.tmp_dir .. "/gitlab_runner_env" end

local RUNNER = { internal = true, public = true, raw = true }

-- The full, ordered list of definitions (duplicates included).
-- ctx: { payload, layout, settings, timeout, tls_ca (PEM text or nil), version }
function M.definitions(ctx)
  local payload, layout, list = ctx.payload, ctx.layout, {}
  local image = type(payload.image) == "table" and payload.image.name or ""
  if image ~= "" then add(list, "CI_JOB_IMAGE", image, { internal = true, public = true }) end
  add_environment(list, ctx.settings.environment)
  add(list, "CI_BUILDS_DIR", layout.builds_dir, RUNNER)
  add(list, "CI_PROJECT_DIR", layout.project_dir, RUNNER)
  add(list, "CI_CONCURRENT_ID", tostring(layout.concurrent_id), RUNNER)
  add(list, "CI_CONCURRENT_PROJECT_ID", tostring(layout.concurrent_project_id), RUNNER)
  add(list, "CI_SERVER", "yes", RUNNER)
  add(list, "CI_JOB_STATUS", "running", RUNNER)
  add(list, "CI_JOB_TIMEOUT", tostring(ctx.timeout), RUNNER)
  if ctx.tls_ca then
    add(list, "CI_SERVER_TLS_CA_FILE", ctx.tls_ca, { internal = true, public = true, raw = true, file = true })
  end
  for _, v in ipairs(payload.variables or {}) do
    add(list, v.key, v.value, {
      public = v.public == true, masked = v.masked == true, file = v.file == true, raw = v.raw == true,
    })
  end
  add(list, "CI_DISPOSABLE_ENVIRONMENT", "true", RUNNER)
  add(list, "CI_RUNNER_VERSION", ctx.version, RUNNER)
  add(list, "CI_RUNNER_REVISION", layout.runner_revision, RUNNER)
  add(list, "CI_RUNNER_EXECUTABLE_ARCH", layout.arch, RUNNER)
  add(list, "RUNNER_TEMP_PROJECT_DIR", layout.tmp_dir, RUNNER)
  add(list, "GITLAB_ENV", M.env_file(layout), RUNNER)
  return list
end

-- Keeps the last definition of each key at the position the key first
-- appeared (what GitLab Runner does for the container environment).
local function dedupe(list)
  local last, order = {}, {}
  for _, rec in ipairs(list) do
    if not last[rec.key] then order[#order + 1] = rec.key end
    last[rec.key] = rec
  end
  local out = {}
  for i, key in ipairs(order) do out[i] = last[key] end
  return out
end

-- Final records, in order, with values expanded and file variables resolved.
-- Keys that cannot be shell variables are left out and reported in
-- `skipped` (a list of keys).
function M.build(ctx)
  local records, skipped = {}, {}
  for _, rec in ipairs(dedupe(M.definitions(ctx))) do
    if shell.is_name(rec.key) then
      records[#records + 1] = rec
    else
      skipped[#skipped + 1] = rec.key
    end
  end
  local unexpanded = {}
  for _, rec in ipairs(records) do
    unexpanded[rec.key] = rec.file and (ctx.layout.tmp_dir .. "/" .. rec.key) or rec.value
  end
  local function lookup(name) return unexpanded[name] end
  for _, rec in ipairs(records) do
    local value = rec.raw and rec.value or M.expand(rec.value, lookup)
    if rec.file then
      rec.content, rec.value = value, unexpanded[rec.key]
    else
      rec.value = value
    end
  end
  return records, skipped
end

-- Go's strconv.ParseBool: true, false, or nil when s is not a boolean.
local BOOLS = {
  ["1"] = true, t = true, T = true, TRUE = true, ["true"] = true, True = true,
  ["0"] = false, f = false, F = false, FALSE = false, ["false"] = false, False = false,
}
function M.bool(s) return BOOLS[s or ""] end

-- key -> final value.
function M.index(records)
  local by_key = {}
  for _, rec in ipairs(records) do by_key[rec.key] = rec.value end
  return by_key
end

-- The variables that may appear in the Pod spec: public or runner-added,
-- never masked; `$` doubled for Kubernetes.
function M.pod_env(records)
  local env = {}
  for _, rec in ipairs(records) do
    if (rec.public or rec.internal) and not rec.masked then
      env[#env + 1] = { name = rec.key, value = shell.kube_escape(rec.value) }
    end
  end
  return env
end

return M
