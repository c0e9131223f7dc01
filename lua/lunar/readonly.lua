-- Read-only views of plain tables: job data and the validated configuration
-- reach policies through these, so a policy cannot change what other policies
-- or the runner see. Views are created lazily and cached per table.
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
  })
  views[t], sources[v] = v, t
  return v
end

-- The table behind a view (or the value itself).
function M.source(v) return sources[v] or v end

-- ipairs works on views through __index; this is for callers that need a
-- plain deep copy of view data (e.g. a policy's return value built from it).
function M.copy(v)
  v = M.source(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = M.copy(x) end
  return setmetatable(out, getmetatable(v) and getmetatable(v).__name == "array" and getmetatable(v) or nil)
end

return M
