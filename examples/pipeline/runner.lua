-- A runner that reports on itself: every step of every job is observed by an
-- `on` handler, which keeps per-project usage and prints a one-line summary
-- when a job ends. `make demo` runs it against the bundled GitLab and
-- Kubernetes test doubles; pointed at a real GitLab and cluster (set the
-- environment variables below, or write the values in), it is a complete
-- runner.
--
--   LUNAR_GITLAB_URL     https://gitlab.example.com
--   LUNAR_TOKEN_FILE     file holding the runner's glrt- token
--   LUNAR_GITLAB_CA      CA bundle for GitLab's certificate (optional)
--   LUNAR_KUBE_HOST, LUNAR_KUBE_CA, LUNAR_KUBE_TOKEN_FILE
--                        the API server (optional: in-cluster or kubeconfig otherwise)
--   LUNAR_JOB_PATH       PATH for the jobs' containers (optional; the demo puts
--                        its gitlab-runner-helper stand-in first)
local lunar = require "lunar"

local usage = {} -- project id -> { jobs, seconds, failed }

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

return lunar.runner {
  name = "pipeline-demo",
  url = env("LUNAR_GITLAB_URL", "https://gitlab.example.com"),
  token_file = env("LUNAR_TOKEN_FILE", "/var/run/secrets/lunar/token"),
  tls_ca_file = env("LUNAR_GITLAB_CA"),
  concurrent = 4,
  check_interval = 1,
  shutdown_timeout = 30,
  environment = os.getenv("LUNAR_JOB_PATH") and { "PATH=" .. os.getenv("LUNAR_JOB_PATH") } or nil,
  kubernetes = {
    host = env("LUNAR_KUBE_HOST"),
    ca_file = env("LUNAR_KUBE_CA"),
    bearer_token_file = env("LUNAR_KUBE_TOKEN_FILE"),
    namespace = "ci",
    image = "alpine:3.20",
    cpu_request = "100m",
    memory_limit = "512Mi",
    poll_timeout = 120,
    pod_labels = { ["lunar.dev/demo"] = "pipeline" },
  },
  on = {
    pod_running = function(job, info)
      print(string.format("[on.pod_running] job %d: Pod %s running after %.1f s", job.id, info.pod, info.waited))
    end,
    stage_finished = function(job, stage)
      print(string.format("[on.stage_finished] job %d: %s exited %d after %.1f s", job.id, stage.name,
        stage.exit_code, stage.duration))
    end,
    job_finished = function(job, result)
      local project = job.project and job.project.id or 0
      local u = usage[project] or { jobs = 0, seconds = 0, failed = 0 }
      usage[project] = u
      u.jobs = u.jobs + 1
      u.seconds = u.seconds + result.duration
      if result.state ~= "success" then u.failed = u.failed + 1 end
      print(string.format("[on.job_finished] job %d (%s): %s%s in %.1f s, %d trace bytes, %d Kubernetes requests; project %d: %d jobs, %d failed, %.1f s",
        job.id, job.name or "?", result.state, result.failure_reason and (" (" .. result.failure_reason .. ")") or "",
        result.duration, result.trace_bytes, result.kube_requests, project, u.jobs, u.failed, u.seconds))
    end,
  },
}
