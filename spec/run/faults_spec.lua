-- `lunar run` against a coordinator and an API server that fail, throttle
-- and drop connections: no job lost, no line lost or doubled, no Pod left.
local H = require "run_harness"

local function all_final(env, ids, seconds)
  local jobs = {}
  for i, id in ipairs(ids) do jobs[i] = H.final(env, id, seconds or 120) end
  return jobs
end

describe("lunar run: faults", function()
  local env
  setup(function()
    env = H.setup()
    H.start_runner(env, H.entrypoint(env, "concurrent = 8, request_concurrency = 2,"))
  end)
  teardown(function() H.teardown(env) end)
  after_each(function()
    H.gitlab.faults(env.gitlab)
    H.kube.faults(env.kube)
    assert.truthy(H.nothing_left(env, 30), "a Pod or Secret was left: " .. table.concat(H.pods(env), ", "))
  end)

  it("rides out GitLab errors, throttling and dropped connections", function()
    H.gitlab.faults(env.gitlab, {
      { method = "POST", path = "/jobs/request$", error = 503, times = 2 },
      { method = "POST", path = "/jobs/request$", error = 429, retry_after = 1, times = 2 },
      { method = "PATCH", path = "/trace$", error = 500, times = 3 },
      { method = "PATCH", path = "/trace$", error = 429, retry_after = 1, times = 2 },
      { method = "PATCH", path = "/trace$", disconnect = true, times = 2 },
      { method = "PUT", path = "^/api/v4/jobs/\\d+$", error = 502, times = 2 },
      { method = "PUT", path = "^/api/v4/jobs/\\d+$", disconnect = true, times = 2 },
      { method = "PUT", path = "^/api/v4/jobs/\\d+$", error = 429, retry_after = 1, times = 2 },
    })
    local ids = {}
    for i = 1, 4 do
      ids[i] = H.gitlab.enqueue(env.gitlab, { name = "gitlab-faults-" .. i, git_strategy = "none",
        script = { "for k in $(seq 1 5); do echo g" .. i .. "-$k; sleep 0.3; done" } })
    end
    for i, job in ipairs(all_final(env, ids)) do
      assert.are.equal("success", job.status, H.plain(job.trace))
      for k = 1, 5 do assert.are.equal(1, H.count(job.trace, "g" .. i .. "-" .. k .. "\n")) end
      assert.is_true(H.last_final(job).checksum_ok)
    end
    local faulted = 0
    for _, r in ipairs(H.gitlab.requests(env.gitlab)) do if r.fault then faulted = faulted + 1 end end
    assert.is_true(faulted >= 10, "only " .. faulted .. " faults were hit")
  end)

  it("rides out API server errors, a dropped watch and an expired watch", function()
    H.kube.clear_requests(env.kube)
    H.kube.faults(env.kube, { rules = {
      { method = "POST", path = "/namespaces/ci/pods$", error = 500, times = 2 },
      { method = "POST", path = "/namespaces/ci/secrets$", error = 429, retry_after = 1, times = 1 },
      { path = "/pods$", watch = true, drop_after_events = 3, times = 1 },
      { path = "/pods$", watch = true, expire = true, times = 1 },
      { path = "/log$", drop_after_bytes = 40, times = 2 },
    } })
    local ids = {}
    for i = 1, 4 do
      ids[i] = H.gitlab.enqueue(env.gitlab, { name = "kube-faults-" .. i, git_strategy = "none",
        script = { "for k in $(seq 1 5); do echo k" .. i .. "-$k; sleep 0.3; done" } })
    end
    for i, job in ipairs(all_final(env, ids)) do
      assert.are.equal("success", job.status, H.plain(job.trace))
      for k = 1, 5 do assert.are.equal(1, H.count(job.trace, "k" .. i .. "-" .. k .. "\n")) end
      assert.is_true(H.last_final(job).checksum_ok)
    end
    local hits = 0
    for _, r in ipairs(H.kube.requests(env.kube)) do if r.fault then hits = hits + 1 end end
    assert.is_true(hits >= 5, "only " .. hits .. " faults were hit")
  end)
end)
