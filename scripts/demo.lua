-- `make demo`: a real `lunar run` process runs a small pipeline end to end
-- against the bundled test doubles (spec/support/): the GitLab coordinator
-- double hands out four jobs and the Kubernetes API server double runs their
-- Pods as local processes (real shell, real git, the gitlab-runner-helper
-- stand-in for artifacts). Prints each job's trace and final state; exits
-- non-zero unless every job ended as expected.
-- usage: lunar lua scripts/demo.lua
local H = require "run_harness"

local root = H.kube.root
local expected = {}

-- JSON null arrives as lunar.json.null: only strings are names
local function str(v) return type(v) == "string" and v or nil end

local function say(fmt, ...) io.stdout:write(string.format(fmt, ...), "\n") io.stdout:flush() end

local env = H.setup()
local ok, err = pcall(function()
  local repo = H.gitlab.repo(env.gitlab, "demo/app", {
    ["README.md"] = "lunar demo project\n",
    ["test.sh"] = "#!/bin/sh\necho \"running tests of $(cat README.md)\"\necho '3 tests passed'\n",
  })
  local jobs = {
    { desc = { name = "clone-and-test", repo = "demo/app", sha = repo.sha,
               script = { "ls", "sh test.sh", "git log -1 --oneline" } },
      state = "success" },
    { desc = { name = "with-service", git_strategy = "none",
               services = { { name = "python:3.12", alias = "web",
                              command = { "python3", "-m", "http.server", "18765", "--bind", "127.0.0.1" } } },
               script = {
                 "for i in $(seq 1 50); do curl -sf -o /dev/null http://127.0.0.1:18765/ && break; sleep 0.2; done",
                 "curl -sf http://127.0.0.1:18765/ >/dev/null && echo 'the web service answered'",
               } },
      state = "success" },
    { desc = { name = "build-artifact", git_strategy = "none",
               script = { "mkdir -p dist", "echo 'release 1.0' > dist/release.txt", "ls -l dist" },
               artifacts = { { name = "dist", paths = { "dist/" }, when = "on_success" } } },
      state = "success", artifact = true },
    { desc = { name = "failing-lint", git_strategy = "none",
               script = { "echo 'lint: 2 problems found'", "exit 2" },
               after_script = { 'echo "cleaning up after a job that ended: $CI_JOB_STATUS"' } },
      state = "failed", reason = "script_failure" },
  }
  for _, j in ipairs(jobs) do
    j.id = H.gitlab.enqueue(env.gitlab, j.desc)
    expected[#expected + 1] = j
  end

  -- the example entrypoint, pointed at the doubles through its environment
  local vars = {
    LUNAR_GITLAB_URL = env.gitlab.url, LUNAR_TOKEN_FILE = env.dir .. "/runner-token",
    LUNAR_GITLAB_CA = env.gitlab.ca_file or "", LUNAR_KUBE_HOST = env.kube.url,
    LUNAR_KUBE_CA = env.kube.ca_file, LUNAR_KUBE_TOKEN_FILE = env.kube.token_file,
    LUNAR_JOB_PATH = H.gitlab.helper_path,
  }
  local parts = {}
  for k, v in pairs(vars) do parts[#parts + 1] = k .. "=" .. H.q(v) end
  local entry = root .. "/examples/pipeline/runner.lua"
  say("== lunar run --max-jobs %d examples/pipeline/runner.lua", #jobs)
  local cmd = string.format("env -u KUBECONFIG -u KUBERNETES_SERVICE_HOST %s %s run --max-jobs %d %s",
    table.concat(parts, " "), H.q(H.kube.bin), #jobs, H.q(entry))
  local status = os.execute(cmd) -- runner log on stderr, handler output on stdout
  if not status then error("lunar run exited with an error") end
end)

local failures = 0
if not ok then
  say("demo: %s", tostring(err))
  failures = failures + 1
end
for _, j in ipairs(expected) do
  local job = H.gitlab.job(env.gitlab, j.id)
  local u = job.updates and job.updates[#job.updates] or {}
  local reason = str(u.failure_reason)
  say("\n== job %d %s: %s%s", j.id, j.desc.name, str(job.status) or "?", reason and (" (" .. reason .. ")") or "")
  io.stdout:write(H.plain(job.trace or ""))
  local good = job.status == j.state and (not j.reason or reason == j.reason)
  if j.artifact then good = good and job.artifacts and #job.artifacts > 0 end
  if not good then
    failures = failures + 1
    say("!! expected %s%s%s", j.state, j.reason and (" (" .. j.reason .. ")") or "",
      j.artifact and " with an uploaded artifact" or "")
  end
end
local left = H.pods(env)
if #left > 0 then
  failures = failures + 1
  say("!! Pods left behind: %s", table.concat(left, ", "))
end
H.teardown(env)
say("\n== demo: %d jobs, %s", #expected, failures == 0 and "every job ended as expected, no Pod left" or (failures .. " problem(s)"))
os.exit(failures == 0 and 0 or 1)
