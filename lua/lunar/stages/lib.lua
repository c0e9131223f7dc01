-- The shell library every script of a job sources (Secret key `lunar.sh`),
-- the job's variables file (`variables.sh`), and the wrapper that turns a
-- stage body into a stage script with its collapsible section.
local shell = require "lunar.shell"

local M = {}

local q = shell.quote

-- Functions shared by the stage scripts and the two container drivers. The
-- layout paths are set first; everything else is fixed text.
local LIBRARY = [=[
# GitLab's collapsible sections: section_start:<unix time>:<name>\r\e[0K<header>
lunar_now() { date +%s 2>/dev/null || echo 0; }
lunar_section_start() {
  printf 'section_start:%s:%s\r\033[0K\033[36;1m%s\033[0;m\n' "$(lunar_now)" "$1" "$2"
}
lunar_section_end() {
  printf 'section_end:%s:%s\r\033[0K\n' "$(lunar_now)" "$1"
}
lunar_notice() { printf '\033[32;1m%s\033[0;m\n' "$*"; }
lunar_warning() { printf '\033[0;33m%s\033[0;m\n' "$*"; }
lunar_error() { printf '\033[31;1m%s\033[0;m\n' "$*"; }
# Echoes a job script line the way GitLab does: `$ <line>` in green.
lunar_echo() { printf '\033[32;1m$ %s\033[0;m\n' "$1"; }

# Writes a file-type variable's value from the Secret into the temp dir,
# readable by this container's user only.
lunar_file_var() {
  (umask 077 && rm -f "$lunar_tmp/$1" && cat "$lunar_scripts/file.$1" > "$lunar_tmp/$1")
}

# Exports the KEY=VALUE lines that earlier stages appended to $GITLAB_ENV.
# Values are taken literally: nothing in the file is evaluated.
lunar_load_env() {
  [ -f "${GITLAB_ENV:-}" ] || return 0
  while IFS= read -r lunar_line || [ -n "$lunar_line" ]; do
    lunar_key=${lunar_line%%=*}
    case $lunar_key in
      "$lunar_line" | "" | [0-9]* | *[!A-Za-z0-9_]*) continue ;;
    esac
    export "$lunar_key=${lunar_line#*=}"
  done < "$GITLAB_ENV"
}

# The environment of every stage: the job's variables, file variables, and
# what earlier stages added through $GITLAB_ENV.
lunar_prepare() {
  mkdir -p "$lunar_tmp"
  . "$lunar_scripts/variables.sh"
  lunar_load_env
}

# Tells whether the helper binary can run; warns (and the step is skipped,
# as in GitLab Runner) when it cannot.
lunar_have_helper() {
  "$lunar_helper" --version >/dev/null 2>&1 && return 0
  lunar_warning "Missing $lunar_helper. $1 is disabled."
  return 1
}

# lunar_run SECONDS COMMAND...: runs COMMAND in the background in its own
# process group (setsid, where the image has it), so that lunar_stop stops
# everything it started; SECONDS > 0 arms a watchdog that sends USR1 to this
# shell. Returns COMMAND's exit status.
lunar_run() {
  lunar_limit=$1
  shift
  if command -v setsid >/dev/null 2>&1; then setsid "$@" & else "$@" & fi
  lunar_child=$!
  lunar_watchdog=
  if [ "$lunar_limit" -gt 0 ]; then
    lunar_watch "$lunar_limit" &
    lunar_watchdog=$!
  fi
  while :; do
    wait "$lunar_child"
    lunar_code=$?
    kill -0 "$lunar_child" 2>/dev/null || break
  done
  if [ -n "$lunar_watchdog" ]; then kill "$lunar_watchdog" 2>/dev/null; fi
  lunar_child=
  return "$lunar_code"
}
lunar_watch() {
  trap 'kill "$lunar_sleep" 2>/dev/null; exit 0' TERM
  sleep "$1" &
  lunar_sleep=$!
  if wait "$lunar_sleep"; then kill -USR1 $$; fi
}
lunar_stop() {
  [ -n "${lunar_child:-}" ] || return 0
  kill -TERM -"$lunar_child" 2>/dev/null || kill -TERM "$lunar_child" 2>/dev/null
  return 0
}

# The build container touches the status dir's heartbeat every 10 s while it
# lives; a heartbeat older than a minute means it was killed (out of memory,
# evicted) before it could report, and the helper stops waiting.
lunar_heartbeat() {
  trap 'kill "$lunar_sleep" 2>/dev/null; exit 0' TERM
  while :; do
    : > "$lunar_status/heartbeat"
    sleep 10 &
    lunar_sleep=$!
    wait "$lunar_sleep"
  done
}
lunar_build_gone() {
  [ -f "$lunar_status/heartbeat" ] && [ -n "$(find "$lunar_status/heartbeat" -mmin +1 2>/dev/null)" ]
}

# FF_DISABLE_UMASK_FOR_KUBERNETES_EXECUTOR: hands the project dir to the build
# user that the init-build-user container found (uid:gid digits only).
lunar_chown_build() {
  [ -s "$lunar_status/build_user" ] || return 0
  lunar_owner=$(cat "$lunar_status/build_user")
  case $lunar_owner in "" | *[!0-9:]*) return 0 ;; esac
  chown -R "$lunar_owner" "$CI_PROJECT_DIR" "$lunar_tmp" 2>/dev/null || true
}

# Writes a file of the status dir atomically (the other container polls it).
lunar_status_write() {
  printf '%s\n' "$2" > "$lunar_status/$1.tmp" && mv -f "$lunar_status/$1.tmp" "$lunar_status/$1"
}
]=]

function M.library(layout)
  return table.concat({
    "# lunar: shell library of this job's scripts (generated; sourced, never run).",
    "lunar_scripts=" .. q(layout.scripts_dir),
    "lunar_status=" .. q(layout.status_dir),
    "lunar_tmp=" .. q(layout.tmp_dir),
    "lunar_helper=" .. q(layout.helper),
    LIBRARY,
  }, "\n")
end

-- variables.sh: one export per variable, then the file variables' files.
function M.variables(records)
  local lines = { "# lunar: the job's variables (generated; sourced by every stage)." }
  for _, rec in ipairs(records) do
    lines[#lines + 1] = "export " .. rec.key .. "=" .. q(rec.value)
  end
  for _, rec in ipairs(records) do
    if rec.file then lines[#lines + 1] = "lunar_file_var " .. rec.key end
  end
  return table.concat(lines, "\n") .. "\n"
end

-- A stage script: prepare the environment, open the section, run the body in
-- a subshell with errexit (so that neither `exit` nor a trap in the body can
-- skip the end of the section), close the section with the body's status.
-- opts: { umask = true (helper image stages), chown = true (hand the project
-- dir to the build user afterwards), reset = a file to remove
-- first, cd = dir, before = text run before the section (stage-specific
-- environment), pipefail = true }
function M.stage(name, header, body, layout, opts)
  opts = opts or {}
  local lines = {
    "# lunar: stage " .. name .. " (generated; see README, Execution model).",
  }
  if opts.umask then lines[#lines + 1] = "umask 0000" end
  if opts.reset then lines[#lines + 1] = "rm -f " .. q(opts.reset) end
  lines[#lines + 1] = ". " .. q(layout.scripts_dir .. "/lunar.sh")
  lines[#lines + 1] = "lunar_prepare"
  if opts.before then lines[#lines + 1] = opts.before end
  lines[#lines + 1] = "lunar_section_start " .. name .. " " .. q(header)
  lines[#lines + 1] = "trap 'lunar_section_end " .. name .. "; exit 143' TERM INT"
  lines[#lines + 1] = "("
  lines[#lines + 1] = "set -e"
  if opts.pipefail then
    lines[#lines + 1] = "if (set -o pipefail) 2>/dev/null; then set -o pipefail; fi"
  end
  if opts.cd then lines[#lines + 1] = "cd " .. q(opts.cd) end
  lines[#lines + 1] = body
  lines[#lines + 1] = ")"
  lines[#lines + 1] = "lunar_rc=$?"
  if opts.chown then lines[#lines + 1] = "lunar_chown_build" end
  lines[#lines + 1] = "lunar_section_end " .. name
  lines[#lines + 1] = "exit $lunar_rc"
  return table.concat(lines, "\n") .. "\n"
end

-- Lines of user shell code (job script, hooks, pre/post build scripts), each
-- echoed first as GitLab does; a multi-line entry is echoed by its first line.
function M.commands(list)
  local out = {}
  for _, command in ipairs(list) do
    command = tostring(command):gsub("^%s+", ""):gsub("%s+$", "")
    if command == "" then
      out[#out + 1] = "echo"
    else
      local first = command:match("^([^\n]*)\n")
      local shown = first and (first .. " # collapsed multi-line command") or command
      out[#out + 1] = "lunar_echo " .. q(shown)
      out[#out + 1] = command
    end
  end
  return table.concat(out, "\n")
end

-- A command line of the helper binary; every argument is data.
function M.helper(layout, args) return q(layout.helper) .. " " .. shell.words(args) end

-- Whether an artifact or cache entry's `when` applies to a job that
-- succeeded (on_success) or failed.
function M.when_matches(when, on_success)
  if when == "always" then return true end
  if when == "on_failure" then return not on_success end
  return on_success
end

return M
