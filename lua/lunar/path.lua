-- Slash-separated paths as text (the Pod's paths, never this machine's).
local M = {}

-- The segments of p without empty and "." ones; nil when one is "..".
function M.segments(p)
  local out = {}
  for seg in tostring(p):gmatch("[^/]+") do
    if seg == ".." then return nil end
    if seg ~= "." then out[#out + 1] = seg end
  end
  return out
end

-- "/a//b/./c/" -> "/a/b/c"; nil for a relative path or one with "..".
function M.absolute(p)
  if type(p) ~= "string" or p:sub(1, 1) ~= "/" then return nil end
  local segs = M.segments(p)
  return segs and ("/" .. table.concat(segs, "/")) or nil
end

-- "a//b/" -> "a/b"; nil when empty or with "..".
function M.relative(p)
  local segs = M.segments(p)
  if not segs or #segs == 0 then return nil end
  return table.concat(segs, "/")
end

-- The path of `to` relative to the directory `from` (both absolute, clean).
function M.relpath(from, to)
  local a, b = M.segments(from), M.segments(to)
  local i = 1
  while a[i] and b[i] and a[i] == b[i] do i = i + 1 end
  local out = {}
  for _ = i, #a do out[#out + 1] = ".." end
  for j = i, #b do out[#out + 1] = b[j] end
  return #out > 0 and table.concat(out, "/") or "."
end

-- Whether `p` is strictly inside the directory `dir` (both absolute, clean).
function M.inside(p, dir)
  local prefix = dir == "/" and "/" or (dir .. "/")
  return #p > #prefix and p:sub(1, #prefix) == prefix
end

return M
