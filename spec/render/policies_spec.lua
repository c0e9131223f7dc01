-- Settings computed per job by Lua functions (policies): each gets the
-- read-only job, its result is validated like a static value, and a failing
-- policy fails the render with a message naming it and its file:line.
local lunar = require "lunar"
local H = require "helper"

describe("policies", function()
  it("pull_policy(job, image) decides per image, within the allowed list", function()
    local seen = {}
    local job = H.job("postgres-service")
    job.image.pull_policy = nil
    local pod = assert(H.render({
      pull_policy = function(j, image)
        seen[#seen + 1] = image.name
        assert(j.id == 918273)
        return image.name:match("^postgres") and "if-not-present" or { "always", "if-not-present" }
      end,
    }, job))
    assert.same({ "python:3.12-slim", "postgres:16-alpine" }, seen)
    assert.equal("Always", H.container(pod, "build").imagePullPolicy)
    assert.equal("IfNotPresent", H.container(pod, "db").imagePullPolicy)
  end)

  it("services(job, requested) gets the runner's and the job's services and returns the list to run", function()
    local job = H.job("postgres-service")
    local got
    local pod = assert(H.render({
      services = function(j, requested)
        got = {}
        for _, s in ipairs(requested) do got[#got + 1] = s.name end
        if j.variables.CI_COMMIT_REF_NAME == "main" then return { { name = "mysql:8", alias = "mysql" } } end
        return requested
      end,
    }, job))
    assert.same({ "postgres:16-alpine" }, got)
    assert.truthy(H.container(pod, "mysql"))
    assert.is_nil(H.container(pod, "db"))
  end)

  it("node_selector, node_tolerations and affinity are functions of the job", function()
    local job = H.setvar(H.job(), "ARCH", "arm64")
    local pod = assert(H.render({
      node_selector = function(j) return { ["kubernetes.io/arch"] = j.variables.ARCH or "amd64" } end,
      node_tolerations = function(j) return { ["arch=" .. j.variables.ARCH] = "NoSchedule" } end,
      affinity = function(j)
        return { node_affinity = { required_during_scheduling_ignored_during_execution = { node_selector_terms = {
          { match_expressions = { { key = "project", operator = "In", values = { tostring(j.project.id) } } } } } } } }
      end,
    }, job))
    assert.same({ ["kubernetes.io/arch"] = "arm64" }, pod.spec.nodeSelector)
    assert.same({ { key = "arch", operator = "Equal", value = "arm64", effect = "NoSchedule" } }, pod.spec.tolerations)
    assert.equal("4821", pod.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[1].matchExpressions[1].values[1])
    assert.matches(":arm64%-v", H.container(pod, "helper").image)
  end)

  it("any other setting may be a function of the job", function()
    local pod = assert(H.render({
      cpu_limit = function(j) return j.stage == "test" and "2" or "1" end,
      namespace = function(j) return "ci-" .. j.project.root_namespace end,
      pod_labels = function(j) return { job = j.name } end,
    }))
    assert.equal("2", H.container(pod, "build").resources.limits.cpu)
    assert.equal("ci-acme", pod.metadata.namespace)
    assert.equal("unit-tests", pod.metadata.labels.job)
  end)

  it("pod_spec function entries get (job, pod) and return the changed pod", function()
    local pod = assert(H.render({
      pod_spec = {
        function(j, p)
          p.spec.hostname = "job-" .. j.id
          return p
        end,
        function(_, p)
          p.metadata.labels.second = p.spec.hostname
          return p
        end,
      },
    }))
    assert.equal("job-918273", pod.spec.hostname)
    assert.equal("job-918273", pod.metadata.labels.second)
  end)

  it("validates a policy's result like a static value, naming the policy", function()
    local pod, err = H.render { cpu_limit = function() return "lots" end }
    assert.is_nil(pod)
    assert.matches("^policy cpu_limit returned an invalid value:\n.*spec/render/policies_spec%.lua:%d+: kubernetes%.cpu_limit: quantity \"lots\" is not valid", err)
    pod, err = H.render { pull_policy = function() return "sometimes" end }
    assert.matches("^policy pull_policy returned an invalid value", err)
    pod, err = H.render { services = function() return { { alias = "x" } } end }
    assert.matches("services%[1%]%.name: is required", err)
    pod, err = H.render { pod_spec = { function() return 42 end } }
    assert.equal("pod_spec[1]: the function returned number; return the changed pod, or a patch {patch_type = ..., patch = ...}", err)
  end)

  it("fails the render, not the runner, when a policy raises", function()
    local runner = H.runner { node_selector = function(job) return { a = job.variables.NOPE.x } end }
    local pod, err = lunar.render(runner, H.job())
    assert.is_nil(pod)
    assert.matches("^policy node_selector failed: .*spec/render/policies_spec%.lua:%d+: attempt to index a nil value %(field 'NOPE'%)$", err)
  end)

  it("stops a policy stuck in a loop", function()
    local pod, err = H.render { namespace = function() while true do end end }
    assert.is_nil(pod)
    assert.matches("^policy namespace failed: .*instruction budget exhausted", err)
  end)

  it("gives policies a read-only job", function()
    local pod, err = H.render { namespace = function(job) job.variables.X = "1"; return "ci" end }
    assert.is_nil(pod)
    assert.matches('attempt to modify read%-only field "X"', err)
    pod, err = H.render { namespace = function(job) job.project.id = 1; return "ci" end }
    assert.matches('attempt to modify read%-only field "id"', err)
  end)

  it("shows the job's fields to policies", function()
    local got
    assert(H.render { namespace = function(job)
      got = { job.id, job.name, job.stage, job.ref, job.sha, job.project.path, job.project.namespace,
        job.variables.CI_PROJECT_ID, job.image.name, job.timeout, #job.services }
      return "ci"
    end })
    assert.same({ 918273, "unit-tests", "test", "main", "4be0c3a1f7d29e85b6c04d13a9f2e7c58b1d6a30",
      "acme/payments-api", "acme", "4821", "alpine:3.20", 3600, 0 }, got)
  end)
end)
