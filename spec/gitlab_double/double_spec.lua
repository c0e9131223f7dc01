-- The GitLab double's busted support module (spec/lua/gitlab_double.lua):
-- start it, queue jobs whose payloads lunar accepts and renders, take one as
-- a runner would, cancel it, and read the records back.
local lunar = require "lunar"
local gd = require "gitlab_double"
local H = require "helper"
local payloads = require "lunar.payload"

local function curl(h, method, path, body, headers)
  local hs = {}
  for k, v in pairs(headers or {}) do hs[#hs + 1] = "-H " .. H.q(k .. ": " .. v) end
  local cmd = string.format("curl -sS -X %s %s -H 'Content-Type: application/json' --data-binary %s -w '\\n%%{http_code}' %s",
    method, table.concat(hs, " "), H.q(lunar.json.encode(body)), H.q(h.url .. path))
  local p = io.popen(cmd)
  local out = p:read("a")
  p:close()
  local text, code = out:match("^(.*)\n(%d%d%d)$")
  return tonumber(code), text
end

describe("the GitLab double", function()
  local h
  setup(function() h = gd.start() end)
  teardown(function() gd.stop(h) end)

  it("queues a job whose payload lunar validates and renders", function()
    local id, rec = gd.enqueue(h, {
      name = "unit", script = { "echo hi" }, after_script = { "echo bye" },
      variables = { SECRET = { value = "s3cr3t-xyz", masked = true } },
      services = { { name = "postgres:16", alias = "db" } },
      artifacts = { paths = { "out/" }, when = "always" },
      cache = { key = "deps", paths = { ".cache" } },
    })
    assert.is_number(id)
    assert.equal(id, rec.payload.id)
    local job = gd.job(h, id)
    assert.equal("pending", job.status)
    assert.is_false(job.picked)
    assert.is_nil(payloads.validate(job.payload))
    local pod, warnings = lunar.render(H.runner({}, gd.runner_settings(h)), job.payload)
    assert.is_table(pod, warnings)
    assert.equal("unit", job.payload.job_info.name)
    assert.equal("canceled", gd.cancel(h, id).status)      -- a queued job: dropped from the queue
  end)

  it("hands the job to a runner and records its ack, trace and final state", function()
    local id, rec = gd.enqueue(h, { name = "taken" })
    local code, text = curl(h, "POST", "/api/v4/jobs/request", { token = h.runner_token })
    assert.equal(201, code)
    assert.equal(id, lunar.json.decode(text).id)
    assert.equal(200, (curl(h, "PUT", "/api/v4/jobs/" .. id, { token = rec.token, state = "running" })))
    local patch = string.format("curl -sS -o /dev/null -w '%%{http_code}' -X PATCH -H %s -H 'Content-Range: 0-5' --data-binary 'hello\n' %s",
      H.q("JOB-TOKEN: " .. rec.token), H.q(h.url .. "/api/v4/jobs/" .. id .. "/trace?debug_trace=false"))
    local p = io.popen(patch)
    assert.equal("202", p:read("a"))
    p:close()
    local none, msg = gd.wait_final(h, id, 0.2)
    assert.is_nil(none)
    assert.truthy(msg:find("still running", 1, true))
    assert.equal("canceled", gd.cancel(h, id, false).status)
    local final = gd.wait_final(h, id, 5)
    assert.equal("canceled", final.status)
    assert.equal("hello\n", final.trace)
    assert.equal("ack", final.updates[1].kind)
    local log = gd.requests(h)
    assert.equal("/api/v4/jobs/request", log[1].path)
  end)

  it("refuses a bad description with the double's message", function()
    local ok, err = pcall(gd.enqueue, h, { nmae = "typo" })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("unknown job description key(s): nmae", 1, true))
  end)

  it("makes repositories the payload points at", function()
    local repo = gd.repo(h, "acme/app", { ["README.md"] = "hi\n" })
    assert.equal(40, #repo.sha)
    local _, rec = gd.enqueue(h, { repo = "acme/app" })
    assert.equal(repo.sha, rec.payload.git_info.sha)
    assert.truthy(rec.payload.git_info.repo_url:find("gitlab-ci-token:" .. rec.token .. "@127.0.0.1", 1, true))
  end)
end)
