-- Shared helpers for the Kubernetes client specs: start and stop the API
-- server test double (spec/support/kube_double/server.py), drive its fault
-- injection and read its request log, and run the real `lunar` binary with a
-- chosen environment (in-cluster, KUBECONFIG).
local lunar = require "lunar"

local M = {}

local root = os.getenv("LUNAR_SOURCE_DIR") or "."
M.root = root
M.bin = os.getenv("LUNAR_BIN") or (root .. "/build/lunar")

local function sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.q = sh_quote

local read_file = require("lunar.files").read
M.read_file = read_file

function M.write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

function M.tmpdir()
  local p = io.popen("mktemp -d /tmp/lunar-kube-spec.XXXXXX")
  local d = p:read("l")
  p:close()
  return d
end

--- Starts a double; returns a handle with the fields of ready.json (url,
--- ca_file, admin_token, restricted_token, client_cert, client_key,
--- kubeconfig, control) plus dir and pid.
function M.start()
  local dir = M.tmpdir()
  local cmd = string.format("python3 %s --state-dir %s --port 0 >%s/server.log 2>&1 & echo $!",
    sh_quote(root .. "/spec/support/kube_double/server.py"), sh_quote(dir), sh_quote(dir))
  local p = io.popen(cmd)
  local pid = p:read("l")
  p:close()
  local ready
  for _ = 1, 600 do
    ready = read_file(dir .. "/ready.json")
    if ready then break end
    os.execute("sleep 0.05")
  end
  if not ready then
    error("kube_double did not start: " .. (read_file(dir .. "/server.log") or "no log"))
  end
  local d = lunar.json.decode(ready)
  d.dir, d.pid = dir, pid
  return d
end

function M.stop(d)
  if not d then return end
  os.execute("kill " .. d.pid .. " 2>/dev/null; sleep 0.2; kill -9 " .. d.pid .. " 2>/dev/null")
  os.execute("rm -rf " .. sh_quote(d.dir))
end

-- A request to the double's control endpoint with the admin token (curl).
local function control(d, method, path, body)
  local cmd = string.format("curl -sS --cacert %s -H %s -X %s %s %s",
    sh_quote(d.ca_file), sh_quote("Authorization: Bearer " .. d.admin_token), method,
    body and ("-H 'Content-Type: application/json' --data-binary " .. sh_quote(body)) or "",
    sh_quote((d.control_url or d.control) .. path))
  local p = io.popen(cmd)
  local out = p:read("a")
  p:close()
  return lunar.json.decode(out)
end

--- Replaces the fault rules: faults(d, { rules = { {...}, ... } }); no
--- argument clears them.
function M.faults(d, spec)
  if not spec then return control(d, "DELETE", "faults") end
  return control(d, "PUT", "faults", lunar.json.encode(spec))
end

function M.compact(d) return control(d, "POST", "compact") end

--- The requests the double served, oldest first; optionally cleared after.
function M.requests(d) return control(d, "GET", "requests").items end
function M.clear_requests(d) control(d, "DELETE", "requests") end

--- Client settings for the double with a bearer token (admin by default);
--- `extra` adds settings, and a false value removes one.
function M.settings(d, extra)
  local s = { host = d.url, ca_file = d.ca_file, bearer_token = d.admin_token, namespace = "ci",
              retry_backoff_max = 500 }
  for k, v in pairs(extra or {}) do
    if v == false then s[k] = nil else s[k] = v end -- false removes a default
  end
  return s
end

function M.client(d, extra)
  return assert(lunar.kube.client(M.settings(d, extra)))
end

--- A Pod that runs `script` with sh (the double runs it as a local process).
function M.pod(name, script, labels)
  return {
    apiVersion = "v1", kind = "Pod",
    metadata = { name = name, labels = labels or { app = "lunar-spec" } },
    spec = { restartPolicy = "Never",
             containers = { { name = "main", image = "alpine:3.20", command = { "sh", "-c", script } } } },
  }
end

--- A Secret with one key, labelled.
function M.secret(name, labels)
  return { apiVersion = "v1", kind = "Secret",
           metadata = { name = name, labels = labels or { app = "lunar-spec" } },
           stringData = { script = "echo hi" } }
end

--- Waits (bounded) until Pod `name` reaches `phase`; returns the Pod or nil.
function M.wait_phase(c, name, phase)
  return M.eventually(function()
    local p = c:get("pods", name)
    return p and p.status and p.status.phase == phase and p
  end)
end

--- Runs `lunar lua <script>` with extra environment variables; returns
--- stdout, exit status.
function M.run_lunar(env, script_text)
  local dir = M.tmpdir()
  M.write_file(dir .. "/script.lua", script_text)
  local parts = {}
  for k, v in pairs(env) do parts[#parts + 1] = k .. "=" .. sh_quote(v) end
  local cmd = string.format("env -u KUBECONFIG -u KUBERNETES_SERVICE_HOST -u KUBERNETES_SERVICE_PORT %s %s lua %s 2>&1",
    table.concat(parts, " "), sh_quote(M.bin), sh_quote(dir .. "/script.lua"))
  local p = io.popen(cmd)
  local out = p:read("a")
  local _, _, status = p:close()
  os.execute("rm -rf " .. sh_quote(dir))
  return out, status
end

--- Polls fn() until it returns a truthy value (bounded; not a timing assertion).
function M.eventually(fn, tries)
  for _ = 1, tries or 200 do
    local v = fn()
    if v then return v end
    os.execute("sleep 0.05")
  end
  return nil
end

return M
