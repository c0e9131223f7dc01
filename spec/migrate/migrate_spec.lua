-- `lunar migrate config.toml`, run as a real process: every example has a
-- config.toml as a GitLab Runner user would write it; its migration passes
-- `lunar check` and renders the example's job into the Pod the example's own
-- entrypoint renders.
local lunar = require "lunar"
local H = require "helper"

local function lunar_cmd(args)
  return H.run(H.q(H.bin) .. " " .. args)
end

local ex = H.root .. "/examples/"

local function examples()
  local list = {}
  local p = io.popen("ls " .. H.q(ex))
  for name in p:lines() do
    local f = io.open(ex .. name .. "/config.toml")
    if f then f:close() list[#list + 1] = name end
  end
  p:close()
  return list
end

-- What a static config.toml cannot say the way the example's policy does;
-- each entry is a normalisation applied to both Pods, with the reason.
local KNOWN = {
  ["postgres-service"] = {
    why = "config.toml puts runner services before the job's; the example's policy appends redis after them",
    normalise = function(pod)
      for _, a in ipairs(pod.spec.hostAliases or {}) do table.sort(a.hostnames) end
      for _, c in ipairs(pod.spec.containers) do
        for _, e in ipairs(c.env or {}) do
          local ref = e.valueFrom and e.valueFrom.secretKeyRef
          if ref then ref.key = ref.key:gsub("^service%-%d+%.", "service-N.") end
        end
      end
      return pod
    end,
  },
}

local function render(runner, example)
  local status, out, err = lunar_cmd("render " .. H.q(runner) .. " " .. H.q(ex .. example .. "/job.json"))
  assert.equal(0, status, err)
  return assert(lunar.json.decode(out))
end

describe("lunar migrate", function()
  local list = examples()

  it("has a config.toml for every example with a job to render", function()
    local p = io.popen("ls " .. H.q(ex))
    for name in p:lines() do
      if io.open(ex .. name .. "/job.json") then
        assert.truthy(io.open(ex .. name .. "/config.toml"), "examples/" .. name .. " has no config.toml")
      end
    end
    p:close()
    assert.is_true(#list >= 8)
  end)

  for _, name in ipairs(examples()) do
    it("migrates examples/" .. name .. " into an entrypoint that renders the same Pod", function()
      local dir = H.tmpdir() .. "/migrate-" .. name
      os.execute("mkdir -p " .. H.q(dir))
      local status, out, err = lunar_cmd("migrate -o " .. H.q(dir) .. " " .. H.q(ex .. name .. "/config.toml"))
      assert.equal(0, status, err)
      assert.equal("", out)
      -- the runner's name is the file's name
      local migrated = assert(io.open(ex .. name .. "/runner.lua")):read("a"):match('name = "([^"]+)"')
      local path = dir .. "/" .. migrated .. ".lua"
      assert.matches("wrote " .. path:gsub("%p", "%%%0"), err)
      local text = H.read(path)
      -- the token is a secret: moved to a file, never copied
      assert.not_matches("REPLACEME", text)
      assert.matches('token_file = "/var/run/secrets/lunar/token"', text, 1, true)
      assert.matches("token is a secret and was not copied: store it in /var/run/secrets/lunar/token", err, 1, true)
      status, out, err = lunar_cmd("check " .. H.q(path))
      assert.equal(0, status, err)
      assert.equal(path .. ": ok\n", out)
      local got, want = render(path, name), render(ex .. name .. "/runner.lua", name)
      if KNOWN[name] then
        got, want = KNOWN[name].normalise(got), KNOWN[name].normalise(want)
      end
      assert.same(want, got)
    end)
  end

  it("prints one runner on stdout, with what it does not migrate as comments saying why", function()
    local toml = H.write(H.tmpdir() .. "/full.toml", [=[
concurrent = 3
log_level = "debug"

[[runners]]
  name = "Docker Runner"
  executor = "docker"
[[runners]]
  name = "K8s"
  url = "https://gitlab.example.com"
  token = "glrt-abc"
  executor = "kubernetes"
  environment = ["FF_USE_ADVANCED_POD_SPEC_CONFIGURATION=true", "FOO=bar"]
  [runners.feature_flags]
    FF_SCRIPT_SECTIONS = true
  [runners.cache]
    Type = "s3"
  [runners.kubernetes]
    namespace = "ci"
    bearer_token = "k8s-secret"
    cpu_limit = "1x"
    suspend_pvc_size = "20Gi"
    made_up_key = 1
]=])
    local status, out, err = lunar_cmd("migrate " .. H.q(toml))
    assert.equal(0, status, err)
    -- the notes: global settings and the skipped runner, with file:line
    assert.matches("full%.toml:2: log_level: not migrated: ", err)
    assert.matches('full%.toml:4: %[%[runners%]%] #1 %(Docker Runner%) uses executor "docker": skipped', err)
    assert.matches("full%.toml:10: token is a secret and was not copied", err)
    assert.matches("full%.toml:19: kubernetes%.bearer_token is a secret and was not copied: store it in /var/run/secrets/lunar/kubernetes%-token", err)
    -- the entrypoint
    assert.not_matches("glrt%-abc", out)
    assert.not_matches("k8s%-secret", out)
    assert.matches("concurrent = 3,", out, 1, true)
    assert.matches('environment = { "FOO=bar", "FF_SCRIPT_SECTIONS=true" },', out, 1, true)
    assert.matches("-- FF_USE_ADVANCED_POD_SPEC_CONFIGURATION = true  (" .. toml .. ":12) lunar always applies pod_spec", out, 1, true)
    assert.matches("-- cache = { Type = \"s3\" }  (" .. toml .. ":15) the distributed cache", out, 1, true)
    assert.matches('bearer_token_file = "/var/run/secrets/lunar/kubernetes-token",', out, 1, true)
    assert.matches('-- cpu_limit = "1x"  (' .. toml .. ':20) lunar refuses this value: quantity "1x" is not valid', out, 1, true)
    assert.matches('-- suspend_pvc_size = "20Gi"  (' .. toml .. ':21) suspendable environments are not supported', out, 1, true)
    assert.matches("-- made_up_key = 1  (" .. toml .. ":22) not a lunar setting", out, 1, true)
    local lua = H.write(H.tmpdir() .. "/full.lua", out)
    status, _, err = lunar_cmd("check " .. H.q(lua))
    assert.equal(0, status, err)
  end)

  it("comments out pod_spec when GitLab Runner would have ignored it (no FF_USE_ADVANCED_POD_SPEC_CONFIGURATION)", function()
    local toml = H.write(H.tmpdir() .. "/podspec.toml", [=[
[[runners]]
  name = "p"
  executor = "kubernetes"
  [runners.kubernetes]
    namespace = "ci"
    [[runners.kubernetes.pod_spec]]
      name = "hostname"
      patch_type = "merge"
      patch = "hostname: ci"
]=])
    local status, out, err = lunar_cmd("migrate " .. H.q(toml))
    assert.equal(0, status, err)
    assert.matches('-- pod_spec = { { name = "hostname", patch_type = "merge", patch = "hostname: ci" } }  ('
      .. toml .. ":6) GitLab Runner ignores pod_spec without FF_USE_ADVANCED_POD_SPEC_CONFIGURATION", out, 1, true)
    assert.not_matches("\n    pod_spec = ", out)
    -- with the flag in environment, the patches are live
    H.write(toml, (H.read(toml):gsub('executor = "kubernetes"', 'executor = "kubernetes"\n  environment = ["FF_USE_ADVANCED_POD_SPEC_CONFIGURATION=true"]')))
    status, out = lunar_cmd("migrate " .. H.q(toml))
    assert.equal(0, status)
    assert.matches("\n    pod_spec = {", out)
  end)

  it("leaves out, with the reason, settings lunar only warns about, and comments out the ones it refuses", function()
    local toml = H.write(H.tmpdir() .. "/unused.toml", [=[
[[runners]]
  name = "u"
  executor = "kubernetes"
  [runners.kubernetes]
    namespace = "ci"
    poll_interval = 5
    namespace_per_job = true
    cleanup_resources_timeout = "5 min"
]=])
    local status, out, err = lunar_cmd("migrate " .. H.q(toml))
    assert.equal(0, status, err)
    assert.matches("-- poll_interval = 5  (" .. toml .. ":6) has no effect in lunar: lunar follows the Pod through one watch", out, 1, true)
    assert.matches("-- namespace_per_job = true  (" .. toml .. ":7) lunar refuses this value: lunar does not support this setting", out, 1, true)
    assert.matches('-- cleanup_resources_timeout = "5 min"  (' .. toml .. ':8) lunar refuses this value: "5 min" is not a duration', out, 1, true)
    assert.not_matches("warning", err)
  end)

  it("takes over the global listen_address (the /metrics address) into the runner", function()
    local toml = H.write(H.tmpdir() .. "/listen.toml", [=[
listen_address = ":9252"
[[runners]]
  name = "l"
  executor = "kubernetes"
  [runners.kubernetes]
    namespace = "ci"
]=])
    local status, out, err = lunar_cmd("migrate " .. H.q(toml))
    assert.equal(0, status, err)
    assert.matches('\n  listen_address = ":9252",', out, 1, true)
    assert.not_matches("listen_address: not migrated", err, 1, true)
  end)

  it("needs -o DIR for several Kubernetes runners, and writes one file each", function()
    local toml = H.write(H.tmpdir() .. "/two.toml", [=[
shutdown_timeout = 120
[[runners]]
  name = "a"
  executor = "kubernetes"
  [runners.kubernetes]
    namespace = "one"
[[runners]]
  name = "b"
  executor = "kubernetes"
  token = "glrt-b"
  [runners.kubernetes]
    namespace = "two"
]=])
    local status, out, err = lunar_cmd("migrate " .. H.q(toml))
    assert.equal(1, status)
    assert.equal("", out)
    assert.matches("has 2 Kubernetes runners: give %-o DIR", err)
    local dir = H.tmpdir() .. "/two"
    os.execute("mkdir -p " .. H.q(dir))
    status, _, err = lunar_cmd("migrate -o " .. H.q(dir) .. " " .. H.q(toml))
    assert.equal(0, status, err)
    assert.matches('namespace = "one"', H.read(dir .. "/a.lua"), 1, true)
    -- a runner without namespace keeps GitLab Runner's "default", with a note
    toml = H.write(H.tmpdir() .. "/nons.toml", '[[runners]]\n  name = "n"\n  executor = "kubernetes"\n  [runners.kubernetes]\n    image = "alpine"\n')
    local _, text = lunar_cmd("migrate " .. H.q(toml))
    assert.matches('namespace = "default",', text, 1, true)
    assert.matches('-- namespace was not set in config.toml, where GitLab Runner then uses "default"', text, 1, true)
    -- global settings lunar keeps per runner
    assert.matches("shutdown_timeout = 120,", H.read(dir .. "/a.lua"), 1, true)
    assert.matches("shutdown_timeout = 120,", H.read(dir .. "/b.lua"), 1, true)
    -- several runners: one token file each
    assert.matches('token_file = "/var/run/secrets/lunar/b-token"', H.read(dir .. "/b.lua"), 1, true)
  end)

  it("names file:line:column of malformed TOML", function()
    local toml = H.write(H.tmpdir() .. "/bad.toml", '[[runners]]\n  name = "x"\n  executor = kubernetes\n')
    local status, out, err = lunar_cmd("migrate " .. H.q(toml))
    assert.equal(1, status)
    assert.equal("", out)
    assert.matches("bad%.toml:3:%d+: ", err)
    toml = H.write(H.tmpdir() .. "/dup.toml", '[[runners]]\n  name = "x"\n  name = "y"\n')
    status, _, err = lunar_cmd("migrate " .. H.q(toml))
    assert.equal(1, status)
    assert.matches("dup%.toml:3:%d+: .*name", err)
  end)

  it("says when no runner uses the Kubernetes executor, and when the file is missing", function()
    local toml = H.write(H.tmpdir() .. "/docker.toml", '[[runners]]\n  name = "d"\n  executor = "docker"\n')
    local status, _, err = lunar_cmd("migrate " .. H.q(toml))
    assert.equal(1, status)
    assert.matches("no %[%[runners%]%] entry uses the kubernetes executor", err)
    status, _, err = lunar_cmd("migrate /nonexistent/config.toml")
    assert.equal(1, status)
    assert.matches("cannot read /nonexistent/config%.toml", err)
  end)

  it("has --help", function()
    local status, out = lunar_cmd("migrate --help")
    assert.equal(0, status)
    assert.matches("usage: lunar migrate %[%-o DIR%] config%.toml", out)
    status = lunar_cmd("migrate")
    assert.equal(2, status)
  end)
end)
