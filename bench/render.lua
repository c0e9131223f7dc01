-- Render throughput: for each example, renders the job's objects under its
-- runner N times and prints the mean time per job, split into
--   pod     the Pod itself: payload checks, policies, variables, overwrites,
--           the C builder and the pod_spec entries (what the architecture's
--           "Pod render with policies" budget names)
--   scripts the stage scripts and the job Secret (lunar.stages.plan)
--   total   both: everything lunar computes for a job before any request
-- Run through the real binary: lunar lua bench/render.lua [N]
local lunar = require "lunar"
local config = require "lunar.config"
local render = require "lunar.render"
local stages = require "lunar.stages"
local payloads = require "lunar.payload"

local root = (arg and arg[0] or "bench/render.lua"):match("^(.*)/bench/[^/]+$") or "."
local n = tonumber(arg and arg[1]) or 2000

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function per_call(fn)
  for _ = 1, n // 10 do fn() end -- warm up
  collectgarbage()
  local t0 = os.clock()
  for _ = 1, n do fn() end
  return (os.clock() - t0) / n * 1e6
end

local examples = { "basic", "postgres-service", "gpu-pool", "arm64", "host-volumes", "docker-in-docker", "werf-rootless" }
local sum = { pod = 0, scripts = 0, total = 0 }
print(string.format("%-18s %10s %10s %10s", "example", "pod µs", "scripts µs", "total µs"))
for _, name in ipairs(examples) do
  local dir = root .. "/examples/" .. name
  local runner = assert(config.load(dir .. "/runner.lua"))
  local payload = assert(lunar.json.decode(read(dir .. "/job.json")))
  local r = render.render_objects(runner, payload)
  local settings = {}
  for k, v in pairs(r.settings) do settings[k] = v end
  local total = per_call(function() render.render_objects(runner, payload) end)
  local view = payloads.view(payload)
  local scripts = per_call(function() stages.plan(payload, {}, settings, { validated = true, job = view }) end)
  local pod = total - scripts
  sum.pod, sum.scripts, sum.total = sum.pod + pod, sum.scripts + scripts, sum.total + total
  print(string.format("%-18s %10.1f %10.1f %10.1f", name, pod, scripts, total))
end
print(string.format("%-18s %10.1f %10.1f %10.1f", "mean", sum.pod / #examples, sum.scripts / #examples, sum.total / #examples))
