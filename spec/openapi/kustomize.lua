-- A small `kustomize build` for deploy/: enough of it to validate what
-- `kubectl apply -k deploy/` would send. Reads DIR/kustomization.yaml, loads
-- each resource (one object per file), makes the configMapGenerator ConfigMaps
-- (from files; without the name hash, which only renames), sets the namespace
-- and the labels, and prints a v1 List as JSON. Anything else it finds in the
-- kustomization is an error, so the validation never silently skips a feature.
-- usage: lunar lua spec/openapi/kustomize.lua DIR
local lunar = require "lunar"
local read = require("lunar.files").read

local dir = assert(arg[1], "usage: kustomize.lua DIR")

local function load_yaml(path)
  local text = assert(read(path))
  return assert(lunar.yaml.decode(text, path))
end

local k = load_yaml(dir .. "/kustomization.yaml")
local known = { apiVersion = true, kind = true, namespace = true, labels = true, resources = true, configMapGenerator = true }
for key in pairs(k) do assert(known[key], dir .. "/kustomization.yaml: " .. key .. " is not supported by this check") end
assert(k.apiVersion == "kustomize.config.k8s.io/v1beta1" and k.kind == "Kustomization", "not a Kustomization")

local items = {}
for _, file in ipairs(k.resources or {}) do items[#items + 1] = load_yaml(dir .. "/" .. file) end
for _, g in ipairs(k.configMapGenerator or {}) do
  local data = {}
  for _, file in ipairs(g.files or {}) do
    local key, path = file:match("^([^=]+)=(.+)$")
    key, path = key or file:match("[^/]+$"), path or file
    data[key] = assert(read(dir .. "/" .. path))
  end
  items[#items + 1] = { apiVersion = "v1", kind = "ConfigMap", metadata = { name = g.name }, data = data }
end
for _, obj in ipairs(items) do
  obj.metadata = obj.metadata or {}
  if k.namespace then obj.metadata.namespace = k.namespace end
  for _, l in ipairs(k.labels or {}) do
    obj.metadata.labels = obj.metadata.labels or {}
    for name, value in pairs(l.pairs or {}) do obj.metadata.labels[name] = value end
  end
end
io.stdout:write(assert(lunar.json.encode({ apiVersion = "v1", kind = "List", metadata = {}, items = lunar.json.array(items) }, { pretty = true })), "\n")
