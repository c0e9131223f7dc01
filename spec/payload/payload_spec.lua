-- Every payload field lunar reads is checked where it is, and the message
-- names its path (JSON's 0-based indices); nothing malformed is dropped.
local lunar = require "lunar"
local H = require "helper"
local render = require "lunar.render"

local null = lunar.json.null

local function err_of(job)
  local ok, e = pcall(render.render_objects, H.runner(), job)
  assert.is_false(ok, "the render should refuse the payload")
  return e.message
end

describe("a malformed payload", function()
  local cases = {
    { "a refspec that is not a string", function(j) j.git_info.refspecs[3] = 5 end,
      "field git_info.refspecs[2]: expected a string, got number 5" },
    { "a script that is not a list", function(j)
      j.steps = { { name = "script", script = "make test", timeout = 60, when = "on_success" } } end,
      'field steps[0].script: expected a list, got the string "make test"' },
    { "a step without a script", function(j) j.steps = { { name = "script" } } end,
      "missing field steps[0].script" },
    { "a script line that is not a string", function(j)
      j.steps = { { name = "script", script = { "ok", { "nested" } } } } end,
      "field steps[0].script[1]: expected a string, got a list" },
    { "a service variable value that is not a string", function(j)
      j.services = { { name = "redis" }, { name = "pg", variables = { { key = "A", value = 7 } } } } end,
      "field services[1].variables[0].value: expected a string, got number 7" },
    { "a registry credential without a username", function(j)
      j.credentials = { { type = "registry", url = "r.example", username = null, password = "p" } } end,
      "field credentials[0].username: expected a string, got null" },
    { "a service that is a list", function(j) j.services = { { "redis" } } end,
      "field services[0]: expected an object, got a list" },
    { "a project id that is null", function(j) j.job_info.project_id = null end,
      "field job_info.project_id: expected an integer, got null" },
    { "a port without a number", function(j) j.image.ports = { { protocol = "tcp" } } end,
      "missing field image.ports[0].number" },
    { "a timeout that overflows", function(j) j.runner_info.timeout = math.maxinteger end,
      "field runner_info.timeout: expected a timeout in seconds (at most a year), got " .. math.maxinteger },
    { "an artifact path that is not a string", function(j)
      j.artifacts = { { name = "a", paths = { "ok", false }, when = "on_success" } } end,
      "field artifacts[0].paths[1]: expected a string, got boolean false" },
    { "a cache that is an object instead of a list", function(j) j.cache = { key = "k" } end,
      "field cache: expected a list, got a table" },
    { "a dependency id that is a string", function(j) j.dependencies = { { id = "7", name = "b" } } end,
      'field dependencies[0].id: expected an integer, got the string "7"' },
    { "a variable without a key", function(j) j.variables[2] = { value = "x" } end,
      "missing field variables[1].key" },
    { "a hook script that is a string", function(j) j.hooks = { { name = "pre_get_sources_script", script = "x" } } end,
      'field hooks[0].script: expected a list, got the string "x"' },
  }
  for _, case in ipairs(cases) do
    it("fails on " .. case[1] .. ", naming the field", function()
      local job = H.job()
      case[2](job)
      local msg = err_of(job)
      assert.truthy(msg:find(case[3], 1, true), msg)
      assert.is_nil(msg:find("userdata", 1, true), msg)
    end)
  end

  it("that is a JSON list is named as one, with no empty field path", function()
    local ok, e = pcall(render.render_objects, H.runner(), { H.job() })
    assert.is_false(ok)
    assert.equal("job payload: expected an object, got a list", e.message)
  end)

  it("takes an optional field sent as null as absent", function()
    local job = H.job()
    job.artifacts, job.cache, job.dependencies = null, null, null
    job.git_info.before_sha = null
    assert(render.render_objects(H.runner(), job))
  end)
end)
