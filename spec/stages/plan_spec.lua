-- The plan as a whole: containers, the Secret, section markers on the raw
-- log of a whole job, and the runner's stage overrides.
local pod = require "podrun"
local fx = require "stage_fixtures"
local stages = require "lunar.stages"

describe("the plan", function()
  local S = fx.suite()
  lazy_setup(S.setup)
  lazy_teardown(S.teardown)
  before_each(S.fresh)

  local FULL = {
    cache = { { key = "deps", paths = { "vendor/" } } },
    artifacts = { { name = "out", paths = { "out/" }, when = "always" } },
    dependencies = { { id = 7, name = "build", token = "t", artifacts_file = { filename = "a.zip" } } },
    after_script = { "echo after" },
    variables = { fx.var("KEY_FILE", "k", { file = true }) },
  }



  local function failure(fn)
    local ok, err = pcall(fn)
    assert.is_false(ok)
    assert.equal("table", type(err))
    return err.message
  end

  it("lists the containers in Pod order, each with its image, command and stages", function()
    local plan = S.plan(FULL)
    local got = {}
    for _, c in ipairs(plan.containers) do
      got[#got + 1] = { c.name, c.image, c.init, table.concat(c.stages, ",") }
      assert.equal("sh", c.command[1])
      assert.equal("-c", c.command[2])
    end
    assert.same({
      { "get-sources", "helper", true, "prepare_script,get_sources" },
      { "restore-cache", "helper", true, "restore_cache" },
      { "download-artifacts", "helper", true, "download_artifacts" },
      { "build", "build", false, "step_script,after_script" },
      { "helper", "helper", false, "archive_cache,upload_artifacts_on_success,upload_artifacts_on_failure,cleanup_file_variables" },
    }, got)
    for key in pairs(plan.files) do assert.truthy(key:match("^[-._a-zA-Z0-9]+$"), key) end
    for _, c in ipairs(plan.containers) do
      for _, stage in ipairs(c.stages) do assert.truthy(plan.files[stage], stage) end
    end
    local defaults = stages.plan(fx.payload { sha = S.ids.c2 }, {}, {}).layout
    assert.equal("/scripts-4821-918273", defaults.scripts_dir)
    assert.equal("/logs-4821-918273", defaults.status_dir)
    assert.equal("/builds/group/project", defaults.project_dir)
    assert.equal("/builds/group/project.tmp", defaults.tmp_dir)
    assert.equal("/cache", defaults.cache_dir)
  end)

  it("leaves out the init containers a job does not need", function()
    local names = {}
    for _, c in ipairs(S.plan({}).containers) do names[#names + 1] = c.name end
    assert.same({ "get-sources", "build", "helper" }, names)
  end)

  it("wraps every stage of a whole job in well-formed section markers", function()
    local r = S.run(FULL)
    for name, code in pairs(r.codes) do assert.equal(0, code, name .. "\n" .. r.log) end
    local open, order = nil, {}
    for line in r.log:gmatch("([^\n]*)\n") do
      local kind, ts, name, rest = line:match("^section_(%a+):(%d+):([%w_]+)\r\27%[0K(.*)$")
      if line:find("section_", 1, true) then
        assert.truthy(kind, "malformed marker: " .. line)
        assert.truthy(math.abs(tonumber(ts) - os.time()) < 120)
        if kind == "start" then
          assert.is_nil(open, "nested in " .. tostring(open))
          assert.truthy(rest:match("^\27%[36;1m.+\27%[0;m$"), rest)
          open = name
          order[#order + 1] = name
        else
          assert.equal("end", kind)
          assert.equal(open, name)
          assert.equal("", rest)
          open = nil
        end
      end
    end
    assert.is_nil(open)
    assert.same({ "prepare_script", "get_sources", "restore_cache", "download_artifacts", "step_script",
      "after_script", "archive_cache", "upload_artifacts_on_success", "cleanup_file_variables" }, order)
    assert.truthy(r.log:find("Running on [^\n]+ via lunar%-test%.%.%.\n"))
  end)

  it("lets the runner extend a stage: the default body plus its own lines, inside the section", function()
    local seen
    local r = S.run({}, {
      stages = {
        get_sources = function(job, layout, default)
          seen = { name = job.name, dir = layout.project_dir }
          return default .. '\necho "extra for $CI_JOB_NAME"'
        end,
      },
    })
    assert.equal(0, r.codes["get-sources"], r.log)
    assert.same({ name = "unit-tests", dir = S.n.root .. "/builds/group/project" }, seen)
    local extra = r.log:find("extra for unit-tests\n", 1, true)
    assert.truthy(extra)
    assert.truthy(extra > r.log:find("Checking out", 1, true))
    assert.truthy(extra < r.log:find("section_end:%d+:get_sources"))
  end)

  it("lets the runner add a stage the job does not have, and drop one", function()
    local r, plan = S.run({ script = { "echo from-the-job" } }, {
      stages = {
        archive_cache = function() return "echo saved-by-the-runner" end,
        step_script = function() return "" end,
      },
    })
    assert.equal(0, r.codes.build, r.log)
    assert.equal(0, r.codes.helper, r.log)
    assert.truthy(r.logs.helper:find("saved-by-the-runner\n", 1, true))
    assert.falsy(r.log:find("from-the-job", 1, true))
    assert.is_nil(plan.files.step_script)
  end)

  it("gives overrides a read-only job and reports their errors", function()
    local msg = failure(function()
      S.plan({}, { stages = { get_sources = function(job) job.name = "x" end } })
    end)
    assert.truthy(msg:find("stages.get_sources", 1, true), msg)
    assert.truthy(msg:find("read-only", 1, true), msg)
    msg = failure(function() S.plan({}, { stages = { get_sources = function() return 42 end } }) end)
    assert.equal("stages.get_sources: the function must return the stage's script (a string), got number", msg)
    msg = failure(function() S.plan({}, { stages = { get_source = function() return "" end } }) end)
    assert.truthy(msg:find("stages.get_source: unknown stage", 1, true), msg)
  end)

  it("moves the project dir to GIT_CLONE_PATH inside the builds dir, and refuses one outside", function()
    local r, plan = S.run { variables = { fx.var("GIT_CLONE_PATH", "$CI_BUILDS_DIR/custom/dir") }, script = { "pwd" } }
    assert.equal(0, r.codes.build, r.log)
    assert.equal(S.n.root .. "/builds/custom/dir", plan.layout.project_dir)
    assert.truthy(r.logs.build:find("\n" .. S.n.root .. "/builds/custom/dir\n", 1, true))
    local msg = failure(function() S.plan { variables = { fx.var("GIT_CLONE_PATH", "/etc/x") } } end)
    assert.truthy(msg:find('GIT_CLONE_PATH: "/etc/x" must be a directory inside the builds dir', 1, true), msg)
  end)

  it("plans every example job with GitLab Runner's default layout", function()
    local dir = os.getenv("LUNAR_SOURCE_DIR") or "."
    local list = pod.must("ls " .. pod.q(dir .. "/examples") .. "/*/job.json")
    local count = 0
    for file in list:gmatch("%S+") do
      local plan = stages.plan(require("lunar").json.decode(pod.read(file)), {}, { url = fx.HOST })
      assert.truthy(plan.files.get_sources and plan.files.step_script, file)
      assert.equal("build", plan.containers[#plan.containers - 1].name)
      count = count + 1
    end
    assert.truthy(count >= 8)
  end)

  it("refuses payloads it cannot run safely", function()
    local bad = fx.payload { sha = "not-a-sha" }
    assert.truthy(failure(function() stages.plan(bad, {}, {}) end):find("git_info.sha", 1, true))
    bad = fx.payload { sha = S.ids.c2, refspecs = { "--upload-pack=touch pwned" } }
    assert.truthy(failure(function() stages.plan(bad, {}, {}) end):find("refspecs[0]", 1, true))
  end)
end)
