-- Where was a setting written? Maps key paths of the table passed to
-- `lunar.runner { ... }` to the line of the entrypoint file that set them, so
-- that validation errors can say `runner.lua:17: kubernetes.cpu_limit: ...`.
--
-- Lua keeps no line numbers for table fields, so this reads the source text:
-- a small tokenizer (strings, long strings, comments) and a tracker of table
-- constructors and the `key =` that opened each one. Paths look like
-- "kubernetes.volumes.host_path[2].mount_path". Tables built elsewhere in the
-- file and referenced by name are found through their own constructors: a key
-- that appears once in the whole file is located by its name alone.
local M = {}

local function tokenize(src)
  local tokens, i, line, n = {}, 1, 1, #src
  local function push(kind, value) tokens[#tokens + 1] = { kind = kind, value = value, line = line } end
  while i <= n do
    local c = src:sub(i, i)
    if c == "\n" then
      line = line + 1; i = i + 1
    elseif c:match("%s") then
      i = i + 1
    elseif src:sub(i, i + 1) == "--" then
      local eq = src:match("^%[(=*)%[", i + 2)
      if eq then
        local close = "]" .. eq .. "]"
        local s, e = src:find(close, i, true)
        e = e or n
        for _ in src:sub(i, e):gmatch("\n") do line = line + 1 end
        i = e + 1
      else
        local e = src:find("\n", i, true) or (n + 1)
        i = e
      end
    elseif c == "[" and src:match("^%[=*%[", i) then
      local eq = src:match("^%[(=*)%[", i)
      local close = "]" .. eq .. "]"
      local _, e = src:find(close, i, true)
      e = e or n
      local startline = line
      for _ in src:sub(i, e):gmatch("\n") do line = line + 1 end
      tokens[#tokens + 1] = { kind = "string", value = "", line = startline }
      i = e + 1
    elseif c == '"' or c == "'" then
      local j, buf = i + 1, {}
      while j <= n do
        local d = src:sub(j, j)
        if d == "\\" then
          buf[#buf + 1] = src:sub(j + 1, j + 1); j = j + 2
        elseif d == c then
          break
        else
          if d == "\n" then line = line + 1 end
          buf[#buf + 1] = d; j = j + 1
        end
      end
      push("string", table.concat(buf))
      i = j + 1
    elseif c:match("[%a_]") then
      local word = src:match("^[%w_]+", i)
      push("name", word)
      i = i + #word
    elseif c:match("%d") then
      local num = src:match("^0[xX][%x%.pP%+%-]+", i) or src:match("^%d+%.?%d*[eE][%+%-]?%d+", i) or src:match("^[%d%.]+", i)
      push("number", num)
      i = i + #num
    else
      local op = src:match("^[=~<>]=", i) or src:match("^%.%.%.?", i) or src:match("^::", i) or c
      push("op", op)
      i = i + #op
    end
  end
  return tokens
end

-- Returns { paths = { [path] = line }, names = { [key] = { lines } }, runner_line = n }
function M.build(src)
  local tokens = tokenize(src)
  local paths, names = {}, {}
  local runner_line
  -- frame: { prefix = "a.b" | nil (untracked), index = n, depth = paren depth }
  local frames = {}
  local pending_key -- key name waiting for its value: { name, line }
  local function record_name(name, line)
    names[name] = names[name] or {}
    table.insert(names[name], line)
  end
  local function join(prefix, key)
    if prefix == nil then return nil end
    if prefix == "" then return key end
    return prefix .. "." .. key
  end
  for t = 1, #tokens do
    local tok, nxt = tokens[t], tokens[t + 1]
    local top = frames[#frames]
    if tok.kind == "op" and tok.value == "{" then
      local prefix
      local prev = tokens[t - 1]
      local prev2 = tokens[t - 2]
      if top and pending_key then
        prefix = join(top.prefix, pending_key.name)
      elseif top and prev and (prev.value == "{" or prev.value == "," or prev.value == ";") then
        top.index = top.index + 1
        prefix = top.prefix and string.format("%s[%d]", top.prefix, top.index) or nil
        if prefix and not paths[prefix] then paths[prefix] = tok.line end
      elseif prev and ((prev.kind == "name" and prev.value == "runner") or
          (prev.value == "(" and prev2 and prev2.kind == "name" and prev2.value == "runner")) then
        prefix = ""
        runner_line = runner_line or tok.line
      end
      pending_key = nil
      frames[#frames + 1] = { prefix = prefix, index = 0 }
    elseif tok.kind == "op" and tok.value == "}" then
      frames[#frames] = nil
      pending_key = nil
    elseif top and tok.kind == "name" and nxt and nxt.value == "=" and
        (tokens[t - 1].value == "{" or tokens[t - 1].value == "," or tokens[t - 1].value == ";") then
      pending_key = { name = tok.value, line = tok.line }
      record_name(tok.value, tok.line)
      local p = join(top.prefix, tok.value)
      if p and not paths[p] then paths[p] = tok.line end
    elseif top and tok.value == "[" and tokens[t + 1] and tokens[t + 1].kind == "string"
        and tokens[t + 2] and tokens[t + 2].value == "]" and tokens[t + 3] and tokens[t + 3].value == "=" then
      local key = tokens[t + 1].value
      pending_key = { name = key, line = tok.line }
      record_name(key, tok.line)
      local p = join(top.prefix, key)
      if p and not paths[p] then paths[p] = tok.line end
    elseif tok.kind == "op" and (tok.value == "," or tok.value == ";") then
      pending_key = nil
    elseif top and pending_key == nil and tok.kind ~= "op" and tokens[t - 1] and
        (tokens[t - 1].value == "{" or tokens[t - 1].value == "," or tokens[t - 1].value == ";") and
        not (nxt and nxt.value == "=") then
      -- a positional element that is not a table: count it and remember its line
      top.index = top.index + 1
      local p = top.prefix and string.format("%s[%d]", top.prefix, top.index)
      if p and not paths[p] then paths[p] = tok.line end
    elseif tok.kind == "op" and tok.value == "=" then
      -- value of pending_key follows; a non-table value clears it at the next separator
    end
  end
  return { paths = paths, names = names, runner_line = runner_line }
end

-- Line for `path` ("kubernetes.cpu_limit"), or nil: the exact path, else
-- its nearest written parent, else (a table built elsewhere in the file) the
-- last key name when it occurs exactly once in the file, else the line of the
-- lunar.runner call.
function M.line(map, path)
  if not map then return nil end
  local p = path
  while p and p ~= "" do
    if map.paths[p] then return map.paths[p] end
    p = p:match("^(.*)%[%d+%]$") or p:match("^(.*)%.[^%.]+$")
  end
  local leaf = path:match("([^%.%[%]]+)$")
  if leaf and map.names[leaf] and #map.names[leaf] == 1 then return map.names[leaf][1] end
  return map.runner_line
end

function M.load(filename)
  local f = io.open(filename, "r")
  if not f then return nil end
  local src = f:read("a")
  f:close()
  return M.build(src)
end

return M
