-- `lunar run`: GitLab Runner settings that govern the Kubernetes side of a
-- job rather than its Pod: resource_availability_check_max_attempts (the
-- service account and pull secrets must exist before the Pod is created),
-- cleanup_resources_timeout (how long the Pod's delete may take),
-- pod_disruption_budget (a PodDisruptionBudget keeps node drains off the Pod).
local H = require "run_harness"

local function requests(env, resource, verb)
  local out = {}
  for _, r in ipairs(H.kube.requests(env.kube)) do
    if r.resource == resource and (not verb or r.verb == verb) then out[#out + 1] = r end
  end
  return out
end

describe("lunar run: Kubernetes settings of GitLab Runner", function()
  local env, c
  setup(function()
    env = H.setup()
    H.start_runner(env, H.entrypoint(env, string.format("environment = { %q },", "PATH=" .. H.gitlab.helper_path), [[
    resource_availability_check_max_attempts = 1,
    image_pull_secrets = { "regcred" },
    cleanup_resources_timeout = "1s",
    pod_disruption_budget = true,
]]))
    c = H.kube.client(env.kube)
  end)
  teardown(function() H.teardown(env) end)
  after_each(function()
    H.kube.faults(env.kube)
    for _, name in ipairs(H.pods(env)) do c:delete("pods", name, { grace_period_seconds = 0 }) end
    assert.truthy(H.nothing_left(env), "a Pod or Secret was left: " .. table.concat(H.pods(env), ", "))
  end)

  it("fails the job when an image pull secret is missing after N+1 checks 5 s apart, creating no Pod", function()
    H.kube.clear_requests(env.kube)
    local id = H.gitlab.enqueue(env.gitlab, { name = "no-secret", git_strategy = "none", script = { "echo never" } })
    local job = H.final(env, id)
    local trace = H.plain(job.trace)
    assert.are.equal("failed", job.status, trace)
    assert.matches("Timed out while waiting for ImagePullSecret/regcred to be present in the cluster", trace, 1, true)
    local gets = {}
    for _, r in ipairs(requests(env, "secrets", "get")) do
      if r.name == "regcred" then gets[#gets + 1] = r end
    end
    assert.are.equal(2, #gets)
    assert.is_true(gets[2].time - gets[1].time >= 4.9) -- a lower bound
    assert.are.equal(0, #requests(env, "pods", "create"))
  end)

  it("creates the Pod once the pull secret is there, with a PodDisruptionBudget owned by it", function()
    assert(c:create("secrets", H.kube.secret("regcred")))
    H.kube.clear_requests(env.kube)
    local id = H.gitlab.enqueue(env.gitlab, { name = "with-secret", git_strategy = "none", script = { "echo ran" } })
    local job = H.final(env, id)
    assert.are.equal("success", job.status, H.plain(job.trace))
    local pdb = requests(env, "poddisruptionbudgets", "create")
    assert.are.equal(1, #pdb)
    assert.are.equal(201, pdb[1].status)
    -- it goes with the Pod (garbage collection of what the Pod owns)
    assert.truthy(H.kube.eventually(function() return #c:list("poddisruptionbudgets").items == 0 end, 20))
    assert(c:delete("secrets", "regcred"))
  end)

  it("gives up deleting the Pod after cleanup_resources_timeout", function()
    assert(c:create("secrets", H.kube.secret("regcred")))
    H.kube.faults(env.kube, { rules = { { method = "DELETE", path = "/pods/", error = 503 } } })
    local id = H.gitlab.enqueue(env.gitlab, { name = "stuck-delete", git_strategy = "none", script = { "echo ran" } })
    local job = H.final(env, id)
    assert.are.equal("success", job.status, H.plain(job.trace))
    assert.truthy(H.kube.eventually(function()
      return H.runner_log(env):find("within cleanup_resources_timeout (1 s): gave up", 1, true) ~= nil
    end, 20), H.runner_log(env))
    H.kube.faults(env.kube)
    assert(c:delete("secrets", "regcred"))
  end)
end)
