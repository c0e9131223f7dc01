-- lunar.stages: the pod-native execution plan of a job.
--
--   local plan = require("lunar.stages").plan(payload, layout, settings [, opts])
--
-- payload   the decoded job JSON (POST /api/v4/jobs/request)
-- layout    paths and runner facts; every field is optional (M.layout fills
--           in lunar.variables.layout's paths and the defaults): builds_dir,
--           project_dir, tmp_dir, scripts_dir, status_dir (= logs_dir),
--           cache_dir, helper, runner_name, arch, short_token, concurrent_id,
--           concurrent_project_id, poll_interval, tls_ca (PEM text), ...
-- settings  the runner's top-level settings (name, url, builds_dir,
--           cache_dir, environment, shell, tls_ca_file, pre_/post_*_script,
--           and `stages`, the overrides)
-- opts      { validated = true } when the caller has checked the payload with
--           lunar.payload.validate, { job = view } to reuse its lunar.payload.view
--
-- Returns, or raises { message = ... } for a job lunar cannot run:
--   plan.files       { [secret key] = content }: every file of the job Secret,
--                    mounted read-only at layout.scripts_dir
--   plan.containers  ordered { name, image = "helper"|"build", init = bool,
--                    command = argv, stages = { stage names } }: the init
--                    containers, then build, then helper
--   plan.env         { { name, value } }: the build container's environment
--                    (public variables only; `$` already doubled for Kubernetes)
--   plan.records     the job's variables (lunar.variables.list), without the
--                    keys that cannot be shell variables
--   plan.values      name -> value of those records (the last definition wins)
--   plan.layout      the layout with every default filled in
--   plan.warnings    { message }: what the job asked for that lunar left out
--
-- A stage override `stages.<name> = function(job, layout, default)` returns
-- the body of that stage (default: lunar's own body). lunar wraps whatever it
-- returns with the environment and the section markers; an empty body drops
-- the stage (and an init container left with no stage).
local lunar = require "lunar"
local payloads = require "lunar.payload"
local resolve = require "lunar.resolve"
local readonly = require "lunar.readonly"
local shell = require "lunar.shell"
local vars = require "lunar.variables"
local path = require "lunar.path"
local read_file = require("lunar.files").read
local lib = require "lunar.stages.lib"
local sources = require "lunar.stages.sources"
local cache = require "lunar.stages.cache"
local artifacts = require "lunar.stages.artifacts"
local script = require "lunar.stages.script"
local drivers = require "lunar.stages.drivers"

local M = {}

local q = shell.quote

-- Every stage a runner can override, in the order they run.
M.names = require "lunar.stages.names"

local function fail(fmt, ...) error({ message = string.format(fmt, ...) }, 0) end

local PATHS = { "builds_dir", "cache_dir", "scripts_dir", "status_dir", "project_dir", "tmp_dir" }

-- The layout: lunar.variables.layout (GitLab Runner's paths) under what
-- `given` sets, plus the facts the scripts need. The status dir is
-- `status_dir`, also known as `logs_dir`.
function M.layout(payload, given, settings)
  settings, given = settings or {}, given or {}
  local l = vars.layout(payload, {
    builds_dir = given.builds_dir or settings.builds_dir,
    cache_dir = given.cache_dir or settings.cache_dir,
    kubernetes = settings.kubernetes,
  })
  if given.project_dir then l.tmp_dir = given.project_dir .. ".tmp" end
  for k, v in pairs(given) do l[k] = v end
  l.status_dir = given.status_dir or given.logs_dir or l.logs_dir
  l.project_path = l.project_path or vars.project_path(payload)
  l.helper = l.helper or "gitlab-runner-helper"
  l.runner_name = l.runner_name or settings.name or "lunar"
  l.arch = l.arch or "linux/amd64"
  l.concurrent_id = l.concurrent_id or 0
  l.concurrent_project_id = l.concurrent_project_id or 0
  l.poll_interval = l.poll_interval or 1
  l.upload_timeout = l.upload_timeout or "1h0m0s"
  l.response_header_timeout = l.response_header_timeout or "10m0s"
  for _, key in ipairs(PATHS) do
    local clean = path.absolute(l[key])
    if not clean then fail('layout.%s: "%s" is not an absolute path without ".."', key, tostring(l[key])) end
    l[key] = clean
  end
  l.logs_dir = l.status_dir
  return l
end

local function check_payload(payload, validated)
  if not validated then
    local msg = payloads.validate(payload)
    if msg then fail("%s", msg) end
  end
  local git = payload.git_info
  if not git.sha:match("^%x+$") then fail('job payload: git_info.sha: "%s" is not a commit id', git.sha) end
  if type(git.repo_url) ~= "string" or git.repo_url:sub(1, 1) == "-" then
    fail("job payload: git_info.repo_url: expected a repository URL")
  end
  for i, r in ipairs(git.refspecs or {}) do
    if type(r) ~= "string" or r:sub(1, 1) == "-" then
      fail('job payload: git_info.refspecs[%d]: "%s" is not a refspec', i - 1, tostring(r))
    end
  end
end

local function tls_ca(layout, settings)
  if layout.tls_ca then return layout.tls_ca end
  local file = settings.tls_ca_file
  if type(file) ~= "string" or file == "" then return nil end
  local text, err = read_file(file)
  if not text then fail("tls_ca_file: cannot read the CA for GitLab: %s", err) end
  return text
end

-- The job's variables (lunar.variables.list) without the keys that cannot
-- be shell variables (an `export` of one would end the script): records,
-- skipped keys.
local function exportable(list)
  local records, skipped = {}, {}
  for _, rec in ipairs(list) do
    if shell.is_name(rec.key) then
      records[#records + 1] = rec
    else
      skipped[#skipped + 1] = rec.key
    end
  end
  return records, skipped
end

local function context(payload, layout, settings, jobv)
  jobv = jobv or payloads.view(payload)
  local ctx = {
    payload = payload, job = jobv, layout = layout, settings = settings,
    version = lunar.version, timeout = jobv.timeout,
  }
  ctx.records, ctx.skipped = exportable(vars.list(payload, settings, layout, {
    short_token = layout.short_token, concurrent_id = layout.concurrent_id,
    concurrent_project_id = layout.concurrent_project_id, arch = layout.arch, tls_ca = tls_ca(layout, settings),
  }))
  ctx.var = vars.lookup(ctx.records)
  return ctx
end

-- The build container's environment: public and runner variables, never
-- masked ones; the last definition at the place of the first; `$` doubled.
-- A public value that used a secret variable (DATABASE_URL with
-- $DB_PASSWORD in it) is read from the job Secret (key env.<NAME>), so the
-- Pod spec never holds a secret.
local function pod_env(records, files)
  local env, at = {}, {}
  for _, rec in ipairs(records) do
    if (rec.public or rec.internal) and not rec.masked then
      local e
      if rec.secret_ref then
        local key = "env." .. rec.key
        files[key] = rec.value
        e = { name = rec.key, secret_key = key }
      else
        e = { name = rec.key, value = shell.kube_escape(rec.value) }
      end
      if at[rec.key] then
        env[at[rec.key]] = e
      else
        env[#env + 1] = e
        at[rec.key] = #env
      end
    end
  end
  return env
end

-- GIT_CLONE_PATH (custom build dir) moves the project dir inside builds_dir.
local function clone_path(ctx, given)
  local want = ctx.var.GIT_CLONE_PATH
  if not want or want == "" or (given and given.project_dir) then return ctx end
  local dir = path.absolute(want)
  if not dir or not path.inside(dir, ctx.layout.builds_dir) then
    fail('GIT_CLONE_PATH: "%s" must be a directory inside the builds dir %s', want, ctx.layout.builds_dir)
  end
  if dir == ctx.layout.project_dir then return ctx end
  ctx.layout.project_dir = dir
  if not (given and given.tmp_dir) then ctx.layout.tmp_dir = dir .. ".tmp" end
  return context(ctx.payload, ctx.layout, ctx.settings, ctx.job)
end

local function cleanup(ctx)
  local lines = {}
  for _, rec in ipairs(ctx.records) do
    if rec.file then lines[#lines + 1] = "rm -f " .. q(rec.value) end
  end
  return table.concat(lines, "\n")
end

local function credentials(ctx)
  local payload = ctx.payload
  local lines = {
    "# lunar: this job's credentials (generated; sourced by the stages that need them, never exported).",
    "lunar_job_token=" .. q(payload.token),
  }
  local auth = sources.auth_header(payload.git_info.repo_url)
  if auth then lines[#lines + 1] = "lunar_git_auth=" .. q(auth) end
  for _, dep in ipairs(artifacts.dependencies(payload)) do
    lines[#lines + 1] = artifacts.token_variable(dep) .. "=" .. q(dep.token or payload.token)
  end
  return table.concat(lines, "\n") .. "\n"
end

-- The stages in running order: name, section header, container, body(ctx),
-- and how lunar.stages.lib.stage wraps the body.
-- FF_DISABLE_UMASK_FOR_KUBERNETES_EXECUTOR: the checkout is not made
-- world-writable; an init container on the build image, with the build
-- security context, writes the build user's uid:gid to the status dir, and
-- the helper-image stages that fill the project dir chown it to that user
-- instead of running under `umask 0000`.
local function no_umask(ctx) return vars.bool(ctx.var.FF_DISABLE_UMASK_FOR_KUBERNETES_EXECUTOR) == true end

local FIND_BUILD_USER = 'mkdir -p "$lunar_status"\nlunar_status_write build_user "$(id -u):$(id -g)"'

local function definitions(ctx)
  local defs = {
    { name = "prepare_script", header = "Preparing environment", container = "get-sources",
      body = sources.prepare_script, reset = vars.env_file(ctx.layout) },
    { name = "get_sources", header = "Getting source from Git repository", container = "get-sources",
      body = sources.get_sources, credentials = true },
    { name = "restore_cache", header = "Restoring cache", container = "restore-cache", body = cache.restore, cd = true },
    { name = "download_artifacts", header = "Downloading artifacts", container = "download-artifacts",
      body = artifacts.download, cd = true, credentials = true },
  }
  if no_umask(ctx) then
    table.insert(defs, 1, { name = "find_build_user", header = "Finding the build user", container = "init-build-user",
      body = function() return FIND_BUILD_USER end, build_image = true })
  end
  local steps, seen = script.steps(ctx.payload), {}
  for _, name in ipairs { "step_script", "step_release" } do
    local present = false
    for _, s in ipairs(steps) do present = present or s.name == name end
    if not present then steps[#steps + 1] = { name = name } end
  end
  for _, s in ipairs(steps) do
    if not seen[s.name] then
      seen[s.name] = true
      defs[#defs + 1] = {
        name = s.name, header = string.format('Executing "%s" stage of the job script', s.name),
        container = "build", step = true, cd = true, pipefail = true,
        body = function(c) return script.step(c, s.step) end,
      }
    end
  end
  local rest = {
    { name = "after_script", header = "Running after_script", container = "build", cd = true, pipefail = true,
      body = script.after_script, before = script.after_script_env },
    { name = "archive_cache", header = "Saving cache for successful job", container = "helper", on = "success",
      cd = true, body = function(c) return cache.archive(c, true) end },
    { name = "archive_cache_on_failure", header = "Saving cache for failed job", container = "helper",
      on = "failure", cd = true, body = function(c) return cache.archive(c, false) end },
    { name = "upload_artifacts_on_success", header = "Uploading artifacts for successful job",
      container = "helper", on = "success", cd = true, credentials = true,
      body = function(c) return artifacts.upload(c, true) end },
    { name = "upload_artifacts_on_failure", header = "Uploading artifacts for failed job",
      container = "helper", on = "failure", cd = true, credentials = true,
      body = function(c) return artifacts.upload(c, false) end },
    { name = "cleanup_file_variables", header = "Cleaning up project directory and file based variables",
      container = "helper", on = "always", body = cleanup },
  }
  for _, d in ipairs(rest) do defs[#defs + 1] = d end
  return defs
end

local KNOWN = {}
for _, name in ipairs(M.names) do KNOWN[name] = true end

local function overrides_of(settings)
  local overrides = {}
  for name, fn in pairs(settings.stages or {}) do
    if not KNOWN[name] then
      fail("stages.%s: unknown stage (the stages are %s)", tostring(name), table.concat(M.names, ", "))
    end
    if type(fn) ~= "function" then
      fail("stages.%s: expected a function(job, layout, default), got %s", name, type(fn))
    end
    overrides[name] = fn
  end
  return overrides
end

local function body_of(ctx, def, overrides, layout_view)
  local default = def.body(ctx) or ""
  local fn = overrides[def.name]
  if not fn then return default end
  local result = resolve.call("stages." .. def.name, fn, ctx.job, layout_view, default)
  if type(result) ~= "string" then
    fail("stages.%s: the function must return the stage's script (a string), got %s", def.name, type(result))
  end
  return result
end

local function stage_file(ctx, def, body)
  local before = {}
  if def.credentials then before[#before + 1] = ". " .. q(ctx.layout.scripts_dir .. "/credentials.sh") end
  if def.before then before[#before + 1] = def.before end
  return lib.stage(def.name, def.header, body, ctx.layout, {
    umask = def.container ~= "build" and not def.build_image and not no_umask(ctx),
    chown = no_umask(ctx) and (def.container == "get-sources" or def.container == "restore-cache"
      or def.container == "download-artifacts") or nil,
    reset = def.reset,
    cd = def.cd and ctx.layout.project_dir or nil,
    pipefail = def.pipefail,
    before = #before > 0 and table.concat(before, "\n") or nil,
  })
end

-- sh -c "sh <a> && sh <b> && exec sh <last>"
local function command(layout, files)
  local parts = {}
  for i, name in ipairs(files) do
    parts[i] = (i == #files and "exec sh " or "sh ") .. q(layout.scripts_dir .. "/" .. name)
  end
  return { "sh", "-c", shell.kube_escape(table.concat(parts, " && ")) }
end

local function names_where(present, pred)
  local out = {}
  for _, def in ipairs(present) do
    if pred(def) then out[#out + 1] = def.name end
  end
  return out
end

local function containers(ctx, present)
  local list = {}
  local finder = names_where(present, function(d) return d.container == "init-build-user" end)
  if #finder > 0 then
    list[1] = { name = "init-build-user", image = "build", init = true, stages = finder, command = command(ctx.layout, finder) }
  end
  for _, name in ipairs { "get-sources", "restore-cache", "download-artifacts" } do
    local stages = names_where(present, function(d) return d.container == name end)
    if #stages > 0 then
      list[#list + 1] = { name = name, image = "helper", init = true, stages = stages, command = command(ctx.layout, stages) }
    end
  end
  for _, name in ipairs { "build", "helper" } do
    list[#list + 1] = {
      name = name, image = name, init = false, command = command(ctx.layout, { name }),
      stages = names_where(present, function(d) return d.container == name end),
    }
  end
  return list
end

local function drivers_files(ctx, present, files)
  local v = ctx.var
  local after_timeout = drivers.duration(v.RUNNER_AFTER_SCRIPT_TIMEOUT) or 300
  local has = {}
  for _, def in ipairs(present) do has[def.name] = true end
  files.build = drivers.build(ctx.layout, {
    steps = names_where(present, function(d) return d.step end),
    after_script = has.after_script,
    shell = ctx.settings.shell,
    script_timeout = drivers.duration(v.RUNNER_SCRIPT_TIMEOUT) or 0,
    after_timeout = after_timeout,
    ignore_after_errors = vars.bool(v.AFTER_SCRIPT_IGNORE_ERRORS) ~= false,
  })
  files.helper = drivers.helper(ctx.layout, {
    success = names_where(present, function(d) return d.on == "success" end),
    failure = names_where(present, function(d) return d.on == "failure" end),
    always = names_where(present, function(d) return d.on == "always" end),
    deadline = ctx.timeout + after_timeout + 60,
    interval = ctx.layout.poll_interval,
  })
end

function M.plan(payload, given, settings, opts)
  settings, opts = settings or {}, opts or {}
  check_payload(payload, opts.validated)
  local overrides = overrides_of(settings)
  local layout = M.layout(payload, given, settings)
  local ctx = clone_path(context(payload, layout, settings, opts.job), given)
  local layout_view = readonly.view(readonly.copy(ctx.layout), "lunar.layout")
  local files, present = {
    ["lunar.sh"] = lib.library(ctx.layout),
    ["variables.sh"] = lib.variables(ctx.records),
    ["credentials.sh"] = credentials(ctx),
  }, {}
  for _, rec in ipairs(ctx.records) do
    if rec.file then files["file." .. rec.key] = rec.content end
  end
  for _, def in ipairs(definitions(ctx)) do
    local body = body_of(ctx, def, overrides, layout_view)
    if body:match("%S") then
      files[def.name] = stage_file(ctx, def, body)
      present[#present + 1] = def
    end
  end
  drivers_files(ctx, present, files)
  local warnings = {}
  for _, key in ipairs(ctx.skipped) do
    warnings[#warnings + 1] = string.format('variables: "%s" is not a valid variable name; the job runs without it', key)
  end
  return {
    files = files,
    containers = containers(ctx, present),
    env = pod_env(ctx.records, files),
    records = ctx.records,
    values = ctx.var,
    layout = ctx.layout,
    warnings = warnings,
  }
end

return M
