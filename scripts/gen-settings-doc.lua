-- Writes the README's settings reference and per-job overwrite tables from the
-- setting rows (lua/lunar/settings.lua), between the README's markers
--   <!-- BEGIN generated: settings --> ... <!-- END generated: settings -->
--   <!-- BEGIN generated: overwrites --> ... <!-- END generated: overwrites -->
--
--   lunar lua scripts/gen-settings-doc.lua README.md           rewrite the README
--   lunar lua scripts/gen-settings-doc.lua --check README.md   exit 1 when it is stale
local settings = require "lunar.settings"
local T = require "lunar.types"

local SIMPLE = { [T.string] = "string", [T.bool] = "bool", [T.int] = "int", [T.number] = "number",
  [T.quantity] = "quantity", [T.regex] = "regex" }

local function type_doc(r)
  if r.type_doc then return r.type_doc end
  local simple = SIMPLE[r.type]
  if simple then return simple end
  local name = r.type.name or ""
  if name:match("^one of ") then
    local out = {}
    for v in name:gmatch('"([^"]*)"') do if v ~= "" then out[#out + 1] = "`" .. v .. "`" end end
    return table.concat(out, ", ")
  end
  if r.type.item then return "list" end
  if r.type.value then return "map" end
  return "table"
end

local function default_doc(group)
  if group[1].default_doc then return group[1].default_doc end
  local out, any = {}, false
  for _, r in ipairs(group) do
    local d = r.default
    if d ~= nil then any = true end
    out[#out + 1] = d == nil and "unset" or type(d) == "string" and ("`" .. d .. "`") or tostring(d)
  end
  return any and table.concat(out, ", ") or ""
end

local function cell(s) return (s or ""):gsub("|", "\\|") end

-- Rows joined into README lines: a row with `join` goes with the one before.
local function groups(rows)
  local out = {}
  for _, r in ipairs(rows) do
    if r.join and #out > 0 then
      table.insert(out[#out], r)
    else
      out[#out + 1] = { r }
    end
  end
  return out
end

local function settings_table(lines, rows)
  lines[#lines + 1] = "| Setting | Type | Default | Meaning |"
  lines[#lines + 1] = "|---|---|---|---|"
  for _, g in ipairs(groups(rows)) do
    local keys = {}
    for _, r in ipairs(g) do keys[#keys + 1] = "`" .. r.key .. "`" end
    lines[#lines + 1] = string.format("| %s | %s | %s | %s |", table.concat(keys, ", "), cell(type_doc(g[1])),
      cell(default_doc(g)), cell(g[1].doc))
  end
end

local function resources_table(lines, rows)
  lines[#lines + 1] = "| Class | Settings (*quantity*) | Job variables |"
  lines[#lines + 1] = "|---|---|---|"
  for _, class in ipairs(settings.RESOURCE_CLASSES) do
    local keys, vars = {}, {}
    for _, r in ipairs(rows) do
      if r.class == class and r.overwrite then
        keys[#keys + 1] = "`" .. r.key .. "`"
        vars[#vars + 1] = "`" .. r.overwrite.var .. "`"
      end
    end
    lines[#lines + 1] = string.format("| %s | %s | %s |", class.name, table.concat(keys, ", "), table.concat(vars, ", "))
  end
end

local function settings_doc()
  local lines = {}
  for i, s in ipairs(settings.sections) do
    if i > 1 then lines[#lines + 1] = "" end
    lines[#lines + 1] = s.title
    lines[#lines + 1] = ""
    if s.intro then lines[#lines + 1] = s.intro; lines[#lines + 1] = "" end
    if s.resources then resources_table(lines, s.rows) else settings_table(lines, s.rows) end
    if s.outro then lines[#lines + 1] = ""; lines[#lines + 1] = s.outro end
    if s.unused_list then
      lines[#lines + 1] = ""
      for _, r in ipairs(settings.rows) do
        local u = r.unused
        if u and u.action then
          local when = u.inert ~= nil and string.format(" (unless %s)", tostring(u.inert)) or ""
          lines[#lines + 1] = string.format("- `%s`: %s%s: %s.", r.path, u.action == "refuse" and "refused" or "warns",
            when, u.why)
        end
      end
    end
  end
  return table.concat(lines, "\n")
end

local function overwrites_doc()
  local lines = { "| Variable | Gate | Value |", "|---|---|---|" }
  local resource
  for _, o in ipairs(settings.overwrites) do
    if o.kind == "resource" then
      resource = true
    else
      local var = o.var and ("`" .. o.var .. "`") or ("`" .. o.prefix .. "<any>`")
      local gate = o.kind == "bool" and ("`" .. o.gate .. " = true`")
          or o.kind == "map" and ("`" .. o.gate .. "` (regex on the value)") or ("`" .. o.gate .. "` (regex)")
      lines[#lines + 1] = string.format("| %s | %s | %s |", var, gate, cell(o.value))
    end
  end
  if resource then
    local classes, res, kinds = {}, {}, {}
    for _, c in ipairs(settings.RESOURCE_CLASSES) do if c.var ~= "" then classes[#classes + 1] = c.var end end
    for _, r in ipairs(settings.RESOURCES) do res[#res + 1] = r.var end
    for _, k in ipairs(settings.RESOURCE_KINDS) do kinds[#kinds + 1] = k.var end
    lines[#lines + 1] = string.format("| `KUBERNETES_[%s]{%s}_{%s}` | the setting's `_overwrite_max_allowed` | %s |",
      cell(table.concat(classes, "|")), table.concat(res, ","), table.concat(kinds, ","),
      "a quantity up to the cap (equal is allowed; units are compared, `1` > `500m`)")
  end
  return table.concat(lines, "\n")
end

local function splice(text, name, body)
  local begin = "<!-- BEGIN generated: " .. name .. " (scripts/gen-settings-doc.lua, from lua/lunar/settings.lua) -->"
  local finish = "<!-- END generated: " .. name .. " -->"
  local a = text:find(begin, 1, true)
  local b = text:find(finish, 1, true)
  if not a or not b or b < a then
    io.stderr:write(string.format("README: the markers of the generated %s are missing:\n%s\n%s\n", name, begin, finish))
    os.exit(2)
  end
  return text:sub(1, a + #begin - 1) .. "\n" .. body .. "\n" .. text:sub(b)
end

local check = arg[1] == "--check"
local path = check and arg[2] or arg[1]
if not path then
  io.stderr:write("usage: lunar lua scripts/gen-settings-doc.lua [--check] README.md\n")
  os.exit(2)
end
local f = assert(io.open(path, "rb"))
local text = f:read("a")
f:close()
local new = splice(splice(text, "settings", settings_doc()), "overwrites", overwrites_doc())
if check then
  if new ~= text then
    io.stderr:write(path .. ": the settings tables are stale (lua/lunar/settings.lua changed): run\n" ..
      "  build/lunar lua scripts/gen-settings-doc.lua " .. path .. "\n")
    os.exit(1)
  end
  return
end
if new ~= text then
  f = assert(io.open(path, "wb"))
  f:write(new)
  f:close()
end
