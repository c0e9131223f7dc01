-- Each example runner does, for its sample job, what its comment promises.
local lunar = require "lunar"
local config = require "lunar.config"
local H = require "helper"

local function load(name) return assert(config.load(H.root .. "/examples/" .. name .. "/runner.lua")) end

local function render(name, vars, job)
  job = job or H.job(name)
  for k, v in pairs(vars or {}) do H.setvar(job, k, v) end
  return lunar.render(load(name), job)
end

describe("examples", function()
  it("gpu-pool sends GPU jobs to the pool of their class, with the GPUs as a resource", function()
    local pod = assert(render("gpu-pool", { GPU_COUNT = "2", GPU_CLASS = "a100" }))
    assert.equal("gpu-a100", pod.spec.nodeSelector["node-pool"])
    assert.equal("2", pod.spec.containers[1].resources.limits["nvidia.com/gpu"])
    assert.same({ { key = "nvidia.com/gpu", operator = "Exists", effect = "NoSchedule" } }, pod.spec.tolerations)
    pod = assert(render("gpu-pool", { GPU_COUNT = "0" }))
    assert.equal("cpu", pod.spec.nodeSelector["node-pool"])
    assert.is_nil(pod.spec.tolerations)
    local _, err = render("gpu-pool", { GPU_COUNT = "1", GPU_CLASS = "h900" })
    assert.matches("^policy node_selector failed: .*runner%.lua:%d+: unknown GPU_CLASS h900", err)
  end)

  it("arm64 picks nodes and the helper image from the job's ARCH", function()
    local pod = assert(render("arm64", { ARCH = "arm64" }))
    assert.equal("arm64", pod.spec.nodeSelector["kubernetes.io/arch"])
    assert.matches(":arm64%-v", H.container(pod, "helper").image)
    assert.equal("arm64", pod.spec.tolerations[1].value)
    local _, err = render("arm64", { ARCH = "sparc" })
    assert.matches("ARCH must be amd64 or arm64, not sparc", err)
  end)

  it("windows uses the servercore helper for the node's Windows build", function()
    local pod = assert(render("windows"))
    assert.matches("servercore21H2$", H.container(pod, "helper").image)
    assert.equal("windows", pod.spec.nodeSelector["kubernetes.io/os"])
  end)

  it("docker-in-docker runs privileged with a dind service and only docker images", function()
    local pod = assert(render("docker-in-docker"))
    for _, c in ipairs(pod.spec.containers) do assert.is_true(c.securityContext.privileged) end
    local job = H.job("docker-in-docker")
    job.image = { name = "ubuntu:24.04" }
    local _, err = render("docker-in-docker", nil, job)
    assert.matches("disallowed image", err)
  end)

  it("postgres-service adds a redis cache and pulls internal images once", function()
    local pod = assert(render("postgres-service"))
    assert.truthy(H.container(pod, "db"))
    assert.truthy(H.container(pod, "cache"))
    assert.equal("Always", H.container(pod, "cache").imagePullPolicy)
  end)

  it("host-volumes mounts the containerd socket and the kubeconfig Secret", function()
    local pod = assert(render("host-volumes"))
    assert.equal("/run/containerd/containerd.sock", pod.spec.volumes[1].hostPath.path)
    assert.equal("deploy-kubeconfig", pod.spec.volumes[2].secret.secretName)
    assert.same({ ip = "10.20.0.15", hostnames = { "registry.internal", "registry" } }, pod.spec.hostAliases[1])
  end)
end)
