-- Writes what is derived from lua/lunar/permissions.lua: deploy/role.yaml and
-- the permissions table of README.md (between its permissions markers).
-- usage: build/lunar lua scripts/gen-permissions.lua   (from the repository root)
local lunar = require "lunar"
local permissions = require "lunar.permissions"
local files = require "lunar.files"

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  assert(f:write(text))
  f:close()
end

local role = assert(lunar.yaml.encode(permissions.role("lunar")))
write("deploy/role.yaml", "# Generated from lua/lunar/permissions.lua by scripts/gen-permissions.lua: do not edit.\n"
  .. "# What lunar needs in the job namespace, and nothing else (no pods/exec, no pods/attach).\n" .. role)

local readme = assert(files.read("README.md"))
local begin, finish = "<!-- permissions:begin -->\n", "<!-- permissions:end -->"
local a = assert(readme:find(begin, 1, true), "README.md has no permissions:begin marker")
local b = assert(readme:find(finish, a, true), "README.md has no permissions:end marker")
write("README.md", readme:sub(1, a + #begin - 1) .. permissions.markdown() .. readme:sub(b))
print("wrote deploy/role.yaml and the README's permissions table")
