-- The built-in runner entrypoint, used when no RUNNER.lua is given: a plain
-- runner in the `default` namespace with the settings GitLab Runner's
-- Kubernetes executor would apply to an empty [runners.kubernetes] section,
-- plus a default image for jobs that name none.
local lunar = require "lunar"

return lunar.runner {
  name = "lunar",
  kubernetes = {
    namespace = "default",
    image = "alpine:3.20",
  },
}
