-- pod_spec entries through the real `lunar render` process: each patch type
-- given as `patch` text, as `patch_path`, as a Lua table, and returned by a
-- function entry; entries apply in list order after the Pod builder.
local lunar = require "lunar"
local H = require "helper"

local job = H.root .. "/examples/basic/job.json"

-- Writes a runner file whose kubernetes.pod_spec is the Lua source `entries`,
-- renders the basic job with it, and returns status, pod (or nil), stderr.
local function render(entries)
  local runner = H.write(H.tmpdir() .. "/patch_runner.lua", [[
local lunar = require "lunar"
return lunar.runner {
  name = "patches",
  kubernetes = {
    namespace = "ci",
    image = "alpine:3.20",
    cpu_limit = "1",
    pod_spec = ]] .. entries .. [[,
  },
}
]])
  local status, out, err = H.run(H.q(H.bin) .. " render " .. H.q(runner) .. " " .. H.q(job))
  return status, status == 0 and assert(lunar.json.decode(out)) or nil, err
end

describe("lunar render with pod_spec patches", function()
  it("applies strategic, merge and json patches from settings, in list order", function()
    local path = H.write(H.tmpdir() .. "/hostname.json", '{"hostname": "from-file", "subdomain": "ci"}')
    local status, pod, err = render([[{
      { name = "fuse", patch = "containers:\n  - name: build\n    resources:\n      limits:\n        github.com/fuse: '1'\n" },
      { name = "file", patch_type = "merge", patch_path = ]] .. string.format("%q", path) .. [[ },
      { name = "check", patch_type = "json", patch = {
          { op = "test", path = "/hostname", value = "from-file" },
          { op = "replace", path = "/hostname", value = "last" },
          { op = "add", path = "/containers/0/env/-", value = { name = "LAST", value = "1" } } } },
    }]])
    assert.equal(0, status, err)
    local build = H.container(pod, "build")
    -- merged into the limits the builder set
    assert.same({ cpu = "1", ["github.com/fuse"] = "1" }, build.resources.limits)
    assert.equal("last", pod.spec.hostname)
    assert.equal("ci", pod.spec.subdomain)
    assert.same({ name = "LAST", value = "1" }, build.env[#build.env])
    assert.truthy(H.container(pod, "helper")) -- the strategic patch kept the other containers
  end)

  it("applies a patch returned by a function entry, computed from the job", function()
    local status, pod, err = render([[{
      function(job, pod)
        return { patch_type = "strategic", patch = {
          containers = { { name = "build", env = { { name = "PATCHED_FOR", value = tostring(job.id) } } } },
        } }
      end,
      function(job, pod)
        pod.metadata.labels["patched"] = "yes"
        return pod
      end,
      { name = "after", patch_type = "merge", patch = { priorityClassName = "ci-low" } },
    }]])
    assert.equal(0, status, err)
    local build = H.container(pod, "build")
    assert.equal(tostring(H.job().id), H.env(build, "PATCHED_FOR"))
    assert.truthy(H.env(build, "CI_JOB_ID")) -- the builder's env is still there
    assert.equal("yes", pod.metadata.labels.patched)
    assert.equal("ci-low", pod.spec.priorityClassName)
  end)

  it("fails the render with a message naming the entry and what is wrong", function()
    local status, pod, err = render([[{ { name = "fuse", patch = "containers:\n  - name: build\n    image: a: b\n" } }]])
    assert.equal(1, status)
    assert.is_nil(pod)
    assert.matches("pod_spec%[1%] %(fuse%): patch:3:13: mapping values are not allowed in this context", err)

    status, _, err = render([[{ { name = "dns", patch_type = "json",
      patch = '[{"op": "test", "path": "/dnsPolicy", "value": "None"}]' } }]])
    assert.equal(1, status)
    assert.matches('pod_spec%[1%] %(dns%): json patch operation 0 %(test%): /dnsPolicy is "ClusterFirst", expected "None"', err)

    status, _, err = render([[{ {}, { name = "env", patch = { containers = { { name = "build", env = "A=1" } } } } }]])
    assert.equal(1, status)
    assert.matches("pod_spec%[1%]: needs patch or patch_path", err)

    status, _, err = render([[{ { name = "env", patch = { containers = { { name = "build", env = "A=1" } } } } }]])
    assert.equal(1, status)
    assert.matches('pod_spec%[1%] %(env%): spec%.containers%[0%]%.env: expected a list, got a string %("A=1"%)', err)

    status, _, err = render([[{ function() return { patch_type = "strategik", patch = {} } end }]])
    assert.equal(1, status)
    assert.matches('pod_spec%[1%]: unknown patch_type "strategik" %(use "strategic", "merge" or "json"%)', err)

    status, _, err = render([[{ function(job, pod) pod.spec.containers[1].ports = { { containerPort = "80" } } return pod end }]])
    assert.equal(1, status)
    assert.matches('pod_spec%[1%]: spec%.containers%[0%]%.ports%[0%]%.containerPort: expected an integer, got a string %("80"%)', err)

    local path = H.write(H.tmpdir() .. "/bad.yaml", "containers: [\n")
    status, _, err = render("{ { name = \"file\", patch_path = " .. string.format("%q", path) .. " } }")
    assert.equal(1, status)
    assert.matches("pod_spec%[1%] %(file%): " .. path:gsub("%p", "%%%0") .. ":2:1: ", err)
  end)

  it("renders the werf-rootless example, whose fuse device comes from a strategic patch", function()
    local ex = H.root .. "/examples/werf-rootless/"
    local status, out, err = H.run(H.q(H.bin) .. " render " .. H.q(ex .. "runner.lua") .. " " .. H.q(ex .. "job.json"))
    assert.equal(0, status, err)
    local build = H.container(assert(lunar.json.decode(out)), "build")
    assert.same({ cpu = "2", memory = "4Gi", ["github.com/fuse"] = "1" }, build.resources.limits)
  end)
end)
