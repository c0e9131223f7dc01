-- `lunar doctor [--probe] [--format text|json] RUNNER.lua` (the checks are in lunar.doctor).
local doctor = require "lunar.doctor"

local M = {}

M.help = [[
usage: lunar doctor [--probe] [--probe-timeout SECONDS] [--format text|json] RUNNER.lua

Checks, in order, everything a job needs before lunar takes one, and goes on
after a problem whenever the next check can still tell something:

  entrypoint          RUNNER.lua loads and is valid
  connection          where the Kubernetes connection comes from (settings,
                      in-cluster service account, kubeconfig context)
  tls                 the API server's certificate against the configured CA
                      (and which CA file to use when it fails)
  identity            who the API server sees (SelfSubjectReview);
                      system:anonymous means no credentials reached it
  namespace           the job namespace exists (and is not `default` by accident)
  permissions         every permission lunar uses there (SelfSubjectAccessReview),
                      with the Role and RoleBinding YAML granting what is missing
  service_account     kubernetes.service_account exists
  image_pull_secrets  the Secrets named in kubernetes.image_pull_secrets exist
  gitlab              GitLab at `url` accepts the runner token
                      (POST /api/v4/runners/verify)
  probe               with --probe: one short Pod with the configured images and
                      scheduling; pull errors, unschedulable reasons, start time

Settings given as Lua functions (policies) are not evaluated, except by --probe,
which renders a small job. One line per check: ok, problem (with the fix below
it), warning, or skipped.

Options:
  --probe                  also start one short Pod in the job namespace (deleted after)
  --probe-timeout SECONDS  how long the probe Pod may take to start (default 120)
  --format text|json       output format (default text)
  -h, --help               show this help

Exit status: 0 when no check found a problem, 1 otherwise, 2 on a usage error.
]]

function M.run(args, cli)
  local opts, rest = cli.parse(args, { probe = "flag", format = "value", ["probe-timeout"] = "value" })
  if not opts then return cli.usage_error("doctor", rest) end
  if opts.help then io.stdout:write(M.help) return 0 end
  local format = opts.format or "text"
  if format ~= "text" and format ~= "json" then
    return cli.usage_error("doctor", "--format must be text or json, not " .. format)
  end
  local timeout = tonumber(opts["probe-timeout"] or "120")
  if not timeout or timeout <= 0 then return cli.usage_error("doctor", "--probe-timeout must be a number of seconds") end
  if #rest ~= 1 then return cli.usage_error("doctor", "expected RUNNER.lua") end
  local report = doctor.run(rest[1], { probe = opts.probe, probe_timeout = timeout })
  io.stdout:write(format == "json" and doctor.json(report) or doctor.text(report))
  return report.ok and 0 or 1
end

return M
