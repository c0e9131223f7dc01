-- prepare_script and get_sources: the bodies of the first two stages, run by
-- the get-sources init container on the helper image.
--
-- get_sources does what GitLab Runner's does (reference §4.3): the hooks, then
-- by GIT_STRATEGY (clone: start from an empty directory; fetch: reuse the
-- repository left in the builds dir; none: only make the directory; empty:
-- make it empty) `git init`, set remote origin, fetch git_info.refspecs with
-- the depth, check out the exact sha, `git clean`, LFS, submodules.
--
-- The job token never appears in a URL: origin is the repository URL
-- without credentials (so nothing in .git/config, the log or an artifact of
-- .git holds the token), and git gets the credentials as an HTTP header
-- scoped to the GitLab host, through `-c` for the commands of this stage only.
local shell = require "lunar.shell"
local vars = require "lunar.variables"
local lib = require "lunar.stages.lib"

local lunar = require "lunar"

local M = {}

local q, notice, err = shell.quote, shell.notice, shell.error

function M.prepare_script(ctx)
  return "printf 'Running on %s via %s...\\n' \"$(hostname 2>/dev/null || printf '%s' \"${HOSTNAME:-}\")\" "
      .. q(ctx.layout.runner_name)
end

-- "https://user:pass@host:8443/g/p.git" -> { remote = "https://host:8443/g/p.git",
-- host = "https://host:8443", userinfo = "user:pass" (percent-decoded) }
function M.parse_url(url)
  local scheme, authority, path = url:match("^(%a[%w+.-]*://)([^/]*)(.*)$")
  if not scheme then return { remote = url, path = url } end
  local userinfo, host = authority:match("^(.*)@([^@]*)$")
  host = host or authority
  if userinfo then
    userinfo = userinfo:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
  end
  return { remote = scheme .. host .. path, host = scheme .. host, userinfo = userinfo, path = path }
end

-- The HTTP header that authenticates git against the GitLab host, or nil.
function M.auth_header(url)
  local parsed = M.parse_url(url)
  if not parsed.userinfo or parsed.userinfo == "" then return nil end
  return "Authorization: Basic " .. lunar.util.base64(parsed.userinfo)
end

-- The settings get_sources works from, read from the job's variables.
function M.options(ctx)
  local v, git = ctx.var, ctx.payload.git_info or {}
  local strategy = v.GIT_STRATEGY
  if strategy == nil or strategy == "" then
    strategy = ctx.payload.allow_git_fetch == false and "clone" or "fetch"
  end
  local depth = tonumber(v.GIT_DEPTH or "", 10)
  if not depth or math.type(depth) ~= "integer" then
    depth = math.type(git.depth) == "integer" and git.depth or 0
  end
  local sub_depth = math.tointeger(tonumber(v.GIT_SUBMODULE_DEPTH or "", 10)) or depth
  local clean = v.GIT_CLEAN_FLAGS
  if clean == nil or clean == "" then clean = "-ffdx" end
  local fetch_flags = v.GIT_FETCH_EXTRA_FLAGS
  if fetch_flags == nil or fetch_flags == "" then fetch_flags = "--prune --quiet" end
  local submodules = v.GIT_SUBMODULE_STRATEGY
  if submodules == nil or submodules == "" or strategy == "none" or strategy == "empty" then
    submodules = "none"
  end
  return {
    strategy = strategy,
    depth = depth,
    submodule_depth = sub_depth,
    clean = clean ~= "none" and shell.fields(clean) or {},
    fetch_flags = shell.fields(fetch_flags),
    submodules = submodules,
    submodule_flags = shell.fields(v.GIT_SUBMODULE_UPDATE_FLAGS),
    submodule_paths = shell.fields(v.GIT_SUBMODULE_PATHS),
    checkout = strategy ~= "none" and strategy ~= "empty" and vars.bool(v.GIT_CHECKOUT) ~= false,
    lfs = vars.bool(v.GIT_LFS_SKIP_SMUDGE) ~= true,
  }
end

-- lunar_git: git with this stage's configuration (user agent, safe.directory
-- for a checkout made by another uid, credentials and CA for the GitLab host).
local function git_function(ctx)
  local url = M.parse_url(ctx.payload.git_info.repo_url or "")
  local opts = {
    "-c " .. q("http.userAgent=lunar " .. ctx.version .. " " .. ctx.layout.arch),
    "-c " .. q("safe.directory=*"),
  }
  if url.host and M.auth_header(ctx.payload.git_info.repo_url) then
    opts[#opts + 1] = "-c " .. q("http." .. url.host .. ".extraHeader=") .. '"$lunar_git_auth"'
  end
  if url.host and ctx.var.CI_SERVER_TLS_CA_FILE then
    opts[#opts + 1] = "-c " .. q("http." .. url.host .. ".sslCAInfo=") .. '"$CI_SERVER_TLS_CA_FILE"'
  end
  return "lunar_git() {\n  git " .. table.concat(opts, " ") .. ' "$@"\n}'
end

-- Hooks: the runner's setting and the job's `hooks` entry, in GitLab's order.
local function hooks(ctx, name)
  local job = {}
  for _, h in ipairs(ctx.payload.hooks or {}) do
    if h.name == name then
      for _, line in ipairs(h.script or {}) do job[#job + 1] = line end
    end
  end
  local runner = ctx.settings[name]
  local list = {}
  if name == "pre_get_sources_script" and runner then list[#list + 1] = runner end
  for _, line in ipairs(job) do list[#list + 1] = line end
  if name == "post_get_sources_script" and runner then list[#list + 1] = runner end
  return list
end

local function fetch(ctx, o, L)
  local layout, git = ctx.layout, ctx.payload.git_info
  local dir, tmp = layout.project_dir, layout.tmp_dir
  L[#L + 1] = notice(o.depth > 0 and string.format("Fetching changes with git depth set to %d...", o.depth)
    or "Fetching changes...")
  if o.strategy == "clone" then L[#L + 1] = "rm -rf " .. q(dir) end
  local template = tmp .. "/git-template"
  L[#L + 1] = "mkdir -p " .. q(template)
  L[#L + 1] = "lunar_git config -f " .. q(template .. "/config") .. " init.defaultBranch none"
  L[#L + 1] = "lunar_git config -f " .. q(template .. "/config") .. " fetch.recurseSubmodules false"
  -- locks left by a job killed during a git operation would fail this one
  for _, f in ipairs { "index.lock", "shallow.lock", "HEAD.lock", "hooks/post-checkout", "config.lock" } do
    L[#L + 1] = "rm -f " .. q(dir .. "/.git/" .. f)
  end
  if o.submodules ~= "none" then
    L[#L + 1] = "if [ -d " .. q(dir .. "/.git/modules") .. " ]; then find " .. q(dir .. "/.git/modules")
        .. " \\( -name index.lock -o -name shallow.lock -o -name HEAD.lock -o -name config.lock \\) -type f -exec rm -f {} +; fi"
  end
  local object_format = git.repo_object_format
  local init = "lunar_git init " .. q(dir) .. " --template " .. q(template)
  if object_format and object_format ~= "" and object_format ~= "sha1" then
    init = init .. " --object-format " .. q(object_format)
  end
  L[#L + 1] = init
  L[#L + 1] = "cd " .. q(dir)
  local remote = q(M.parse_url(git.repo_url or "").remote)
  L[#L + 1] = "if lunar_git remote add origin " .. remote .. " 2>/dev/null; then"
  L[#L + 1] = "  " .. notice("Created fresh repository.")
  L[#L + 1] = "else"
  L[#L + 1] = "  lunar_git remote set-url origin " .. remote
  L[#L + 1] = "fi"
  local args = { "fetch", "origin", "--no-recurse-submodules" }
  for _, r in ipairs(git.refspecs or {}) do args[#args + 1] = r end
  if o.depth > 0 then
    args[#args + 1] = "--depth"
    args[#args + 1] = tostring(o.depth)
  end
  for _, f in ipairs(o.fetch_flags) do args[#args + 1] = f end
  if o.depth > 0 then
    L[#L + 1] = "lunar_git " .. shell.words(args)
  else
    L[#L + 1] = "if [ -f .git/shallow ]; then lunar_git " .. shell.words(args) .. " --unshallow; else lunar_git "
        .. shell.words(args) .. "; fi"
  end
end

local function checkout(ctx, o, L)
  local git = ctx.payload.git_info
  local sha, ref = git.sha, git.ref or ""
  if not o.checkout then
    L[#L + 1] = notice("Skipping Git checkout")
    return
  end
  local missing = string.format(
    "ERROR: commit %s is not in what was fetched from %s (refspecs: %s). Was the ref force-pushed or deleted, or is GIT_DEPTH (%d) too small to reach it?",
    sha, M.parse_url(git.repo_url or "").remote, table.concat(git.refspecs or {}, " "), o.depth)
  L[#L + 1] = "if ! lunar_git cat-file -e " .. q(sha .. "^{commit}") .. " 2>/dev/null; then"
  L[#L + 1] = "  " .. err(missing)
  L[#L + 1] = "  exit 1"
  L[#L + 1] = "fi"
  L[#L + 1] = notice(string.format("Checking out %s as detached HEAD (ref is %s)...", sha:sub(1, 8), ref))
  L[#L + 1] = "lunar_git -c submodule.recurse=false checkout -f -q " .. q(sha)
  if #o.clean > 0 then L[#L + 1] = "lunar_git clean " .. shell.words(o.clean) end
  if o.lfs then
    L[#L + 1] = "if lunar_git lfs version >/dev/null 2>&1; then lunar_git lfs pull; fi"
  end
end

local function submodules(o, L)
  if o.submodules == "none" then
    L[#L + 1] = notice("Skipping Git submodules setup")
    return
  end
  local recursive = o.submodules == "recursive"
  local depth = o.submodule_depth
  L[#L + 1] = notice(string.format("Updating/initializing submodules%s%s...",
    recursive and " recursively" or "", depth > 0 and (" with git depth set to " .. depth) or ""))
  local paths = {}
  if #o.submodule_paths > 0 then
    paths[1] = "--"
    for _, p in ipairs(o.submodule_paths) do paths[#paths + 1] = p end
  end
  local foreach = { "submodule", "foreach" }
  local sync = { "submodule", "sync" }
  local update = { "submodule", "update", "--init" }
  if recursive then
    foreach[#foreach + 1] = "--recursive"
    sync[#sync + 1] = "--recursive"
    update[#update + 1] = "--recursive"
  end
  if depth > 0 then
    update[#update + 1] = "--depth"
    update[#update + 1] = tostring(depth)
  end
  for _, f in ipairs(o.submodule_flags) do update[#update + 1] = f end
  for _, p in ipairs(paths) do
    sync[#sync + 1] = p
    update[#update + 1] = p
  end
  -- the foreach command is shell code run by git: its flags are quoted in it
  local each = function(command) return "lunar_git " .. shell.words(foreach) .. " " .. q(command) end
  local clean = #o.clean > 0 and ("git clean " .. shell.words(o.clean)) or nil
  L[#L + 1] = "lunar_git submodule init"
  L[#L + 1] = "lunar_git " .. shell.words(sync)
  if clean then L[#L + 1] = each(clean) end
  L[#L + 1] = each("git reset --hard")
  L[#L + 1] = "lunar_git " .. shell.words(update)
  if clean then L[#L + 1] = each(clean) end
  if o.lfs then
    L[#L + 1] = "if lunar_git lfs version >/dev/null 2>&1; then " .. each("git lfs pull") .. "; fi"
  end
end

function M.get_sources(ctx)
  local o, L = M.options(ctx), {}
  local known = { clone = true, fetch = true, none = true, empty = true }
  if not known[o.strategy] then
    return err(string.format('ERROR: unknown GIT_STRATEGY "%s" (use clone, fetch, none or empty)', o.strategy))
        .. "\nexit 1"
  end
  if o.submodules ~= "none" and o.submodules ~= "normal" and o.submodules ~= "recursive" then
    return err(string.format('ERROR: unknown GIT_SUBMODULE_STRATEGY "%s" (use none, normal or recursive)',
      o.submodules)) .. "\nexit 1"
  end
  L[#L + 1] = git_function(ctx)
  if o.lfs then L[#L + 1] = "export GIT_LFS_SKIP_SMUDGE=1" end
  if o.strategy ~= "none" then L[#L + 1] = lib.commands(hooks(ctx, "pre_get_sources_script")) end
  local dir = ctx.layout.project_dir
  if o.strategy == "none" then
    L[#L + 1] = notice("Skipping Git repository setup")
    L[#L + 1] = "mkdir -p " .. q(dir)
  elseif o.strategy == "empty" then
    L[#L + 1] = notice("Skipping Git repository setup and creating an empty build directory")
    L[#L + 1] = "rm -rf " .. q(dir)
    L[#L + 1] = "mkdir -p " .. q(dir)
  else
    fetch(ctx, o, L)
  end
  if o.strategy == "none" or o.strategy == "empty" then L[#L + 1] = "cd " .. q(dir) end
  checkout(ctx, o, L)
  submodules(o, L)
  if o.strategy ~= "none" then L[#L + 1] = lib.commands(hooks(ctx, "post_get_sources_script")) end
  local out = {}
  for _, line in ipairs(L) do
    if line ~= "" then out[#out + 1] = line end
  end
  return table.concat(out, "\n")
end

return M
