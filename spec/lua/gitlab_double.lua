-- Busted support for the GitLab coordinator test double
-- (spec/support/gitlab_double/server.py): start and stop it, queue jobs, read
-- what the runner did to them, cancel them, inject faults, read the request
-- log, and make git repositories the jobs clone. JSON through lunar.json (the
-- C module), HTTP through curl, as spec/kube/support.lua does.
--
--   local gd = require "gitlab_double"
--   local h = gd.start { tls = false }
--   local id = gd.enqueue(h, { name = "build", script = { "make" } })
--   ... run lunar against h.url with h.runner_token ...
--   local job = gd.wait_final(h, id, 30)
--   gd.stop(h)
--
-- Control calls that the double refuses (400, 404) raise an error carrying
-- its message. Empty lists in a description must be lunar.json.array() (an
-- empty plain table is a JSON object).
local lunar = require "lunar"
local json = lunar.json

local M = {}

local root = os.getenv("LUNAR_SOURCE_DIR") or "."
M.root = root

--- The directory holding the gitlab-runner-helper stand-in (tests and demo
--- only). A stage script finds it when this directory leads its PATH.
M.helper_dir = root .. "/spec/support"

--- PATH for a job (a runner `environment` entry, "PATH=..."): the stand-in
--- helper first, then the PATH kube_double gives every container.
M.helper_path = M.helper_dir .. ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local read_file = require("lunar.files").read

local function write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function tmpdir()
  local p = io.popen("mktemp -d /tmp/lunar-gitlab-double.XXXXXX")
  local d = p:read("l")
  p:close()
  return d
end

--- Starts a double. opts: { tls = true } for HTTPS with its own CA. Returns
--- a handle with the fields of ready.json (url, port, runner_token,
--- control_url, repos_url, ca_file with tls, pid, state_dir) and dir.
function M.start(opts)
  opts = opts or {}
  local dir = tmpdir()
  local cmd = string.format("python3 %s --state-dir %s --port 0%s >%s/server.log 2>&1 & echo $!",
    q(root .. "/spec/support/gitlab_double/server.py"), q(dir), opts.tls and " --tls" or "", q(dir))
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
    error("gitlab_double did not start: " .. (read_file(dir .. "/server.log") or "no log"))
  end
  local h = json.decode(ready)
  h.dir, h.pid = dir, pid
  return h
end

--- Stops the double (SIGTERM, then SIGKILL) and removes its directory.
function M.stop(h)
  if not h then return end
  os.execute("kill " .. h.pid .. " 2>/dev/null; sleep 0.2; kill -9 " .. h.pid .. " 2>/dev/null")
  os.execute("rm -rf " .. q(h.dir))
end

--- The server's log (stderr), for failure messages.
function M.log(h) return read_file(h.dir .. "/server.log") or "" end

-- One control call: returns the decoded body and the HTTP status; raises
-- on a status other than `expect` (nil: any 2xx; false: any status).
local function control(h, method, path, body, expect)
  local data = ""
  if body ~= nil then
    local file = h.dir .. "/control-body.json"
    write_file(file, json.encode(body))
    data = "-H 'Content-Type: application/json' --data-binary @" .. q(file)
  end
  local cmd = string.format("curl -sS %s -X %s %s -w '\\n%%{http_code}' %s",
    h.ca_file and ("--cacert " .. q(h.ca_file)) or "", method, data, q(h.control_url .. path))
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  p:close()
  local text, code = out:match("^(.*)\n(%d%d%d)$")
  code = tonumber(code)
  if not code or code == 0 then error("gitlab_double: " .. method .. " " .. path .. ": " .. out, 3) end
  local ok, decoded = pcall(json.decode, text)
  if not ok then decoded = text end
  local wanted = expect == false or code == expect or (expect == nil and code >= 200 and code < 300)
  if not wanted then
    local msg = type(decoded) == "table" and decoded.message or text
    error(string.format("gitlab_double: %s %s: %d %s", method, path, code, tostring(msg)), 3)
  end
  return decoded, code
end
M.control = control

--- Queues a job: a short description (name, script, after_script, image,
--- services, variables, artifacts, cache, dependencies, timeout,
--- git_strategy, repo, ref, sha, depth, merge; see the double's README) or
--- { payload = <full payload> }. Returns its id, then its whole record
--- (token, payload).
function M.enqueue(h, desc)
  local job = control(h, "POST", "jobs", desc or {}, 201)
  return job.id, job
end

--- The job's record: status, picked, acked, cancel, failure_reason,
--- exit_code, trace (text), trace_bytes, trace_checksum, patches, updates,
--- artifacts, downloads, payload.
function M.job(h, id) return (control(h, "GET", "jobs/" .. id)) end

--- Every job (without payloads).
function M.jobs(h) return control(h, "GET", "jobs").items end

--- The raw bytes of the job's trace.
function M.trace(h, id)
  return (control(h, "GET", "jobs/" .. id .. "/trace"))
end

--- Waits until the job is success, failed or canceled: its record; or nil,
--- a message and the record when `timeout` seconds (default 30) pass first.
function M.wait_final(h, id, timeout)
  local body, code = control(h, "GET", string.format("jobs/%d/wait?timeout=%g", id, timeout or 30), nil, false)
  if code == 200 then return body end
  if code == 408 then return nil, body.message, body.job end
  error(string.format("gitlab_double: wait for job %d: %d %s", id, code, tostring(body.message or body)), 2)
end

--- Server-side cancel: graceful (the default; `canceling`, when the runner
--- declared cancel_gracefully) or hard (`canceled`). Returns the record.
function M.cancel(h, id, graceful)
  return (control(h, "POST", "jobs/" .. id .. "/cancel", { graceful = graceful ~= false }))
end

--- Replaces the fault rules: faults(h, { rules = {...}, settings = {...} })
--- or faults(h, { rule, rule }); no argument clears them.
function M.faults(h, spec)
  if not spec then return control(h, "DELETE", "faults") end
  if spec.rules == nil and spec.settings == nil then spec = { rules = spec } end
  if spec.rules and #spec.rules == 0 then spec.rules = json.array() end
  return control(h, "PUT", "faults", spec)
end

--- Changes settings (long_poll_seconds, trace_update_interval, trace_limit,
--- max_patch_bytes); returns them all.
function M.settings(h, s) return control(h, "PUT", "settings", s) end

--- The request log (API and git calls, not control calls), oldest first,
--- after sequence number `since`.
function M.requests(h, since)
  return control(h, "GET", "requests?since=" .. (since or 0)).items
end

function M.clear_requests(h) control(h, "DELETE", "requests") end

--- What the double knows of the runner: verified, system_ids, info, ...
function M.runner(h) return (control(h, "GET", "runner")) end

--- Creates (or adds a commit to) the bare repository `name` ("group/project")
--- with `files` (path -> text; false-y JSON null deletes). opts: branch,
--- message, executable (list of paths), commits (a list of { files, message }
--- instead of files). Returns { sha, shas, commits, branch, url, path,
--- project_id }.
function M.repo(h, name, files, opts)
  local spec = { name = name }
  for k, v in pairs(opts or {}) do spec[k] = v end
  if files ~= nil and spec.commits == nil then spec.files = files end
  return (control(h, "POST", "repos", spec, 201))
end

-- A runner-side API call with curl: status, decoded body (or text).
local function api(h, method, path, body, headers)
  local file = h.dir .. "/api-body.json"
  write_file(file, json.encode(body))
  local hs = { "-H 'Content-Type: application/json'" }
  for k, v in pairs(headers or {}) do hs[#hs + 1] = "-H " .. q(k .. ": " .. v) end
  local cmd = string.format("curl -sS %s -X %s %s --data-binary @%s -w '\\n%%{http_code}' %s 2>&1",
    h.ca_file and ("--cacert " .. q(h.ca_file)) or "", method, table.concat(hs, " "), q(file), q(h.url .. path))
  local p = io.popen(cmd)
  local out = p:read("a")
  p:close()
  local text, code = out:match("^(.*)\n(%d%d%d)$")
  local ok, decoded = pcall(json.decode, text or "")
  return tonumber(code), ok and decoded or text or out
end
M.api = api

--- Plays the runner for specs that run stage scripts without `lunar run`:
--- queues the job, takes it with POST /jobs/request and acks it. Returns the
--- id and the payload as handed out (dependencies resolved).
function M.take(h, desc)
  local id = M.enqueue(h, desc)
  local code, payload = api(h, "POST", "/api/v4/jobs/request", { token = h.runner_token })
  if code ~= 201 or payload.id ~= id then
    error(string.format("gitlab_double: take: jobs/request answered %s (another job queued first?)", tostring(code)), 2)
  end
  code = api(h, "PUT", "/api/v4/jobs/" .. id, { token = payload.token, state = "running" },
    { ["JOB-TOKEN"] = payload.token })
  if code ~= 200 then error("gitlab_double: take: the ack answered " .. tostring(code), 2) end
  return id, payload
end

--- Ends a taken job as the runner would: PUT state (success or failed).
function M.finish(h, id, token, state)
  return (api(h, "PUT", "/api/v4/jobs/" .. id, { token = token, state = state or "success" },
    { ["JOB-TOKEN"] = token }))
end

--- Runner settings pointing at the double (url, token, tls_ca_file, and an
--- `environment` PATH that leads with the helper stand-in), merged with
--- `extra`.
function M.runner_settings(h, extra)
  local s = { url = h.url, token = h.runner_token, tls_ca_file = h.ca_file,
              environment = { "PATH=" .. M.helper_path } }
  for k, v in pairs(extra or {}) do s[k] = v end
  return s
end

return M
