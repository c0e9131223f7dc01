-- `lunar run` survives its own death: a runner SIGKILLed mid-job and
-- started again resumes the job from its Pod (every line once, none lost),
-- deletes the Pods of jobs GitLab no longer runs, and never touches the Pods
-- of another runner in the same namespace.
local H = require "run_harness"

-- Waits until the job's trace (in GitLab) holds `needle`.
local function wait_trace(env, id, needle, seconds)
  return H.eventually(function()
    local job = H.gitlab.job(env.gitlab, id)
    return job.trace and job.trace:find(needle, 1, true) and job
  end, seconds or 40)
end

local function kill_and_restart(env)
  H.signal(env, "KILL")
  assert.truthy(H.wait_exit(env, 10))
  H.start_runner(env, H.entrypoint(env, env.extra))
end

-- A second runner process on the same doubles: its own directory, entrypoint and log.
local function other_runner(env, name, extra)
  local o = { dir = env.dir .. "/" .. name, kube = env.kube, gitlab = env.gitlab }
  os.execute("mkdir -p " .. H.q(o.dir))
  H.kube.write_file(o.dir .. "/runner-token", env.gitlab.runner_token .. "\n")
  o.extra = extra
  return o
end

describe("lunar run: restarts", function()
  local env
  setup(function()
    env = H.setup()
    env.extra = "concurrent = 4,"
    H.start_runner(env, H.entrypoint(env, env.extra))
  end)
  teardown(function() H.teardown(env) end)

  it("killed three times during one job: the job finishes with every line once", function()
    local n = 150
    local id = H.gitlab.enqueue(env.gitlab, {
      name = "survivor", git_strategy = "none",
      script = { string.format("for i in $(seq 1 %d); do echo n-$i; sleep 0.1; done", n) },
      after_script = { "echo after-$CI_JOB_STATUS" },
    })
    for _, at in ipairs { 10, 50, 90 } do
      assert.truthy(wait_trace(env, id, "n-" .. at .. "\n"), "no n-" .. at .. "; log:\n" .. H.runner_log(env))
      kill_and_restart(env)
    end
    local job = H.final(env, id, 90)
    assert.are.equal("success", job.status, H.plain(job.trace))
    local trace = H.plain(job.trace)
    local last = 0
    for k in trace:gmatch("\nn%-(%d+)") do
      k = tonumber(k)
      assert.are.equal(last + 1, k, "n-" .. (last + 1) .. " missing or repeated; trace:\n" .. trace)
      last = k
    end
    assert.are.equal(n, last)
    assert.are.equal(1, H.count(trace, "after-success\n"))
    assert.are.equal(1, H.count(trace, "Job succeeded"))
    assert.are.equal(1, H.count(trace, "Running with lunar"))
    local u = H.last_final(job)
    assert.is_true(u.checksum_ok)
    assert.is_true(u.bytesize_ok)
    assert.truthy(H.nothing_left(env))
    assert.matches("resumed", H.runner_log(env))
  end)

  it("killed during the after_script of a graceful cancel: the job ends canceled with every line once", function()
    local id = H.gitlab.enqueue(env.gitlab, {
      name = "cancel-then-die", git_strategy = "none",
      script = { "for i in $(seq 1 40); do echo tick-$i; sleep 0.5; done" },
      after_script = { "for i in $(seq 1 12); do echo after-$i; sleep 0.3; done" },
    })
    assert.truthy(wait_trace(env, id, "tick-2\n"))
    H.gitlab.cancel(env.gitlab, id, true)
    assert.truthy(wait_trace(env, id, "after-3\n"), "after_script never ran; log:\n" .. H.runner_log(env))
    kill_and_restart(env)
    local job = H.final(env, id, 60)
    assert.are.equal("canceled", job.status)
    local trace = H.plain(job.trace)
    local last = 0
    for k in trace:gmatch("\nafter%-(%d+)") do
      k = tonumber(k)
      assert.are.equal(last + 1, k, "after-" .. (last + 1) .. " missing or repeated; trace:\n" .. trace)
      last = k
    end
    assert.are.equal(12, last)
    for k = 1, 3 do assert.are.equal(1, H.count(trace, "\ntick-" .. k .. "\n")) end
    assert.is_true(H.last_final(job).checksum_ok)
    assert.truthy(H.nothing_left(env))
  end)

  it("deletes on start the Pod of a job canceled while the runner was down", function()
    local id = H.gitlab.enqueue(env.gitlab, {
      name = "orphan", git_strategy = "none",
      script = { "for i in $(seq 1 100); do echo o-$i; sleep 0.2; done" },
    })
    assert.truthy(wait_trace(env, id, "o-3\n"))
    H.signal(env, "KILL")
    assert.truthy(H.wait_exit(env, 10))
    H.gitlab.cancel(env.gitlab, id, false)
    assert.are.equal(1, #H.pods(env))
    H.start_runner(env, H.entrypoint(env, env.extra))
    assert.truthy(H.nothing_left(env, 30), "the canceled job's Pod was kept: " .. table.concat(H.pods(env), ", "))
    local job = H.gitlab.job(env.gitlab, id)
    assert.are.equal("canceled", job.status)
    assert.not_matches("o%-100\n", job.trace)
  end)

  it("a second runner in the namespace leaves the first one's Pods alone", function()
    local id = H.gitlab.enqueue(env.gitlab, {
      name = "mine", git_strategy = "none",
      script = { "for i in $(seq 1 40); do echo m-$i; sleep 0.2; done" },
    })
    assert.truthy(wait_trace(env, id, "m-3\n"))
    local pod = H.pods(env)[1]
    assert.truthy(pod)
    H.signal(env, "KILL")
    assert.truthy(H.wait_exit(env, 10))
    -- another identity (system_id) on the same token and namespace
    local b = other_runner(env, "b", "concurrent = 2, system_id = \"s_other\",")
    H.kube.clear_requests(env.kube)
    H.start_runner(b, H.entrypoint(b, b.extra))
    local other_id = H.gitlab.enqueue(env.gitlab, { name = "theirs", git_strategy = "none", script = { "echo theirs" } })
    local other = H.final(b, other_id)
    assert.are.equal("success", other.status)
    for _, r in ipairs(H.kube.requests(env.kube)) do
      assert.is_nil((r.path or ""):find(pod, 1, true), "runner b touched " .. r.method .. " " .. r.path
        .. " (user " .. tostring(r.user) .. "); its log:\n" .. H.runner_log(b))
    end
    assert.are.same({ pod }, H.pods(env))
    assert.are.equal("running", H.gitlab.job(env.gitlab, id).status)
    H.stop_runner(b)
    -- the first runner, back, finishes its own job
    H.start_runner(env, H.entrypoint(env, env.extra))
    local job = H.final(env, id)
    assert.are.equal("success", job.status)
    assert.truthy(H.nothing_left(env))
  end)
end)
