-- `lunar doctor RUNNER.lua`: checks, in order, everything a job needs before
-- one is taken, and goes on after a problem whenever the next check can still
-- say something. Each check is one result:
--
--   { id = "tls", status = "ok" | "problem" | "warning" | "skipped",
--     message = "...", fix = "..." (problems and warnings) }
--
-- Cluster checks go through the synchronous lunar.kube client with the
-- entrypoint's static connection settings; permissions are asked with
-- SelfSubjectAccessReview from the one list in lunar.permissions; GitLab is
-- asked through lunar.http (POST /api/v4/runners/verify).
local lunar = require "lunar"
local config = require "lunar.config"
local permissions = require "lunar.permissions"
local read_file = require("lunar.files").read

local M = {}

local IN_CLUSTER_CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"

local CA_FIX = "set kubernetes.ca_file to the CA bundle that signed the API server's certificate. "
  .. "In a Pod it is " .. IN_CLUSTER_CA .. "; from a working kubeconfig: "
  .. "kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' "
  .. "| base64 -d > ca.crt (then ca_file = \"/path/to/ca.crt\")"

-- The connection settings of lunar.kube.client that an entrypoint may set.
local CONNECTION = { "host", "context", "kubeconfig", "ca_file", "cert_file", "key_file", "bearer_token",
  "bearer_token_file", "insecure_skip_tls_verify", "namespace", "request_timeout", "connect_timeout", "qps", "burst" }

local function static(k, key)
  local v = k[key]
  if type(v) == "function" then return nil, true end
  return v
end

local function user_in(msg)
  return type(msg) == "string" and msg:match('User "([^"]+)"') or nil
end

local function subject_of(user)
  local ns, name = (user or ""):match("^system:serviceaccount:([^:]+):(.+)$")
  if ns then return { kind = "ServiceAccount", name = name, namespace = ns } end
  return { kind = "User", name = user or "USER-NAME" }
end

local function yaml(obj) return (assert(lunar.yaml.encode(obj))) end

-- A report collects the results in order.
local function new_report()
  local r = { checks = {} }
  function r.add(id, status, message, fix)
    r.checks[#r.checks + 1] = { id = id, status = status, message = message, fix = fix }
    return status == "ok"
  end
  return r
end

-- A minimal job payload for --probe: only what render needs.
local function probe_payload(namespace)
  return {
    id = 1, token = "doctor-probe",
    job_info = { id = 1, name = "lunar-doctor-probe", stage = "test", project_id = 1, project_name = "doctor",
      project_path = "lunar/doctor", project_namespace = "lunar" },
    git_info = { repo_url = "https://gitlab.invalid/lunar/doctor.git", ref = "main", sha = string.rep("0", 40),
      before_sha = string.rep("0", 40), ref_type = "branch" },
    variables = lunar.json.array { { key = "CI_JOB_ID", value = "1", public = true },
      { key = "CI_PROJECT_NAMESPACE", value = namespace or "lunar", public = true } },
    steps = lunar.json.array { { name = "script", script = lunar.json.array { "true" }, timeout = 600,
      when = "on_success", allow_failure = false } },
    image = nil, services = lunar.json.array {},
    runner_info = { timeout = 600 },
  }
end

-- The probe Pod: the rendered job Pod's scheduling and images, with one
-- container per distinct image that exits at once.
local function probe_pod(rendered, generated_secrets)
  local spec = rendered.spec
  local pod = {
    apiVersion = "v1", kind = "Pod",
    metadata = { generateName = "lunar-doctor-", labels = { ["app.kubernetes.io/name"] = "lunar-doctor" } },
    spec = { restartPolicy = "Never", activeDeadlineSeconds = 600, containers = {} },
  }
  for _, key in ipairs { "nodeSelector", "tolerations", "affinity", "runtimeClassName", "priorityClassName",
    "schedulerName", "serviceAccountName", "securityContext", "dnsPolicy", "dnsConfig" } do
    pod.spec[key] = spec[key]
  end
  local pulls = {}
  for _, s in ipairs(spec.imagePullSecrets or {}) do
    if not generated_secrets[s.name] then pulls[#pulls + 1] = s end
  end
  if #pulls > 0 then pod.spec.imagePullSecrets = pulls end
  local seen = {}
  local function add(c, role)
    if not c.image or seen[c.image] then return end
    seen[c.image] = true
    pod.spec.containers[#pod.spec.containers + 1] = {
      name = role .. "-" .. #pod.spec.containers, image = c.image, imagePullPolicy = c.imagePullPolicy,
      command = lunar.json.array { "sh", "-c", "exit 0" }, resources = c.resources,
    }
  end
  for _, c in ipairs(spec.containers or {}) do
    add(c, c.name == "build" and "build" or c.name == "helper" and "helper" or "service")
  end
  for _, c in ipairs(spec.initContainers or {}) do add(c, "helper") end
  return pod
end

-- Why a container of `pod` cannot start, or nil: image pull errors.
local function pull_problem(pod)
  for _, cs in ipairs((pod.status or {}).containerStatuses or {}) do
    local w = cs.state and cs.state.waiting
    if w and (w.reason == "ErrImagePull" or w.reason == "ImagePullBackOff" or w.reason == "InvalidImageName") then
      return string.format("image %s cannot be pulled (%s): %s", cs.image or "?", w.reason, w.message or "")
    end
  end
end

local function unschedulable(pod)
  for _, c in ipairs((pod.status or {}).conditions or {}) do
    if c.type == "PodScheduled" and c.status == "False" then
      return string.format("%s: %s", c.reason or "Unschedulable", c.message or "")
    end
  end
end

local function started(pod)
  local list = (pod.status or {}).containerStatuses or {}
  if #list == 0 then return false end
  for _, cs in ipairs(list) do
    if not (cs.state and (cs.state.running or cs.state.terminated)) then return false end
  end
  return true
end

local function run_probe(r, c, runner, ns, timeout)
  local ok, result = pcall(require("lunar.render").render_objects, runner, probe_payload(ns), { payload_name = "doctor probe job" })
  if not ok then
    local msg = type(result) == "table" and result.message or tostring(result)
    return r.add("probe", "problem", "cannot render a Pod for a probe job: " .. msg, "run `lunar check` and fix the policies")
  end
  local generated = {}
  for _, o in ipairs(result.objects or {}) do
    if o.kind == "Secret" then generated[o.metadata.name] = true end
  end
  local pod = probe_pod(result.pod, generated)
  local images = {}
  for _, ct in ipairs(pod.spec.containers) do images[#images + 1] = ct.image end
  local t0 = os.time()
  local created, err = c:create("pods", pod, { namespace = ns })
  if not created then
    return r.add("probe", "problem", "cannot create the probe Pod: " .. err, "see the checks above")
  end
  local name = created.metadata.name
  local last, outcome = created, nil
  local function decide(p)
    last = p
    local pull = pull_problem(p)
    if pull then outcome = { "problem", pull, "check the image name and that the cluster can reach its registry; a private registry needs image_pull_secrets" } return false end
    if started(p) then outcome = { "ok" } return false end
    if p.status and p.status.phase == "Failed" then
      outcome = { "problem", "the probe Pod failed: " .. tostring(p.status.reason or p.status.message or "?"), "kubectl -n " .. ns .. " describe pod " .. name } return false
    end
    return true
  end
  if decide(created) then
    local _, werr = c:watch("pods", { namespace = ns, field_selector = "metadata.name=" .. name, timeout = timeout },
      function(_, p) return decide(p) end)
    if werr and not outcome and werr ~= "timeout" then outcome = { "problem", "watching the probe Pod: " .. werr, "" } end
  end
  c:delete("pods", name, { namespace = ns, grace_period_seconds = 0 })
  local elapsed = os.difftime(os.time(), t0)
  if not outcome then
    local why = unschedulable(last)
    if why then
      return r.add("probe", "problem", string.format("the probe Pod was not scheduled within %d s: %s", timeout, why),
        "check node_selector, node_tolerations, affinity and the resources asked for against the cluster's nodes")
    end
    return r.add("probe", "problem", string.format("the probe Pod did not start within %d s (phase %s)", timeout,
      tostring(last.status and last.status.phase)), "kubectl -n " .. ns .. " get events --field-selector involvedObject.name=" .. name)
  end
  if outcome[1] == "ok" then
    return r.add("probe", "ok", string.format("a Pod with %s started in %d s", table.concat(images, ", "), math.floor(elapsed + 0.5)))
  end
  return r.add("probe", outcome[1], outcome[2], outcome[3])
end

local function check_gitlab(r, t)
  local url = t.url
  if type(url) ~= "string" or url == "" then
    return r.add("gitlab", "problem", "no GitLab URL", "set url = \"https://gitlab.example.com\"")
  end
  local token = t.token
  if not token and t.token_file then
    local text, err = read_file(t.token_file)
    if not text then
      return r.add("gitlab", "problem", "cannot read the runner token: " .. err,
        "put the runner authentication token (glrt-...) in " .. t.token_file .. " (deploy/ mounts the Secret lunar-token there)")
    end
    token = text:gsub("%s+$", "")
  end
  if not token or token == "" then
    return r.add("gitlab", "problem", "no runner token", "set token_file to a file holding the runner authentication token (glrt-...)")
  end
  local endpoint = url:gsub("/+$", "") .. "/api/v4/runners/verify"
  local status, body = lunar.http.request {
    method = "POST", url = endpoint, content_type = "application/json",
    body = assert(lunar.json.encode { token = token }), ca_file = t.tls_ca_file, timeout = 15,
  }
  if not status then
    local fix = "check url and that GitLab is reachable from here"
    if body:find("not trusted", 1, true) then
      fix = "set tls_ca_file to the CA bundle that signed GitLab's certificate"
    end
    return r.add("gitlab", "problem", body, fix)
  end
  if status == 200 then
    local info = lunar.json.decode(body)
    local id = type(info) == "table" and info.id
    return r.add("gitlab", "ok", string.format("%s accepts the runner token%s", url, id and (" (runner " .. tostring(id) .. ")") or ""))
  end
  if status == 403 then
    return r.add("gitlab", "problem", string.format("%s refused the runner token (403): it is wrong, revoked, or of another GitLab", url),
      "create a runner in GitLab (Settings > CI/CD > Runners) and put its glrt- token in " .. tostring(t.token_file or "token_file"))
  end
  return r.add("gitlab", "problem", string.format("POST %s answered %d: %s", endpoint, status, body:sub(1, 200)),
    "check url: it must be GitLab's base URL")
end

-- Runs every check. opts = { probe = bool, probe_timeout = seconds }.
-- Returns the report { checks = {...}, ok = bool }.
function M.run(path, opts)
  opts = opts or {}
  local r = new_report()
  local runner, lerr = config.load(path)
  if not runner then
    r.add("entrypoint", "problem", lerr, "fix the settings named above (`lunar check " .. path .. "` shows the same)")
    for _, id in ipairs { "connection", "tls", "identity", "namespace", "permissions", "service_account", "image_pull_secrets", "gitlab" } do
      r.add(id, "skipped", "not checked: the entrypoint does not load")
    end
  else
    r.add("entrypoint", "ok", path .. " is valid")
    local t = config.lookup(runner).config
    local k = type(t.kubernetes) == "table" and t.kubernetes or {}
    M.cluster(r, runner, k, opts)
    check_gitlab(r, t)
  end
  r.ok = true
  for _, c in ipairs(r.checks) do
    if c.status == "problem" then r.ok = false end
  end
  return r
end

function M.cluster(r, runner, k, opts)
  local settings, policy = { retry_limit = 2, retry_backoff_max = 500, request_timeout = 15 }, {}
  for _, key in ipairs(CONNECTION) do
    local v, is_fn = static(k, key)
    if is_fn then policy[#policy + 1] = key else settings[key] = v end
  end
  local skip = function(from, why)
    local ids = { "connection", "tls", "identity", "namespace", "permissions", "service_account", "image_pull_secrets", "probe" }
    local on = false
    for _, id in ipairs(ids) do
      if id == from then on = true end
      if on and (id ~= "probe" or opts.probe) then r.add(id, "skipped", "not checked: " .. why) end
    end
  end

  -- 1. where the connection comes from
  local c, cerr = lunar.kube.client(settings)
  if not c then
    r.add("connection", "problem", cerr) -- the client's message names the fix
    return skip("tls", "no Kubernetes connection")
  end
  local info = c:info()
  local ns = info.namespace
  local note = #policy > 0 and (" (policies not evaluated here: " .. table.concat(policy, ", ") .. ")") or ""
  r.add("connection", "ok", string.format("%s from %s, namespace %s%s", info.server, info.source, ns, note))

  -- 2. the server's certificate (any HTTP answer means the handshake passed)
  local v, verr, vstatus = c:version()
  if not v and vstatus == 0 then
    if verr:find("certificate is not trusted", 1, true) then
      r.add("tls", "problem", verr, CA_FIX)
    else
      r.add("tls", "problem", verr, "check kubernetes.host or the kubeconfig's server, and that the API server is reachable from here")
    end
    return skip("identity", "the API server cannot be reached")
  end
  local ca = settings.ca_file or (info.source:find("in-cluster", 1, true) and IN_CLUSTER_CA) or nil
  r.add("tls", "ok", string.format("the API server's certificate is trusted%s%s",
    ca and (" (CA " .. ca .. ")") or "", v and v.gitVersion and ("; Kubernetes " .. v.gitVersion) or ""))

  -- 3. who the API server sees
  local review, rerr, rstatus = c:create("selfsubjectreviews", { apiVersion = "authentication.k8s.io/v1", kind = "SelfSubjectReview" })
  local user
  if review then
    user = review.status and review.status.userInfo and review.status.userInfo.username
  else
    user = user_in(rerr)
  end
  if user == "system:anonymous" then
    r.add("identity", "problem", "the API server sees system:anonymous: no credentials reached it",
      "give lunar credentials: kubernetes.bearer_token_file (a service account token), cert_file + key_file, or a kubeconfig user; in a Pod, keep automountServiceAccountToken on")
    return skip("namespace", "no identity")
  elseif rstatus == 401 then
    local sent = settings.bearer_token or settings.bearer_token_file or settings.cert_file
      or not info.source:find("kubernetes.host", 1, true)
    if sent then
      r.add("identity", "problem", rerr, "use a valid token or client certificate of this cluster (kubectl -n NAMESPACE create token SERVICE-ACCOUNT makes one)")
    else
      r.add("identity", "problem", "Unauthorized (401): no credentials were sent: kubernetes.host is set without bearer_token_file, bearer_token or cert_file",
        "set kubernetes.bearer_token_file to a service account token (kubectl -n NAMESPACE create token SERVICE-ACCOUNT), or cert_file and key_file")
    end
    return skip("namespace", "the credentials are rejected")
  elseif user then
    r.add("identity", "ok", "the API server sees " .. user)
  elseif rstatus == 404 then
    r.add("identity", "ok", "the credentials are accepted (the cluster has no SelfSubjectReview, Kubernetes < 1.28: identity unknown)")
  else
    r.add("identity", "warning", "cannot tell who the API server sees: " .. tostring(rerr), "")
  end

  -- 4. the namespace
  local ns_set = static(k, "namespace")
  local got, gerr, gstatus = c:get("namespaces", ns)
  local ns_unknown = gstatus == 403
  if got or gstatus == 403 then
    if got and got.status and got.status.phase == "Terminating" then
      r.add("namespace", "problem", "namespace " .. ns .. " is being deleted", "set kubernetes.namespace to another namespace")
    elseif not ns_set and ns == "default" then
      r.add("namespace", "warning", "jobs would run in namespace default: kubernetes.namespace is not set",
        "set kubernetes.namespace to the namespace the Role is in (GitLab Runner users meet this as 'forbidden in namespace default')")
    else
      r.add("namespace", "ok", "namespace " .. ns .. (got and " exists" or " (existence not checked: no permission to get namespaces, which lunar does not need)"))
    end
  elseif gstatus == 404 then
    r.add("namespace", "problem", "namespace " .. ns .. " does not exist",
      "kubectl create namespace " .. ns .. ", or set kubernetes.namespace to an existing one")
  else
    r.add("namespace", "warning", "cannot check namespace " .. ns .. ": " .. tostring(gerr), "")
  end

  -- 5. permissions, from the one list
  local missing, granted, failed = {}, 0, nil
  for _, p in ipairs(permissions.checks()) do
    local res, sub = permissions.split(p.resource)
    local allowed, why = c:can_i(p.verb, res, { subresource = sub, group = p.group ~= "" and p.group or nil, namespace = ns })
    if allowed == nil then
      failed = why
      user = user or user_in(why)
      break
    elseif allowed then
      granted = granted + 1
    else
      missing[#missing + 1] = p
    end
  end
  if failed then
    r.add("permissions", "problem", "cannot ask the API server (SelfSubjectAccessReview): " .. failed, "")
  elseif #missing == 0 then
    r.add("permissions", "ok", string.format("all %d permissions lunar uses are granted in namespace %s", granted, ns))
  else
    local names = {}
    for _, p in ipairs(missing) do names[#names + 1] = p.verb .. " " .. p.resource end
    local role = permissions.role("lunar", ns, missing)
    local binding = permissions.binding("lunar", ns, subject_of(user))
    r.add("permissions", "problem", string.format("%s cannot %s in namespace %s%s", user or "this identity",
      table.concat(names, ", "), ns, ns_unknown and #missing == #permissions.checks()
        and " (nothing at all: does the namespace exist? a RoleBinding cannot exist without it)" or ""),
      "grant them (kubectl apply -f - with this; deploy/role.yaml has the whole Role):\n---\n" .. yaml(role) .. "---\n" .. yaml(binding))
  end
  if not failed then
    for _, n in ipairs(permissions.never) do
      local res, sub = permissions.split(n.resource)
      if c:can_i(n.verb, res, { subresource = sub, namespace = ns }) then
        r.add("permissions", "warning", string.format("%s may also %s %s, which lunar never uses", user or "this identity", n.verb, n.resource),
          "remove it from the Role: " .. n.why)
      end
    end
  end

  -- 6. the jobs' service account
  local sa = static(k, "service_account")
  if type(sa) == "string" and sa ~= "" then
    local obj, serr, sstatus = c:get("serviceaccounts", sa, { namespace = ns })
    if obj then
      r.add("service_account", "ok", "service account " .. sa .. " exists in namespace " .. ns)
    elseif sstatus == 404 then
      r.add("service_account", "problem", "service account " .. sa .. " does not exist in namespace " .. ns .. ": job Pods would be refused",
        "kubectl -n " .. ns .. " create serviceaccount " .. sa .. ", or fix kubernetes.service_account")
    elseif sstatus == 403 then
      r.add("service_account", "skipped", "not checked: reading service account " .. sa .. " needs get serviceaccounts, which lunar's Role does not grant (--probe starts a Pod with it)")
    else
      r.add("service_account", "warning", "cannot check service account " .. sa .. ": " .. tostring(serr), "")
    end
  else
    r.add("service_account", "ok", "jobs use the namespace's default service account")
  end

  -- 7. image pull secrets named in the settings
  local secrets = static(k, "image_pull_secrets")
  if type(secrets) == "table" and #secrets > 0 then
    local bad = {}
    for _, name in ipairs(secrets) do
      local obj, serr, sstatus = c:get("secrets", name, { namespace = ns })
      if sstatus == 403 then
        bad[#bad + 1] = name .. " (not readable: lunar needs get secrets, see permissions)"
      elseif sstatus == 404 then
        bad[#bad + 1] = name .. " (not found)"
      elseif not obj then
        bad[#bad + 1] = name .. " (" .. tostring(serr) .. ")"
      elseif obj.type ~= "kubernetes.io/dockerconfigjson" and obj.type ~= "kubernetes.io/dockercfg" then
        bad[#bad + 1] = name .. " (type " .. tostring(obj.type) .. ", not kubernetes.io/dockerconfigjson)"
      end
    end
    if #bad == 0 then
      r.add("image_pull_secrets", "ok", table.concat(secrets, ", ") .. " exist in namespace " .. ns)
    else
      r.add("image_pull_secrets", "problem", "image pull secrets: " .. table.concat(bad, ", "),
        "kubectl -n " .. ns .. " create secret docker-registry NAME --docker-server=REGISTRY --docker-username=USER --docker-password=PASSWORD")
    end
  else
    r.add("image_pull_secrets", "ok", "none named in the settings")
  end

  -- 8. a real Pod
  if opts.probe then
    run_probe(r, c, runner, ns, opts.probe_timeout or 120)
  end
  c:close()
end

-- Text: one line per check, fixes indented below.
function M.text(report)
  local out = {}
  for _, c in ipairs(report.checks) do
    out[#out + 1] = string.format("%-8s %s: %s", c.status, c.id, (c.message or ""):gsub("\n", "\n         "))
    if c.fix and c.fix ~= "" then
      out[#out + 1] = "         fix: " .. c.fix:gsub("\n+$", ""):gsub("\n", "\n           ")
    end
  end
  local problems = 0
  for _, c in ipairs(report.checks) do if c.status == "problem" then problems = problems + 1 end end
  out[#out + 1] = problems == 0 and "all checks passed" or string.format("%d problem%s", problems, problems == 1 and "" or "s")
  return table.concat(out, "\n") .. "\n"
end

function M.json(report)
  local checks = {}
  for i, c in ipairs(report.checks) do
    checks[i] = { id = c.id, status = c.status, message = c.message, fix = c.fix ~= "" and c.fix or nil }
  end
  return assert(lunar.json.encode({ ok = report.ok, checks = lunar.json.array(checks) }, { pretty = true })) .. "\n"
end

return M
