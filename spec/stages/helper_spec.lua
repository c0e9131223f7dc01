-- Cache and artifacts: the helper binary's calls (a fake on PATH records
-- them), the helper container's wait for the build's exit code, `when`.
local pod = require "podrun"
local fx = require "stage_fixtures"

describe("cache and artifacts", function()
  local S = fx.suite()
  lazy_setup(S.setup)
  lazy_teardown(S.teardown)
  before_each(S.fresh)



  local ARTIFACTS = {
    { name = "test-output", paths = { "reports/" }, exclude = { "reports/**/*.tmp" }, when = "always",
      expire_in = "7 days", artifact_type = "archive", artifact_format = "zip" },
    { name = "on-success", paths = { "dist/" }, when = "on_success" },
    { name = "on-failure", paths = { "logs/" }, untracked = true, when = "on_failure",
      artifact_type = "junit", artifact_format = "gzip" },
    { name = "empty", when = "always" },
  }

  local function uploads()
    local out = {}
    for _, call in ipairs(pod.calls_of(S.n, "helper", "artifacts-uploader")) do
      for i, a in ipairs(call) do
        if a == "--name" then out[#out + 1] = call[i + 1] end
      end
    end
    return out
  end

  it("makes the helper wait for the build's exit code before uploading", function()
    local plan = S.plan { artifacts = ARTIFACTS }
    pod.mount_secret(plan)
    pod.must("mkdir -p " .. pod.q(plan.layout.status_dir) .. " " .. pod.q(plan.layout.project_dir))
    local helper = pod.start(S.n, plan, plan.containers[#plan.containers])
    assert.equal("helper", helper.name)
    pod.sleep(0.4)
    assert.is_false(pod.done(helper), "still waiting")
    assert.same({}, pod.calls(S.n, "helper"))
    pod.write(plan.layout.status_dir .. "/exit_code", "0\n")
    local code, log = pod.wait(helper)
    assert.equal(0, code, log)
    assert.same({ "test-output", "on-success" }, uploads())
  end)

  it("stops waiting when the build container died without reporting (stale heartbeat)", function()
    local plan = S.plan { artifacts = ARTIFACTS }
    pod.mount_secret(plan)
    local status = plan.layout.status_dir
    pod.must("mkdir -p " .. pod.q(status) .. " " .. pod.q(plan.layout.project_dir))
    pod.must("touch -d '-90 seconds' " .. pod.q(status .. "/heartbeat"))
    local code, log = pod.wait(pod.start(S.n, plan, plan.containers[#plan.containers]), 10)
    assert.equal(0, code, log)
    assert.truthy(log:find("WARNING: the build container stopped without reporting an exit status", 1, true))
    assert.same({ "test-output", "on-failure" }, uploads())
  end)

  it("sees a live build container's heartbeat", function()
    local r, plan = S.run { artifacts = ARTIFACTS }
    assert.equal(0, r.codes.helper, r.log)
    assert.is_true(pod.exists(plan.layout.status_dir .. "/heartbeat"))
    assert.falsy(r.log:find("stopped without reporting", 1, true))
  end)

  it("uploads what `when` asks for a successful job, with GitLab Runner's flags", function()
    local r, plan = S.run { artifacts = ARTIFACTS }
    assert.equal(0, r.codes.helper, r.log)
    local calls = pod.calls_of(S.n, "helper", "artifacts-uploader")
    assert.equal(2, #calls)
    assert.same({
      "artifacts-uploader", "--url", "https://gitlab.example.test/", "--token", fx.TOKEN, "--id", "918273",
      "--timeout", "1h0m0s", "--response-header-timeout", "10m0s",
      "--path", "reports/", "--exclude", "reports/**/*.tmp",
      "--name", "test-output", "--expire-in", "7 days", "--artifact-format", "zip", "--artifact-type", "archive",
    }, { table.unpack(calls[1]) })
    assert.equal(plan.layout.project_dir, calls[1].pwd)
    assert.truthy(r.logs.helper:find("section_start:%d+:upload_artifacts_on_success\r\27%[0K"))
    assert.truthy(r.logs.helper:find("Uploading artifacts...", 1, true))
  end)

  it("uploads what `when` asks for a failed job", function()
    local r = S.run { artifacts = ARTIFACTS, script = { "exit 1" } }
    assert.equal(1, r.codes.build)
    assert.equal(0, r.codes.helper, r.log)
    assert.same({ "test-output", "on-failure" }, uploads())
    local call = pod.calls_of(S.n, "helper", "artifacts-uploader")[2]
    assert.same({ "--path", "logs/", "--untracked", "--name", "on-failure", "--artifact-format", "gzip",
      "--artifact-type", "junit" }, { table.unpack(call, 12) })
    assert.truthy(r.logs.helper:find("section_start:%d+:upload_artifacts_on_failure\r\27%[0K"))
  end)

  it("fails the helper container when an upload fails", function()
    pod.fail_helper(S.n, "artifacts-uploader")
    local r = S.run { artifacts = ARTIFACTS }
    assert.equal(0, r.codes.build)
    assert.not_equal(0, r.codes.helper)
  end)

  it("restores the cache with the key, then the fallback keys, and archives it", function()
    pod.fail_helper(S.n, "cache-extractor")
    local r, plan = S.run {
      cache = { {
        key = "deps-$CI_COMMIT_REF_NAME", paths = { "vendor/", "$(touch pwned-cache)" }, untracked = true,
        policy = "pull-push", when = "on_success", fallback_keys = { "deps-default" },
      } },
      variables = { fx.var("CACHE_FALLBACK_KEY", "global-fallback") },
    }
    assert.equal(0, r.codes["restore-cache"], r.log)
    assert.equal(0, r.codes.helper, r.log)
    local file = "../../../cache/group/project/%s/cache.zip"
    local extract = pod.calls_of(S.n, "helper", "cache-extractor")
    assert.equal(3, #extract)
    for i, key in ipairs { "deps-main", "deps-default", "global-fallback" } do
      assert.same({ "cache-extractor", "--file", file:format(key), "--timeout", "10" }, { table.unpack(extract[i]) })
      assert.equal(plan.layout.project_dir, extract[i].pwd)
      assert.truthy(r.log:find("Checking cache for " .. key .. "...", 1, true))
    end
    assert.truthy(r.log:find("Failed to extract cache", 1, true))
    local archive = pod.calls_of(S.n, "helper", "cache-archiver")
    assert.same({ { "cache-archiver", "--file", file:format("deps-main"), "--timeout", "10",
      "--path", "vendor/", "--path", "$(touch pwned-cache)", "--untracked" } }, { { table.unpack(archive[1]) } })
    assert.truthy(r.log:find("Creating cache deps-main...", 1, true))
    assert.truthy(r.log:find("Created cache", 1, true))
    assert.equal("", pod.pwned(S.n))
  end)

  it("stops at the first cache key that restores", function()
    local r = S.run { cache = { { key = "k1", paths = { "a" }, fallback_keys = { "k2" } } } }
    assert.equal(0, r.codes["restore-cache"], r.log)
    assert.equal(1, #pod.calls_of(S.n, "helper", "cache-extractor"))
    assert.truthy(r.log:find("Successfully extracted cache", 1, true))
  end)

  it("follows the cache policy, `when` and CACHE_REQUEST_TIMEOUT", function()
    local r, plan = S.run {
      script = { "exit 1" },
      variables = { fx.var("CACHE_REQUEST_TIMEOUT", "3"), fx.var("POLICY", "push") },
      cache = {
        { key = "pull-only", paths = { "a" }, policy = "pull" },
        { key = "push-only", paths = { "b" }, policy = "$POLICY", when = "always" },
        { key = "failures", paths = { "c" }, when = "on_failure" },
        { key = "successes", paths = { "d" }, when = "on_success" },
        { key = "nothing-to-cache" },
      },
    }
    assert.equal(1, r.codes.build)
    local restored, archived = {}, {}
    for _, c in ipairs(pod.calls_of(S.n, "helper", "cache-extractor")) do restored[#restored + 1] = c[3]:match("project/([^/]+)/") end
    for _, c in ipairs(pod.calls_of(S.n, "helper", "cache-archiver")) do
      archived[#archived + 1] = c[3]:match("project/([^/]+)/")
      assert.equal("3", c[5])
    end
    assert.same({ "pull-only", "failures", "successes" }, restored)
    assert.same({ "push-only", "failures" }, archived)
    assert.truthy(r.log:find("Not downloading cache push-only due to policy", 1, true))
    assert.truthy(r.log:find("section_start:%d+:archive_cache_on_failure\r"))
    assert.truthy(plan.files.archive_cache and plan.files.archive_cache_on_failure)
  end)

  it("refuses a cache key that would leave the cache dir, and an unknown policy", function()
    local r = S.run { cache = { { key = "../../../../etc", paths = { "a" } } } }
    assert.equal(0, r.codes["restore-cache"], r.log)
    assert.same({}, pod.calls_of(S.n, "helper", "cache-extractor"))
    assert.truthy(r.log:find('WARNING: cache key "../../../../etc" is not a valid path; skipping this cache', 1, true))
    pod.fresh(S.n)
    r = S.run { cache = { { key = "k", paths = { "a" }, policy = "sometimes" } } }
    assert.not_equal(0, r.codes["restore-cache"])
    assert.truthy(r.log:find('unknown cache policy "sometimes"', 1, true))
  end)

  it("downloads the artifacts of the dependencies that have some, with their token", function()
    local r, plan = S.run {
      dependencies = {
        { id = 918270, name = "build-wheel", token = "dependency-token",
          artifacts_file = { filename = "artifacts.zip", size = 10 } },
        { id = 918271, name = "lint", token = "dependency-token" },
      },
    }
    assert.equal(0, r.codes["download-artifacts"], r.log)
    assert.same({ { "artifacts-downloader", "--url", "https://gitlab.example.test/", "--token", "dependency-token",
      "--id", "918270" } }, { { table.unpack(pod.calls_of(S.n, "helper", "artifacts-downloader")[1]) } })
    assert.equal(1, #pod.calls_of(S.n, "helper", "artifacts-downloader"))
    assert.truthy(r.log:find("Downloading artifacts for build-wheel (918270)...", 1, true))
    assert.same({ "get-sources", "download-artifacts", "build", "helper" }, r.ran)
    assert.falsy(plan.files.download_artifacts:find("dependency-token", 1, true))
  end)

  it("warns and goes on when the helper binary is missing", function()
    local r = S.run({ artifacts = ARTIFACTS, cache = { { key = "k", paths = { "a" } } } }, nil,
      { path = "/usr/local/bin:/usr/bin:/bin" })
    assert.equal(0, r.codes["restore-cache"], r.log)
    assert.equal(0, r.codes.helper, r.log)
    assert.truthy(r.log:find("Missing gitlab-runner-helper. Extracting cache is disabled.", 1, true))
    assert.truthy(r.log:find("Missing gitlab-runner-helper. Uploading artifacts is disabled.", 1, true))
  end)
end)
