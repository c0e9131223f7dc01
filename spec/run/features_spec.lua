-- `lunar run`: what a job can ask for or run into, end to end: image pull
-- failures (with and without a fallback pull policy), services, artifacts
-- `when: on_failure`, a trace GitLab lost part of (416), the output limit,
-- long masked values split across reads.
local H = require "run_harness"

local function numbered(n, prefix)
  return string.format("for i in $(seq 1 %d); do echo %s$i; done", n, prefix or "line-")
end

-- Every line "<prefix>1" .. "<prefix>n" once, in order.
local function assert_numbered(trace, n, prefix)
  prefix = prefix or "line-"
  local pat = "^" .. prefix:gsub("%p", "%%%0") .. "(%d+)\r?$"
  local last = 0
  for line in trace:gmatch("[^\n]*") do
    local k = tonumber(line:match(pat))
    if k then
      assert.are.equal(last + 1, k, "line " .. prefix .. (last + 1) .. " missing or out of order")
      last = k
    end
  end
  assert.are.equal(n, last)
end

describe("lunar run: job features", function()
  local env
  setup(function()
    env = H.setup()
    H.start_runner(env, H.entrypoint(env, string.format([[
  concurrent = 4,
  environment = { %q },
]], "PATH=" .. H.gitlab.helper_path), [[
    pull_policy = function(job, image)
      if job.variables.ONE_POLICY then return "always" end
      return { "always", "if-not-present" }
    end,
]]))
  end)
  teardown(function() H.teardown(env) end)
  after_each(function()
    H.gitlab.faults(env.gitlab)
    H.kube.faults(env.kube)
    assert.truthy(H.nothing_left(env), "a Pod or Secret was left: " .. table.concat(H.pods(env), ", "))
  end)

  it("recreates the Pod with the next pull policy when the image pull fails once", function()
    H.kube.faults(env.kube, { rules = { { image = "^registry\\.example\\.com/flaky", pull_fail = true, times = 1 } } })
    H.kube.clear_requests(env.kube)
    local id = H.gitlab.enqueue(env.gitlab, {
      name = "flaky-image", git_strategy = "none", image = "registry.example.com/flaky:1",
      script = { "echo pulled at last" },
    })
    local job = H.final(env, id)
    local trace = H.plain(job.trace)
    assert.are.equal("success", job.status, trace)
    assert.matches('Failed to pull image "registry.example.com/flaky:1"', trace)
    assert.matches("next pull policy", trace)
    assert.matches("pulled at last", trace)
    assert.is_true(H.last_final(job).checksum_ok)
    local creates = 0
    for _, r in ipairs(H.kube.requests(env.kube)) do
      if r.verb == "create" and r.resource == "pods" then creates = creates + 1 end
    end
    assert.are.equal(2, creates)
  end)

  it("fails with an image pull failure when no policy is left", function()
    H.kube.faults(env.kube, { rules = { { image = "^registry\\.example\\.com/missing", pull_fail = true } } })
    local id = H.gitlab.enqueue(env.gitlab, {
      name = "missing-image", git_strategy = "none", image = "registry.example.com/missing:1",
      variables = { ONE_POLICY = "1" }, script = { "echo never" },
    })
    local job = H.final(env, id)
    assert.are.equal("failed", job.status)
    -- image_pull_failure is not in the payload's features.failure_reasons
    -- (the double sends GitLab's list): §8 maps it to runner_system_failure
    assert.are.equal("runner_system_failure", H.last_final(job).failure_reason)
    local trace = H.plain(job.trace)
    assert.matches('failed to pull image "registry.example.com/missing:1"', trace)
    assert.not_matches("never\n", trace)
    -- print_pod_warning_events: the Pod's warning events before the last line
    assert.matches("WARNING: Event retrieved from the cluster: Failed: [^\n]*registry.example.com/missing:1", trace)
  end)

  it("runs a service beside the job and the job talks to it", function()
    local port = 20000 + math.random(0, 9999)
    local server = string.format([[
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello from the service\n"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", %d), H).serve_forever()
]], port)
    local id = H.gitlab.enqueue(env.gitlab, {
      name = "with-service", git_strategy = "none",
      services = { { name = "python:3-alpine", alias = "web", entrypoint = { "python3", "-c", server } } },
      script = {
        string.format("for i in $(seq 1 50); do curl -fsS http://127.0.0.1:%d/ && exit 0; sleep 0.2; done; exit 1", port),
      },
    })
    local job = H.final(env, id)
    local trace = H.plain(job.trace)
    assert.are.equal("success", job.status, trace)
    assert.matches("hello from the service", trace)
  end)

  it("uploads artifacts when: on_failure for a failing job only", function()
    local art = { paths = { "out/" }, when = "on_failure" }
    local script = { "mkdir -p out", "echo report > out/report.txt" }
    local ok_id = H.gitlab.enqueue(env.gitlab, { name = "passes", git_strategy = "none", script = script, artifacts = art })
    local bad_script = { script[1], script[2], "exit 1" }
    local bad_id = H.gitlab.enqueue(env.gitlab, { name = "fails", git_strategy = "none", script = bad_script, artifacts = art })
    local ok, bad = H.final(env, ok_id), H.final(env, bad_id)
    assert.are.equal("success", ok.status, H.plain(ok.trace))
    assert.are.equal("failed", bad.status)
    assert.are.equal("script_failure", H.last_final(bad).failure_reason)
    assert.are.equal(0, #ok.artifacts)
    assert.are.equal(1, #bad.artifacts, H.plain(bad.trace))
    assert.are.equal("archive", bad.artifacts[1].artifact_type)
  end)

  it("resends what GitLab lost (416) and ends with the whole trace", function()
    H.gitlab.faults(env.gitlab, {
      { path = "/trace$", trace_shift = -40, times = 1 },
    })
    local id = H.gitlab.enqueue(env.gitlab, {
      name = "resync", git_strategy = "none",
      script = { numbered(20, "a-"), "sleep 1.5", numbered(20, "b-"), "sleep 1.5", numbered(20, "c-") },
    })
    local job = H.final(env, id)
    assert.are.equal("success", job.status)
    local shifted = false
    for _, p in ipairs(job.patches) do if p.status == 416 then shifted = true end end
    assert.is_true(shifted, "no PATCH got the 416")
    local trace = H.plain(job.trace)
    for _, p in ipairs { "a-", "b-", "c-" } do assert_numbered(trace, 20, p) end
    assert.is_true(H.last_final(job).checksum_ok)
    assert.is_true(H.last_final(job).bytesize_ok)
  end)

  it("resyncs when GitLab claims more than it holds", function()
    H.gitlab.faults(env.gitlab, { { path = "/trace$", trace_shift = 25, times = 1 } })
    local id = H.gitlab.enqueue(env.gitlab, {
      name = "resync-ahead", git_strategy = "none",
      script = { numbered(20, "a-"), "sleep 1.5", numbered(20, "b-") },
    })
    local job = H.final(env, id)
    assert.are.equal("success", job.status)
    local trace = H.plain(job.trace)
    assert_numbered(trace, 20, "a-")
    assert_numbered(trace, 20, "b-")
    assert.is_true(H.last_final(job).checksum_ok)
  end)

  it("masks a long secret split across log reads and trace patches", function()
    local secret = ("Zq7" .. string.rep("k9Xw2", 60) .. "T5"):sub(1, 301)
    local id = H.gitlab.enqueue(env.gitlab, {
      name = "long-secret", git_strategy = "none",
      variables = { LONG_SECRET = { value = secret, masked = true } },
      script = {
        -- many lines, so the secret straddles read boundaries
        'for i in $(seq 1 3000); do echo "$i $LONG_SECRET"; done',
        -- and one split by a pause longer than the trace interval
        'printf "%s" "$LONG_SECRET" | head -c 150; sleep 1.5; printf "%s\\n" "$LONG_SECRET" | tail -c +151',
      },
    })
    local job = H.final(env, id, 90)
    assert.are.equal("success", job.status)
    local trace = job.trace
    for _, at in ipairs { 1, 100, 150, 151, 200, 290 } do
      local piece = secret:sub(at, at + 11)
      assert.is_nil(trace:find(piece, 1, true), "a piece of the secret leaked: " .. piece)
    end
    assert.are.equal(3001, H.count(trace, "[MASKED]"))
    assert_numbered(H.plain(trace):gsub(" %[MASKED%]", ""), 3000, "")
  end)
end)

describe("lunar run: output limit", function()
  local env
  setup(function()
    env = H.setup()
    H.start_runner(env, H.entrypoint(env, "concurrent = 2, output_limit = 2,"))
  end)
  teardown(function() H.teardown(env) end)

  it("stops collecting past output_limit with one notice; the result stays honest", function()
    local ok_id = H.gitlab.enqueue(env.gitlab, {
      name = "chatty", git_strategy = "none", script = { numbered(2000), "echo finished" },
    })
    local bad_id = H.gitlab.enqueue(env.gitlab, {
      name = "chatty-fails", git_strategy = "none", script = { numbered(2000), "exit 7" },
    })
    for _, id in ipairs { ok_id, bad_id } do
      local job = H.final(env, id)
      local u = H.last_final(job)
      assert.are.equal(1, H.count(job.trace, "exceeded the limit of 2048 bytes"))
      assert.is_true(#job.trace < 2048 + 400, "trace of " .. #job.trace .. " bytes")
      assert.not_matches("line%-2000", job.trace)
      assert.is_true(u.checksum_ok)
      assert.is_true(u.bytesize_ok)
      if id == ok_id then
        assert.are.equal("success", job.status)
      else
        assert.are.equal("failed", job.status)
        assert.are.equal("script_failure", u.failure_reason)
        assert.are.equal(7, u.exit_code)
      end
    end
    assert.truthy(H.nothing_left(env))
  end)
end)
