-- /metrics, /healthz and /readyz on listen_address, after a real job.
local H = require "run_harness"

local function get(url)
  local out = H.sh("curl -s -w '\\n%{http_code}' " .. H.q(url))
  local body, code = out:match("^(.*)\n(%d+)$")
  return body, tonumber(code)
end

describe("lunar run metrics", function()
  local env, base
  setup(function()
    env = H.setup()
    H.start_runner(env, H.entrypoint(env, 'concurrent = 2, listen_address = "127.0.0.1:0",'))
    local addr = H.eventually(function() return H.runner_log(env):match("metrics on http://([%d%.:]+)/metrics") end, 20)
    assert(addr, "no metrics address in the log:\n" .. H.runner_log(env))
    base = "http://" .. addr
  end)
  teardown(function() H.teardown(env) end)

  it("answers /healthz and /readyz, and 404 elsewhere", function()
    local body, code = get(base .. "/healthz")
    assert.are.equal(200, code)
    assert.are.equal("ok\n", body)
    _, code = get(base .. "/readyz")
    assert.are.equal(200, code)
    _, code = get(base .. "/nothing")
    assert.are.equal(404, code)
  end)

  it("counts a finished job, its requests and its trace, in valid Prometheus text", function()
    local id = H.gitlab.enqueue(env.gitlab, { name = "metrics", git_strategy = "none", script = { "echo counted", "exit 4" } })
    local job = H.gitlab.wait_final(env.gitlab, id, 60)
    assert.truthy(job, H.runner_log(env))
    -- GitLab has the final state a moment before the runner has deleted the Pod and counted the job
    local text, code = H.eventually(function()
      local t, c = get(base .. "/metrics")
      return t and t:find("\nlunar_jobs_running 0\n", 1, true) and t, c
    end, 20), 200
    assert.truthy(text, "the job was never counted as ended")
    assert.are.equal(200, code)
    assert.matches('lunar_jobs_total{state="failed",failure_reason="script_failure"} 1\n', text, 1, true)
    assert.matches('lunar_kube_requests_total{verb="create",resource="pods",code="201"} 1\n', text, 1, true)
    assert.matches('lunar_kube_requests_total{verb="get",resource="pods/log",code="200"} 3\n', text, 1, true)
    assert.matches('lunar_gitlab_requests_total{endpoint="runners/verify",code="200"} 1\n', text, 1, true)
    assert.matches('lunar_job_duration_seconds_count 1\n', text, 1, true)
    assert.matches('lunar_jobs_running 0\n', text, 1, true)
    local bytes = tonumber(text:match("\nlunar_trace_bytes_total (%d+)"))
    assert.are.equal(job.trace_bytes, bytes)
    if H.sh("command -v promtool") ~= "" then
      local f = os.tmpname()
      H.kube.write_file(f, text)
      local out, status = H.sh("promtool check metrics < " .. H.q(f) .. " 2>&1")
      os.remove(f)
      assert.are.equal(0, status, out)
    end
  end)
end)
