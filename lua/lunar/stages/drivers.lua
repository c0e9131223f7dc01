-- The entrypoints of the two long-running containers and the status-file
-- protocol between them (files in the status dir, an emptyDir both mount):
--
--   job_status  written by build after the step stages: success, failed,
--               canceled (TERM, i.e. the Pod is being deleted) or timedout
--               (RUNNER_SCRIPT_TIMEOUT); after_script reads it as CI_JOB_STATUS
--   exit_code   written by build last, after after_script: the exit status
--               of the step stages, which is also build's own exit status
--   heartbeat   touched by build every 10 s while it lives
--
-- job_status and exit_code are written atomically (temporary file, then
-- rename). The helper container waits for exit_code (or a heartbeat older
-- than a minute: build was killed; or the job's deadline), then runs the
-- post-build stages for a successful (0) or failed job and exits non-zero
-- when one of them failed.
local shell = require "lunar.shell"

local M = {}

local q = shell.quote

-- Go durations ("5m", "1h30m", "90s", "1.5h") -> whole seconds (at least 1),
-- or nil.
function M.duration(s)
  if type(s) ~= "string" or s == "" then return nil end
  local units = { ns = 1e-9, us = 1e-6, ["µs"] = 1e-6, ms = 1e-3, s = 1, m = 60, h = 3600 }
  local total, rest = 0, s
  while rest ~= "" do
    local num, unit, tail = rest:match("^(%d*%.?%d+)([a-zµ]+)(.*)$")
    if not num or not units[unit] then return nil end
    total = total + tonumber(num) * units[unit]
    rest = tail
  end
  return math.max(1, math.ceil(total))
end

local function run_stage(limit, name)
  return string.format('lunar_run %d "$lunar_shell" "$lunar_scripts/%s"', limit, name)
end

-- build: o = { steps = { stage names }, after_script = bool, shell = "bash"|"sh"|nil,
-- script_timeout = seconds (0: none), after_timeout = seconds, ignore_after_errors = bool }
function M.build(layout, o)
  local L = {
    "# lunar: entrypoint of the build container (generated; see README, Execution model).",
    ". " .. q(layout.scripts_dir .. "/lunar.sh"),
  }
  if o.shell then
    L[#L + 1] = "lunar_shell=" .. q(o.shell)
  else
    L[#L + 1] = "lunar_shell=sh"
    L[#L + 1] = "if command -v bash >/dev/null 2>&1; then lunar_shell=bash; fi"
  end
  L[#L + 1] = 'mkdir -p "$lunar_status"'
  L[#L + 1] = "lunar_heartbeat &"
  L[#L + 1] = "lunar_heartbeat_pid=$!"
  L[#L + 1] = "lunar_reason="
  L[#L + 1] = "trap 'lunar_reason=canceled; lunar_stop' TERM INT"
  L[#L + 1] = "trap 'lunar_reason=${lunar_reason:-timedout}; lunar_stop' USR1"
  L[#L + 1] = "lunar_rc=0"
  for _, name in ipairs(o.steps) do
    L[#L + 1] = 'if [ "$lunar_rc" -eq 0 ] && [ -z "$lunar_reason" ]; then'
    L[#L + 1] = "  " .. run_stage(o.script_timeout, name)
    L[#L + 1] = "  lunar_rc=$?"
    L[#L + 1] = "fi"
  end
  L[#L + 1] = 'if [ -n "$lunar_reason" ] && [ "$lunar_rc" -eq 0 ]; then lunar_rc=1; fi'
  L[#L + 1] = 'if [ "$lunar_reason" = timedout ]; then'
  L[#L + 1] = "  " .. shell.warning("WARNING: step_script could not run to completion because the timeout was exceeded.")
  L[#L + 1] = "fi"
  L[#L + 1] = 'if [ -n "$lunar_reason" ]; then lunar_job_status=$lunar_reason'
  L[#L + 1] = 'elif [ "$lunar_rc" -eq 0 ]; then lunar_job_status=success'
  L[#L + 1] = "else lunar_job_status=failed; fi"
  L[#L + 1] = 'lunar_status_write job_status "$lunar_job_status"'
  if o.after_script then
    -- a cancel does not interrupt after_script; its own time limit does
    L[#L + 1] = "trap 'lunar_reason=${lunar_reason:-canceled}' TERM INT"
    L[#L + 1] = "lunar_after_timedout="
    L[#L + 1] = "trap 'lunar_after_timedout=1; lunar_stop' USR1"
    L[#L + 1] = run_stage(o.after_timeout, "after_script")
    L[#L + 1] = "lunar_after_rc=$?"
    L[#L + 1] = 'if [ -n "$lunar_after_timedout" ]; then'
    L[#L + 1] = "  " .. shell.warning("WARNING: after_script failed: the timeout was exceeded.")
    L[#L + 1] = 'elif [ "$lunar_after_rc" -ne 0 ]; then'
    L[#L + 1] = '  lunar_warning "WARNING: after_script failed, but job will continue unaffected: exit code $lunar_after_rc"'
    L[#L + 1] = "fi"
    if not o.ignore_after_errors then
      L[#L + 1] = 'if [ "$lunar_after_rc" -ne 0 ] && [ "$lunar_rc" -eq 0 ]; then lunar_rc=$lunar_after_rc; fi'
    end
  end
  L[#L + 1] = 'lunar_status_write exit_code "$lunar_rc"'
  L[#L + 1] = 'kill "$lunar_heartbeat_pid" 2>/dev/null'
  L[#L + 1] = 'exit "$lunar_rc"'
  return table.concat(L, "\n") .. "\n"
end

-- helper: o = { success = { stage names }, failure = { stage names },
-- always = { stage names }, deadline = seconds, interval = seconds }
function M.helper(layout, o)
  local ticks = math.ceil(o.deadline / o.interval)
  local function run(list, indent)
    local out = {}
    for _, name in ipairs(list) do
      out[#out + 1] = indent .. 'sh "$lunar_scripts/' .. name .. '" || lunar_rc=$?'
    end
    if #out == 0 then out[1] = indent .. ":" end
    return table.concat(out, "\n")
  end
  local L = {
    "# lunar: entrypoint of the helper container (generated; see README, Execution model).",
    ". " .. q(layout.scripts_dir .. "/lunar.sh"),
    "# a Pod being deleted still lets build run after_script: keep waiting for it",
    "trap 'lunar_terminating=1' TERM INT",
    "lunar_ticks=0",
    'while [ ! -f "$lunar_status/exit_code" ]; do',
    '  if [ "$lunar_ticks" -ge ' .. ticks .. " ]; then",
    "    " .. shell.warning("WARNING: the build container did not report an exit status in time; handling the job as failed"),
    "    break",
    "  fi",
    "  if lunar_build_gone; then",
    "    " .. shell.warning("WARNING: the build container stopped without reporting an exit status (killed, out of memory?); handling the job as failed"),
    "    break",
    "  fi",
    "  sleep " .. q(tostring(o.interval)),
    "  lunar_ticks=$((lunar_ticks + 1))",
    "done",
    'lunar_code=$(cat "$lunar_status/exit_code" 2>/dev/null) || lunar_code=',
    "lunar_rc=0",
    'if [ "$lunar_code" = 0 ]; then',
    run(o.success, "  "),
    "else",
    run(o.failure, "  "),
    "fi",
    run(o.always, ""),
    'exit "$lunar_rc"',
  }
  return table.concat(L, "\n") .. "\n"
end

return M
