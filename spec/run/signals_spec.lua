-- `lunar run` and its signals: SIGQUIT finishes the running jobs and exits,
-- SIGTERM aborts what is still running after shutdown_timeout, SIGHUP loads
-- the entrypoint again and switches only to a valid one.
local H = require "run_harness"

local function wait_trace(env, id, needle, seconds)
  return H.eventually(function()
    local job = H.gitlab.job(env.gitlab, id)
    return job.trace and job.trace:find(needle, 1, true) and job
  end, seconds or 30)
end

describe("lunar run: signals", function()
  local env
  setup(function() env = H.setup() end)
  teardown(function() H.teardown(env) end)
  after_each(function()
    H.stop_runner(env)
    assert.truthy(H.nothing_left(env), "a Pod or Secret was left: " .. table.concat(H.pods(env), ", "))
  end)

  it("SIGQUIT: takes no more jobs, waits for the running one, exits 0", function()
    H.start_runner(env, H.entrypoint(env, "concurrent = 2,"))
    local id = H.gitlab.enqueue(env.gitlab, {
      name = "finish-me", git_strategy = "none",
      script = { "for i in $(seq 1 8); do echo q-$i; sleep 0.5; done" },
    })
    assert.truthy(wait_trace(env, id, "q-1\n"))
    H.signal(env, "QUIT")
    os.execute("sleep 0.5")
    local later = H.gitlab.enqueue(env.gitlab, { name = "not-taken", git_strategy = "none" })
    assert.truthy(H.wait_exit(env, 40), "the runner did not exit")
    assert.are.equal(0, H.exit_status(env))
    local job = H.gitlab.job(env.gitlab, id)
    assert.are.equal("success", job.status)
    assert.matches("q%-8\n", job.trace)
    assert.is_false(H.gitlab.job(env.gitlab, later).picked)
    H.gitlab.cancel(env.gitlab, later, false)
  end)

  it("SIGTERM: aborts a job longer than shutdown_timeout and reports it failed", function()
    H.start_runner(env, H.entrypoint(env, "concurrent = 2,")) -- shutdown_timeout = 5
    local id = H.gitlab.enqueue(env.gitlab, {
      name = "too-long", git_strategy = "none",
      script = { "for i in $(seq 1 60); do echo t-$i; sleep 0.5; done" },
    })
    assert.truthy(wait_trace(env, id, "t-1\n"))
    H.signal(env, "TERM")
    assert.truthy(H.wait_exit(env, 40), "the runner did not exit")
    assert.are.equal(0, H.exit_status(env))
    local job = H.gitlab.job(env.gitlab, id)
    assert.are.equal("failed", job.status)
    local u = H.last_final(job)
    assert.are.equal("runner_interrupted", u.failure_reason)
    assert.is_true(u.checksum_ok)
    assert.not_matches("t%-60\n", job.trace)
    assert.matches("shutting down", H.plain(job.trace))
  end)

  it("SIGHUP: keeps a broken entrypoint out, switches to a valid one for new jobs", function()
    H.start_runner(env, H.entrypoint(env, "concurrent = 2,"))
    assert.truthy(H.wait_polling(env)) -- its signal handlers are in place
    local valid = H.entrypoint(env, "concurrent = 2,")
    H.kube.write_file(env.runner_path, valid:gsub("concurrent = 2,", "concurrent = 'two',"))
    H.signal(env, "HUP")
    assert.truthy(H.eventually(function() return H.runner_log(env):find("SIGHUP", 1, true) end, 10))
    assert.truthy(H.alive(env))
    assert.matches("SIGHUP: .* is invalid, keeping the running configuration: .*concurrent", H.runner_log(env))
    local id = H.gitlab.enqueue(env.gitlab, {
      name = "after-broken", git_strategy = "none", script = { 'echo "greeting=[$GREETING]"' },
    })
    local job = H.final(env, id)
    assert.are.equal("success", job.status)
    assert.matches("greeting=%[%]", job.trace)

    H.kube.write_file(env.runner_path, H.entrypoint(env, 'concurrent = 2, environment = { "GREETING=reloaded" },'))
    H.signal(env, "HUP")
    assert.truthy(H.eventually(function() return H.runner_log(env):find("configuration reloaded", 1, true) end, 10))
    id = H.gitlab.enqueue(env.gitlab, {
      name = "after-reload", git_strategy = "none", script = { 'echo "greeting=[$GREETING]"' },
    })
    job = H.final(env, id)
    assert.are.equal("success", job.status)
    assert.matches("greeting=%[reloaded%]", job.trace)
  end)
end)
