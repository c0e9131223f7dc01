-- The `lunar` command line. main(args) returns the exit status: 0 success,
-- 1 a reported error (message on stderr), 2 a usage error.
local lunar = require "lunar"
local config = require "lunar.config"

local M = {}

local USAGE = [[
usage: lunar COMMAND [OPTIONS] [ARGS]

Commands:
  run [--max-jobs N] RUNNER.lua
                     take jobs from GitLab and run each as a Pod
  render [--format json|yaml] [--all] [RUNNER.lua] JOB.json
                     print the Kubernetes objects lunar creates for a job
  check RUNNER.lua   validate a runner entrypoint
  version            print the version
  help [COMMAND]     explain a command

RUNNER.lua is a Lua file that returns lunar.runner { ... }; without it, render
uses the built-in default runner. Run `lunar COMMAND --help` for details.
]]

local HELP = {
  run = [[
usage: lunar run [--max-jobs N] RUNNER.lua

Runs the runner declared by RUNNER.lua: verifies its token with GitLab, asks
for jobs (concurrent, limit, request_concurrency, check_interval) and runs each
job as one Pod in Kubernetes, streaming its log to GitLab and reporting its
result. Pods of this runner left by an earlier process are resumed (running
ones) or cleaned up (finished ones, and ones whose job GitLab no longer runs).

Signals:
  SIGQUIT  stop taking jobs; exit when the running jobs have finished
  SIGTERM  the same, and abort what still runs after shutdown_timeout seconds
  SIGINT   as SIGTERM
  SIGHUP   load RUNNER.lua again; switch to it only when it is valid
           (running jobs keep the configuration they started with)

Options:
  --max-jobs N   exit after N jobs have ended (tests, demos)
  -h, --help     show this help

Log lines go to stderr, one event a line, with the job id.
Exit status: 0 after a clean stop; 1 when start-up failed (the error says why:
the entrypoint, the cluster, the GitLab URL or token).
]],
  render = [[
usage: lunar render [--format json|yaml] [--all] [RUNNER.lua] JOB.json

Renders the Pod that lunar would create for the GitLab job payload JOB.json
(the body GitLab returns from POST /api/v4/jobs/request) under the runner
entrypoint RUNNER.lua, and prints it on stdout as Kubernetes JSON (or YAML).
Policies (settings given as Lua functions) run exactly as they would for a
real job; nothing is sent to GitLab or Kubernetes.

Options:
  --format json|yaml  output format (default json)
  --all               print a v1 List of every object of the job, not just the Pod
  -h, --help          show this help

Exit status: 0 when the Pod was rendered; 1 with the error on stderr (an
invalid entrypoint, a malformed payload, a failing policy, an invalid patch).
Warnings the runner would log for this job go to stderr.
]],
  check = [[
usage: lunar check RUNNER.lua

Loads the runner entrypoint RUNNER.lua and validates every setting: unknown
keys, wrong types, bad quantities and bad regular expressions are reported
with the key path and the file:line where they were set. Settings given as
functions are checked when a job is rendered (see `lunar render`).

Exit status: 0 when valid, 1 otherwise (errors on stderr).
]],
  version = "usage: lunar version\n\nPrints lunar's version.\n",
}

local function strip_traceback(msg)
  msg = tostring(msg)
  return (msg:gsub("\n?stack traceback:.*$", ""))
end

local read_file = require("lunar.files").read

local function default_runner_path()
  local dir = os.getenv("LUNAR_LUA_DIR")
  if dir and dir ~= "" then return dir .. "/lunar/default_runner.lua" end
  local info = debug.getinfo(1, "S").source
  return info:match("^@(.*)/cli%.lua$") .. "/default_runner.lua"
end

local function parse(args, spec)
  local opts, rest = {}, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "-h" or a == "--help" then
      opts.help = true
    elseif a:match("^%-%-") then
      local name, value = a:match("^%-%-([%w%-]+)=(.*)$")
      name = name or a:sub(3)
      local kind = spec[name]
      if kind == nil then return nil, "unknown option " .. a end
      if kind == "flag" then
        opts[name] = true
      else
        if value == nil then
          i = i + 1
          value = args[i]
          if value == nil then return nil, "option --" .. name .. " needs a value" end
        end
        opts[name] = value
      end
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  return opts, rest
end

local function err(msg)
  io.stderr:write("lunar: ", msg, "\n")
  return 1
end

local function usage_error(cmd, msg)
  io.stderr:write("lunar ", cmd, ": ", msg, "\n\n", HELP[cmd] or USAGE)
  return 2
end

local commands = {}

function commands.render(args)
  local opts, rest = parse(args, { format = "value", all = "flag" })
  if not opts then return usage_error("render", rest) end
  if opts.help then io.stdout:write(HELP.render) return 0 end
  local format = opts.format or "json"
  if format ~= "json" and format ~= "yaml" then
    return usage_error("render", "--format must be json or yaml, not " .. format)
  end
  local runner_path, job_path
  if #rest == 2 then
    runner_path, job_path = rest[1], rest[2]
  elseif #rest == 1 then
    runner_path, job_path = default_runner_path(), rest[1]
  else
    return usage_error("render", "expected [RUNNER.lua] JOB.json")
  end
  local runner, lerr = config.load(runner_path)
  if not runner then return err(lerr) end
  local text, rerr = read_file(job_path)
  if not text then return err("cannot read the job payload: " .. rerr) end
  local payload, jerr = lunar.json.decode(text, job_path)
  if payload == nil then return err(jerr) end
  local ok, result = pcall(require("lunar.render").render_objects, runner, payload, { payload_name = job_path })
  if not ok then
    if type(result) == "table" and result.message then return err(result.message) end
    return err(strip_traceback(result))
  end
  for _, w in ipairs(result.warnings) do io.stderr:write(w, "\n") end
  local out = result.pod
  if opts.all then
    local items = result.objects or { result.pod }
    out = { apiVersion = "v1", kind = "List", items = lunar.json.array(items), metadata = {} }
  end
  local encoded, eerr
  if format == "yaml" then
    encoded, eerr = lunar.yaml.encode(out)
  else
    encoded, eerr = lunar.json.encode(out, { pretty = true })
    if encoded then encoded = encoded .. "\n" end
  end
  if not encoded then return err(eerr) end
  io.stdout:write(encoded)
  return 0
end

function commands.run(args)
  local opts, rest = parse(args, { ["max-jobs"] = "value" })
  if not opts then return usage_error("run", rest) end
  if opts.help then io.stdout:write(HELP.run) return 0 end
  if #rest ~= 1 then return usage_error("run", "expected RUNNER.lua") end
  local max_jobs = 0
  if opts["max-jobs"] then
    max_jobs = math.tointeger(tonumber(opts["max-jobs"]))
    if not max_jobs or max_jobs < 1 then return usage_error("run", "--max-jobs needs a positive integer") end
  end
  local status, msg = lunar.run(rest[1], { max_jobs = max_jobs })
  if status ~= 0 then return err(msg or "the runner stopped with an error") end
  return 0
end

function commands.check(args)
  local opts, rest = parse(args, {})
  if not opts then return usage_error("check", rest) end
  if opts.help then io.stdout:write(HELP.check) return 0 end
  if #rest ~= 1 then return usage_error("check", "expected RUNNER.lua") end
  local runner, lerr = config.load(rest[1])
  if not runner then return err(lerr) end
  io.stdout:write(rest[1], ": ok\n")
  return 0
end

function commands.version(args)
  if args[1] == "-h" or args[1] == "--help" then io.stdout:write(HELP.version) return 0 end
  io.stdout:write("lunar ", lunar.version, " (", _VERSION, ")\n")
  return 0
end

function commands.help(args)
  local topic = args[1]
  if topic and HELP[topic] then io.stdout:write(HELP[topic]) return 0 end
  if topic then return usage_error("help", "no command " .. topic) end
  io.stdout:write(USAGE)
  return 0
end

function M.main(args)
  local cmd = args[1]
  if cmd == nil then io.stderr:write(USAGE) return 2 end
  if cmd == "-h" or cmd == "--help" then io.stdout:write(USAGE) return 0 end
  if cmd == "--version" then cmd = "version" end
  local fn = commands[cmd]
  if not fn then
    io.stderr:write("lunar: unknown command ", cmd, "\n\n", USAGE)
    return 2
  end
  return fn({ table.unpack(args, 2) })
end

return M
