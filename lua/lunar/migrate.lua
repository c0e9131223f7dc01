-- `lunar migrate config.toml`: turns GitLab Runner's config.toml into lunar
-- runner entrypoints, one per [[runners]] entry with executor "kubernetes".
--
-- Settings keep their names. What lunar reads is written as Lua in the
-- entrypoint's layout (runner settings, then `kubernetes = { ... }`), in the
-- order of the TOML file; what lunar does not read stays in the file as a
-- comment that says why; values that lunar would refuse are commented out with
-- lunar's own validation message, so the result always passes `lunar check`.
-- Secrets never go into the entrypoint: `token` and `kubernetes.bearer_token`
-- become `token_file` and `bearer_token_file`, and their values are handed back
-- separately for the caller to store.
local lunar = require "lunar"
local setting_rows = require "lunar.settings"
local config = require "lunar.config"

local M = {}

-- Where the deployment in deploy/ mounts the runner token (its Secret).
M.TOKEN_DIR = "/var/run/secrets/lunar"

-- Why a kubernetes setting with this value would only be warned about at
-- load (its row's `unused`), or nil: the entrypoint leaves it out.
local function warned(key, value)
  local row = setting_rows.by_key.kubernetes[key]
  local u = row and row.unused
  if u and u.action == "warn" and value ~= u.inert then return u.why end
end

-- Global settings of config.toml that each runner entrypoint takes over
-- (listen_address: the /metrics address, as lunar run serves it per runner).
local GLOBALS = { "concurrent", "check_interval", "shutdown_timeout", "listen_address" }
for _, key in ipairs(GLOBALS) do GLOBALS[key] = true end

-- Settings of config.toml that lunar does not read, and why. Keys are paths
-- relative to their table: "" for the global table, "runner" for [[runners]],
-- "kubernetes" for [runners.kubernetes].
local UNSUPPORTED = {
  [""] = {
    log_level = "lunar logs every event to stderr; there are no log levels to choose",
    log_format = "lunar's log lines are plain text on stderr",
    session_server = "interactive web terminals need pods/exec, which lunar never uses",
    sentry_dsn = "lunar does not report to Sentry",
    connection_max_age = "lunar keeps its GitLab connection open; HTTP/2 multiplexes requests over it",
  },
  runner = {
    id = "registration bookkeeping of gitlab-runner; lunar identifies itself with the token",
    token_obtained_at = "registration bookkeeping of gitlab-runner",
    token_expires_at = "registration bookkeeping of gitlab-runner",
    executor = "lunar always uses the Kubernetes executor",
    ["tls-cert-file"] = "client certificates towards GitLab are not supported",
    ["tls-key-file"] = "client certificates towards GitLab are not supported",
    clone_url = "jobs clone from the URL GitLab sends in the job payload",
    cache = "the distributed cache (S3, GCS, Azure) is not supported yet; the cache stays in cache_dir",
    custom_build_dir = "lunar lets every job choose GIT_CLONE_PATH under builds_dir",
    debug_trace_disabled = "lunar has no such setting",
    unhealthy_requests_limit = "lunar retries GitLab requests with backoff instead",
    unhealthy_interval = "lunar retries GitLab requests with backoff instead",
    docker = "only the Kubernetes executor exists in lunar",
    machine = "only the Kubernetes executor exists in lunar",
    custom = "only the Kubernetes executor exists in lunar",
    ssh = "only the Kubernetes executor exists in lunar",
    autoscaler = "only the Kubernetes executor exists in lunar",
    referees = "lunar has no referees (job metrics from Prometheus)",
    prepare_timeout = "lunar waits for the Pod within poll_timeout",
  },
  kubernetes = {
    autoscaler = "lunar keeps no pause Pods (no pre-warming)",
    suspend_pvc_size = "suspendable environments are not supported",
    suspend_pvc_storage_class = "suspendable environments are not supported",
    terminationGracePeriodSeconds = "removed from GitLab Runner; use pod_termination_grace_period_seconds",
  },
}

-- Feature flags that change what GitLab Runner's Kubernetes executor does,
-- and what lunar does instead. Other flags are kept as job variables.
local FLAGS = {
  FF_USE_ADVANCED_POD_SPEC_CONFIGURATION = "lunar always applies pod_spec",
  FF_USE_LEGACY_KUBERNETES_EXECUTION_STRATEGY = "lunar runs every stage inside the Pod (no attach, no exec); there is nothing to choose",
  FF_USE_POD_ACTIVE_DEADLINE_SECONDS = "lunar always sets activeDeadlineSeconds from the job timeout",
  FF_KUBERNETES_HONOR_ENTRYPOINT = "lunar runs the image's entrypoint as described in the README (Execution model)",
  FF_USE_DUMB_INIT_WITH_KUBERNETES_EXECUTOR = "lunar's stage scripts are the containers' own processes; no init wrapper is needed",
  FF_WAIT_FOR_POD_TO_BE_REACHABLE = "lunar never connects to the Pod; it follows container states through one watch",
  FF_PRINT_POD_EVENTS = "lunar reports Pod warning events by itself (kubernetes.print_pod_warning_events)",
  FF_DISABLE_UMASK_FOR_KUBERNETES_EXECUTOR = "lunar's helper does not change the umask of the build",
  FF_CONCRETE = "the step-runner Pod is not supported",
  FF_SUSPENDABLE_ENVIRONMENTS = "suspendable environments are not supported",
}

local function sorted_keys(t, line_of)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local la, lb = line_of(a), line_of(b)
    if la ~= lb then return (la or math.huge) < (lb or math.huge) end
    return tostring(a) < tostring(b)
  end)
  return keys
end

-- Lua source for values ------------------------------------------------------

local KEYWORDS = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or
  repeat return then true until while]]):gmatch("%a+") do KEYWORDS[w] = true end

local function lua_key(k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") and not KEYWORDS[k] then return k end
  return "[" .. string.format("%q", k) .. "]"
end

local function lua_string(s, inline)
  if s:find("\n") and not inline then
    local eq = ""
    while s:find("]" .. eq .. "]", 1, true) do eq = eq .. "=" end
    -- a long string drops a first newline: keep the text as it was
    local lead = s:sub(1, 1) == "\n" and "\n" or ""
    return "[" .. eq .. "[\n" .. lead .. s .. "]" .. eq .. "]"
  end
  return (string.format("%q", s):gsub("\\\n", "\\n"))
end

local function is_array(v)
  return getmetatable(v) ~= nil or (type(v) == "table" and #v > 0)
end

-- Lua text of value `v`; `line_of(path)` orders table keys by their TOML line.
local function lua_value(v, indent, path, line_of, inline)
  local t = type(v)
  if t == "string" then return lua_string(v, inline) end
  if t == "number" then
    if math.type(v) == "float" then
      if v ~= v then return "0/0" end
      if v == math.huge then return "math.huge" end
      if v == -math.huge then return "-math.huge" end
    end
    return tostring(v)
  end
  if t == "boolean" then return tostring(v) end
  if t ~= "table" then return "nil" end
  local inner = indent .. "  "
  local parts = {}
  if is_array(v) then
    for i, x in ipairs(v) do parts[#parts + 1] = lua_value(x, inner, path .. "[" .. i .. "]", line_of, inline) end
  else
    local keys = sorted_keys(v, function(k) return line_of(path .. "." .. k) end)
    for _, k in ipairs(keys) do
      parts[#parts + 1] = lua_key(k) .. " = " .. lua_value(v[k], inner, path .. "." .. k, line_of, inline)
    end
  end
  if #parts == 0 then return "{}" end
  local one = "{ " .. table.concat(parts, ", ") .. " }"
  if inline or (#one + #indent <= 90 and not one:find("\n")) then return one end
  return "{\n" .. inner .. table.concat(parts, ",\n" .. inner) .. ",\n" .. indent .. "}"
end

-- The migration -----------------------------------------------------------------

local function slug(s)
  s = tostring(s or ""):lower():gsub("[^%w%-_.]+", "-"):gsub("^%-+", ""):gsub("%-+$", "")
  return s ~= "" and s or nil
end

-- Whether GitLab Runner applies pod_spec for runner `r`: the flag in
-- [runners.feature_flags] or in environment (job variables can turn it on too,
-- per job; lunar cannot know that).
local function advanced_pod_spec(r)
  local flags = type(r.feature_flags) == "table" and r.feature_flags or {}
  if flags.FF_USE_ADVANCED_POD_SPEC_CONFIGURATION ~= nil then
    return flags.FF_USE_ADVANCED_POD_SPEC_CONFIGURATION == true
  end
  for _, e in ipairs(type(r.environment) == "table" and r.environment or {}) do
    local v = tostring(e):match("^FF_USE_ADVANCED_POD_SPEC_CONFIGURATION=(.*)$")
    if v then return v == "true" or v == "1" end
  end
  return false
end

-- Migrates one [[runners]] entry. `ctx` = { file, lines, global, index, count }.
local function migrate_runner(r, ctx)
  local prefix = string.format("runners[%d]", ctx.index)
  local function line(path) return ctx.lines[path] end
  local function where(path)
    local l = line(path)
    return l and string.format("%s:%d", ctx.file, l) or ctx.file
  end

  local out = { name = nil, settings = {}, kube = {}, comments = {}, kube_comments = {}, notes = {}, secrets = {} }
  local settings, kube = out.settings, out.kube
  local order = {}   -- runner-level key -> TOML path used for ordering and lines
  local korder = {}

  local function comment(list, key, value, reason, path)
    list[#list + 1] = {
      key = key, path = path,
      text = string.format("%s = %s  (%s) %s", key, value == nil and "..." or lua_value(value, "", path, line, true),
        where(path), reason),
    }
  end

  local runner_fields = setting_rows.runner.fields
  local kube_fields = setting_rows.kubernetes.fields
  local name = slug(r.name) or string.format("runner-%d", ctx.index)
  local one = ctx.count == 1
  local secret_name = function(what) return one and what or (name .. "-" .. what) end

  -- global settings that lunar keeps per runner
  for _, key in ipairs(GLOBALS) do
    -- 0 means "the default" in GitLab Runner, as leaving the key out does here
    if ctx.global[key] ~= nil and ctx.global[key] ~= 0 then
      settings[key] = ctx.global[key]
      order[key] = key
    end
  end

  local environment = {}
  local flag_comments = {}
  local function flag(fname, value, path)
    local why = FLAGS[fname]
    if why then
      flag_comments[#flag_comments + 1] = {
        path = path,
        text = string.format("%s = %s  (%s) %s", fname, tostring(value), where(path), why),
      }
    else
      environment[#environment + 1] = { text = fname .. "=" .. tostring(value), path = path }
      flag_comments[#flag_comments + 1] = {
        path = path,
        text = string.format("%s  (%s) lunar reads no feature flags; kept in environment for the job's helper scripts", fname, where(path)),
      }
    end
  end

  -- environment first, then [runners.feature_flags] in file order: the
  -- flags lunar does not know are appended to environment
  if type(r.environment) == "table" then
    for i, e in ipairs(r.environment) do
      local path = prefix .. ".environment[" .. i .. "]"
      local k, v = tostring(e):match("^(FF_[%w_]+)=(.*)$")
      if k and FLAGS[k] then
        flag(k, v, path)
      else
        environment[#environment + 1] = { text = e, path = path }
      end
    end
  end
  if type(r.feature_flags) == "table" then
    local fprefix = prefix .. ".feature_flags."
    for _, fname in ipairs(sorted_keys(r.feature_flags, function(k) return line(fprefix .. k) end)) do
      flag(fname, r.feature_flags[fname], fprefix .. fname)
    end
  end

  for key, value in pairs(r) do
    local path = prefix .. "." .. key
    if key == "kubernetes" or key == "feature_flags" or (key == "environment" and type(value) == "table") then
      -- above and below
    elseif key == "token" then
      local file = M.TOKEN_DIR .. "/" .. secret_name("token")
      settings.token_file = file
      order.token_file = path
      out.secrets[#out.secrets + 1] = { what = "token", file = file, value = value, from = where(path) }
      out.comments[#out.comments + 1] = {
        path = path, before = "token_file",
        text = string.format("token  (%s) moved to token_file: the runner token is a secret; store it there (deploy/ mounts the Secret lunar-token)", where(path)),
      }
    elseif key == "tls-ca-file" then
      settings.tls_ca_file = value
      order.tls_ca_file = path
    elseif key == "limit" and value == 0 then
      -- 0 means "no limit" in GitLab Runner; lunar's default is the same
      order.limit = nil
    elseif key == "executor" and value == "kubernetes" then
      -- every lunar runner is one
    elseif UNSUPPORTED.runner[key] then
      comment(out.comments, key, value, UNSUPPORTED.runner[key], path)
    elseif runner_fields[key] and key ~= "on" and key ~= "stages" then
      settings[key] = value
      order[key] = path
    else
      comment(out.comments, key, value, "not a lunar setting", path)
    end
  end
  if #environment > 0 then
    local list = {}
    for _, e in ipairs(environment) do list[#list + 1] = e.text end
    settings.environment = lunar.json.array(list)
    order.environment = environment[1].path
  end
  for _, c in ipairs(flag_comments) do out.comments[#out.comments + 1] = c end

  local k = type(r.kubernetes) == "table" and r.kubernetes or {}
  local kprefix = prefix .. ".kubernetes"
  for key, value in pairs(k) do
    local path = kprefix .. "." .. key
    if key == "bearer_token" then
      if value ~= "" then
        local file = M.TOKEN_DIR .. "/" .. secret_name("kubernetes-token")
        kube.bearer_token_file = file
        korder.bearer_token_file = path
        out.secrets[#out.secrets + 1] = { what = "kubernetes.bearer_token", file = file, value = value, from = where(path) }
        out.kube_comments[#out.kube_comments + 1] = {
          path = path,
          text = string.format("bearer_token  (%s) moved to bearer_token_file: store the token there (in the cluster, lunar can use its service account instead)", where(path)),
        }
      end
    elseif UNSUPPORTED.kubernetes[key] then
      comment(out.kube_comments, key, value, UNSUPPORTED.kubernetes[key], path)
    elseif key == "pod_spec" and not advanced_pod_spec(r) then
      comment(out.kube_comments, key, value, "GitLab Runner ignores pod_spec without FF_USE_ADVANCED_POD_SPEC_CONFIGURATION, "
        .. "which is not on here; lunar always applies it: uncomment to apply these patches", path)
    elseif kube_fields[key] and warned(key, value) then
      comment(out.kube_comments, key, value, "has no effect in lunar: " .. warned(key, value), path)
    elseif kube_fields[key] then
      kube[key] = value
      korder[key] = path
    else
      comment(out.kube_comments, key, value, "not a lunar setting", path)
    end
  end

  -- GitLab Runner runs jobs in "default" when namespace is not set; lunar would
  -- take the kubeconfig context's or the service account's first: keep "default"
  -- and say so (a namespace never set is the classic "forbidden in default").
  if kube.namespace == nil and k.namespace == nil then
    kube.namespace = "default"
    korder.namespace = kprefix
    out.kube_comments[#out.kube_comments + 1] = {
      path = kprefix,
      text = "namespace was not set in config.toml, where GitLab Runner then uses \"default\": set the namespace your Role is in",
    }
  end

  -- Values lunar would refuse: commented out with lunar's message.
  local candidate = {}
  for key, value in pairs(settings) do candidate[key] = value end
  candidate.kubernetes = kube
  local function toml_path(p)
    local top, rest = p:match("^kubernetes%.([%w_]+)(.*)$")
    if top then return (korder[top] or (kprefix .. "." .. top)) .. rest end
    top, rest = p:match("^([%w_]+)(.*)$")
    return top and ((order[top] or (prefix .. "." .. top)) .. rest) or prefix
  end
  local errors = config.validate(candidate, function(p) return where(toml_path(p)) end) or {}
  for _, e in ipairs(errors) do
    local top = e.path:match("^kubernetes%.([%w_]+)")
    local msg = string.format("lunar refuses this value: %s", e.message)
    if top and kube[top] ~= nil then
      comment(out.kube_comments, top, kube[top], msg, korder[top] or kprefix)
      kube[top] = nil
    else
      top = e.path:match("^([%w_]+)")
      if top and settings[top] ~= nil then
        comment(out.comments, top, settings[top], msg, order[top] or prefix)
        settings[top] = nil
      end
    end
  end

  out.name = name
  out.order, out.korder = order, korder
  out.prefix, out.kprefix = prefix, kprefix
  return out
end

-- Writes the entrypoint text of a migrated runner.
local function write_runner(m, ctx)
  local function line(path) return ctx.lines[path] end
  local buf = {}
  local function add(s) buf[#buf + 1] = s end
  add(string.format("-- Migrated by `lunar migrate` from %s ([[runners]] #%d%s).\n", ctx.file, ctx.index,
    line(m.prefix) and (", line " .. line(m.prefix)) or ""))
  add("-- Settings keep GitLab Runner's names; see the README's settings reference.\n")
  add("-- Any kubernetes setting may now be a Lua function of the job (a policy).\n")
  add("local lunar = require \"lunar\"\n\nreturn lunar.runner {\n")

  -- entries: { line = n, text = "..." } sorted by their TOML line
  local function emit(entries, indent)
    table.sort(entries, function(a, b)
      if a.line ~= b.line then return (a.line or math.huge) < (b.line or math.huge) end
      return a.text < b.text
    end)
    -- multi-line texts are indented by lua_value already (long strings must not be)
    for _, e in ipairs(entries) do add(indent .. e.text .. "\n") end
  end
  local entries = {}
  for key, value in pairs(m.settings) do
    local path = m.order[key] or (m.prefix .. "." .. key)
    entries[#entries + 1] = {
      line = line(path) or (ctx.global[key] ~= nil and 0) or nil,
      text = lua_key(key) .. " = " .. lua_value(value, "  ", path, line) .. ",",
    }
  end
  for _, c in ipairs(m.comments) do
    entries[#entries + 1] = { line = line(c.path), text = "-- " .. c.text:gsub("\n", " ") }
  end
  if ctx.global.concurrent ~= nil and ctx.count > 1 then
    entries[#entries + 1] = { line = 0, text = "-- concurrent is global in config.toml; here it is this runner's own" }
  end
  if m.settings.shutdown_timeout then
    entries[#entries + 1] = { line = 0, text = "-- shutdown_timeout: give the runner's Pod a terminationGracePeriodSeconds above it (deploy/)" }
  end
  emit(entries, "  ")

  local kentries = {}
  for key, value in pairs(m.kube) do
    local path = m.korder[key] or (m.kprefix .. "." .. key)
    kentries[#kentries + 1] = { line = line(path), text = lua_key(key) .. " = " .. lua_value(value, "    ", path, line) .. "," }
  end
  for _, c in ipairs(m.kube_comments) do
    kentries[#kentries + 1] = { line = line(c.path), text = "-- " .. c.text:gsub("\n", " ") }
  end
  if #kentries > 0 then
    add("  kubernetes = {\n")
    emit(kentries, "    ")
    add("  },\n")
  end
  add("}\n")
  return table.concat(buf)
end

-- Migrates the text of a config.toml. Returns
--   { runners = { { name, text, secrets = { { what, file, value, from } } } },
--     notes = { "config.toml:3: ..." } }
-- or nil, message (malformed TOML: "config.toml:12:7: ...").
function M.migrate(text, file)
  file = file or "config.toml"
  local doc, lines = lunar.toml.decode(text, file)
  if not doc then return nil, lines end
  local result = { runners = {}, notes = {} }
  local function where(path)
    local l = lines[path]
    return l and string.format("%s:%d", file, l) or file
  end
  for key, _ in pairs(doc) do
    if key ~= "runners" and not GLOBALS[key] then
      result.notes[#result.notes + 1] = string.format("%s: %s: not migrated: %s", where(key), key,
        UNSUPPORTED[""][key] or "not a lunar setting")
    end
  end
  table.sort(result.notes)
  local runners = type(doc.runners) == "table" and doc.runners or {}
  local kube = {}
  for i, r in ipairs(runners) do
    local executor = type(r) == "table" and r.executor or nil
    if executor == "kubernetes" then
      kube[#kube + 1] = i
    else
      result.notes[#result.notes + 1] = string.format("%s: [[runners]] #%d (%s) uses executor %q: skipped, lunar runs the Kubernetes executor only",
        where("runners[" .. i .. "]"), i, tostring(type(r) == "table" and r.name or "?"), tostring(executor))
    end
  end
  local used = {}
  for n, i in ipairs(kube) do
    local ctx = { file = file, lines = lines, global = doc, index = i, count = #kube }
    local m = migrate_runner(runners[i], ctx)
    local name = m.name
    if used[name] then name = name .. "-" .. i end
    used[name] = true
    result.runners[n] = { name = name, text = write_runner(m, ctx), secrets = m.secrets }
  end
  return result
end

return M
