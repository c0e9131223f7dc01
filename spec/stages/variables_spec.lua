-- Variables in the generated scripts, checked by what the job's shell sees:
-- runner variables, expansion, file variables, masking, hostile values.
local pod = require "podrun"
local fx = require "stage_fixtures"
local stages = require "lunar.stages"
local vars = require "lunar.variables"

describe("variables", function()
  local S = fx.suite()
  lazy_setup(S.setup)
  lazy_teardown(S.teardown)
  before_each(S.fresh)


  -- A script that writes each variable's exact value to out/<NAME>.
  local function dump(names)
    local lines = { "mkdir -p out" }
    for _, name in ipairs(names) do
      lines[#lines + 1] = string.format('printf "%%s" "$%s" > out/%s', name, name)
    end
    return lines
  end

  local function value(plan, name) return pod.read(plan.layout.project_dir .. "/out/" .. name) end

  it("expands like GitLab's os.Expand", function()
    local t = { A = "x", B = "b", ["-"] = "dash" }
    local cases = {
      { "$A/${A}", "x/x" }, { "$$A", "$A" }, { "$UNSET-", "-" }, { "$1$*$#$@$!$?", "" },
      { "$-", "dash" }, { "a$ b$/c$", "a$ b$/c$" }, { "${}z", "z" }, { "${A", "A" },
      { "${A B}", "" }, { "$AB", "" }, { "${A}B", "xB" },
    }
    for _, c in ipairs(cases) do assert.equal(c[2], vars.expand_in(t, c[1]), c[1]) end
  end)

  it("exports the variables GitLab Runner adds, with the payload's able to override the early ones", function()
    local names = {
      "CI_BUILDS_DIR", "CI_PROJECT_DIR", "CI_SERVER", "CI_JOB_STATUS", "CI_JOB_TIMEOUT", "CI_CONCURRENT_ID",
      "CI_CONCURRENT_PROJECT_ID", "CI_DISPOSABLE_ENVIRONMENT", "RUNNER_TEMP_PROJECT_DIR", "CI_JOB_IMAGE",
      "CI_RUNNER_VERSION", "FROM_RUNNER_ENV",
    }
    local r, plan = S.run({ script = dump(names), variables = { fx.var("CI_SERVER", "overridden") } },
      { environment = { "FROM_RUNNER_ENV=$CI_JOB_ID" } }, nil, { concurrent_id = 3, concurrent_project_id = 1 })
    assert.equal(0, r.codes.build, r.log)
    local l = plan.layout
    local want = {
      CI_BUILDS_DIR = l.builds_dir, CI_PROJECT_DIR = l.project_dir, CI_SERVER = "overridden",
      CI_JOB_STATUS = "running", CI_JOB_TIMEOUT = "600", CI_CONCURRENT_ID = "3", CI_CONCURRENT_PROJECT_ID = "1",
      CI_DISPOSABLE_ENVIRONMENT = "true", RUNNER_TEMP_PROJECT_DIR = l.project_dir .. ".tmp",
      CI_JOB_IMAGE = "alpine:3.20", CI_RUNNER_VERSION = require("lunar").version, FROM_RUNNER_ENV = "918273",
    }
    for _, name in ipairs(names) do assert.equal(want[name], value(plan, name), name) end
    assert.equal(l.builds_dir .. "/group/project", l.project_dir)
  end)

  it("expands values once, later definitions win, raw values stay literal", function()
    local r, plan = S.run {
      script = dump { "EXP", "RAW", "LATER", "NOTAGAIN", "PIP_CACHE_DIR" },
      variables = {
        fx.var("LATER", "first"), fx.var("A", "x"),
        fx.var("EXP", "$A-${A}-$$A-$UNDEFINED-$LATER"),
        fx.var("RAW", "cost is $5 per ${unit} $A", { raw = true }),
        fx.var("NOTAGAIN", "$EXP"),
        fx.var("PIP_CACHE_DIR", "$CI_PROJECT_DIR/.cache/pip"),
        fx.var("LATER", "second"),
      },
    }
    assert.equal(0, r.codes.build, r.log)
    assert.equal("x-x-$A--second", value(plan, "EXP"))
    assert.equal("cost is $5 per ${unit} $A", value(plan, "RAW"))
    assert.equal("second", value(plan, "LATER"))
    assert.equal("$A-${A}-$$A-$UNDEFINED-$LATER", value(plan, "NOTAGAIN"), "not recursive")
    assert.equal(plan.layout.project_dir .. "/.cache/pip", value(plan, "PIP_CACHE_DIR"))
  end)

  it("makes file-type variables the path of a private file under the temp dir", function()
    local content = "-----BEGIN KEY-----\n'$(touch pwned-file)'\n-----END KEY-----\n"
    local r, plan = S.run {
      script = { 'cat "$DEPLOY_KEY" > key.copy', 'stat -c %a "$DEPLOY_KEY" > key.mode', table.unpack(dump { "DEPLOY_KEY", "KEY_PATH" }) },
      variables = {
        fx.var("DEPLOY_KEY", content, { file = true, public = false }),
        fx.var("KEY_PATH", "$DEPLOY_KEY"),
      },
    }
    assert.equal(0, r.codes.build, r.log)
    local path = plan.layout.tmp_dir .. "/DEPLOY_KEY"
    assert.equal(path, value(plan, "DEPLOY_KEY"))
    assert.equal(path, value(plan, "KEY_PATH"))
    local dir = plan.layout.project_dir
    assert.equal(content, pod.read(dir .. "/key.copy"))
    assert.equal("600\n", pod.read(dir .. "/key.mode"))
    assert.is_false(pod.exists(path), "the helper removes file variables at the end")
    assert.truthy(r.logs.helper:find("Cleaning up project directory and file based variables", 1, true))
    assert.equal("", pod.pwned(S.n))
  end)

  it("never runs a hostile value, wherever it goes", function()
    local hostile = {
      V1 = "$(touch pwned-1)", V2 = "'; touch pwned-2; '", V3 = "`touch pwned-3`",
      V4 = "line\n; touch pwned-4\n", V5 = '"; touch pwned-5; "', V6 = "\\'$(touch pwned-6)\\",
    }
    local list, names = {}, {}
    for k, v in pairs(hostile) do
      list[#list + 1] = fx.var(k, v, { raw = true, public = k ~= "V2", masked = k == "V3" })
      names[#names + 1] = k
    end
    table.sort(names)
    local weird = "k'; touch pwned-7; '$(touch pwned-8)"
    local r, plan = S.run({
      script = dump(names), variables = list,
      cache = { { key = weird, paths = { "$(touch pwned-9)" }, policy = "pull-push" } },
      artifacts = { { name = weird, paths = { "`touch pwned-10`" }, when = "always", expire_in = "'; touch pwned-11 #" } },
      hooks = { { name = "pre_get_sources_script", script = { "echo hook" } } },
    }, nil, nil, { runner_name = "runner '$(touch pwned-12)'" })
    assert.equal(0, r.codes.build, r.log)
    assert.equal(0, r.codes.helper, r.log)
    for k, v in pairs(hostile) do assert.equal(v, value(plan, k), k) end
    assert.truthy(r.log:find("via runner '$(touch pwned-12)'...", 1, true))
    local up = pod.calls_of(S.n, "helper", "artifacts-uploader")[1]
    assert.equal(weird, up[#up - 2])
    assert.equal("'; touch pwned-11 #", up[#up])
    assert.equal("", pod.pwned(S.n))
  end)

  it("never prints masked values, and keeps them and non-public ones out of the Pod spec", function()
    local secret = "s3cr3t-Pa55w0rd-xyz"
    local r, plan = S.run {
      variables = {
        fx.var("DB_PASSWORD", secret, { masked = true, public = false }),
        fx.var("PRIVATE", "not-for-the-pod", { public = false }),
        fx.var("PUBLIC", "a$(B)$$c", { raw = true }),
      },
      script = { 'test "${#DB_PASSWORD}" -eq ' .. #secret, 'test "$PRIVATE" = not-for-the-pod', "echo checked" },
      artifacts = { { name = "a", paths = { "x" }, when = "always" } },
    }
    assert.equal(0, r.codes.build, r.log)
    assert.truthy(r.logs.build:find("checked\n", 1, true))
    assert.falsy(r.log:find(secret, 1, true))
    assert.falsy(r.log:find(fx.TOKEN, 1, true))
    local env = {}
    for _, e in ipairs(plan.env) do env[e.name] = e.value end
    assert.is_nil(env.DB_PASSWORD)
    assert.is_nil(env.PRIVATE)
    assert.is_nil(env.CI_JOB_TOKEN)
    assert.equal("a$$(B)$$$$c", env.PUBLIC, "$ doubled for Kubernetes")
    assert.equal(plan.layout.project_dir, env.CI_PROJECT_DIR)
    for _, c in ipairs(plan.containers) do
      for _, arg in ipairs(c.command) do assert.falsy(arg:find(secret, 1, true)) end
    end
    for _, e in ipairs(plan.env) do
      assert.falsy(e.value:find(secret, 1, true))
      assert.falsy(e.value:find(fx.TOKEN, 1, true))
    end
  end)

  it("passes KEY=VALUE lines appended to $GITLAB_ENV on to later stages", function()
    local r = S.run {
      script = { 'echo "FROM_SCRIPT=hello world" >> "$GITLAB_ENV"', 'echo "not a line" >> "$GITLAB_ENV"' },
      after_script = { 'echo "after: $FROM_SCRIPT"' },
    }
    assert.equal(0, r.codes.build, r.log)
    assert.truthy(r.logs.build:find("after: hello world\n", 1, true))
  end)

  it("leaves out variables whose names cannot be shell variables, with a warning", function()
    local plan = stages.plan(fx.payload { sha = S.ids.c2, variables = { fx.var("bad-name", "x"), fx.var("OK_NAME", "y") } },
      pod.layout(S.n), fx.settings())
    assert.same({ 'variables: "bad-name" is not a valid variable name; the job runs without it' }, plan.warnings)
    assert.falsy(plan.files["variables.sh"]:find("bad-name", 1, true))
    assert.truthy(plan.files["variables.sh"]:find("export OK_NAME=y", 1, true))
  end)
end)
