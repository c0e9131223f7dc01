-- Shared by the busted specs: sample payloads, temporary runner files, and
-- rendering through the same `lunar` module production uses.
local lunar = require "lunar"
local config = require "lunar.config"

local H = {}

H.root = os.getenv("LUNAR_SOURCE_DIR") or "."
H.bin = os.getenv("LUNAR_BIN") or (H.root .. "/build/lunar")

function H.read(path) return assert(require("lunar.files").read(path)) end

function H.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

-- A fresh copy of an example's job payload (default: examples/basic).
function H.job(example)
  return assert(lunar.json.decode(H.read(H.root .. "/examples/" .. (example or "basic") .. "/job.json")))
end

-- Adds or replaces a job variable.
function H.setvar(job, key, value, extra)
  local v = { key = key, value = value, public = true }
  for k, x in pairs(extra or {}) do v[k] = x end
  job.variables[#job.variables + 1] = v
  return job
end

local tmpdir
function H.tmpdir()
  if not tmpdir then
    local p = io.popen("mktemp -d")
    tmpdir = p:read("l")
    p:close()
  end
  return tmpdir
end

local counter = 0
-- Writes `src` to a new runner file and loads it as lunar does; returns the
-- runner or nil, message, and the file's path.
function H.load(src)
  counter = counter + 1
  local path = string.format("%s/runner%d.lua", H.tmpdir(), counter)
  H.write(path, src)
  local r, err = config.load(path)
  return r, err, path
end

-- A runner with these kubernetes settings (namespace "ci" and an image by
-- default) and optional top-level settings.
function H.runner(k, top)
  local t = { name = "test" }
  for key, v in pairs(top or {}) do t[key] = v end
  t.kubernetes = { namespace = "ci", image = "alpine:3.20" }
  for key, v in pairs(k or {}) do t.kubernetes[key] = v end
  return lunar.runner(t)
end

-- Renders `job` (default: the basic example) under a runner with settings `k`.
-- Returns pod, warnings | nil, message.
function H.render(k, job, top)
  return lunar.render(H.runner(k, top), job or H.job())
end

function H.container(pod, name)
  for _, c in ipairs(pod.spec.containers) do
    if c.name == name then return c end
  end
  for _, c in ipairs(pod.spec.initContainers or {}) do
    if c.name == name then return c end
  end
end

-- The `name` fields of a list (containers, volumes, mounts).
function H.names(list)
  local out = {}
  for _, x in ipairs(list or {}) do out[#out + 1] = x.name end
  return out
end

function H.env(container, name)
  for _, e in ipairs(container.env or {}) do
    if e.name == name then return e.value end
  end
end

-- Runs a shell command; returns exit status, stdout, stderr.
function H.run(cmd)
  local out, err = os.tmpname(), os.tmpname()
  local ok, _, status = os.execute(cmd .. " >" .. out .. " 2>" .. err)
  local o, e = H.read(out), H.read(err)
  os.remove(out)
  os.remove(err)
  return ok and 0 or status, o, e
end

-- Quotes a string for /bin/sh.
function H.q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

return H
