-- Deploy jobs that talk to the node's containerd and to another cluster: the
-- containerd socket from the host, a kubeconfig from a Secret, and host aliases
-- for an internal registry that has no DNS entry.
local lunar = require "lunar"

return lunar.runner {
  name = "k8s-deploy",
  url = "https://gitlab.example.com",
  token_file = "/var/run/secrets/lunar/token",
  kubernetes = {
    namespace = "deploy",
    service_account = "deployer",
    host_aliases = {
      { ip = "10.20.0.15", hostnames = { "registry.internal", "registry" } },
    },
    volumes = {
      host_path = {
        { name = "containerd-sock", mount_path = "/run/containerd/containerd.sock",
          host_path = "/run/containerd/containerd.sock" },
      },
      secret = {
        { name = "deploy-kubeconfig", mount_path = "/etc/deploy", read_only = true,
          items = { config = "kubeconfig" } },
      },
    },
  },
}
