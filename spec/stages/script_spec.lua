-- The build container: step_script, after_script, the status files, exit
-- codes, the shell, cancel and time limits, run for real.
local pod = require "podrun"
local fx = require "stage_fixtures"

describe("the build container", function()
  local S = fx.suite()
  lazy_setup(S.setup)
  lazy_teardown(S.teardown)
  before_each(S.fresh)



  local function status(plan, name)
    return (pod.read(plan.layout.status_dir .. "/" .. name) or ""):gsub("%s+$", "")
  end

  it("runs the script lines in order in the project dir, echoing each as GitLab does", function()
    local r, plan = S.run { script = { "echo one", "pwd", "echo two\necho three", "" } }
    assert.equal(0, r.codes.build, r.log)
    local log = r.logs.build
    assert.truthy(log:find("\27[32;1m$ echo one\27[0;m\none\n", 1, true), log)
    assert.truthy(log:find("\n" .. plan.layout.project_dir .. "\n", 1, true))
    assert.truthy(log:find("$ echo two # collapsed multi-line command\27[0;m\ntwo\nthree\n", 1, true))
    assert.truthy(log:find('Executing "step_script" stage of the job script', 1, true))
  end)

  it("stops at the first failure, runs after_script with CI_JOB_STATUS=failed, and exits with the script's code", function()
    local r, plan = S.run {
      script = { "echo before", "sh -c 'exit 7'", "echo never" },
      after_script = { 'echo "after: $CI_JOB_STATUS"' },
    }
    assert.equal(7, r.codes.build)
    assert.equal("7", status(plan, "exit_code"))
    assert.equal("failed", status(plan, "job_status"))
    assert.truthy(r.logs.build:find("before\n", 1, true))
    assert.falsy(r.logs.build:find("never", 1, true))
    assert.truthy(r.logs.build:find("after: failed\n", 1, true))
    assert.truthy(r.logs.build:find("after: failed", r.logs.build:find("sh -c 'exit 7'", 1, true), true))
  end)

  it("records success and runs after_script with CI_JOB_STATUS=success", function()
    local r, plan = S.run { script = { "true" }, after_script = { 'echo "after: $CI_JOB_STATUS"' } }
    assert.equal(0, r.codes.build, r.log)
    assert.equal("0", status(plan, "exit_code"))
    assert.equal("success", status(plan, "job_status"))
    assert.truthy(r.logs.build:find("after: success\n", 1, true))
  end)

  it("ignores after_script errors unless AFTER_SCRIPT_IGNORE_ERRORS=false", function()
    local r = S.run { script = { "true" }, after_script = { "exit 3" } }
    assert.equal(0, r.codes.build, r.log)
    assert.truthy(r.logs.build:find("WARNING: after_script failed, but job will continue unaffected: exit code 3", 1, true))
    pod.fresh(S.n)
    r = S.run { script = { "true" }, after_script = { "exit 3" }, variables = { fx.var("AFTER_SCRIPT_IGNORE_ERRORS", "false") } }
    assert.equal(3, r.codes.build)
  end)

  it("runs in bash (with pipefail) when the image has it, in sh when the runner says so", function()
    local script = { 'echo "shell: ${BASH_VERSION:+bash}"', "false | true", "echo after-the-pipe" }
    local r = S.run { script = script }
    assert.equal(1, r.codes.build, "pipefail")
    assert.truthy(r.logs.build:find("shell: bash\n", 1, true))
    assert.falsy(r.logs.build:find("after-the-pipe\n", 1, true))
    pod.fresh(S.n)
    r = S.run({ script = script }, { shell = "sh" })
    assert.equal(0, r.codes.build, r.log)
    assert.truthy(r.logs.build:find("shell: \n", 1, true))
    assert.truthy(r.logs.build:find("after-the-pipe\n", 1, true))
  end)

  it("on TERM (the Pod is deleted) stops the script and everything it started, then runs after_script as canceled", function()
    local plan = S.plan {
      script = { "touch started", "sleep 29.25 & sleep 29.5", "echo never" },
      after_script = { 'echo "after: $CI_JOB_STATUS"' },
    }
    pod.mount_secret(plan)
    local get = pod.start(S.n, plan, plan.containers[1])
    assert.equal(0, (pod.wait(get)))
    local build
    for _, c in ipairs(plan.containers) do
      if c.name == "build" then build = pod.start(S.n, plan, c) end
    end
    local started = plan.layout.project_dir .. "/started"
    for _ = 1, 200 do
      if pod.exists(started) then break end
      pod.sleep(0.02)
    end
    assert.is_true(pod.exists(started))
    pod.sleep(0.2)
    os.execute("kill -TERM " .. build.pid)
    local code, log = pod.wait(build, 10)
    assert.not_equal(0, code)
    assert.equal("canceled", status(plan, "job_status"))
    assert.equal(tostring(code), status(plan, "exit_code"))
    assert.truthy(log:find("after: canceled\n", 1, true), log)
    assert.falsy(log:find("never", 1, true))
    assert.equal("", (pod.exec("pgrep -f 'sleep 29.[25]' || true"):gsub("%s+$", "")))
  end)

  it("ends a script that runs past RUNNER_SCRIPT_TIMEOUT as timedout", function()
    local started = os.time()
    local r, plan = S.run {
      script = { "sleep 28.75", "echo never" }, after_script = { 'echo "after: $CI_JOB_STATUS"' },
      variables = { fx.var("RUNNER_SCRIPT_TIMEOUT", "1s") },
    }
    assert.is_true(os.time() - started < 10)
    assert.not_equal(0, r.codes.build)
    assert.equal("timedout", status(plan, "job_status"))
    assert.truthy(r.logs.build:find("after: timedout\n", 1, true))
    assert.truthy(r.logs.build:find("WARNING: step_script could not run to completion because the timeout was exceeded.", 1, true))
  end)

  it("gives after_script its own time limit (RUNNER_AFTER_SCRIPT_TIMEOUT)", function()
    local started = os.time()
    local r = S.run {
      script = { "true" }, after_script = { "sleep 28.5", "echo never" },
      variables = { fx.var("RUNNER_AFTER_SCRIPT_TIMEOUT", "1s") },
    }
    assert.is_true(os.time() - started < 10)
    assert.equal(0, r.codes.build, r.log)
    assert.truthy(r.logs.build:find("WARNING: after_script failed: the timeout was exceeded.", 1, true))
    assert.falsy(r.logs.build:find("never", 1, true))
  end)

  it("runs the runner's pre_build_script and post_build_script around the job's script", function()
    local r = S.run({ script = { "echo job" } }, { pre_build_script = "echo pre-build", post_build_script = "echo post-build" })
    assert.equal(0, r.codes.build, r.log)
    local a, b, c = r.logs.build:find("pre-build\n", 1, true), r.logs.build:find("\njob\n", 1, true),
        r.logs.build:find("post-build\n", 1, true)
    assert.truthy(a and b and c and a < b and b < c, r.logs.build)
  end)
end)
