-- Read-only views of plain tables: job data and the validated configuration
-- reach policies through these, so a policy cannot change what other policies
-- or the runner see. Views are created lazily and cached per table.
local lunar = require "lunar"

local M = {}

local views = setmetatable({}, { __mode = "k" })   -- table -> view
local sources = setmetatable({}, { __mode = "k" }) -- view -> table

local function deny(_, key)
  error(string.format("attempt to modify read-only field %q", tostring(key)), 2)
end

function M.view(t, name)
  if type(t) ~= "table" or sources[t] then return t end
  local v = views[t]
  if v then return v end
  v = setmetatable({}, {
    __index = function(_, k) return M.view(t[k]) end,
    __newindex = deny,
    __len = function() return #t end,
    __pairs = function()
      return function(_, k)
        local nk, nv = next(t, k)
        return nk, M.view(nv)
      end, nil, nil
    end,
    __name = name or "read-only table",
    __metatable = name or "read-only table", -- getmetatable cannot reach the source
    __readonly = true,                       -- rawset refuses it (lunar's sandbox)
  })
  views[t], sources[v] = v, t
  return v
end

local function source(v) return sources[v] or v end

-- The table behind a view (or the value itself). Not for per-job code: it
-- would hand a policy the writable job or settings.
function M.source(v)
  if lunar.sandboxed() then error("readonly.source is not available to per-job code (lunar's sandbox)", 2) end
  return source(v)
end

-- ipairs works on views through __index; this is for callers that need a
-- plain deep copy of view data (e.g. a policy's return value built from it).
-- A cycle or a nesting deeper than MAX_DEPTH is an error naming the path.
local MAX_DEPTH = 100

local function path_of(stack)
  local parts = {}
  for i = 2, #stack do
    local k = stack[i]
    parts[#parts + 1] = type(k) == "string" and k:match("^[%a_][%w_]*$") and ("." .. k)
      or string.format("[%s]", type(k) == "string" and string.format("%q", k) or tostring(k))
  end
  return #parts > 0 and table.concat(parts) or "(the value itself)"
end

local function copy(v, open, keys)
  v = source(v)
  if type(v) ~= "table" then return v end
  if open[v] then
    error(string.format("the value contains itself (a cycle at %s)", path_of(keys)), 0)
  end
  if #keys > MAX_DEPTH then
    error(string.format("the value is nested more than %d levels deep (at %s)", MAX_DEPTH, path_of(keys)), 0)
  end
  open[v] = true
  local out = {}
  for k, x in pairs(v) do
    keys[#keys + 1] = k
    out[k] = copy(x, open, keys)
    keys[#keys] = nil
  end
  open[v] = nil
  local mt = getmetatable(v)
  return setmetatable(out, type(mt) == "table" and mt.__name == "array" and mt or nil)
end

function M.copy(v)
  if type(source(v)) ~= "table" then return source(v) end
  return copy(v, {}, { "" })
end

return M
