-- Integration harness for `lunar run`: starts the Kubernetes API server
-- double and the GitLab coordinator double, writes a runner entrypoint that
-- points at both, runs the real `lunar` binary in the background, and reads
-- back what each double recorded.
local lunar = require "lunar"
local kube = require "spec.kube.support"
local gitlab = require "gitlab_double"

local M = {}

local q = kube.q
M.q = q
M.kube, M.gitlab = kube, gitlab

local function sh(cmd)
  local p = io.popen(cmd)
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end
M.sh = sh

--- A runner entrypoint for the doubles. `extra` is Lua source spliced into
--- the top-level table (settings of the spec's own), `kextra` into kubernetes.
function M.entrypoint(env, extra, kextra)
  return string.format([[
local lunar = require "lunar"
return lunar.runner {
  name = "spec-runner",
  url = %q,
  token_file = %q,
  %s
  check_interval = 1,
  shutdown_timeout = 5,
  %s
  kubernetes = {
    host = %q, ca_file = %q, bearer_token_file = %q,
    namespace = "ci",
    image = "alpine:3.20",
    poll_timeout = 60,
    %s
  },
}
]], env.gitlab.url, env.dir .. "/runner-token",
    env.gitlab.ca_file and string.format("tls_ca_file = %q,", env.gitlab.ca_file) or "",
    extra or "", env.kube.url, env.kube.ca_file, env.kube.token_file, kextra or "")
end

--- Starts both doubles. opts: { tls = bool }
function M.setup(opts)
  opts = opts or {}
  local env = { dir = kube.tmpdir() }
  env.kube = kube.start()
  env.gitlab = gitlab.start { tls = opts.tls ~= false }
  kube.write_file(env.dir .. "/runner-token", env.gitlab.runner_token .. "\n")
  return env
end

function M.teardown(env)
  if not env then return end
  M.stop_runner(env)
  kube.stop(env.kube)
  gitlab.stop(env.gitlab)
  os.execute("rm -rf " .. q(env.dir))
end

--- Writes the entrypoint and starts `lunar run` in the background.
function M.start_runner(env, source, args)
  env.runner_path = env.dir .. "/runner.lua"
  kube.write_file(env.runner_path, source or M.entrypoint(env))
  env.log = env.dir .. "/runner.log"
  -- a shell waits for the runner and writes its exit status to env.status_file
  env.status_file = env.dir .. "/runner.status"
  local pid_file = env.dir .. "/runner.pid"
  os.remove(env.status_file)
  os.remove(pid_file)
  local cmd = string.format("env -u KUBECONFIG -u KUBERNETES_SERVICE_HOST %s run %s %s >>%s 2>&1 & p=$!; echo $p >%s; mv %s %s; wait $p; echo $? >%s",
    q(kube.bin), args or "", q(env.runner_path), q(env.log), q(pid_file .. ".tmp"), q(pid_file .. ".tmp"),
    q(pid_file), q(env.status_file))
  os.execute("(" .. cmd .. ") >/dev/null 2>&1 &")
  env.pid = M.eventually(function()
    local t = kube.read_file(pid_file)
    return t and t:match("%d+")
  end, 10)
  assert(env.pid, "lunar run did not start")
  return env.pid
end

--- The runner's exit status once it has exited (nil while it runs or when killed by the harness).
function M.exit_status(env)
  local t = kube.read_file(env.status_file or "")
  return t and tonumber(t:match("%d+"))
end

function M.alive(env)
  return env.pid and select(2, sh("kill -0 " .. env.pid .. " 2>/dev/null")) == 0
end

function M.signal(env, sig)
  if env.pid then os.execute("kill -" .. sig .. " " .. env.pid .. " 2>/dev/null") end
end

--- Waits (bounded) for the runner process to exit; returns its exit status or nil.
function M.wait_exit(env, seconds)
  for _ = 1, (seconds or 30) * 20 do
    if not M.alive(env) then
      env.pid = nil
      return true
    end
    os.execute("sleep 0.05")
  end
  return nil
end

function M.stop_runner(env)
  if env.pid then
    M.signal(env, "KILL")
    M.wait_exit(env, 5)
  end
end

function M.runner_log(env) return kube.read_file(env.log) or "" end

--- Pods of namespace ci (the kube double's view), by name.
function M.pods(env)
  local c = kube.client(env.kube)
  local list = c:list("pods")
  local out = {}
  for _, p in ipairs(list.items or {}) do out[#out + 1] = p.metadata.name end
  return out
end

function M.secrets(env)
  local c = kube.client(env.kube)
  local list = c:list("secrets", { label_selector = "lunar.dev/runner" })
  local out = {}
  for _, s in ipairs(list.items or {}) do out[#out + 1] = s.metadata.name end
  return out
end

--- Polls fn until truthy (bounded; returns nil on timeout).
function M.eventually(fn, seconds)
  for _ = 1, (seconds or 30) * 10 do
    local v = fn()
    if v then return v end
    os.execute("sleep 0.1")
  end
  return nil
end

--- Strips ANSI colours and section markers: what a person reads.
function M.plain(trace)
  trace = trace:gsub("section_%a+:%d+:[%w_%-%.]+\r\27%[0K", "")
  trace = trace:gsub("\27%[[%d;]*[mK]", "")
  return trace
end

--- The job's final record (raises with the runner's log when it never ends).
function M.final(env, id, seconds)
  local job, msg, rec = M.gitlab.wait_final(env.gitlab, id, seconds or 60)
  if not job then
    error(string.format("job %d did not reach a final state (%s; status %s); runner log:\n%s", id,
      tostring(msg), rec and rec.status or "?", M.runner_log(env)), 2)
  end
  return job
end

--- The job's last final update (state, failure_reason, exit_code, checksum_ok, ...).
function M.last_final(job)
  for i = #job.updates, 1, -1 do
    if job.updates[i].kind == "final" then return job.updates[i] end
  end
  return job.updates[#job.updates]
end

--- True once no Pod and no job Secret is left in namespace ci (bounded wait).
function M.nothing_left(env, seconds)
  return M.eventually(function() return #M.pods(env) == 0 and #M.secrets(env) == 0 end, seconds or 20)
end

--- kube_double requests (not watches) whose path names `pod_name`.
function M.kube_requests_of(env, pod_name)
  local out = {}
  for _, r in ipairs(M.kube.requests(env.kube)) do
    if r.path:find(pod_name, 1, true) or (r.name == pod_name) then out[#out + 1] = r end
  end
  return out
end

--- How often `needle` occurs in `text` (plain).
function M.count(text, needle)
  local n, i = 0, 1
  while true do
    local s, e = text:find(needle, i, true)
    if not s then return n end
    n, i = n + 1, e + 1
  end
end

--- Waits until the runner asks GitLab for jobs (its start-up is over).
function M.wait_polling(env, seconds)
  return M.eventually(function()
    for _, r in ipairs(M.gitlab.requests(env.gitlab)) do
      if r.path:find("/jobs/request$") then return true end
    end
  end, seconds or 20)
end

M.json = lunar.json
return M
