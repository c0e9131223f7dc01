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
  -- on SIGTERM (a rollout, a node drain) running jobs get this long to finish
  -- before they are aborted; the Deployment's terminationGracePeriodSeconds is
  -- this plus 30 s for the aborts and final updates
  shutdown_timeout = 600,
  -- /metrics for Prometheus; /healthz and /readyz for the Deployment's probes
  listen_address = ":9252",
  kubernetes = {
    namespace = "ci",
    image = "alpine:3.20",
  },
}
