-- One runner for amd64 and arm64 nodes: the job chooses with its ARCH variable
-- (default amd64), and the helper image follows the node selector's arch.
local lunar = require "lunar"

return lunar.runner {
  name = "k8s-multiarch",
  url = "https://gitlab.example.com",
  token_file = "/var/run/secrets/lunar/token",
  kubernetes = {
    namespace = "ci",
    node_selector = function(job)
      local arch = job.variables.ARCH or "amd64"
      assert(arch == "amd64" or arch == "arm64", "ARCH must be amd64 or arm64, not " .. arch)
      return { ["kubernetes.io/arch"] = arch, ["kubernetes.io/os"] = "linux" }
    end,
    node_tolerations = function(job)
      if job.variables.ARCH == "arm64" then
        return { ["arch=arm64"] = "NoSchedule" }
      end
      return {}
    end,
  },
}
