-- get_sources, run for real: git against local repositories reached through
-- the job's https:// URL, in the get-sources container of a plan.
local pod = require "podrun"
local fx = require "stage_fixtures"
local stages = require "lunar.stages"

describe("get_sources", function()
  local S = fx.suite()
  lazy_setup(S.setup)
  lazy_teardown(S.teardown)
  before_each(S.fresh)


  local function dir_git(plan, args) return pod.git(S.n, plan.layout.project_dir, args) end

  it("checks out the exact sha fetched through the refspecs, at the job's depth", function()
    local r, plan = S.run { sha = S.ids.c2, depth = 1, refspecs = { "+refs/pipelines/100:refs/pipelines/100" } }
    assert.equal(0, r.codes["get-sources"], r.log)
    assert.equal(S.ids.c2, dir_git(plan, { "rev-parse", "HEAD" }))
    assert.equal("1", dir_git(plan, { "rev-list", "--count", "HEAD" }))
    assert.is_true(pod.exists(plan.layout.project_dir .. "/.git/shallow"))
    local fetch = pod.git_calls(S.n, "fetch")
    assert.equal(1, #fetch)
    assert.same({ "fetch", "origin", "--no-recurse-submodules", "+refs/pipelines/100:refs/pipelines/100",
      "--depth", "1", "--prune", "--quiet" }, { table.unpack(fetch[1]) })
    local checkout = pod.git_calls(S.n, "checkout")[1]
    assert.same({ "checkout", "-f", "-q", S.ids.c2 }, { table.unpack(checkout) })
    for _, line in ipairs {
      "Fetching changes with git depth set to 1...",
      "Created fresh repository.",
      "Checking out " .. S.ids.c2:sub(1, 8) .. " as detached HEAD (ref is main)...",
      "Skipping Git submodules setup",
    } do
      assert.truthy(r.log:find(line, 1, true), line)
    end
  end)

  it("checks out a tag pipeline's commit through the tag refspec", function()
    local r, plan = S.run { sha = S.ids.c1, ref = "v1", refspecs = { "+refs/tags/v1:refs/tags/v1" }, depth = 20 }
    assert.equal(0, r.codes["get-sources"], r.log)
    assert.equal(S.ids.c1, dir_git(plan, { "rev-parse", "HEAD" }))
    assert.equal(S.ids.c1, dir_git(plan, { "rev-parse", "v1^{commit}" }))
    assert.truthy(r.log:find("(ref is v1)...", 1, true))
  end)

  it("takes the depth from GIT_DEPTH over git_info.depth, and 0 fetches everything", function()
    local _, plan = S.run { sha = S.ids.c2, depth = 1, variables = { fx.var("GIT_DEPTH", "2") } }
    assert.equal("2", dir_git(plan, { "rev-list", "--count", "HEAD" }))
    pod.fresh(S.n)
    local r = S.run { sha = S.ids.c2, depth = 0 }
    assert.truthy(r.log:find("Fetching changes...", 1, true))
    assert.is_false(pod.exists(plan.layout.project_dir .. "/.git/shallow"))
  end)

  it("fails clearly when the sha is not in what the refspecs fetched", function()
    local r = S.run { sha = S.ids.c3, refspecs = { "+refs/heads/main:refs/remotes/origin/main" } }
    assert.not_equal(0, r.codes["get-sources"])
    assert.is_nil(r.codes.build, "the Pod stops at a failed init container")
    assert.truthy(r.log:find("ERROR: commit " .. S.ids.c3 .. " is not in what was fetched from "
      .. "https://gitlab.example.test/group/project.git", 1, true), r.log)
    assert.same({}, pod.git_calls(S.n, "checkout"))
  end)

  it("reuses the repository left in the builds dir with GIT_STRATEGY=fetch", function()
    local _, plan = S.run { sha = S.ids.c2 }
    local dir = plan.layout.project_dir
    pod.write(dir .. "/.git/left-by-job-1", "x")
    pod.write(dir .. "/untracked.txt", "x")
    local r = S.run {
      sha = S.ids.c3, ref = "feature", variables = { fx.var("GIT_STRATEGY", "fetch") },
      refspecs = { "+refs/heads/feature:refs/remotes/origin/feature" },
    }
    assert.equal(0, r.codes["get-sources"], r.log)
    assert.equal(S.ids.c3, dir_git(plan, { "rev-parse", "HEAD" }))
    assert.is_true(pod.exists(dir .. "/.git/left-by-job-1"), "the same repository")
    assert.is_false(pod.exists(dir .. "/untracked.txt"), "git clean -ffdx")
    assert.truthy(r.log:find("Reinitialized existing Git repository", 1, true))
    assert.falsy(r.log:find("Created fresh repository.", 1, true))
  end)

  it("fetches into a checkout another user owns (safe.directory)", function()
    if pod.must("id -u"):match("^0") == nil then
      pending("needs root to hand the checkout to another user")
      return
    end
    local _, plan = S.run { sha = S.ids.c2 }
    pod.must("chown -R nobody " .. pod.q(plan.layout.project_dir))
    local r = S.run { sha = S.ids.c2, variables = { fx.var("GIT_STRATEGY", "fetch") } }
    assert.equal(0, r.codes["get-sources"], r.log)
    assert.truthy(r.log:find("Reinitialized existing Git repository", 1, true))
  end)

  it("starts from an empty directory with GIT_STRATEGY=clone", function()
    local _, plan = S.run { sha = S.ids.c2 }
    pod.write(plan.layout.project_dir .. "/.git/left-by-job-1", "x")
    local r = S.run { sha = S.ids.c2, variables = { fx.var("GIT_STRATEGY", "clone") } }
    assert.equal(0, r.codes["get-sources"], r.log)
    assert.is_false(pod.exists(plan.layout.project_dir .. "/.git/left-by-job-1"))
    assert.truthy(r.log:find("Created fresh repository.", 1, true))
  end)

  it("only makes the project dir with GIT_STRATEGY=none, and skips the hooks", function()
    local r, plan = S.run({ sha = S.ids.c2, variables = { fx.var("GIT_STRATEGY", "none") },
      hooks = { { name = "pre_get_sources_script", script = { "echo job-pre-hook" } } } })
    assert.equal(0, r.codes["get-sources"], r.log)
    assert.equal(0, r.codes.build, r.log)
    assert.is_true(pod.exists(plan.layout.project_dir))
    assert.is_false(pod.exists(plan.layout.project_dir .. "/.git"))
    assert.same({}, pod.git_calls(S.n, "fetch"))
    assert.falsy(r.log:find("job-pre-hook", 1, true))
    for _, line in ipairs { "Skipping Git repository setup", "Skipping Git checkout", "Skipping Git submodules setup" } do
      assert.truthy(r.log:find(line, 1, true), line)
    end
  end)

  it("honours GIT_CHECKOUT=false, GIT_CLEAN_FLAGS and GIT_FETCH_EXTRA_FLAGS", function()
    local _, plan = S.run { sha = S.ids.c2 }
    local dir = plan.layout.project_dir
    pod.write(dir .. "/untracked.txt", "x")
    S.run { sha = S.ids.c2, variables = { fx.var("GIT_CLEAN_FLAGS", "none") } }
    assert.is_true(pod.exists(dir .. "/untracked.txt"), "GIT_CLEAN_FLAGS=none cleans nothing")
    pod.clear_calls(S.n)
    local r = S.run {
      sha = S.ids.c3, refspecs = { "+refs/heads/feature:refs/remotes/origin/feature" },
      variables = { fx.var("GIT_CHECKOUT", "false"), fx.var("GIT_FETCH_EXTRA_FLAGS", "--no-tags --verbose") },
    }
    assert.equal(0, r.codes["get-sources"], r.log)
    assert.equal(S.ids.c2, dir_git(plan, { "rev-parse", "HEAD" }), "nothing checked out")
    assert.truthy(r.log:find("Skipping Git checkout", 1, true))
    local fetch = pod.git_calls(S.n, "fetch")[1]
    assert.same({ "--no-tags", "--verbose" }, { fetch[#fetch - 1], fetch[#fetch] })
    pod.clear_calls(S.n)
    S.run { sha = S.ids.c2, variables = { fx.var("GIT_CLEAN_FLAGS", "-ffd -e keep") } }
    assert.same({ "clean", "-ffd", "-e", "keep" }, { table.unpack(pod.git_calls(S.n, "clean")[1]) })
  end)

  it("updates submodules recursively with GIT_SUBMODULE_DEPTH and GIT_SUBMODULE_UPDATE_FLAGS", function()
    local r, plan = S.run {
      sha = S.ids.c2, depth = 5,
      variables = {
        fx.var("GIT_SUBMODULE_STRATEGY", "recursive"), fx.var("GIT_SUBMODULE_DEPTH", "1"),
        fx.var("GIT_SUBMODULE_UPDATE_FLAGS", "--jobs 2"),
      },
    }
    assert.equal(0, r.codes["get-sources"], r.log)
    local dir = plan.layout.project_dir
    assert.equal("sub\n", pod.read(dir .. "/sub/sub.txt"))
    assert.equal("deep\n", pod.read(dir .. "/sub/deep/deep.txt"))
    local update
    for _, call in ipairs(pod.git_calls(S.n, "submodule")) do
      if call[2] == "update" then update = call end
    end
    assert.same({ "submodule", "update", "--init", "--recursive", "--depth", "1", "--jobs", "2" }, { table.unpack(update) })
    assert.truthy(r.log:find("Updating/initializing submodules recursively with git depth set to 1...", 1, true))
  end)

  it("does not recurse into nested submodules with GIT_SUBMODULE_STRATEGY=normal", function()
    local r, plan = S.run { sha = S.ids.c2, variables = { fx.var("GIT_SUBMODULE_STRATEGY", "normal") } }
    assert.equal(0, r.codes["get-sources"], r.log)
    assert.equal("sub\n", pod.read(plan.layout.project_dir .. "/sub/sub.txt"))
    assert.is_false(pod.exists(plan.layout.project_dir .. "/sub/deep/deep.txt"))
  end)

  it("pulls LFS objects when git lfs is installed, unless GIT_LFS_SKIP_SMUDGE is set", function()
    local _, plan = S.run({ sha = S.ids.c2 }, nil, { lfs = true })
    local pulls = pod.calls_of(S.n, "lfs", "pull")
    assert.equal(1, #pulls)
    assert.equal(plan.layout.project_dir, pulls[1].pwd)
    pod.fresh(S.n)
    S.run({ sha = S.ids.c2, variables = { fx.var("GIT_LFS_SKIP_SMUDGE", "1") } }, nil, { lfs = true })
    assert.same({}, pod.calls_of(S.n, "lfs", "pull"))
  end)

  it("runs the runner's and the job's hooks in GitLab Runner's order", function()
    local r = S.run({
      sha = S.ids.c2,
      hooks = {
        { name = "pre_get_sources_script", script = { "echo job-pre" } },
        { name = "post_get_sources_script", script = { "echo job-post" } },
      },
    }, { pre_get_sources_script = "echo runner-pre", post_get_sources_script = "echo runner-post" })
    assert.equal(0, r.codes["get-sources"], r.log)
    local order = {}
    for word in r.log:gmatch("\n((%w+)%-p[or][es]t?)\n") do order[#order + 1] = word end
    assert.same({ "runner-pre", "job-pre", "job-post", "runner-post" }, order)
    assert.truthy(r.log:find("$ echo job-pre", 1, true))
    assert.truthy(r.log:find("Fetching changes", r.log:find("job-pre\n", 1, true), true))
  end)

  it("never puts the job token in a URL, the log or .git/config", function()
    local r, plan = S.run { sha = S.ids.c2, variables = { fx.var("GIT_SUBMODULE_STRATEGY", "normal") } }
    assert.equal(0, r.codes["get-sources"], r.log)
    assert.falsy(r.log:find(fx.TOKEN, 1, true))
    assert.falsy(pod.read(plan.layout.project_dir .. "/.git/config"):find(fx.TOKEN, 1, true))
    assert.equal("https://gitlab.example.test/group/project.git", dir_git(plan, { "config", "remote.origin.url" }))
    local fetch = pod.git_calls(S.n, "fetch")[1]
    local header = "http.https://gitlab.example.test.extraHeader=Authorization: Basic "
        .. require("lunar").util.base64("gitlab-ci-token:" .. fx.TOKEN)
    assert.truthy(table.concat(fetch.config, "\n"):find(header, 1, true))
    for name, content in pairs(plan.files) do
      if name ~= "credentials.sh" and name ~= "variables.sh" then
        assert.falsy(content:find(fx.TOKEN, 1, true), name .. " holds the token")
      end
    end
  end)

  it("trusts the runner's CA for GitLab through CI_SERVER_TLS_CA_FILE", function()
    local ca = S.n.root .. "/gitlab-ca.pem"
    pod.write(ca, "-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n")
    local r, plan = S.run({ sha = S.ids.c2, script = { 'cat "$CI_SERVER_TLS_CA_FILE"' } }, { tls_ca_file = ca })
    assert.equal(0, r.codes.build, r.log)
    local path = plan.layout.tmp_dir .. "/CI_SERVER_TLS_CA_FILE"
    assert.truthy(r.logs.build:find("TEST\n-----END CERTIFICATE-----", 1, true))
    local fetch = pod.git_calls(S.n, "fetch")[1]
    assert.truthy(table.concat(fetch.config, "\n"):find("http.https://gitlab.example.test.sslCAInfo=" .. path, 1, true))
  end)

  it("treats a ref name full of shell syntax as data", function()
    local evil = fx.EVIL_REF
    local r, plan = S.run {
      sha = S.ids.evil, ref = evil,
      refspecs = { "+refs/heads/" .. evil .. ":refs/remotes/origin/" .. evil },
      variables = { fx.var("CI_COMMIT_REF_NAME", evil) },
      script = { 'printf "%s" "$CI_COMMIT_REF_NAME" > ref.txt' },
    }
    assert.equal(0, r.codes["get-sources"], r.log)
    assert.equal(S.ids.evil, dir_git(plan, { "rev-parse", "HEAD" }))
    assert.truthy(r.log:find("(ref is " .. evil .. ")...", 1, true))
    -- as in GitLab Runner, the value is expanded once: ${IFS} is a reference
    assert.equal((evil:gsub("%${IFS}", "")), pod.read(plan.layout.project_dir .. "/ref.txt"))
    assert.equal("", pod.pwned(S.n))
  end)
end)
