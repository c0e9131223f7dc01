-- Test support for the stage scripts: runs a lunar.stages plan on this
-- machine the way its Pod would run it. A temporary directory stands in for
-- the Pod's volumes (builds, scripts, logs, cache); plan.files are written
-- into the scripts dir as the Secret volume would show them; the containers
-- run in plan order as local processes with /bin/sh: init containers one
-- after the other (the first failure stops the Pod), then build and helper
-- side by side. Commands and env values get Kubernetes' $(VAR)/$$ expansion.
--
-- Fakes on PATH: `gitlab-runner-helper` records every call, `git` records
-- every call and runs the real git, `git-lfs` (optional) records its calls.
-- A record is one file of NUL-terminated fields: the working directory, then
-- the arguments.
local shell = require "lunar.shell"
local H = require "helper"

local M = {}

local q = shell.quote
M.q = q

function M.exec(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

function M.must(cmd)
  local out, code = M.exec(cmd)
  if code ~= 0 then error(string.format("command failed (%d): %s\n%s", code, cmd, out), 2) end
  return out
end

function M.write(path, content, mode)
  H.write(path, content)
  if mode then M.must("chmod " .. mode .. " " .. q(path)) end
end

M.read = require("lunar.files").read

-- Whether a file or directory exists (no process: the specs poll with it).
function M.exists(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

function M.sleep(s) os.execute("sleep " .. s) end

local REAL_GIT = M.must("command -v git"):gsub("%s+$", "")

local RECORDER = [[
d=%s
mkdir -p "$d"
n=$(ls "$d" | wc -l)
f="$d/$(printf '%%05d' "$n")"
{ printf '%%s\0' "$PWD"; for a in "$@"; do printf '%%s\0' "$a"; done; } > "$f.tmp" && mv "$f.tmp" "$f"
]]

-- A fresh "node": a root dir with the fakes, a HOME with a git config, and
-- the paths of a layout inside it.
function M.node()
  local root = M.must("mktemp -d /tmp/lunar-stages.XXXXXX"):gsub("%s+$", "")
  local n = { root = root, bin = root .. "/bin", lfsbin = root .. "/lfsbin", home = root .. "/home" }
  M.must("mkdir -p " .. shell.words { n.bin, n.lfsbin, n.home, root .. "/run" })
  M.write(n.bin .. "/gitlab-runner-helper", "#!/bin/sh\n"
    .. 'case "$1" in --version) echo "gitlab-runner-helper (fake)"; exit 0 ;; esac\n'
    .. RECORDER:format(q(root .. "/calls/helper"))
    .. 'if [ -e ' .. q(root .. "/fail") .. '/"$1" ]; then echo "fake helper: $1 failed" >&2; exit 1; fi\n'
    .. 'echo "fake helper: $1 ok"\n', "755")
  M.write(n.bin .. "/git", "#!/bin/sh\n" .. RECORDER:format(q(root .. "/calls/git"))
    .. "exec " .. q(REAL_GIT) .. ' "$@"\n', "755")
  M.write(n.lfsbin .. "/git-lfs", "#!/bin/sh\n" .. RECORDER:format(q(root .. "/calls/lfs"))
    .. 'case "$1" in version) echo "git-lfs/3.4.0 (fake)" ;; esac\n', "755")
  return n
end

-- Runs git for test setup with the node's HOME.
function M.git(n, dir, args)
  return M.must("cd " .. q(dir) .. " && HOME=" .. q(n.home) .. " " .. q(REAL_GIT) .. " " .. shell.words(args))
      :gsub("%s+$", "")
end

-- The layout of a Pod on this node (paths of its volumes).
function M.layout(n, extra)
  local l = {
    builds_dir = n.root .. "/builds",
    scripts_dir = n.root .. "/scripts",
    status_dir = n.root .. "/logs",
    cache_dir = n.root .. "/cache",
    poll_interval = 0.05,
    runner_name = "lunar-test",
  }
  for k, v in pairs(extra or {}) do l[k] = v end
  return l
end

-- Kubernetes' expansion of command and env text: $(NAME) from env, $$ -> $.
function M.kube_expand(s, env)
  return (s:gsub("%$(%b())", function(ref)
    local name = ref:sub(2, -2)
    return env[name] or ("$" .. ref)
  end):gsub("%$%$", "$"))
end

-- Writes plan.files the way a Secret volume shows them (fresh, read-only).
function M.mount_secret(plan)
  local dir = plan.layout.scripts_dir
  M.must("rm -rf " .. q(dir) .. " && mkdir -p " .. q(dir))
  for key, content in pairs(plan.files) do
    assert(key:match("^[-._a-zA-Z0-9]+$"), "bad Secret key " .. key)
    M.write(dir .. "/" .. key, content, "444")
  end
end

local function env_of(n, plan, c, opts)
  local env, order = {}, {}
  local function set(k, v)
    if env[k] == nil then order[#order + 1] = k end
    env[k] = v
  end
  local path = n.bin .. (opts.lfs and (":" .. n.lfsbin) or "") .. ":/usr/local/bin:/usr/bin:/bin"
  set("PATH", opts.path or path)
  set("HOME", n.home)
  set("HOSTNAME", "lunar-test-pod")
  if c.name == "build" then
    for _, e in ipairs(plan.env) do
      -- a value read from the job Secret (secretKeyRef) is taken as it is
      if e.secret_key then set(e.name, plan.files[e.secret_key]) else set(e.name, M.kube_expand(e.value, env)) end
    end
  end
  local words = {}
  for _, k in ipairs(order) do words[#words + 1] = q(k .. "=" .. env[k]) end
  return table.concat(words, " "), env
end

-- Starts a container in the background; returns a handle { name, log, rc, pid }.
function M.start(n, plan, c, opts)
  opts = opts or {}
  local envwords, env = env_of(n, plan, c, opts)
  local argv = {}
  for i, a in ipairs(c.command) do argv[i] = M.kube_expand(a, env) end
  local base = n.root .. "/run/" .. c.name
  local h = { name = c.name, log = base .. ".log", rc = base .. ".rc", pidfile = base .. ".pid" }
  M.must("rm -f " .. shell.words { h.log, h.rc, h.pidfile })
  local inner = "env -i " .. envwords .. " " .. shell.words(argv) .. " > " .. q(h.log) .. " 2>&1 & "
      .. "echo $! > " .. q(h.pidfile) .. "; wait $!; echo $? > " .. q(h.rc .. ".tmp")
      .. " && mv " .. q(h.rc .. ".tmp") .. " " .. q(h.rc)
  M.must("(" .. inner .. ") </dev/null >/dev/null 2>&1 &")
  for _ = 1, 200 do
    local pid = M.read(h.pidfile)
    if pid and pid:match("%d") then
      h.pid = tonumber(pid:match("%d+"))
      n.pids = n.pids or {}
      n.pids[#n.pids + 1] = h.pid
      break
    end
    M.sleep(0.01)
  end
  return h
end

function M.done(h) return M.exists(h.rc) end

-- Waits for a container to end (at most `timeout` seconds); returns its
-- exit code and log.
function M.wait(h, timeout)
  local deadline = os.time() + (timeout or 20)
  while not M.done(h) do
    if os.time() > deadline then
      os.execute("kill -KILL " .. h.pid .. " 2>/dev/null")
      error("container " .. h.name .. " did not end in time; log:\n" .. (M.read(h.log) or ""), 2)
    end
    M.sleep(0.02)
  end
  return tonumber(M.read(h.rc):match("%d+")), M.read(h.log) or ""
end

-- Runs the whole Pod. Returns { codes = { [container] = exit code },
-- logs = { [container] = output }, log = all output in container order,
-- ran = { container names } }.
function M.run(n, plan, opts)
  M.mount_secret(plan)
  local r = { codes = {}, logs = {}, ran = {} }
  local function record(name, code, log)
    r.codes[name], r.logs[name] = code, log
    r.ran[#r.ran + 1] = name
  end
  local main = {}
  for _, c in ipairs(plan.containers) do
    if c.init then
      local code, log = M.wait(M.start(n, plan, c, opts))
      record(c.name, code, log)
      if code ~= 0 then
        r.log = M.joined(r)
        return r
      end
    else
      main[#main + 1] = c
    end
  end
  local handles = {}
  for i = #main, 1, -1 do handles[i] = M.start(n, plan, main[i], opts) end -- helper first: it must wait
  for i, h in ipairs(handles) do
    local code, log = M.wait(h)
    record(main[i].name, code, log)
  end
  r.log = M.joined(r)
  return r
end

function M.joined(r)
  local parts = {}
  for _, name in ipairs(r.ran) do parts[#parts + 1] = r.logs[name] end
  return table.concat(parts)
end

-- The recorded calls of a fake ("helper", "git", "lfs"): { { pwd, args... } }.
function M.calls(n, which)
  local dir = n.root .. "/calls/" .. which
  local out = {}
  local list = M.exec("if [ -d " .. q(dir) .. " ]; then ls " .. q(dir) .. "; fi")
  for name in list:gmatch("%S+") do
    local data = M.read(dir .. "/" .. name) or ""
    local fields = {}
    for field in data:gmatch("([^%z]*)%z") do fields[#fields + 1] = field end
    out[#out + 1] = fields
  end
  return out
end

-- The calls of a fake whose first argument is `sub`, each as its argument list.
function M.calls_of(n, which, sub)
  local out = {}
  for _, call in ipairs(M.calls(n, which)) do
    if call[2] == sub then
      local args = {}
      for i = 2, #call do args[#args + 1] = call[i] end
      args.pwd = call[1]
      out[#out + 1] = args
    end
  end
  return out
end

function M.clear_calls(n) M.must("rm -rf " .. q(n.root .. "/calls")) end

-- Kills the containers a test left running.
function M.kill_all(n)
  for _, pid in ipairs(n.pids or {}) do os.execute("kill -KILL " .. pid .. " 2>/dev/null") end
  n.pids = {}
end

-- Forgets everything a previous Pod left on the node: processes, volumes,
-- calls, faults.
function M.fresh(n)
  M.kill_all(n)
  local dirs = {}
  for i, d in ipairs { "builds", "scripts", "logs", "cache", "calls", "fail", "run" } do dirs[i] = n.root .. "/" .. d end
  M.must("rm -rf " .. shell.words(dirs) .. " && mkdir -p " .. q(n.root .. "/run"))
end

-- Makes the fake helper fail its `sub` command (cache-extractor, ...).
function M.fail_helper(n, sub)
  M.must("mkdir -p " .. q(n.root .. "/fail") .. " && touch " .. q(n.root .. "/fail/" .. sub))
end

-- The git calls whose subcommand (after the -c options) is `sub`.
function M.git_calls(n, sub)
  local out = {}
  for _, call in ipairs(M.calls(n, "git")) do
    local i = 2
    while call[i] == "-c" do i = i + 2 end
    if call[i] == sub then
      local args = { pwd = call[1], config = {} }
      for j = 2, i - 1, 2 do args.config[#args.config + 1] = call[j + 1] end
      for j = i, #call do args[#args + 1] = call[j] end
      out[#out + 1] = args
    end
  end
  return out
end

-- The files written and touched by hostile values would land in one of these.
function M.pwned(n)
  local found = M.exec("find " .. q(n.root) .. " -name 'pwned*' 2>/dev/null; find /tmp . -maxdepth 1 -name 'pwned*' 2>/dev/null")
  return (found:gsub("%s+$", ""))
end

function M.cleanup(n)
  if n then M.kill_all(n) end
  if n and n.root:match("^/tmp/lunar%-stages%.") then os.execute("rm -rf " .. q(n.root)) end
end

return M
