-- One row per setting (lua/lunar/settings.lua): every row is read by the part
-- it names, does what it says when set, and the README tables are made from
-- the rows.
local lunar = require "lunar"
local settings = require "lunar.settings"
local overwrites = require "lunar.overwrites"
local render = require "lunar.render"
local H = require "helper"
local T = require "lunar.types"

local function read(path) return H.read(H.root .. "/" .. path) end

local function glob(pattern)
  local out = {}
  local p = io.popen("cd '" .. H.root .. "' && ls " .. pattern .. " 2>/dev/null")
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  return out
end

-- The sources of each part, read once.
local sources = {}
local function part_text(part)
  if not sources[part] then
    local texts = {}
    for _, pattern in ipairs(assert(settings.PARTS[part], "no part " .. part)) do
      local files = glob(pattern)
      assert(#files > 0, "the part " .. part .. " names no file: " .. pattern)
      for _, f in ipairs(files) do texts[#texts + 1] = read(f) end
    end
    sources[part] = table.concat(texts, "\n")
  end
  return sources[part]
end

-- The gates lunar.overwrites reads through the rows' `overwrite` fields.
local gates = {}
for _, o in ipairs(settings.overwrites) do gates[o.gate] = true end

-- The key read as a string ("key") or as a field (.key) in the part's text,
-- or a gate of an overwrite.
local function reads(part, key)
  if part == "overwrites" and gates[key] then return true end
  local text = part_text(part)
  return text:find('"' .. key .. '"', 1, true) ~= nil or text:find("%." .. key .. "%f[^%w_]") ~= nil
end

describe("the setting rows", function()
  it("each name a part that reads the key, or say why nothing does", function()
    local missing = {}
    for _, r in ipairs(settings.rows) do
      if r.read_by then
        if not reads(r.read_by, r.key) then missing[#missing + 1] = r.key .. " (" .. r.read_by .. ")" end
      elseif type(r.unused) ~= "table" or type(r.unused.why) ~= "string" then
        missing[#missing + 1] = r.key .. " (no read_by and no unused.why)"
      end
    end
    assert.same({}, missing)
  end)

  it("are the whole schema: every key the validator accepts has a row", function()
    for key in pairs(settings.kubernetes.fields) do assert.truthy(settings.by_key.kubernetes[key], key) end
    for key in pairs(settings.runner.fields) do
      assert.truthy(key == "kubernetes" or settings.by_key.runner[key], key)
    end
  end)

  it("document every key (a doc of its own or joined to the row before)", function()
    for _, r in ipairs(settings.rows) do
      assert.truthy(r.doc or r.join or r.class, r.key)
    end
  end)

  it("give the runner-level defaults lunar run uses", function()
    local runner = H.runner({}, { url = "https://gitlab.example.com", token = "glrt-x" })
    local s = assert(require("lunar.lifecycle").settings(runner))
    for _, key in ipairs { "concurrent", "limit", "request_concurrency", "check_interval", "output_limit", "shutdown_timeout" } do
      assert.equal(settings.by_key.runner[key].default, s[key], key)
    end
    assert.equal(settings.by_key.kubernetes.request_timeout.default, s.kubernetes.request_timeout)
  end)
end)

describe("a setting lunar does not use", function()
  local config = require "lunar.config"
  local SAMPLE = { [T.bool] = true, [T.int] = 5 }

  it("is refused or warned about at load, naming the key, its file:line and why", function()
    local seen = 0
    for _, r in ipairs(settings.rows) do
      local u = r.unused
      if u and u.action then
        seen = seen + 1
        local value = SAMPLE[r.type] or {}
        local src = string.format("local lunar = require 'lunar'\nreturn lunar.runner {\n  kubernetes = {\n    %s = %s,\n  },\n}\n",
          r.key, type(value) == "table" and "{}" or tostring(value))
        if u.action == "refuse" then
          local runner, err, path = H.load(src)
          assert.is_nil(runner, r.key)
          assert.matches(path:match("[^/]+$") .. ":4: kubernetes." .. r.key .. ": lunar does not support this setting: ", err, 1, true)
          assert.matches(u.why, err, 1, true)
        else
          local fails = {}
          local k = {}
          k[r.key] = value
          local warnings = config.unused({ kubernetes = k }, function(p, m) fails[#fails + 1] = p .. m end,
            function() return "runner.lua:4" end)
          assert.same({}, fails)
          assert.same({ "runner.lua:4: kubernetes." .. r.key .. ": warning: has no effect in lunar: " .. u.why }, warnings)
        end
      end
    end
    assert.is_true(seen >= 2)
  end)

  it("says nothing when set to the value that means off", function()
    local k = { namespace_per_job = false }
    assert.same({}, config.unused({ kubernetes = k }, error, function() return "x" end))
  end)
end)

describe("a duration setting", function()
  it("is checked at load (lunar check), not first at lunar run", function()
    local runner, err = H.load("local lunar = require 'lunar'\nreturn lunar.runner {\n  kubernetes = { cleanup_resources_timeout = \"5 minutes\" },\n}\n")
    assert.is_nil(runner)
    assert.matches(':3: kubernetes.cleanup_resources_timeout: "5 minutes" is not a duration', err, 1, true)
    assert.truthy(H.load("local lunar = require 'lunar'\nreturn lunar.runner { kubernetes = { cleanup_resources_timeout = \"1m30s\" } }\n"))
  end)
end)

describe("each overwrite in the rows", function()
  local ALLOWED = { regex = ".*", bool = true, quantity = "64" }
  local VALUE = { scalar = "ci-other", bool = "secret-token", map = "team=blue", resource = "2" }

  it("changes its setting when its gate allows it, and nothing when the gate is unset", function()
    assert.is_true(#settings.overwrites >= 25)
    for _, o in ipairs(settings.overwrites) do
      local gate_row = settings.by_key.kubernetes[o.gate]
      local gate = o.kind == "bool" and true or o.kind == "resource" and ALLOWED.quantity or ALLOWED.regex
      local var = o.var or (o.prefix .. "X")
      local vars = { { key = var, value = o.toleration and "node=gpu:NoSchedule" or VALUE[o.kind] } }
      local k = { namespace = "ci" }
      if o.kind == "map" then k[o.key] = {} end
      local payload = { id = 1, services = {} }
      local closed = overwrites.apply(k, vars, payload)
      assert.same(k[o.key], closed[o.key], o.gate .. " unset must keep " .. o.key)
      k[gate_row.key] = gate
      local out = overwrites.apply(k, vars, payload)
      assert.are_not.same(k[o.key], out[o.key], var .. " behind " .. o.gate .. " must change " .. o.key)
    end
  end)
end)

describe("the pod settings", function()
  -- A value for each setting read by the Pod builder that changes the job's
  -- objects (a simple type gets one by default), with what the job needs
  -- for the setting to matter.
  local EXAMPLES = {
    image = "debian:12",
    helper_image = "registry.example.com/helper:1",
    helper_image_flavor = "ubuntu",
    pull_policy = "always",
    allowed_pull_policies = { { "never" }, job = function(j) j.image.pull_policy = { "always" } end },
    allowed_images = { { "alpine:*" }, job = function(j) j.image.name = "debian:12" end },
    allowed_services = { { "postgres:*" }, job = function(j) j.services = { { name = "redis:7" } } end },
    allowed_users = { { "1000" }, job = function(j) j.image.kubernetes = { user = "1000" } end },
    allowed_groups = { { "2000" }, job = function(j) j.image.kubernetes = { user = "1000:2000" } end, with = { allowed_users = { "1000" } } },
    image_pull_secrets = { { "regcred" } },
    use_service_account_image_pull_secrets = { true, with = { image_pull_secrets = { "regcred" } } },
    namespace = "ci-other",
    node_selector = { { ["kubernetes.io/arch"] = "arm64" } },
    node_tolerations = { { ["gpu=true"] = "NoSchedule" } },
    affinity = { { node_affinity = { required_during_scheduling_ignored_during_execution = { node_selector_terms = {
      { match_expressions = { { key = "zone", operator = "In", values = { "a" } } } } } } } } },
    pod_labels = { { team = "blue" } },
    pod_annotations = { { ["example.com/team"] = "blue" } },
    cap_add = { { "SYS_TIME" } },
    cap_drop = { { "CHOWN" } },
    pod_security_context = { { run_as_user = 1000 } },
    build_container_security_context = { { run_as_user = 1000 } },
    helper_container_security_context = { { run_as_user = 1000 } },
    service_container_security_context = { { run_as_user = 1000 }, job = function(j) j.services = { { name = "redis:7" } } end },
    dns_policy = "default",
    dns_config = { { nameservers = { "10.0.0.10" } } },
    host_aliases = { { { ip = "10.0.0.1", hostnames = { "db" } } } },
    container_lifecycle = { { pre_stop = { exec = { command = { "true" } } } } },
    sidecars = { "native", job = function(j) j.services = { { name = "redis:7" } } end },
    volumes = { { empty_dir = { { name = "scratch", mount_path = "/scratch" } } } },
    builds_dir = "/work",
    cache_dir = "/var/cache/ci",
    environment = { { "EXTRA=1" } },
    shell = "sh",
    stages = { { step_script = function() return "echo override" end } },
    logs_base_dir = "/var/log/ci",
    scripts_base_dir = "/var/scripts",
  }

  local function default_example(r)
    if r.type.name == "a string" then return "example" end
    if r.type.name == "an integer" then return 7 end
    if r.type.name == "a boolean" then return r.default ~= true end
    if r.type.name:match("quantity") then return r.key:match("memory") and "123Mi" or "1500m" end
  end

  -- The job's objects as JSON, or the render's error: a setting that makes
  -- a job fail (a refused image) changes the outcome too.
  local function outcome(k, top, job)
    local ok, r = pcall(render.render_objects, H.runner(k, top), job)
    if not ok then return "error: " .. tostring(type(r) == "table" and r.message or r) end
    return lunar.json.encode(r)
  end

  it("each change the job's objects when set", function()
    local unchanged = {}
    for _, r in ipairs(settings.rows) do
      if (r.read_by == "pod" or r.read_by == "stages") and not r.key:match("_overwrite_max_allowed$") then
        local ex = EXAMPLES[r.key]
        local value, fix, with
        if type(ex) == "table" then value, fix, with = ex[1], ex.job, ex.with else value = ex end
        if value == nil then value = default_example(r) end
        assert(value ~= nil, "no example value for " .. r.key)
        local job = H.job()
        if fix then fix(job) end
        local k, top = {}, {}
        for key, v in pairs(with or {}) do k[key] = v end
        local before = outcome(k, top, job)
        if r.scope == "runner" then top[r.key] = value else k[r.key] = value end
        if outcome(k, top, job) == before then unchanged[#unchanged + 1] = r.key .. ": " .. before:sub(1, 120) end
      end
    end
    assert.same({}, unchanged)
  end)
end)

describe("the README", function()
  it("has the settings and overwrite tables the rows make", function()
    local cmd = string.format("cd '%s' && '%s' lua scripts/gen-settings-doc.lua --check README.md 2>&1", H.root, H.bin)
    local p = io.popen(cmd)
    local out = p:read("a")
    local ok = p:close()
    assert.is_true(ok, out)
  end)
end)
