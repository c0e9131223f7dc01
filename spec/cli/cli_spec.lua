-- The `lunar` command line, run as a real process.
local lunar = require "lunar"
local H = require "helper"

local function lunar_cmd(args)
  return H.run(H.q(H.bin) .. " " .. args)
end

local ex = H.root .. "/examples/"

describe("lunar render", function()
  it("prints the Pod as Kubernetes JSON and exits 0", function()
    local status, out, err = lunar_cmd("render " .. ex .. "basic/runner.lua " .. ex .. "basic/job.json")
    assert.equal(0, status, err)
    local pod = assert(lunar.json.decode(out))
    assert.equal("v1", pod.apiVersion)
    assert.equal("Pod", pod.kind)
    assert.equal("build", pod.spec.containers[1].name)
  end)

  it("prints YAML with --format yaml", function()
    local status, out = lunar_cmd("render --format yaml " .. ex .. "basic/runner.lua " .. ex .. "basic/job.json")
    assert.equal(0, status)
    assert.matches("^apiVersion: v1\nkind: Pod\n", out)
    local pod = assert(lunar.yaml.decode(out))
    assert.equal("ci", pod.metadata.namespace)
  end)

  it("prints a v1 List with --all", function()
    local status, out = lunar_cmd("render --all " .. ex .. "basic/runner.lua " .. ex .. "basic/job.json")
    assert.equal(0, status)
    local list = assert(lunar.json.decode(out))
    assert.equal("List", list.kind)
    assert.equal("v1", list.apiVersion)
    local kinds = {}
    for _, item in ipairs(list.items) do kinds[item.kind] = true end
    assert.truthy(kinds.Pod)
  end)

  it("uses the built-in default runner without RUNNER.lua", function()
    local status, out = lunar_cmd("render " .. ex .. "basic/job.json")
    assert.equal(0, status)
    assert.equal("default", assert(lunar.json.decode(out)).metadata.namespace)
  end)

  it("says what is wrong with a malformed payload", function()
    local bad = H.write(H.tmpdir() .. "/bad.json", '{"id": 1, "token": "x"')
    local status, out, err = lunar_cmd("render " .. ex .. "basic/runner.lua " .. bad)
    assert.equal(1, status)
    assert.equal("", out)
    assert.matches("bad%.json:1:%d+: invalid JSON", err)
    local job = H.job()
    job.git_info.sha = 42
    bad = H.write(H.tmpdir() .. "/bad2.json", assert(lunar.json.encode(job)))
    status, _, err = lunar_cmd("render " .. ex .. "basic/runner.lua " .. bad)
    assert.equal(1, status)
    assert.matches("bad2%.json: field git_info%.sha: expected a string, got number 42", err)
    job.git_info = nil
    bad = H.write(H.tmpdir() .. "/bad3.json", assert(lunar.json.encode(job)))
    status, _, err = lunar_cmd("render " .. ex .. "basic/runner.lua " .. bad)
    assert.matches("missing field git_info", err)
  end)

  it("reports a broken runner and a failing policy on stderr with exit 1", function()
    local _, _, path = H.load('local lunar = require "lunar"\nreturn lunar.runner {\n  kubernetes = {\n    cpu_limit = "many",\n  },\n}\n')
    local status, out, err = lunar_cmd("render " .. path .. " " .. ex .. "basic/job.json")
    assert.equal(1, status)
    assert.equal("", out)
    assert.truthy(err:find(path .. ":4: kubernetes.cpu_limit: quantity \"many\" is not valid", 1, true), err)
    _, _, path = H.load('local lunar = require "lunar"\nreturn lunar.runner {\n  kubernetes = {\n    namespace = function(job)\n      return job.nope.x\n    end,\n  },\n}\n')
    status, _, err = lunar_cmd("render " .. path .. " " .. ex .. "basic/job.json")
    assert.equal(1, status)
    assert.truthy(err:find("policy namespace failed: " .. path .. ":5: attempt to index a nil value (field 'nope')", 1, true), err)
  end)

  it("prints the runner's warnings on stderr", function()
    local _, _, path = H.load('local lunar = require "lunar"\nreturn lunar.runner { kubernetes = { image = "alpine" } }\n')
    local status, out, err = lunar_cmd("render " .. path .. " " .. ex .. "basic/job.json")
    assert.equal(0, status)
    assert.matches("Namespace is empty, therefore assuming 'default'.", err, 1, true)
    assert.truthy(lunar.json.decode(out))
  end)

  it("explains usage mistakes with exit 2", function()
    local status, _, err = lunar_cmd("render")
    assert.equal(2, status)
    assert.matches("expected %[RUNNER.lua%] JOB.json", err)
    status, _, err = lunar_cmd("render --format xml " .. ex .. "basic/job.json")
    assert.equal(2, status)
    assert.matches("--format must be json or yaml", err, 1, true)
    status, _, err = lunar_cmd("frobnicate")
    assert.equal(2, status)
    assert.matches("unknown command frobnicate", err)
  end)
end)

describe("lunar check", function()
  it("accepts every example", function()
    for _, name in ipairs { "basic", "arm64", "docker-in-docker", "gpu-pool", "host-volumes", "postgres-service", "werf-rootless", "windows" } do
      local status, out, err = lunar_cmd("check " .. ex .. name .. "/runner.lua")
      assert.equal(0, status, err)
      assert.matches(": ok\n$", out)
    end
  end)

  it("refuses an invalid entrypoint with file:line", function()
    local _, _, path = H.load('local lunar = require "lunar"\nreturn lunar.runner {\n  kubernetes = { volumes = { host_path = { { name = "x", mountpath = "/x" } } } },\n}\n')
    local status, _, err = lunar_cmd("check " .. path)
    assert.equal(1, status)
    assert.truthy(err:find(path .. ':3: kubernetes.volumes.host_path[1]: unknown key "mountpath" (did you mean "mount_path"?)', 1, true), err)
  end)

  it("reports a file that does not exist", function()
    local status, _, err = lunar_cmd("check /nonexistent/runner.lua")
    assert.equal(1, status)
    assert.matches("/nonexistent/runner.lua", err, 1, true)
  end)
end)

describe("lunar --help", function()
  it("explains every command", function()
    local status, out = lunar_cmd("--help")
    assert.equal(0, status)
    for _, cmd in ipairs { "render", "check", "version" } do assert.matches(cmd, out) end
    for _, cmd in ipairs { "render", "check", "version" } do
      local st, o = lunar_cmd(cmd .. " --help")
      assert.equal(0, st)
      assert.matches("^usage: lunar " .. cmd, o)
    end
  end)
end)
