-- The job lifecycle's budgets (ARCHITECTURE.md, issue 9), measured against the
-- test doubles with the Kubernetes double in scripted mode: containers print
-- scripted lines without running processes, so what is measured is lunar's
-- own cost, not the machine's. The job stands for GitLab Runner's reference
-- job `echo; uname -a; sleep 5`: the build container prints 3 lines over 5 s.
--
--   requests  Kubernetes API requests per job (the double's request log), for a
--             5-second and a 60-second job (no per-job polling: the same count)
--   latency   job handed out -> final state accepted, minus the Pod's start and
--             the script; first output: printed -> stored by GitLab
--   memory    RSS idle, with 5 jobs running, and with N concurrent jobs
--   cpu       CPU seconds of the lunar process per job (20 short jobs)
--
-- usage: lunar lua bench/lifecycle.lua [N concurrent jobs, default 200]
local H = require "run_harness"
local json = H.json

local N = tonumber(arg and arg[1]) or 200

local function say(fmt, ...) io.stdout:write(string.format(fmt, ...), "\n") io.stdout:flush() end

local function rss_kib(pid)
  local f = io.open("/proc/" .. pid .. "/status")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)"))
end

local function cpu_seconds(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  local fields = {}
  for v in s:gsub("^.-%) ", ""):gmatch("%S+") do fields[#fields + 1] = v end
  local hz = tonumber((H.sh("getconf CLK_TCK"))) or 100
  return (tonumber(fields[12]) + tonumber(fields[13])) / hz -- utime + stime
end

local function kube_settings(env, s) return H.kube.faults(env.kube, { rules = {}, settings = s }) end

local function wait_all(env, ids, seconds)
  local out = {}
  for _, id in ipairs(ids) do
    local job = H.gitlab.wait_final(env.gitlab, id, seconds)
    assert(job, "job " .. id .. " did not finish; runner log:\n" .. H.runner_log(env):sub(-3000))
    out[#out + 1] = job
  end
  return out
end

local function enqueue(env, n, name)
  local ids = {}
  for i = 1, n do
    ids[i] = H.gitlab.enqueue(env.gitlab, { name = name .. "-" .. i, git_strategy = "none", script = { "echo" } })
  end
  return ids
end

local env = H.setup { tls = false }
local ok, err = pcall(function()
  kube_settings(env, { scripted_output = 1, scripted_build_seconds = 5, scripted_build_lines = 3 })
  H.gitlab.settings(env.gitlab, { trace_update_interval = 3, long_poll_seconds = 5 })
  -- started here rather than through the spec harness: the benchmark needs only the pid
  env.runner_path, env.log = env.dir .. "/runner.lua", env.dir .. "/runner.log"
  H.kube.write_file(env.runner_path, H.entrypoint(env, "concurrent = " .. math.max(N, 10) .. ", request_concurrency = 8,",
    "poll_timeout = 300,"))
  env.pid = H.sh(string.format("env -u KUBECONFIG -u KUBERNETES_SERVICE_HOST %s run %s >%s 2>&1 & echo $!",
    H.q(H.kube.bin), H.q(env.runner_path), H.q(env.log))):match("%d+")
  assert(H.eventually(function() return H.runner_log(env):find("starting") end, 20), "the runner did not start")
  os.execute("sleep 2")
  local idle = rss_kib(env.pid)
  say("lunar %s, %s", H.sh(H.q(H.kube.bin) .. " version"):gsub("%s+$", ""), os.date("!%Y-%m-%d"))
  say("memory: RSS idle %.1f MB", idle / 1024)

  -- one 5-second job: requests, latency, first output
  local function one(seconds)
    kube_settings(env, { scripted_output = 1, scripted_build_seconds = seconds, scripted_build_lines = 3 })
    H.kube.clear_requests(env.kube)
    local id = enqueue(env, 1, "single-" .. seconds)[1]
    local job = wait_all(env, { id }, seconds + 60)[1]
    assert(job.status == "success", "the job failed:\n" .. job.trace)
    os.execute("sleep 1") -- the Pod's delete goes out beside the final update
    local n, what = 0, {}
    for _, r in ipairs(H.kube.requests(env.kube)) do
      if r.namespace == "ci" and not r.watch and r.resource ~= nil then
        n = n + 1
        local sub = type(r.subresource) == "string" and r.subresource ~= "" and ("/" .. r.subresource) or ""
        what[#what + 1] = r.verb .. " " .. r.resource .. sub
      end
    end
    return job, n, table.concat(what, ", ")
  end
  local job, n5, what = one(5)
  local _, n60 = one(60)
  say("requests: %d Kubernetes API requests for a 5-second job, %d for a 60-second job (budget: at most 7, the same)", n5, n60)
  say("requests: %s", what)

  -- latency: handed out -> final; the first line's print time is in its text
  local total = job.finished - job.picked_at
  local first_print = tonumber(job.trace:match("build line 1 t=([%d%.]+)"))
  local first_seen
  local pos = job.trace:find("build line 1", 1, true)
  for _, p in ipairs(job.patches) do
    local stored = p.status == 202 and type(p.range) == "string" and tonumber(p.range:match("%-(%d+)$"))
    if pos and stored and stored >= pos + 12 then
      first_seen = p.time
      break
    end
  end
  local log = H.runner_log(env)
  local waited = tonumber(log:match("job=" .. job.id .. " Pod %S+ running after ([%d%.]+) s")) or 0
  say("latency: handed out -> final state %.2f s = Pod start %.2f s + script 5 s + %.2f s (budget: at most 0.5 s)",
    total, waited, total - waited - 5)
  if first_print and first_seen then
    say("latency: first script output stored by GitLab %.2f s after it was printed (budget: within 1 s)", first_seen - first_print)
  end

  -- memory with 5 jobs
  kube_settings(env, { scripted_output = 1, scripted_build_seconds = 8, scripted_build_lines = 3 })
  local ids = enqueue(env, 5, "five")
  os.execute("sleep 5")
  local five = rss_kib(env.pid)
  wait_all(env, ids, 120)
  say("memory: RSS with 5 jobs running %.1f MB (%.0f KiB per job)", five / 1024, (five - idle) / 5)

  -- CPU per job
  kube_settings(env, { scripted_output = 1, scripted_build_seconds = 0.5, scripted_build_lines = 3 })
  local c0 = cpu_seconds(env.pid)
  ids = enqueue(env, 20, "cpu")
  wait_all(env, ids, 300)
  local c1 = cpu_seconds(env.pid)
  say("cpu: %.1f ms per job (20 jobs; budget: at most 10 ms)", (c1 - c0) / 20 * 1000)

  -- N concurrent jobs
  kube_settings(env, { scripted_output = 1, scripted_build_seconds = 60, scripted_build_lines = 6 })
  local t0 = os.time()
  ids = enqueue(env, N, "many")
  local peak, most = 0, 0
  for _ = 1, 600 do
    local r = rss_kib(env.pid) or 0
    if r > peak then peak = r end
    local log, started, ended = H.runner_log(env), 0, 0
    for _ in log:gmatch("running after") do started = started + 1 end
    for _ in log:gmatch("job finished") do ended = ended + 1 end
    if started - ended > most then most = started - ended end
    if os.time() - t0 > 90 then break end
    os.execute("sleep 1")
  end
  local done = wait_all(env, ids, 600)
  local failed = 0
  for _, j in ipairs(done) do if j.status ~= "success" then failed = failed + 1 end end
  say("concurrency: %d jobs queued at once, %d of their Pods running at the same time: %d failed, peak RSS %.1f MB (%.0f KiB per job)",
    N, most, failed, peak / 1024, (peak - idle) / math.max(most, 1))
end)
H.teardown(env)
if not ok then
  io.stderr:write("bench/lifecycle: ", tostring(err), "\n")
  os.exit(1)
end
