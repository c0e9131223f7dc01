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
  local cmd = string.format("%s run %s %s >>%s 2>&1 & echo $!", q(kube.bin), args or "",
    q(env.runner_path), q(env.log))
  local out = sh("env -u KUBECONFIG -u KUBERNETES_SERVICE_HOST " .. cmd)
  env.pid = out:match("%d+")
  return env.pid
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

M.json = lunar.json
return M
