-- Value types of the configuration schema.
--
-- A type is a table { name = "...", check = function(value, path, ctx) }.
-- check returns nil when the value is valid, or a message (without the key
-- path; the validator adds path and file:line). Composite types recurse
-- through ctx.check(type, value, path) so that every nested error names its
-- own key path, e.g. `kubernetes.volumes.host_path[2].mount_path`.
local lunar = require "lunar"

local T = {}

local function describe(v)
  local t = type(v)
  if v == lunar.json.null then return "null" end
  if t == "string" then return string.format("the string %q", v) end
  if t == "table" then return "a table" end
  if t == "function" then return "a function" end
  return string.format("%s %s", t, tostring(v))
end
T.describe = describe

local function simple(name, pred, hint)
  return {
    name = name,
    check = function(v)
      if not pred(v) then
        return string.format("expected %s, got %s%s", name, describe(v), hint and ("; " .. hint) or "")
      end
    end,
  }
end

T.string = simple("a string", function(v) return type(v) == "string" end)
T.bool = simple("a boolean", function(v) return type(v) == "boolean" end)
T.int = simple("an integer", function(v) return math.type(v) == "integer" end)
T.number = simple("a number", function(v) return type(v) == "number" end)

-- Kubernetes quantity such as "500m", "1.5Gi".
T.quantity = {
  name = "a Kubernetes quantity (e.g. \"500m\", \"2\", \"1Gi\")",
  check = function(v)
    if type(v) == "number" then v = tostring(v) end
    if type(v) ~= "string" then return "expected a quantity string such as \"500m\" or \"1Gi\", got " .. describe(v) end
    if v:match("^%s*$") then return nil end -- empty or blank means "not set", as upstream
    local ok, msg = lunar.util.quantity_valid(v)
    if not ok then return msg end
  end,
}

-- A Go duration such as "5m" or "1m30s" (empty: not set).
T.duration = {
  name = 'a duration (e.g. "5m", "1m30s")',
  check = function(v)
    if type(v) ~= "string" then return "expected a duration string such as \"5m\", got " .. describe(v) end
    if v == "" then return nil end
    if not require("lunar.stages.drivers").duration(v) then
      return string.format('"%s" is not a duration (e.g. "5m", "1m30s")', v)
    end
  end,
}

-- A regular expression for the *_overwrite_allowed gates (anchored by lunar).
T.regex = {
  name = "a regular expression",
  check = function(v)
    if type(v) ~= "string" then return "expected a regular expression string, got " .. describe(v) end
    if v == "" then return nil end
    local ok, msg = lunar.util.regex_valid(v)
    if not ok then return msg end
  end,
}

function T.enum(values)
  local set, list = {}, {}
  for _, v in ipairs(values) do set[v] = true; list[#list + 1] = string.format("%q", v) end
  return {
    name = "one of " .. table.concat(list, ", "),
    check = function(v)
      if not set[v] then return string.format("expected one of %s, got %s", table.concat(list, ", "), describe(v)) end
    end,
  }
end

local function is_list(v)
  if type(v) ~= "table" then return false end
  -- the common case: keys 1..n and nothing after them
  local n = #v
  if n > 0 and next(v, n) == nil then return true end
  n = 0
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 then return false end
    n = n + 1
  end
  return n == #v
end
T.is_list = is_list

function T.list(item)
  return {
    name = "a list of " .. item.name,
    item = item,
    check = function(v, path, ctx)
      if not is_list(v) then return "expected a list of " .. item.name .. ", got " .. describe(v) end
      for i, x in ipairs(v) do ctx.check(item, x, string.format("%s[%d]", path, i)) end
    end,
  }
end

-- A map with string keys and values of one type.
function T.map(value, key_check)
  return {
    name = "a map of " .. value.name,
    value = value,
    check = function(v, path, ctx)
      if type(v) ~= "table" or (next(v) ~= nil and is_list(v)) then
        return "expected a map (a table with string keys), got " .. describe(v)
      end
      for k, x in pairs(v) do
        if type(k) ~= "string" then
          ctx.fail(path, string.format("key %s is not a string", describe(k)))
        else
          if key_check then
            local msg = key_check(k)
            if msg then ctx.fail(path .. "." .. k, msg) end
          end
          ctx.check(value, x, path .. "." .. k)
        end
      end
    end,
  }
end

-- A table with known fields; `fields` maps name -> type. Unknown fields are
-- errors with a "did you mean" hint. `required` lists mandatory fields.
function T.record(fields, opts)
  opts = opts or {}
  return {
    name = opts.name or "a table",
    fields = fields,
    check = function(v, path, ctx)
      if type(v) ~= "table" or (next(v) ~= nil and is_list(v)) then
        return "expected " .. (opts.name or "a table with named fields") .. ", got " .. describe(v)
      end
      for k, x in pairs(v) do
        local ft = type(k) == "string" and fields[k]
        if not ft then
          ctx.unknown(path, k, fields)
        else
          ctx.check(ft, x, path == "" and k or (path .. "." .. k))
        end
      end
      for _, r in ipairs(opts.required or {}) do
        if v[r] == nil then ctx.fail(path == "" and r or (path .. "." .. r), "is required") end
      end
      if opts.validate then
        local msg = opts.validate(v)
        if msg then ctx.fail(path, msg) end
      end
    end,
  }
end

-- One of several types, tried in order.
function T.either(a, b)
  return {
    name = a.name .. " or " .. b.name,
    check = function(v, path, ctx)
      local sub = ctx.probe(a, v, path)
      if not sub then return nil end
      local sub2 = ctx.probe(b, v, path)
      if not sub2 then return nil end
      return string.format("expected %s or %s, got %s", a.name, b.name, describe(v))
    end,
  }
end

return T
