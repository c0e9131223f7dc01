-- `lunar doctor`, run as the real binary against the Kubernetes API server
-- double and the GitLab double: one fault at a time, each message checked.
local lunar = require "lunar"
local S = require "spec.kube.support"

local root = S.root

-- Starts the GitLab double; returns { url, runner_token, pid, dir }.
local function start_gitlab()
  local dir = S.tmpdir()
  local server = root .. "/spec/support/gitlab_double/server.py"
  local p = io.popen(string.format("python3 %s --state-dir %s --port 0 >%s/log 2>&1 & echo $!", S.q(server), S.q(dir), S.q(dir)))
  local pid = p:read("l")
  p:close()
  local ready = S.eventually(function() return S.read_file(dir .. "/ready.json") end, 400)
  assert(ready, "GitLab stand-in did not start: " .. tostring(S.read_file(dir .. "/log")))
  local g = lunar.json.decode(ready)
  g.dir, g.pid = dir, pid
  return g
end

local function lua_value(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" then return tostring(v) end
  local parts = {}
  if #v > 0 then
    for _, x in ipairs(v) do parts[#parts + 1] = lua_value(x) end
  else
    for k, x in pairs(v) do parts[#parts + 1] = string.format("[%q] = %s", k, lua_value(x)) end
  end
  return "{ " .. table.concat(parts, ", ") .. " }"
end

describe("lunar doctor", function()
  local d, g, dir
  setup(function()
    d = S.start()
    g = start_gitlab()
    dir = S.tmpdir()
    S.write_file(dir .. "/token", g.runner_token .. "\n")
    S.write_file(dir .. "/bad-runner-token", "glrt-wrong\n")
    S.write_file(dir .. "/restricted", d.restricted_token)
    S.write_file(dir .. "/bad-kube-token", "not-a-token")
  end)
  teardown(function()
    S.stop(d)
    if g then os.execute("kill " .. g.pid .. " 2>/dev/null; rm -rf " .. S.q(g.dir)) end
    if dir then os.execute("rm -rf " .. S.q(dir)) end
  end)

  local count = 0
  -- Writes a runner whose kubernetes settings are the double's, changed by
  -- `k` (false removes a key), and top-level settings changed by `top`.
  local function runner(k, top)
    local kube = { host = d.url, ca_file = d.ca_file, bearer_token_file = d.token_file, namespace = "ci", image = "alpine:3.20" }
    for key, v in pairs(k or {}) do kube[key] = v or nil end
    local t = { name = "doctor", url = g.url, token_file = dir .. "/token" }
    for key, v in pairs(top or {}) do t[key] = v or nil end
    local lines = { "local lunar = require \"lunar\"", "return lunar.runner {" }
    for key, v in pairs(t) do lines[#lines + 1] = string.format("  %s = %s,", key, lua_value(v)) end
    lines[#lines + 1] = "  kubernetes = {"
    for key, v in pairs(kube) do lines[#lines + 1] = string.format("    %s = %s,", key, lua_value(v)) end
    lines[#lines + 1] = "  },"
    lines[#lines + 1] = "}"
    count = count + 1
    local path = string.format("%s/runner%d.lua", dir, count)
    S.write_file(path, table.concat(lines, "\n") .. "\n")
    return path
  end

  -- Runs doctor; returns exit status, stdout, and the checks by id (json).
  local function doctor(path, flags)
    local p = io.popen(string.format("env -u KUBECONFIG -u KUBERNETES_SERVICE_HOST %s doctor %s %s 2>&1; echo \"exit=$?\"",
      S.q(S.bin), flags or "", S.q(path)))
    local text = p:read("a")
    p:close()
    local code = tonumber(text:match("exit=(%d+)\n$"))
    return code, (text:gsub("exit=%d+\n$", ""))
  end

  local function checks(path, flags)
    local status, out = doctor(path, "--format json " .. (flags or ""))
    local report = assert(lunar.json.decode(out), out)
    local by = {}
    for _, c in ipairs(report.checks) do
      by[c.id] = by[c.id] or c
      if c.status == "problem" then by[c.id] = c end
    end
    return status, by, report
  end

  it("passes everything on a healthy set-up, one line per check, and exits 0", function()
    local path = runner()
    local status, out = doctor(path, "--probe")
    assert.equal(0, status, out)
    assert.matches("^ok       entrypoint: " .. path:gsub("%p", "%%%0") .. " is valid\n", out)
    assert.matches("ok       connection: " .. d.url:gsub("%p", "%%%0") .. " from settings %(kubernetes%.host%), namespace ci\n", out)
    assert.matches("ok       tls: the API server's certificate is trusted (CA " .. d.ca_file .. "); Kubernetes v1.30", out, 1, true)
    assert.matches("ok       identity: the API server sees " .. d.admin_user .. "\n", out, 1, true)
    assert.matches("ok       namespace: namespace ci exists\n", out, 1, true)
    assert.matches("ok       permissions: all 12 permissions lunar uses are granted in namespace ci\n", out, 1, true)
    -- the double's admin may do anything: a least-privilege warning, not a failure
    assert.matches("warning  permissions: " .. d.admin_user .. " may also create pods/exec, which lunar never uses", out, 1, true)
    assert.matches("ok       probe: a Pod with alpine:3.20, [^\n]*gitlab%-runner%-helper[^\n]* started in %d+ s\n", out)
    assert.matches("ok       gitlab: " .. g.url .. " accepts the runner token (runner 73)\n", out, 1, true)
    assert.matches("all checks passed\n$", out)
    -- the probe Pod is gone
    local c = S.client(d)
    local list = assert(c:list("pods", { label_selector = "app.kubernetes.io/name=lunar-doctor" }))
    assert.equal(0, #list.items)
  end)

  it("wrong CA: names the CA problem and where to get the right file; goes on with GitLab", function()
    local status, by = checks(runner { ca_file = d.client_cert })
    assert.equal(1, status)
    assert.equal("problem", by.tls.status)
    assert.matches("the API server's certificate is not trusted", by.tls.message, 1, true)
    assert.matches("set kubernetes.ca_file to the CA bundle that signed the API server's certificate", by.tls.fix, 1, true)
    assert.matches("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", by.tls.fix, 1, true)
    assert.matches("certificate-authority-data", by.tls.fix, 1, true)
    assert.equal("skipped", by.permissions.status)
    assert.equal("ok", by.gitlab.status)
  end)

  it("no token: says that no credentials were sent", function()
    local status, by = checks(runner { bearer_token_file = false })
    assert.equal(1, status)
    assert.equal("problem", by.identity.status)
    assert.equal("Unauthorized (401): no credentials were sent: kubernetes.host is set without bearer_token_file, bearer_token or cert_file", by.identity.message)
    assert.matches("set kubernetes.bearer_token_file to a service account token", by.identity.fix, 1, true)
    assert.equal("skipped", by.permissions.status)
  end)

  it("system:anonymous: says that no credentials reached the API server", function()
    S.faults(d, { rules = { { path = "selfsubjectreviews", error = 403, times = 1,
      message = 'selfsubjectreviews.authentication.k8s.io is forbidden: User "system:anonymous" cannot create resource "selfsubjectreviews" in API group "authentication.k8s.io" at the cluster scope' } } })
    local status, by = checks(runner())
    S.faults(d)
    assert.equal(1, status)
    assert.equal("problem", by.identity.status)
    assert.equal("the API server sees system:anonymous: no credentials reached it", by.identity.message)
  end)

  it("bad token: the API server's Unauthorized with what to check", function()
    local status, by = checks(runner { bearer_token_file = dir .. "/bad-kube-token" })
    assert.equal(1, status)
    assert.equal("problem", by.identity.status)
    assert.matches("Unauthorized (401): the token or client certificate was rejected by the API server at " .. d.url, by.identity.message, 1, true)
    assert.matches("kubectl -n NAMESPACE create token SERVICE-ACCOUNT", by.identity.fix, 1, true)
  end)

  it("missing verbs: lists them and prints the Role and RoleBinding for the identity seen", function()
    local status, by = checks(runner { bearer_token_file = dir .. "/restricted" })
    assert.equal(1, status)
    local p = by.permissions
    assert.equal("problem", p.status)
    assert.equal("system:serviceaccount:ci:restricted cannot create pods, delete pods, patch pods, create secrets, "
      .. "get secrets, get serviceaccounts, create poddisruptionbudgets, list events in namespace ci", p.message)
    local role = assert(lunar.yaml.decode(p.fix:match("%-%-%-\n(.-)%-%-%-\n")))
    assert.equal("Role", role.kind)
    assert.equal("ci", role.metadata.namespace)
    assert.same({ "create", "delete", "patch" }, { table.unpack(role.rules[1].verbs) })
    assert.same({ "create", "get" }, { table.unpack(role.rules[2].verbs) })
    local binding = assert(lunar.yaml.decode(p.fix:match("%-%-%-\n.-%-%-%-\n(.*)$")))
    assert.equal("RoleBinding", binding.kind)
    assert.same({ kind = "ServiceAccount", name = "restricted", namespace = "ci" }, {
      kind = binding.subjects[1].kind, name = binding.subjects[1].name, namespace = binding.subjects[1].namespace })
    -- the restricted account cannot read Secrets: the pull secret check says so
    local status2, by2 = checks(runner({ bearer_token_file = dir .. "/restricted", image_pull_secrets = { "regcred" } }))
    assert.equal(1, status2)
    assert.equal("image pull secrets: regcred (not readable: lunar needs get secrets, see permissions)", by2.image_pull_secrets.message)
  end)

  it("missing namespace: says so and how to create it", function()
    local status, by = checks(runner { namespace = "nope" })
    assert.equal(1, status)
    assert.equal("problem", by.namespace.status)
    assert.equal("namespace nope does not exist", by.namespace.message)
    assert.equal("kubectl create namespace nope, or set kubernetes.namespace to an existing one", by.namespace.fix)
  end)

  it("missing image pull secret and service account: named with the command that creates them", function()
    local status, by = checks(runner { image_pull_secrets = { "regcred" }, service_account = "builder" })
    assert.equal(1, status)
    assert.equal("image pull secrets: regcred (not found)", by.image_pull_secrets.message)
    assert.matches("kubectl -n ci create secret docker-registry NAME", by.image_pull_secrets.fix, 1, true)
    assert.equal("service account builder does not exist in namespace ci: job Pods would be refused", by.service_account.message)
    assert.equal("kubectl -n ci create serviceaccount builder, or fix kubernetes.service_account", by.service_account.fix)
  end)

  it("missing image: the probe reports the pull error", function()
    S.faults(d, { rules = { { image = "^registry[.]example[.]com/", pull_fail = true } } })
    local status, by = checks(runner { image = "registry.example.com/nope:1" }, "--probe --probe-timeout 20")
    S.faults(d)
    assert.equal(1, status)
    assert.equal("problem", by.probe.status)
    assert.matches("^image registry%.example%.com/nope:1 cannot be pulled %(ErrImagePull%): ", by.probe.message)
    assert.matches("image_pull_secrets", by.probe.fix, 1, true)
  end)

  it("unschedulable: the probe reports the scheduler's reason", function()
    S.faults(d, { rules = { { pod = "^ci/lunar-doctor-", schedule_delay = 30, unschedulable = true } } })
    local status, by = checks(runner(), "--probe --probe-timeout 2")
    S.faults(d)
    assert.equal(1, status)
    assert.equal("problem", by.probe.status)
    assert.matches("^the probe Pod was not scheduled within 2 s: Unschedulable", by.probe.message)
  end)

  it("GitLab: a refused runner token, and no GitLab at the URL", function()
    local status, by = checks(runner(nil, { token_file = dir .. "/bad-runner-token" }))
    assert.equal(1, status)
    assert.equal(g.url .. " refused the runner token (403): it is wrong, revoked, or of another GitLab", by.gitlab.message)
    status, by = checks(runner(nil, { url = "http://127.0.0.1:9" }))
    assert.equal(1, status)
    assert.matches("^POST http://127%.0%.0%.1:9/api/v4/runners/verify: cannot connect: ", by.gitlab.message)
    status, by = checks(runner(nil, { token_file = dir .. "/missing" }))
    assert.equal(1, status)
    assert.matches("^cannot read the runner token: ", by.gitlab.message)
  end)

  it("an invalid entrypoint: the load error, the rest skipped", function()
    local path = dir .. "/broken.lua"
    S.write_file(path, 'return require("lunar").runner { kubernetes = { cpu_limit = "1x" } }\n')
    local status, by, report = checks(path)
    assert.equal(1, status)
    assert.equal("problem", by.entrypoint.status)
    assert.matches('kubernetes.cpu_limit: quantity "1x" is not valid', by.entrypoint.message, 1, true)
    assert.equal("skipped", by.connection.status)
    assert.is_false(report.ok)
  end)

  it("has --help and refuses bad usage", function()
    local p = io.popen(S.q(S.bin) .. " doctor --help")
    local out = p:read("a")
    p:close()
    assert.matches("^usage: lunar doctor %[%-%-probe%]", out)
    assert.matches("SelfSubjectAccessReview", out, 1, true)
    local status = doctor("x.lua", "--format xml")
    assert.equal(2, status)
  end)
end)
