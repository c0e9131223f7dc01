-- restore_cache and archive_cache(_on_failure): the cache moves through the
-- helper binary exactly as GitLab Runner drives it (reference §10.5):
--
--   gitlab-runner-helper cache-extractor --file <cache.zip> --timeout <minutes>
--   gitlab-runner-helper cache-archiver --file <cache.zip> --timeout <minutes> --path <p>... [--untracked]
--
-- <cache.zip> is <cache_dir>/<project path>/<key>/cache.zip, relative to the
-- project directory the script runs in. Keys and policies are expanded with
-- the job's variables; a missing key is <job name>/<ref>; a restore falls
-- back to `fallback_keys`, then CACHE_FALLBACK_KEY. A failing helper is a
-- warning, never a failed job; an unknown policy fails the stage.
local shell = require "lunar.shell"
local vars = require "lunar.variables"
local path = require "lunar.path"
local lib = require "lunar.stages.lib"

local M = {}

local notice, warning, err = shell.notice, shell.warning, shell.error

local POLICIES = { ["pull-push"] = { pull = true, push = true }, pull = { pull = true }, push = { push = true } }

local function expand(ctx, s) return vars.expand_in(ctx.var, s) end

-- The cache.zip of a key, relative to the project dir; nil for a key that
-- would leave the cache dir.
local function cache_file(ctx, key)
  local rel = path.relative(key)
  if not rel then return nil end
  local l = ctx.layout
  return path.relpath(l.project_dir, l.cache_dir .. "/" .. l.project_path .. "/" .. rel .. "/cache.zip")
end

local function timeout(ctx)
  local n = math.tointeger(tonumber(ctx.var.CACHE_REQUEST_TIMEOUT or "", 10))
  return tostring(n and n > 0 and n or 10)
end

-- The cache entries with something to cache, each with its expanded key,
-- policy and archiver arguments.
local function entries(ctx)
  local out = {}
  for i, c in ipairs(ctx.payload.cache or {}) do
    local args = {}
    for _, p in ipairs(c.paths or {}) do
      args[#args + 1] = "--path"
      args[#args + 1] = p
    end
    if c.untracked then args[#args + 1] = "--untracked" end
    if #args > 0 then
      local key = c.key and c.key ~= "" and expand(ctx, c.key)
          or ((ctx.payload.job_info.name or "") .. "/" .. (ctx.payload.git_info.ref or ""))
      local policy = expand(ctx, c.policy)
      out[#out + 1] = {
        index = i, key = key, args = args, when = c.when or "",
        policy = policy == "" and "pull-push" or policy, fallback_keys = c.fallback_keys or {},
      }
    end
  end
  return out
end

-- The policy check shared by both stages: nil when the entry may go on,
-- else the line to write instead.
local function check(entry, action, skip_message)
  local policy = POLICIES[entry.policy]
  if not policy then
    return err(string.format('ERROR: cache[%d] (%s): unknown cache policy "%s" (use pull, push or pull-push)',
      entry.index - 1, entry.key, entry.policy)) .. "\nexit 1"
  end
  if not policy[action] then return notice(string.format(skip_message, entry.key)) end
  if not entry.file then
    return warning(string.format('WARNING: cache key "%s" is not a valid path; skipping this cache', entry.key))
  end
end

-- `if <helper command>; then <ok lines>; else <warning>; fi`: the helper's
-- failures are warnings, never a failed stage.
local function attempt(ctx, args, ok_lines, failed, indent)
  local L = { indent .. "if " .. lib.helper(ctx.layout, args) .. "; then" }
  for _, line in ipairs(ok_lines) do L[#L + 1] = indent .. "  " .. line end
  L[#L + 1] = indent .. "else"
  L[#L + 1] = indent .. "  " .. warning(failed)
  L[#L + 1] = indent .. "fi"
  return table.concat(L, "\n")
end

local function extract(ctx, entry, L)
  local keys = { entry.key }
  for _, k in ipairs(entry.fallback_keys) do keys[#keys + 1] = expand(ctx, k) end
  local global = ctx.var.CACHE_FALLBACK_KEY
  if global and global ~= "" and not global:match("%-protected$") then keys[#keys + 1] = global end
  L[#L + 1] = "if lunar_have_helper 'Extracting cache'; then"
  L[#L + 1] = "  lunar_cache_found="
  for _, key in ipairs(keys) do
    local file = cache_file(ctx, key)
    if file then
      L[#L + 1] = '  if [ -z "$lunar_cache_found" ]; then'
      L[#L + 1] = "    " .. notice(string.format("Checking cache for %s...", key))
      L[#L + 1] = attempt(ctx, { "cache-extractor", "--file", file, "--timeout", timeout(ctx) },
        { notice("Successfully extracted cache"), "lunar_cache_found=1" }, "Failed to extract cache", "    ")
      L[#L + 1] = "  fi"
    end
  end
  L[#L + 1] = "fi"
end

function M.restore(ctx)
  local L = {}
  for _, entry in ipairs(entries(ctx)) do
    entry.file = cache_file(ctx, entry.key)
    local stop = check(entry, "pull", "Not downloading cache %s due to policy")
    if stop then
      L[#L + 1] = stop
    else
      extract(ctx, entry, L)
    end
  end
  return table.concat(L, "\n")
end

function M.archive(ctx, on_success)
  local L = {}
  for _, entry in ipairs(entries(ctx)) do
    if lib.when_matches(entry.when, on_success) then
      entry.file = cache_file(ctx, entry.key)
      local stop = check(entry, "push", "Not uploading cache %s due to policy")
      if stop then
        L[#L + 1] = stop
      else
        local args = { "cache-archiver", "--file", entry.file, "--timeout", timeout(ctx) }
        for _, a in ipairs(entry.args) do args[#args + 1] = a end
        L[#L + 1] = "if lunar_have_helper 'Creating cache'; then"
        L[#L + 1] = "  " .. notice(string.format("Creating cache %s...", entry.key))
        L[#L + 1] = attempt(ctx, args, { notice("Created cache") }, "Failed to create cache", "  ")
        L[#L + 1] = "fi"
      end
    end
  end
  return table.concat(L, "\n")
end

return M
