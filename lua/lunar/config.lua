-- `lunar.runner { ... }`: validates a runner entrypoint's table against the
-- schema and freezes it. Errors name the key path and the file:line where the
-- key was written; all errors are reported at once:
--
--   runner.lua:12: kubernetes.cpu_limit: quantity "1.5x" is not valid: ...
--   runner.lua:20: kubernetes.volumes.host_path[1]: unknown key "mountpath" (did you mean "mount_path"?)
--
-- Any kubernetes setting may be a function of the job (a policy) instead of a
-- value; its result is validated with the same rules when a job is rendered
-- (lunar.resolve). pod_spec entries may be functions too.
local settings = require "lunar.settings"
local source_map = require "lunar.source_map"
local readonly = require "lunar.readonly"
local T = require "lunar.types"
local lunar = require "lunar"

local M = {}

-- Registry of validated runners: view -> { config, file, map }
local runners = setmetatable({}, { __mode = "k" })

local function distance(a, b)
  local la, lb = #a, #b
  if math.abs(la - lb) > 3 then return 99 end
  local prev = {}
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    local cur = { [0] = i }
    for j = 1, lb do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[lb]
end

local function suggestion(key, fields)
  if type(key) ~= "string" then return "" end
  local best, bd
  local lower = key:lower()
  for name in pairs(fields) do
    -- a key that is the start of a setting's name ("builds" for builds_dir)
    if #lower >= 4 and name:sub(1, #lower) == lower and (not best or #name < #best) then best, bd = name, 0 end
  end
  if best then return string.format(" (did you mean %q?)", best) end
  for name in pairs(fields) do
    local d = distance(key:lower(), name)
    if not bd or d < bd or (d == bd and name < best) then best, bd = name, d end
  end
  if best and bd <= math.max(2, #key // 4) then return string.format(" (did you mean %q?)", best) end
  return ""
end

-- A validation context: collects errors as { path, message, line }.
-- `locate(path)` returns "file:line" for a path.
function M.context(locate, opts)
  opts = opts or {}
  local ctx = { errors = {} }
  function ctx.fail(path, msg)
    ctx.errors[#ctx.errors + 1] = { path = path, message = msg, where = locate(path) }
  end
  function ctx.unknown(path, key, fields)
    local where = path == "" and tostring(key) or (path .. "." .. tostring(key))
    ctx.fail(path == "" and "" or path, string.format("unknown key %q%s", tostring(key), suggestion(key, fields)))
    ctx.errors[#ctx.errors].where = locate(where)
  end
  function ctx.check(ty, value, path)
    if type(value) == "function" and opts.allow_function and opts.allow_function(path) then
      return
    end
    local msg = ty.check(value, path, ctx)
    if msg then ctx.fail(path, msg) end
  end
  -- Checks without recording: returns the first message, or nil when valid.
  function ctx.probe(ty, value, path)
    local sub = M.context(locate, opts)
    sub.check(ty, value, path)
    return sub.errors[1] and sub.errors[1].message or nil
  end
  return ctx
end

function M.format_errors(errors)
  table.sort(errors, function(a, b)
    local la = tonumber((a.where or ""):match(":(%d+)$")) or 0
    local lb = tonumber((b.where or ""):match(":(%d+)$")) or 0
    if la ~= lb then return la < lb end
    return a.path < b.path
  end)
  local lines = {}
  for _, e in ipairs(errors) do
    local where = e.where and (e.where .. ": ") or ""
    local path = e.path ~= "" and (e.path .. ": ") or ""
    lines[#lines + 1] = where .. path .. e.message
  end
  return table.concat(lines, "\n")
end

-- Settings that may be given as functions: any direct kubernetes key, any
-- pod_spec entry, the event handlers and stage overrides.
local function allow_function(path)
  return path:match("^kubernetes%.[%w_]+$") ~= nil
      or path:match("^kubernetes%.pod_spec%[%d+%]$") ~= nil
      or path:match("^on%.") ~= nil
      or path:match("^stages%.") ~= nil
end

-- The settings lunar has no use for (a row's `unused` in lunar.settings):
-- fail(path, message) for each refused one that is set, and one line on
-- stderr per warned one ("runner.lua:12: kubernetes.poll_interval: warning:
-- ..."). A value equal to the row's `inert` says nothing. Returns the
-- warnings written.
function M.unused(t, fail, locate)
  local warnings = {}
  for _, r in ipairs(settings.rows) do
    local u = r.unused
    local scope = r.scope == "kubernetes" and (type(t.kubernetes) == "table" and t.kubernetes or {}) or t
    local v = u and u.action and scope[r.key]
    if v ~= nil and v ~= u.inert then
      if u.action == "refuse" then
        fail(r.path, "lunar does not support this setting: " .. u.why)
      else
        local line = string.format("%s: %s: warning: has no effect in lunar: %s", locate(r.path), r.path, u.why)
        warnings[#warnings + 1] = line
        io.stderr:write(line, "\n")
      end
    end
  end
  return warnings
end

-- Validates `t` (a runner table). Returns nil or the list of errors.
function M.validate(t, locate)
  local ctx = M.context(locate, { allow_function = allow_function })
  ctx.check(settings.runner, t, "")
  if t.token ~= nil and t.token_file ~= nil then
    ctx.fail("token_file", "token and token_file are both set; keep one")
  end
  local k = type(t.kubernetes) == "table" and t.kubernetes or {}
  if k.bearer_token ~= nil and k.bearer_token_file ~= nil then
    ctx.fail("kubernetes.bearer_token_file", "bearer_token and bearer_token_file are both set; keep one")
  end
  if type(k.cert_file) == "string" and (type(k.key_file) ~= "string") then
    ctx.fail("kubernetes.cert_file", "cert_file needs key_file (client certificate authentication)")
  end
  require("lunar.apicheck").settings(k, ctx.fail)
  M.unused(t, ctx.fail, locate)
  return #ctx.errors > 0 and ctx.errors or nil
end

-- The file being loaded by M.load (an entrypoint usually ends with
-- `return lunar.runner {...}`, a tail call that leaves no frame of its own).
local loading

-- Where lunar.runner was called from: the file M.load is running, else the
-- first Lua frame outside lunar's own modules.
local function caller_info()
  if loading then return { source = "@" .. loading, short_src = loading } end
  for level = 3, 20 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.what ~= "C" and not info.source:match("[/\\]lunar[/\\][%w_]+%.lua$") then return info end
  end
  return debug.getinfo(2, "Sl")
end

-- Loads and runs a runner entrypoint file; returns the runner or nil, message.
function M.load(path)
  local chunk, err = loadfile(path, "t")
  if not chunk then return nil, err end
  loading = path
  local ok, result = lunar.call(-1, chunk)
  loading = nil
  if not ok then
    if type(result) == "string" then result = result:gsub("\n?stack traceback:.*$", "") end
    return nil, tostring(result)
  end
  if not runners[result] then
    return nil, string.format("%s: the file must return lunar.runner { ... } (it returned %s)", path, T.describe(result))
  end
  return result
end

-- lunar.runner { ... } -> runner (frozen). Raises a Lua error listing every
-- problem when the table is invalid.
function M.runner(t)
  if type(t) ~= "table" then
    error("lunar.runner expects a table of settings, got " .. T.describe(t), 2)
  end
  local info = caller_info()
  local file = info and info.source:sub(1, 1) == "@" and info.source:sub(2) or nil
  local map = file and source_map.load(file)
  local short = info and info.short_src or "?"
  local function locate(path)
    local line = map and source_map.line(map, path) or (info and info.currentline)
    return line and (short .. ":" .. line) or short
  end
  local errors = M.validate(t, locate)
  if errors then
    error(setmetatable({ errors = errors }, {
      __tostring = function(e) return "invalid runner settings:\n" .. M.format_errors(e.errors) end,
    }), 0)
  end
  -- Frozen: a deep copy, so that tables the entrypoint keeps (and its
  -- policies could change later) are not the runner's settings.
  local frozen = readonly.copy(t)
  local view = readonly.view(frozen, "lunar.runner")
  runners[view] = { config = frozen, file = short, locate = locate }
  return view
end

-- The validated config behind a runner view, with its locator; nil when `r`
-- did not come from lunar.runner. Not for per-job code (lunar's sandbox): the
-- frozen settings stay behind the runner's read-only view.
function M.lookup(r)
  if lunar.sandboxed() then error("lunar.config.lookup is not available to per-job code (lunar's sandbox)", 2) end
  return runners[r]
end

return M
