-- `lunar migrate [-o DIR] config.toml` (the work is in lunar.migrate).
local migrate = require "lunar.migrate"
local read_file = require("lunar.files").read

local M = {}

M.help = [=[
usage: lunar migrate [-o DIR] config.toml

Writes a lunar runner entrypoint for each [[runners]] entry of GitLab Runner's
config.toml that uses the Kubernetes executor. Every setting lunar has keeps its
name ([runners.kubernetes] settings go under `kubernetes = { ... }`); settings
lunar does not read stay in the file as comments that say why; values lunar
would refuse are commented out with the reason, so the result passes
`lunar check`. Feature flags ([runners.feature_flags] and FF_* entries of
`environment`) become comments saying what lunar does instead.

Secrets are never written: `token` becomes `token_file` and
`kubernetes.bearer_token` becomes `bearer_token_file`, under
/var/run/secrets/lunar (where deploy/ mounts the Secret lunar-token); store the
values there, e.g. `kubectl -n NAMESPACE create secret generic lunar-token
--from-file=token=/dev/stdin` and paste the token.

With one Kubernetes runner the entrypoint goes to stdout; with several, give
-o DIR and each is written to DIR/NAME.lua. Notes go to stderr.

Options:
  -o, --output DIR  write DIR/NAME.lua for each runner (DIR must exist)
  -h, --help        show this help

Exit status: 0 when every Kubernetes runner was written; 1 when the file cannot
be read, is not valid TOML (the message gives file:line:column) or has no
Kubernetes runner; 2 on a usage error.
]=]

local function write(path, text)
  local f, err = io.open(path, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(text)
  f:close()
  if not ok then return nil, werr end
  return true
end

-- cli = { parse, err, usage_error } from lunar.cli
function M.run(args, cli)
  -- -o is the one short option: turn it into --output
  local expanded = {}
  for _, a in ipairs(args) do expanded[#expanded + 1] = a == "-o" and "--output" or a end
  local opts, rest = cli.parse(expanded, { output = "value" })
  if not opts then return cli.usage_error("migrate", rest) end
  if opts.help then io.stdout:write(M.help) return 0 end
  if #rest ~= 1 then return cli.usage_error("migrate", "expected config.toml") end
  local path = rest[1]
  local text, rerr = read_file(path)
  if not text then return cli.err("cannot read " .. rerr) end
  local result, merr = migrate.migrate(text, path)
  if not result then return cli.err(merr) end
  for _, note in ipairs(result.notes) do io.stderr:write(note, "\n") end
  if #result.runners == 0 then return cli.err(path .. ": no [[runners]] entry uses the kubernetes executor") end
  if #result.runners > 1 and not opts.output then
    return cli.err(string.format("%s has %d Kubernetes runners: give -o DIR to write one entrypoint each", path, #result.runners))
  end
  for _, r in ipairs(result.runners) do
    if opts.output then
      local file = opts.output .. "/" .. r.name .. ".lua"
      local ok, werr = write(file, r.text)
      if not ok then return cli.err("cannot write " .. werr) end
      io.stderr:write("wrote ", file, "\n")
    else
      io.stdout:write(r.text)
    end
    for _, s in ipairs(r.secrets) do
      io.stderr:write(string.format("%s: %s is a secret and was not copied: store it in %s\n", s.from, s.what, s.file))
    end
  end
  return 0
end

return M
