-- The runner entrypoint of the deployment (mounted at /etc/lunar/runner.lua
-- from the ConfigMap lunar-runner). Jobs run in the runner's own namespace,
-- where the Role grants what lunar needs. Replace the URL; add settings as in
-- the README (or start from `lunar migrate config.toml`).
local lunar = require "lunar"

return lunar.runner {
  name = "lunar",
  url = "https://gitlab.example.com",
  token_file = "/var/run/secrets/lunar/token",
  concurrent = 10,
  kubernetes = {
    namespace = "ci",
    image = "alpine:3.20",
  },
}
