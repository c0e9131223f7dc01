-- `lunar run` end to end: the real binary against the GitLab coordinator
-- double (HTTPS) and the Kubernetes API server double, whose Pods run the
-- stage scripts, git and the shell for real.
local H = require "run_harness"

local function final(env, id, seconds)
  local job = H.gitlab.wait_final(env.gitlab, id, seconds or 60)
  assert(job, "job " .. id .. " did not reach a final state; runner log:\n" .. H.runner_log(env))
  return job
end

local function last_update(job)
  return job.updates[#job.updates]
end

describe("lunar run", function()
  local env
  setup(function()
    env = H.setup()
    H.start_runner(env, H.entrypoint(env, "concurrent = 8,"))
  end)
  teardown(function() H.teardown(env) end)

  it("runs a passing job: trace, success, checksum, and nothing left behind", function()
    local id = H.gitlab.enqueue(env.gitlab, {
      name = "hello", git_strategy = "none",
      script = { "echo hello from $CI_JOB_NAME", "uname -s" },
    })
    local job = final(env, id)
    assert.are.equal("success", job.status)
    local trace = H.plain(job.trace)
    assert.matches("Running with lunar", trace)
    assert.matches("hello from hello", trace)
    assert.matches("Linux", trace)
    assert.matches("Job succeeded", trace)
    local u = last_update(job)
    assert.are.equal("success", u.state)
    assert.is_true(u.checksum_ok ~= false, "checksum/bytesize must match the stored trace")
    assert.truthy(H.eventually(function() return #H.pods(env) == 0 end), "the Pod was not deleted")
    assert.truthy(H.eventually(function() return #H.secrets(env) == 0 end), "the job Secret was not deleted")
  end)

  it("fails a job whose script fails, runs after_script and reports the exit code", function()
    local id = H.gitlab.enqueue(env.gitlab, {
      name = "broken", git_strategy = "none",
      script = { "echo before", "exit 3", "echo never" },
      after_script = { 'echo "after with $CI_JOB_STATUS"' },
    })
    local job = final(env, id)
    assert.are.equal("failed", job.status)
    local u = last_update(job)
    assert.are.equal("script_failure", u.failure_reason)
    assert.are.equal(3, u.exit_code)
    local trace = H.plain(job.trace)
    assert.matches("before", trace)
    assert.not_matches("never\n", trace)
    assert.matches("after with failed", trace)
    assert.matches("ERROR: Job failed: exit code 3", trace)
  end)

  it("masks masked variables and the job token in the trace, also split across reads", function()
    local secret = "s3cr3t-Pa55w0rd-xyz"
    local id = H.gitlab.enqueue(env.gitlab, {
      name = "masking", git_strategy = "none",
      variables = { MY_SECRET = { value = secret, masked = true } },
      script = {
        'echo "the secret is $MY_SECRET"',
        'printf "%s" "${MY_SECRET%%-xyz}"; sleep 0.3; echo "-xyz"',
        'echo "token $CI_JOB_TOKEN"',
      },
    })
    local job = final(env, id)
    assert.are.equal("success", job.status)
    assert.is_nil(job.trace:find(secret, 1, true))
    assert.matches("the secret is %[MASKED%]", job.trace)
    assert.is_nil(job.trace:find(job.token, 1, true))
  end)

  it("clones the project's repository for real", function()
    local repo = H.gitlab.repo(env.gitlab, "group/app", { ["README.md"] = "hello from git\n" })
    local id = H.gitlab.enqueue(env.gitlab, {
      name = "clone", repo = "group/app", sha = repo.sha,
      script = { "cat README.md", "git log -1 --format=%H" },
    })
    local job = final(env, id)
    assert.are.equal("success", job.status, H.plain(job.trace))
    assert.matches("hello from git", job.trace)
    assert.matches(repo.sha, job.trace)
  end)

  it("runs 10 jobs at once", function()
    local ids = {}
    for i = 1, 10 do
      ids[i] = H.gitlab.enqueue(env.gitlab, { name = "many-" .. i, git_strategy = "none",
        script = { "echo job " .. i, "sleep 1" } })
    end
    for i, id in ipairs(ids) do
      local job = final(env, id, 120)
      assert.are.equal("success", job.status)
      assert.matches("job " .. i .. "\n", H.plain(job.trace))
    end
    assert.truthy(H.eventually(function() return #H.pods(env) == 0 end))
  end)
end)

describe("lunar run start-up", function()
  local env
  setup(function() env = H.setup() end)
  teardown(function() H.teardown(env) end)

  it("stops with a clear error when GitLab refuses the token", function()
    H.kube.write_file(env.dir .. "/runner-token", "glrt-not-a-valid-token\n")
    H.start_runner(env)
    assert.truthy(H.wait_exit(env, 20))
    local log = H.runner_log(env)
    assert.matches("refused the runner token", log)
    assert.matches("token_file", log)
    H.kube.write_file(env.dir .. "/runner-token", env.gitlab.runner_token .. "\n")
  end)
end)
