-- `lunar run`: jobs that end before their script does: canceled in GitLab
-- (gracefully, with after_script; or aborted), canceled before the runner
-- acknowledged them, and timed out (runner_info.timeout).
local H = require "run_harness"

-- A script that prints a numbered line every half second for 20 s.
local TICKS = { "for i in $(seq 1 40); do echo tick $i; sleep 0.5; done", "echo script done" }

local function wait_trace(env, id, pattern, seconds)
  return H.eventually(function()
    local job = H.gitlab.job(env.gitlab, id)
    return job.trace and job.trace:find(pattern) and job
  end, seconds or 30)
end

describe("lunar run: cancel and timeout", function()
  local env
  setup(function()
    env = H.setup()
    H.start_runner(env, H.entrypoint(env, "concurrent = 4,"))
  end)
  teardown(function() H.teardown(env) end)
  after_each(function()
    H.gitlab.faults(env.gitlab)
    assert.truthy(H.nothing_left(env), "a Pod or Secret was left: " .. table.concat(H.pods(env), ", "))
  end)

  it("graceful cancel (canceling): stops the script, runs after_script with CI_JOB_STATUS=canceled", function()
    local id = H.gitlab.enqueue(env.gitlab, {
      name = "graceful", git_strategy = "none", script = TICKS,
      after_script = { 'echo "after with $CI_JOB_STATUS"' },
    })
    assert.truthy(wait_trace(env, id, "tick 2\n"), "the script never started")
    H.gitlab.cancel(env.gitlab, id, true)
    local job = H.final(env, id)
    assert.are.equal("canceled", job.status)
    local u = H.last_final(job)
    assert.are.equal("failed", u.state)
    local trace = H.plain(job.trace)
    assert.matches("after with canceled", trace)
    assert.not_matches("tick 30\n", trace)
    assert.not_matches("script done", trace)
    assert.matches("canceled", trace:sub(-300))
  end)

  it("abort (canceled): deletes the Pod at once, no after_script", function()
    local id = H.gitlab.enqueue(env.gitlab, {
      name = "abort", git_strategy = "none", script = TICKS,
      after_script = { 'echo "after with $CI_JOB_STATUS"' },
    })
    assert.truthy(wait_trace(env, id, "tick 2\n"), "the script never started")
    H.kube.clear_requests(env.kube)
    H.gitlab.cancel(env.gitlab, id, false)
    local job = H.final(env, id)
    assert.are.equal("canceled", job.status)
    assert.truthy(H.nothing_left(env, 10))
    local trace = H.plain(H.gitlab.job(env.gitlab, id).trace)
    assert.not_matches("after with", trace)
    assert.not_matches("tick 30\n", trace)
    local deletes = 0
    for _, r in ipairs(H.kube.requests(env.kube)) do
      if r.method == "DELETE" and r.resource == "pods" then
        deletes = deletes + 1
        assert.matches("gracePeriodSeconds=0", r.query or "")
      end
    end
    assert.are.equal(1, deletes)
  end)

  it("cancel before the ack: no Pod is created", function()
    -- hold the ack long enough to cancel the job in between
    H.gitlab.faults(env.gitlab, { { method = "PUT", path = "^/api/v4/jobs/\\d+$", latency = 2, times = 1 } })
    H.kube.clear_requests(env.kube)
    local id = H.gitlab.enqueue(env.gitlab, { name = "early", git_strategy = "none", script = TICKS })
    assert.truthy(H.eventually(function() return H.gitlab.job(env.gitlab, id).picked end, 20))
    H.gitlab.cancel(env.gitlab, id, true)
    local job = H.final(env, id)
    assert.are.equal("canceled", job.status)
    assert.not_matches("Creating Pod", H.plain(job.trace))
    for _, r in ipairs(H.kube.requests(env.kube)) do
      assert.is_false(r.verb == "create", "a " .. r.resource .. " was created for a canceled job")
    end
  end)

  it("job timeout: job_execution_timeout, after_script output kept", function()
    local id = H.gitlab.enqueue(env.gitlab, {
      name = "slow", git_strategy = "none", timeout = 8, script = TICKS,
      after_script = { 'echo "after with $CI_JOB_STATUS"' },
    })
    local job = H.final(env, id)
    assert.are.equal("failed", job.status)
    local u = H.last_final(job)
    assert.are.equal("job_execution_timeout", u.failure_reason)
    assert.is_true(u.checksum_ok)
    local trace = H.plain(job.trace)
    assert.matches("tick 1\n", trace)
    assert.not_matches("script done", trace)
    assert.matches("after with", trace)
    assert.matches("timeout", trace:sub(-400))
  end)
end)
