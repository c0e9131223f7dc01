-- No value that comes from a job is ever run as shell code: in every script
-- of the job Secret, job data appears only as single-quoted shell words (or
-- is read by the shell from the environment). The spec puts a marker that a
-- shell would run into every job field the stage scripts read, renders, and
-- scans each script for the marker outside single quotes.
local H = require "helper"
local render = require "lunar.render"

local MARK = "lunar;pwned" -- the `;` makes any shell word holding it need quotes
local EVIL = "x$(touch " .. MARK .. ")`touch " .. MARK .. "`;touch " .. MARK .. ";\"'\n touch " .. MARK

-- Offsets of MARK outside single-quoted words in a shell text.
local function unquoted(text)
  local hits, i, n = {}, 1, #text
  while i <= n do
    local c = text:sub(i, i)
    if c == "'" then
      local close = text:find("'", i + 1, true)
      if not close then hits[#hits + 1] = i break end
      i = close + 1
    elseif c == "\\" then
      i = i + 2
    elseif c == "#" and (i == 1 or text:sub(i - 1, i - 1):match("%s")) then
      i = (text:find("\n", i, true) or n) + 1 -- a comment
    else
      if text:sub(i, i + #MARK - 1) == MARK then hits[#hits + 1] = i end
      i = i + 1
    end
  end
  return hits
end

local function hostile_job()
  local job = H.job()
  for _, key in ipairs { "EVIL", "CI_COMMIT_TAG", "CI_COMMIT_TAG_MESSAGE", "CI_COMMIT_REF_NAME",
    "CI_COMMIT_MESSAGE", "CI_PROJECT_TITLE", "GIT_FETCH_EXTRA_FLAGS", "GIT_CLEAN_FLAGS",
    "GIT_SUBMODULE_UPDATE_FLAGS", "CACHE_FALLBACK_KEY", "ARTIFACT_COMPRESSION_LEVEL" } do
    H.setvar(job, key, EVIL)
  end
  H.setvar(job, "SECRET_EVIL", EVIL, { public = false, masked = true })
  H.setvar(job, "FILE_EVIL", EVIL, { file = true })
  job.git_info.ref = "v1" .. EVIL
  job.git_info.ref_type = "tag"
  job.job_info.name = EVIL
  job.steps = {
    { name = "script", script = { "echo \"$EVIL\"" }, timeout = 3600, when = "on_success" },
    { name = "release", script = { "release-cli create --description \"$CI_COMMIT_TAG_MESSAGE\" --tag-name \"$CI_COMMIT_TAG\"" },
      timeout = 3600, when = "on_success" },
    { name = "after_script", script = { "echo done" }, timeout = 3600, when = "always" },
  }
  job.cache = { { key = "k-$EVIL-" .. EVIL, paths = { EVIL, "$EVIL" }, policy = "pull-push", when = "on_success" } }
  job.artifacts = { { name = "a-$EVIL" .. EVIL, paths = { EVIL }, exclude = { EVIL }, when = "always",
    expire_in = EVIL, artifact_type = "archive", artifact_format = "zip" } }
  job.dependencies = { { id = 7, name = EVIL, token = EVIL, artifacts_file = { filename = EVIL .. ".zip", size = 1 } } }
  return job
end

describe("job values in stage scripts", function()
  it("never appear outside single quotes, in any script of the job Secret", function()
    local r = render.render_objects(H.runner({}, { pre_build_script = "echo pre" }), hostile_job())
    local checked = 0
    for key, text in pairs(r.secret.stringData) do
      if not key:match("^file%.") and key ~= ".dockerconfigjson" then
        checked = checked + 1
        local hits = unquoted(text)
        if #hits > 0 then
          error(string.format("%s: job data spliced into shell text at byte %d:\n%s", key, hits[1],
            text:sub(math.max(1, hits[1] - 120), hits[1] + 40)))
        end
      end
    end
    assert.is_true(checked > 5)
  end)

  it("leave the release step's variables to the shell", function()
    local r = render.render_objects(H.runner(), hostile_job())
    local release = r.secret.stringData.step_release
    assert.truthy(release:find('release-cli create --description "$CI_COMMIT_TAG_MESSAGE" --tag-name "$CI_COMMIT_TAG"', 1, true))
  end)
end)
