-- Pod render throughput: renders each example's job under its runner (policies,
-- overwrites, the C builder, pod_spec entries) N times and prints the mean
-- time per render. Run through the real binary: lunar lua bench/render.lua [N]
local lunar = require "lunar"
local config = require "lunar.config"

local root = (arg and arg[0] or "bench/render.lua"):match("^(.*)/bench/[^/]+$") or "."
local n = tonumber(arg and arg[1]) or 2000

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local examples = { "basic", "postgres-service", "gpu-pool", "arm64", "host-volumes", "docker-in-docker", "werf-rootless" }
local total, count = 0, 0
print(string.format("%-18s %12s", "example", "µs/render"))
for _, name in ipairs(examples) do
  local dir = root .. "/examples/" .. name
  local runner = assert(config.load(dir .. "/runner.lua"))
  local payload = assert(lunar.json.decode(read(dir .. "/job.json")))
  local ok = lunar.render(runner, payload)
  if ok then
    for _ = 1, n // 10 do lunar.render(runner, payload) end -- warm up
    local t0 = os.clock()
    for _ = 1, n do assert(lunar.render(runner, payload)) end
    local us = (os.clock() - t0) / n * 1e6
    total, count = total + us, count + 1
    print(string.format("%-18s %12.1f", name, us))
  else
    print(string.format("%-18s %12s", name, "skipped"))
  end
end
print(string.format("%-18s %12.1f", "mean", total / count))
