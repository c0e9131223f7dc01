-- Windows jobs on a Windows node pool: node selection by OS and build, a
-- toleration for the pool's taint. The helper image follows the node selector
-- (windows servercore helper).
local lunar = require "lunar"

return lunar.runner {
  name = "k8s-windows",
  url = "https://gitlab.example.com",
  token_file = "/var/run/secrets/lunar/token",
  kubernetes = {
    namespace = "ci-windows",
    node_selector = {
      ["kubernetes.io/os"] = "windows",
      ["kubernetes.io/arch"] = "amd64",
      ["node.kubernetes.io/windows-build"] = "10.0.20348",
    },
    node_tolerations = { ["os=windows"] = "NoSchedule" },
    cpu_limit = "2",
    memory_limit = "4Gi",
  },
}
