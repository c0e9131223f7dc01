-- A basic runner: every job runs in namespace `ci` with modest default
-- resources that a job may raise up to a cap with KUBERNETES_* variables.
local lunar = require "lunar"

return lunar.runner {
  name = "k8s-basic",
  url = "https://gitlab.example.com",
  token_file = "/var/run/secrets/lunar/token",
  concurrent = 10,
  kubernetes = {
    namespace = "ci",
    image = "alpine:3.20",
    pull_policy = "if-not-present",
    cpu_request = "250m",
    cpu_limit = "1",
    cpu_limit_overwrite_max_allowed = "4",
    memory_request = "256Mi",
    memory_limit = "1Gi",
    memory_limit_overwrite_max_allowed = "8Gi",
    helper_cpu_request = "100m",
    helper_memory_limit = "256Mi",
    pod_labels = { team = "platform", ["pipeline"] = "$CI_PIPELINE_ID" },
    pod_annotations = { ["cluster-autoscaler.kubernetes.io/safe-to-evict"] = "false" },
    pod_termination_grace_period_seconds = 30,
  },
}
