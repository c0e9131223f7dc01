-- Fixtures of the stage script specs: a real GitLab-like remote made of local
-- bare repositories, reached through the job's https:// URL (a git
-- `url.<file url>.insteadOf` in HOME maps the GitLab host to file://), and
-- job payloads built from examples/basic/job.json (spec/lua/helper.lua).
local stages = require "lunar.stages"
local H = require "helper"
local pod = require "podrun"

local M = {}

M.HOST = "https://gitlab.example.test"
M.TOKEN = "glcbt-SECRETjobTOKEN-4711"
M.URL = "https://gitlab-ci-token:" .. M.TOKEN .. "@gitlab.example.test/group/project.git"
-- a branch name git accepts and a shell would run
M.EVIL_REF = "evil`touch${IFS}pwned-ref1`$(touch${IFS}pwned-ref2)';touch${IFS}pwned-ref3;'"

local function commit(n, work, file, text, message)
  pod.write(work .. "/" .. file, text)
  -- not `add -A`: it would drop the gitlinks whose directory is not there
  pod.git(n, work, { "add", "--", file })
  if pod.exists(work .. "/.gitmodules") then pod.git(n, work, { "add", "--", ".gitmodules" }) end
  pod.git(n, work, { "commit", "-q", "-m", message })
  return pod.git(n, work, { "rev-parse", "HEAD" })
end

-- Creates group/project.git and group/sub.git (with group/subsub.git nested
-- in sub) under the node. Returns the commit ids:
--   c1 main's first commit, c2 main's head (adds the submodule),
--   c3 feature's head, evil the head of the branch named M.EVIL_REF,
--   tag v1 on c1, refs/pipelines/100 on c2.
function M.remote(n)
  local base = n.root .. "/remote/group"
  pod.must("mkdir -p " .. pod.q(base))
  pod.write(n.home .. "/.gitconfig", table.concat({
    "[user]", "  name = Lunar Test", "  email = test@lunar.invalid",
    "[init]", "  defaultBranch = main",
    "[advice]", "  detachedHead = false",
    "[protocol \"file\"]", "  allow = always",
    '[url "file://' .. n.root .. '/remote/"]', "  insteadOf = " .. M.HOST .. "/",
  }, "\n") .. "\n")
  local ids = {}
  for _, name in ipairs { "subsub", "sub", "project" } do
    pod.must("mkdir -p " .. pod.q(base .. "/work-" .. name))
    pod.git(n, base .. "/work-" .. name, { "init", "-q" })
  end
  local subsub = commit(n, base .. "/work-subsub", "deep.txt", "deep\n", "deep")
  local sw = base .. "/work-sub"
  pod.write(sw .. "/.gitmodules", '[submodule "deep"]\n\tpath = deep\n\turl = ../subsub.git\n')
  pod.git(n, sw, { "update-index", "--add", "--cacheinfo", "160000," .. subsub .. ",deep" })
  local sub = commit(n, sw, "sub.txt", "sub\n", "sub")
  local w = base .. "/work-project"
  ids.c1 = commit(n, w, "README", "one\n", "first")
  pod.git(n, w, { "tag", "v1" })
  pod.write(w .. "/.gitmodules", '[submodule "sub"]\n\tpath = sub\n\turl = ../sub.git\n')
  pod.git(n, w, { "update-index", "--add", "--cacheinfo", "160000," .. sub .. ",sub" })
  ids.c2 = commit(n, w, "README", "two\n", "second, with a submodule")
  pod.git(n, w, { "update-ref", "refs/pipelines/100", ids.c2 })
  pod.git(n, w, { "checkout", "-q", "-b", "feature" })
  ids.c3 = commit(n, w, "feature.txt", "feature\n", "feature")
  pod.git(n, w, { "checkout", "-q", "-b", M.EVIL_REF })
  ids.evil = commit(n, w, "evil.txt", "evil\n", "evil")
  pod.git(n, w, { "checkout", "-q", "main" })
  for _, name in ipairs { "subsub", "sub", "project" } do
    pod.git(n, base, { "clone", "-q", "--bare", "work-" .. name, name .. ".git" })
  end
  pod.git(n, base .. "/project.git", { "update-ref", "refs/pipelines/100", ids.c2 })
  return ids
end

-- A job payload from examples/basic/job.json pointed at the test remote.
-- opts: { sha, ref, refspecs, depth, variables = { {key=, value=, ...} },
-- script = { lines }, after_script = { lines } }
function M.payload(opts)
  opts = opts or {}
  local p = H.job("basic")
  p.token = M.TOKEN
  p.allow_git_fetch = true
  p.job_info.project_full_path = "group/project"
  p.git_info.repo_url = M.URL
  p.git_info.sha = opts.sha
  p.git_info.ref = opts.ref or "main"
  p.git_info.refspecs = opts.refspecs or { "+refs/heads/main:refs/remotes/origin/main" }
  p.git_info.depth = opts.depth or 0
  p.runner_info.timeout = 600
  for _, v in ipairs(p.variables) do
    if v.key == "CI_JOB_TOKEN" or v.key == "CI_REGISTRY_PASSWORD" then v.value = M.TOKEN end
    if v.key == "CI_SERVER_URL" then v.value = M.HOST end
  end
  for _, v in ipairs(opts.variables or {}) do p.variables[#p.variables + 1] = v end
  p.steps = {
    { name = "script", script = opts.script or { "echo hello from the job" }, timeout = 600, when = "on_success" },
    { name = "after_script", script = opts.after_script or {}, timeout = 300, when = "always" },
  }
  p.cache = opts.cache or {}
  p.artifacts = opts.artifacts or {}
  p.dependencies = opts.dependencies or {}
  p.hooks = opts.hooks
  p.credentials = {}
  return p
end

function M.var(key, value, flags)
  local v = { key = key, value = value, public = true }
  for k, x in pairs(flags or {}) do v[k] = x end
  return v
end

-- The default settings of these specs' runner.
function M.settings(extra)
  local s = { name = "lunar-test", url = M.HOST .. "/" }
  for k, v in pairs(extra or {}) do s[k] = v end
  return s
end

-- What a spec file shares: one node with the remote (S.n, S.ids), wiped
-- between tests, and plan/run with these specs' defaults (sha: main's head).
--   local S = fx.suite()
--   lazy_setup(S.setup) lazy_teardown(S.teardown) before_each(S.fresh)
function M.suite()
  local S = {}
  function S.setup()
    S.n = pod.node()
    S.ids = M.remote(S.n)
  end
  function S.teardown() pod.cleanup(S.n) end
  function S.fresh() pod.fresh(S.n) end
  function S.plan(opts, settings, layout)
    opts.sha = opts.sha or S.ids.c2
    return stages.plan(M.payload(opts), pod.layout(S.n, layout), M.settings(settings))
  end
  function S.run(opts, settings, run_opts, layout)
    local plan = S.plan(opts, settings, layout)
    return pod.run(S.n, plan, run_opts), plan
  end
  return S
end

return M
