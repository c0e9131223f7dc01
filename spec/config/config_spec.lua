-- lunar.runner { ... }: every settings group accepts what GitLab Runner's
-- [runners.kubernetes] accepts, and refuses the rest with the key path and
-- the file:line where the key was written.
local H = require "helper"

-- Builds a runner file whose kubernetes table holds `body` (Lua source) from
-- line 5 on.
local function file(body, top)
  return table.concat({
    'local lunar = require "lunar"',
    "return lunar.runner {",
    '  name = "t", url = "https://gitlab.example.com", token = "glrt-abc",' .. (top or ""),
    "  kubernetes = {",
    body,
    "  },",
    "}",
  }, "\n")
end

local valid = {
  connection = [[
    host = "https://k8s.example.com:6443", ca_file = "/etc/ca.pem", bearer_token = "t",
    namespace = "ci", namespace_overwrite_allowed = "^ci-.*$", service_account = "runner",
    service_account_overwrite_allowed = "^ci-", automount_service_account_token = false,
    image_pull_secrets = { "regcred" }, use_service_account_image_pull_secrets = false,
    bearer_token_overwrite_allowed = true, qps = 5, burst = 10, context = "prod"]],
  images = [[
    image = "alpine:3.20", helper_image = "registry.example.com/helper:1",
    helper_image_flavor = "ubuntu", pull_policy = { "if-not-present", "always" },
    allowed_pull_policies = { "always", "if-not-present" }, allowed_images = { "alpine:*" },
    allowed_services = { "postgres:**" }, allowed_users = { "1000" }, allowed_groups = { "1000" }]],
  resources = [[
    cpu_limit = "2", cpu_request = "500m", memory_limit = "4Gi", memory_request = "1Gi",
    ephemeral_storage_limit = "10Gi", cpu_limit_overwrite_max_allowed = "8",
    service_cpu_limit = "1", helper_memory_limit = "256Mi", pod_cpu_limit = "4",
    pod_memory_request_overwrite_max_allowed = "16Gi", memory_request_overwrite_max_allowed = "2e9"]],
  scheduling = [[
    node_selector = { ["kubernetes.io/arch"] = "arm64" }, node_selector_overwrite_allowed = ".*",
    node_tolerations = { ["dedicated=ci"] = "NoSchedule", [""] = "" },
    scheduler_name = "custom", priority_class_name = "ci-low", runtime_class_name = "gvisor",
    affinity = { node_affinity = { required_during_scheduling_ignored_during_execution = {
      node_selector_terms = { { match_expressions = { { key = "pool", operator = "In", values = { "ci" } } } } } } },
      pod_anti_affinity = { preferred_during_scheduling_ignored_during_execution = { { weight = 10,
        pod_affinity_term = { topology_key = "kubernetes.io/hostname", label_selector = { match_labels = { app = "x" } } } } } } }]],
  metadata = [[
    pod_labels = { team = "a" }, pod_labels_overwrite_allowed = "^team=",
    pod_annotations = { ["x/y"] = "z" }, pod_annotations_overwrite_allowed = ".*"]],
  security = [[
    privileged = false, allow_privilege_escalation = false, cap_add = { "SYS_TIME" }, cap_drop = { "ALL" },
    pod_security_context = { run_as_user = 1000, fs_group = 1000, supplemental_groups = { 1, 2 },
      seccomp_profile = { type = "RuntimeDefault" } },
    build_container_security_context = { run_as_non_root = true, proc_mount = "unmasked",
      capabilities = { add = { "NET_ADMIN" } }, app_armor_profile = { type = "Localhost", localhost_profile = "p" } },
    helper_container_security_context = { read_only_root_filesystem = true, selinux_type = "spc_t" }]],
  networking = [[
    dns_policy = "none", dns_config = { nameservers = { "1.1.1.1" }, options = { { name = "ndots", value = "2" } } },
    host_aliases = { { ip = "10.0.0.1", hostnames = { "git.internal" } } },
    container_lifecycle = { pre_stop = { exec = { command = { "sleep", "1" } } },
      post_start = { http_get = { port = 8080, path = "/", scheme = "HTTP" } } },
    pod_termination_grace_period_seconds = 10, cleanup_grace_period_seconds = 5]],
  volumes = [[
    volumes = {
      host_path = { { name = "docker", mount_path = "/var/run/docker.sock", host_path = "/var/run/docker.sock", read_only = true } },
      pvc = { { name = "cache-$CI_PROJECT_ID", mount_path = "/cache", mount_propagation = "HostToContainer" } },
      config_map = { { name = "cfg", mount_path = "/etc/cfg", items = { ["a.conf"] = "a.conf" } } },
      secret = { { name = "kubeconfig", mount_path = "/kube", sub_path = "config" } },
      empty_dir = { { name = "scratch", mount_path = "/scratch", medium = "Memory", size_limit = "1Gi" } },
      csi = { { name = "vault", mount_path = "/vault", driver = "secrets-store.csi.k8s.io", volume_attributes = { a = "b" } } },
      nfs = { { name = "shared", mount_path = "/shared", server = "nfs.local", path = "/exports" } },
    }]],
  timing = [[
    poll_interval = 3, poll_timeout = 180, resource_availability_check_max_attempts = 2,
    cleanup_resources_timeout = "5m", retry_limit = 5, retry_backoff_max = 2000,
    retry_limits = { ["connection refused"] = 3 }, print_pod_warning_events = true,
    logs_base_dir = "/var/log", scripts_base_dir = "/tmp"]],
  services = [[
    services = { { name = "postgres:16", alias = "db", command = { "postgres" }, environment = { "A=b" } } },
    sidecars = "native"]],
  pod_spec = [[
    pod_spec = { { name = "a", patch = "hostname: ci", patch_type = "merge" },
      { name = "b", patch_path = "/etc/patch.json", patch_type = "json" },
      function(job, pod) return pod end }]],
}

describe("lunar.runner", function()
  for group, body in pairs(valid) do
    it("accepts every " .. group .. " setting", function()
      local r, err = H.load(file(body))
      assert.is_nil(err)
      assert.truthy(r)
    end)
  end

  it("accepts the top-level runner settings", function()
    local r, err = H.load(file('namespace = "ci"', [[
  builds_dir = "/builds", cache_dir = "/cache", environment = { "A=1" }, concurrent = 4, limit = 2,
  request_concurrency = 1, check_interval = 3, output_limit = 4096, shell = "bash",
  pre_get_sources_script = "echo a", post_build_script = "echo b",
  on = { job_finished = function() end },]]))
    assert.is_nil(err)
    assert.truthy(r)
  end)

  local invalid = {
    { "unknown key with a hint", 'namespce = "ci"', 'kubernetes: unknown key "namespce" (did you mean "namespace"?)' },
    { "wrong type", "namespace = 3", "kubernetes.namespace: expected a string, got number 3" },
    { "bad quantity", 'cpu_limit = "2 cores"', 'kubernetes.cpu_limit: quantity "2 cores" is not valid' },
    { "bad quantity cap", 'memory_limit_overwrite_max_allowed = "8GB"', 'kubernetes.memory_limit_overwrite_max_allowed: quantity "8GB" is not valid: unknown suffix "GB"' },
    { "bad regex", 'node_selector_overwrite_allowed = "[a-"', 'kubernetes.node_selector_overwrite_allowed: regular expression "[a-" is not valid' },
    { "bad pull policy", 'pull_policy = "sometimes"', 'kubernetes.pull_policy: expected one of "always", "never", "if-not-present", ""' },
    { "bad enum", 'dns_policy = "clusterfirst"', 'kubernetes.dns_policy: expected one of "none", "default", "cluster-first", "cluster-first-with-host-net", "", "None", "Default", "ClusterFirst", "ClusterFirstWithHostNet", got the string "clusterfirst"' },
    { "list instead of map", 'node_selector = { "a" }', "kubernetes.node_selector: expected a map" },
    { "volume without mount path", 'volumes = { host_path = { { name = "x" } } }', "kubernetes.volumes.host_path[1].mount_path: is required" },
    { "nfs without server", 'volumes = { nfs = { { name = "x", mount_path = "/x", path = "/e" } } }', "kubernetes.volumes.nfs[1].server: is required" },
    { "unknown volume type", 'volumes = { hostpath = {} }', 'kubernetes.volumes: unknown key "hostpath" (did you mean "host_path"?)' },
    { "Localhost profile without a path", 'build_container_security_context = { seccomp_profile = { type = "Localhost" } }', "kubernetes.build_container_security_context.seccomp_profile: type Localhost needs localhost_profile" },
    { "affinity operator", 'affinity = { node_affinity = { preferred_during_scheduling_ignored_during_execution = { { weight = 1, preference = { match_expressions = { { key = "a", operator = "Is" } } } } } } }', 'kubernetes.affinity.node_affinity.preferred_during_scheduling_ignored_during_execution[1].preference.match_expressions[1].operator: expected one of "In"' },
    { "service without image", 'services = { { alias = "db" } }', "kubernetes.services[1].name: is required" },
    { "patch and patch_path", 'pod_spec = { { patch = "a: 1", patch_path = "/p" } }', "kubernetes.pod_spec[1]: ambiguous patch: both patch and patch_path are set; keep one" },
    { "unknown patch type", 'pod_spec = { { patch = "a: 1", patch_type = "jsonpatch" } }', 'kubernetes.pod_spec[1].patch_type: expected one of "merge", "json", "strategic"' },
    { "bearer token twice", 'bearer_token = "a", bearer_token_file = "/t"', "kubernetes.bearer_token_file: bearer_token and bearer_token_file are both set; keep one" },
    { "cert without key", 'cert_file = "/c.pem"', "kubernetes.cert_file: cert_file needs key_file" },
    { "integer expected", "poll_timeout = 1.5", "kubernetes.poll_timeout: expected an integer, got number 1.5" },
  }
  for _, case in ipairs(invalid) do
    it("refuses " .. case[1] .. " with the key path and file:line", function()
      local r, err, path = H.load(file("    namespace_ok = nil,\n    " .. case[2]))
      assert.is_nil(r)
      assert.truthy(err:find(case[3], 1, true), "got: " .. tostring(err))
      -- the offending setting is on line 6 of the generated file
      assert.truthy(err:find(path .. ":6: ", 1, true), "no file:line in: " .. tostring(err))
    end)
  end

  describe("GitLab Runner settings lunar does not use", function()
    -- what H.load writes to stderr
    local function load_capturing(src)
      local lines, real = {}, io.stderr
      io.stderr = { write = function(self, ...) for _, s in ipairs { ... } do lines[#lines + 1] = s end return self end }
      local ok, r, err, path = pcall(H.load, src)
      io.stderr = real
      assert(ok, r)
      return r, err, path, table.concat(lines)
    end

    it("refuses namespace_per_job, saying why, with file:line", function()
      for _, case in ipairs {
        { "namespace_per_job = true", "kubernetes.namespace_per_job: lunar does not support this setting: lunar follows all its Pods with one watch in one namespace" },
      } do
        local r, err, path = H.load(file("    namespace_ok = nil,\n    " .. case[1]))
        assert.is_nil(r)
        assert.truthy(err:find(path .. ":6: " .. case[2], 1, true), "got: " .. tostring(err))
      end
      local r, err = H.load(file("namespace_per_job = false"))
      assert.is_nil(err)
      assert.truthy(r)
    end)

    it("warns once per load about poll_interval (lunar watches), naming file:line", function()
      local r, err, path, stderr = load_capturing(file("    namespace = \"ci\",\n    poll_interval = 3, poll_timeout = 60"))
      assert.is_nil(err)
      assert.truthy(r)
      local want = path .. ":6: kubernetes.poll_interval: warning: has no effect in lunar: lunar follows the Pod through one watch"
      assert.truthy(stderr:find(want, 1, true), "stderr: " .. stderr)
      local _, n = stderr:gsub("poll_interval", "")
      assert.equal(1, n)
      _, _, _, stderr = load_capturing(file('namespace = "ci"'))
      assert.equal("", stderr)
    end)
  end)

  it("reports every problem at once, in line order", function()
    local _, err, path = H.load(file([[
    cpu_limit = "x",
    memory_limit = "y",
    namespace = 1,]]))
    local a = err:find(path .. ":5: kubernetes.cpu_limit", 1, true)
    local b = err:find(path .. ":6: kubernetes.memory_limit", 1, true)
    local c = err:find(path .. ":7: kubernetes.namespace", 1, true)
    assert.truthy(a and b and c, err)
    assert.truthy(a < b and b < c)
  end)

  it("refuses token and token_file together, and unknown top-level keys", function()
    local _, err = H.load(file('namespace = "ci"', ' token_file = "/t", builds = "/b",'))
    assert.truthy(err:find("token_file: token and token_file are both set; keep one", 1, true), err)
    assert.truthy(err:find('unknown key "builds" (did you mean "builds_dir"?)', 1, true), err)
  end)

  it("says what the file must return", function()
    local r, err = H.load("return { kubernetes = {} }")
    assert.is_nil(r)
    assert.truthy(err:find("the file must return lunar.runner { ... } (it returned a table)", 1, true), err)
  end)

  it("reports a Lua error in the entrypoint with file:line", function()
    local r, err, path = H.load("local x = nil\nreturn x.y")
    assert.is_nil(r)
    assert.truthy(err:find(path .. ":2: attempt to index a nil value", 1, true), err)
  end)

  it("freezes the validated settings", function()
    local r = H.runner { cpu_limit = "1" }
    assert.has_error(function() r.kubernetes.cpu_limit = "2" end)
  end)
end)
