-- lunar's rendered Pods, run by kube_double, against the GitLab double: the
-- job clones its repository over HTTP with the job token, the stand-in
-- gitlab-runner-helper (found through the runner's `environment` PATH)
-- archives the cache and uploads the artifacts, and a dependent job's Pod
-- downloads them. The runner's side (taking and finishing the jobs) is
-- played by the support module, not by `lunar run`.
local lunar = require "lunar"
local gd = require "gitlab_double"
local K = require "spec.kube.support"
local render = require "lunar.render"

local function run_pod(kd, runner, payload)
  local objects = render.render_objects(runner, payload)
  local c = K.client(kd)
  assert(c:create("secrets", objects.secret))
  local pod = assert(c:create("pods", objects.pod))
  local name = pod.metadata.name
  local done = K.eventually(function()
    local p = c:get("pods", name)
    local phase = p and p.status and p.status.phase
    return (phase == "Succeeded" or phase == "Failed") and p
  end, 1200)
  assert(done, "the Pod did not finish")
  local logs = {}
  for _, list in ipairs { done.spec.initContainers or {}, done.spec.containers } do
    for _, ctr in ipairs(list) do
      logs[#logs + 1] = c:logs(name, { container = ctr.name }) or ""
    end
  end
  return done, table.concat(logs, "\n")
end

describe("a rendered Pod against the GitLab double", function()
  local h, kd, runner
  setup(function()
    h = gd.start()
    kd = K.start()
    runner = lunar.runner(gd.runner_settings(h, { name = "pods", kubernetes = { namespace = "ci", image = "alpine:3.20" } }))
  end)
  teardown(function()
    K.stop(kd)
    gd.stop(h)
  end)

  it("clones, saves the cache, uploads artifacts, and a dependent job downloads them", function()
    gd.repo(h, "acme/app", { ["build.sh"] = "#!/bin/sh\nmkdir -p out .cache\necho built > out/result.txt\necho c > .cache/c\n" },
      { executable = { "build.sh" } })
    local build, payload = gd.take(h, {
      name = "build", repo = "acme/app", script = { "./build.sh" },
      artifacts = { paths = { "out/" } }, cache = { key = "deps", paths = { ".cache" } },
    })
    local pod, log = run_pod(kd, runner, payload)
    assert.equal("Succeeded", pod.status.phase, log)
    assert.truthy(log:find("Checking out", 1, true), log)
    assert.truthy(log:find("Uploading artifacts as \"archive\" to coordinator... 201 Created", 1, true), log)
    local rec = gd.job(h, build)
    assert.equal("artifacts.zip", rec.artifacts[1].filename)
    assert.equal(200, gd.finish(h, build, payload.token, "success"))

    local test, p2 = gd.take(h, { name = "test", dependencies = { build }, script = { "cat out/result.txt" } })
    assert.equal(build, p2.dependencies[1].id)
    pod, log = run_pod(kd, runner, p2)
    assert.equal("Succeeded", pod.status.phase, log)
    assert.truthy(log:find("Downloading artifacts from coordinator... ok", 1, true), log)
    assert.truthy(log:find("\nbuilt\n", 1, true), log)
    assert.equal(1, #gd.job(h, test).downloads)
    local git = 0
    for _, e in ipairs(gd.requests(h)) do
      if e.path:match("^/acme/app%.git/") then git = git + 1 end
    end
    assert.is_true(git > 0)
  end)

  it("does the same over HTTPS with the double's CA (tls_ca_file)", function()
    local t = gd.start { tls = true }
    local ok, err = pcall(function()
      local r = lunar.runner(gd.runner_settings(t, { name = "tls", kubernetes = { namespace = "ci", image = "alpine:3.20" } }))
      gd.repo(t, "acme/tls", { ["a.txt"] = "from https\n" })
      local id, payload = gd.take(t, { repo = "acme/tls", script = { "mkdir -p out", "cp a.txt out/" },
                                       artifacts = { paths = { "out/" } } })
      assert.equal("https", payload.git_info.repo_url:match("^(%a+):"))
      local pod, log = run_pod(kd, r, payload)
      assert.equal("Succeeded", pod.status.phase, log)
      assert.equal(1, #gd.job(t, id).artifacts, log)
    end)
    gd.stop(t)
    assert(ok, err)
  end)
end)
