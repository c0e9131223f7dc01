-- werf rootless builds (Buildah in a user namespace): a dedicated namespace and
-- service account, /dev/fuse from the fuse device plugin, an unconfined
-- AppArmor profile for the build container, and no privilege.
local lunar = require "lunar"

return lunar.runner {
  name = "k8s-werf",
  url = "https://gitlab.example.com",
  token_file = "/var/run/secrets/lunar/token",
  kubernetes = {
    namespace = "werf-builds",
    service_account = "werf",
    image = "registry.werf.io/werf/werf:2-stable",
    cpu_limit = "2",
    memory_limit = "4Gi",
    pod_annotations = {
      ["container.apparmor.security.beta.kubernetes.io/build"] = "unconfined",
    },
    build_container_security_context = {
      run_as_user = 1000,
      run_as_group = 1000,
      allow_privilege_escalation = false,
      app_armor_profile = { type = "Unconfined" },
      seccomp_profile = { type = "Unconfined" },
    },
    -- The fuse device comes from a device plugin as an extended resource.
    pod_spec = {
      {
        name = "fuse-device",
        patch_type = "strategic",
        patch = [[
containers:
  - name: build
    resources:
      limits:
        github.com/fuse: "1"
]],
      },
    },
  },
}
