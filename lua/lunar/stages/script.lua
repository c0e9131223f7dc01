-- The job's own stages, run by the build container on the job image: one
-- step_<name> stage per step (step_script: before_script + script), then
-- after_script. Script lines are the user's shell code and run as written,
-- each echoed first as `$ <line>`; the stage stops at the first failure.
local shell = require "lunar.shell"
local lib = require "lunar.stages.lib"

local M = {}

-- "script" -> "step_script"; GitLab sends script, release and after_script.
function M.stage_name(step)
  return "step_" .. tostring(step.name or ""):lower():gsub("[^%w_]", "_")
end

-- The step stages in the payload's order: { { name, step } }.
function M.steps(payload)
  local out = {}
  for _, step in ipairs(payload.steps or {}) do
    if step.name ~= "after_script" then out[#out + 1] = { name = M.stage_name(step), step = step } end
  end
  return out
end

local function find_step(payload, name)
  for _, step in ipairs(payload.steps or {}) do
    if step.name == name then return step end
  end
end

-- Body of a step stage: the runner's pre_build_script, the step's lines,
-- the runner's post_build_script. The lines are the job's own shell code and
-- run as written; `$VAR` in them (the release step's `release-cli create
-- --description "$CI_COMMIT_TAG_MESSAGE"`) is expanded by the shell from the
-- environment, as data. No variable value is ever pasted into the script
-- text, where a tag message or a ref name would run as code.
function M.step(ctx, step)
  if not step then return "" end
  local lines = {}
  if ctx.settings.pre_build_script then lines[#lines + 1] = ctx.settings.pre_build_script end
  for _, line in ipairs(step.script or {}) do lines[#lines + 1] = line end
  if ctx.settings.post_build_script then lines[#lines + 1] = ctx.settings.post_build_script end
  return lib.commands(lines)
end

function M.after_script(ctx)
  local step = find_step(ctx.payload, "after_script")
  if not step or #(step.script or {}) == 0 then return "" end
  return shell.notice("Running after script...") .. "\n" .. lib.commands(step.script)
end

-- What after_script runs with before its body: the job's status, as the
-- build container recorded it.
M.after_script_env = 'CI_JOB_STATUS=$(cat "$lunar_status/job_status" 2>/dev/null) || CI_JOB_STATUS=failed\n'
    .. "export CI_JOB_STATUS"

return M
