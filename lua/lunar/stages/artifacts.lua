-- download_artifacts and upload_artifacts_on_success/_on_failure, through the
-- helper binary exactly as GitLab Runner calls it (reference §9.3):
--
--   gitlab-runner-helper artifacts-downloader --url <url> --token <token> --id <dependency id>
--   gitlab-runner-helper artifacts-uploader --url <url> --token <token> --id <job id>
--       --timeout 1h0m0s --response-header-timeout 10m0s --path <p>... --exclude <p>...
--       [--untracked] [--name <n>] [--expire-in <d>] [--artifact-format <f>] [--artifact-type <t>]
--
-- <url> is the runner's `url` setting (CI_SERVER_URL when it has none). The
-- tokens come from credentials.sh (the Secret), never from the script text.
-- A failed download or upload fails its stage, as in GitLab Runner.
local shell = require "lunar.shell"
local lib = require "lunar.stages.lib"

local M = {}

local notice = shell.notice

-- The shell variable of credentials.sh holding a dependency's token.
function M.token_variable(dep)
  return "lunar_dependency_token_" .. tostring(dep.id):gsub("[^%w]", "_")
end

function M.url(ctx)
  local url = ctx.settings.url
  if type(url) ~= "string" or url == "" then url = ctx.var.CI_SERVER_URL or "" end
  return url
end

-- The dependencies whose artifacts exist.
function M.dependencies(payload)
  local out = {}
  for _, dep in ipairs(payload.dependencies or {}) do
    local file = type(dep.artifacts_file) == "table" and dep.artifacts_file.filename or ""
    if type(file) == "string" and file ~= "" then out[#out + 1] = dep end
  end
  return out
end

function M.download(ctx)
  local deps = M.dependencies(ctx.payload)
  if #deps == 0 then return "" end
  local L = { "if lunar_have_helper 'Artifacts downloading'; then" }
  for _, dep in ipairs(deps) do
    L[#L + 1] = "  " .. notice(string.format("Downloading artifacts for %s (%s)...", tostring(dep.name or ""), tostring(dep.id)))
    L[#L + 1] = "  " .. lib.helper(ctx.layout, { "artifacts-downloader", "--url", M.url(ctx) })
        .. ' --token "$' .. M.token_variable(dep) .. '" --id ' .. shell.quote(tostring(dep.id))
  end
  L[#L + 1] = "fi"
  return table.concat(L, "\n")
end

-- The archiver arguments of an artifacts entry (empty: nothing to upload).
local function archiver_args(a)
  local args = {}
  for _, p in ipairs(a.paths or {}) do
    args[#args + 1] = "--path"
    args[#args + 1] = p
  end
  for _, p in ipairs(a.exclude or {}) do
    args[#args + 1] = "--exclude"
    args[#args + 1] = p
  end
  if a.untracked then args[#args + 1] = "--untracked" end
  return args
end

local OPTIONAL = {
  { "name", "--name" }, { "expire_in", "--expire-in" },
  { "artifact_format", "--artifact-format" }, { "artifact_type", "--artifact-type" },
}

function M.upload(ctx, on_success)
  local url = M.url(ctx)
  if url == "" then return "" end
  local L = {}
  for _, a in ipairs(ctx.payload.artifacts or {}) do
    local args = archiver_args(a)
    if #args > 0 and lib.when_matches(a.when or "", on_success) then
      local cmd = { "artifacts-uploader", "--url", url }
      local tail = {
        "--id", tostring(ctx.payload.id),
        "--timeout", ctx.layout.upload_timeout,
        "--response-header-timeout", ctx.layout.response_header_timeout,
      }
      for _, x in ipairs(args) do tail[#tail + 1] = x end
      for _, opt in ipairs(OPTIONAL) do
        local v = a[opt[1]]
        if type(v) == "string" and v ~= "" then
          tail[#tail + 1] = opt[2]
          tail[#tail + 1] = v
        end
      end
      L[#L + 1] = "if lunar_have_helper 'Uploading artifacts'; then"
      L[#L + 1] = "  " .. notice("Uploading artifacts...")
      L[#L + 1] = "  " .. lib.helper(ctx.layout, cmd) .. ' --token "$lunar_job_token" ' .. shell.words(tail)
      L[#L + 1] = "fi"
    end
  end
  return table.concat(L, "\n")
end

return M
