-- The Pod lunar builds for a job, setting group by setting group, checked
-- against what GitLab Runner's Kubernetes executor builds.
local lunar = require "lunar"
local H = require "helper"

local function render(k, job, top)
  local pod, warnings = H.render(k, job, top)
  assert(pod, warnings)
  return pod, warnings
end

local names = H.names

describe("the Pod", function()
  it("has build first, helper second, services sorted by name", function()
    local job = H.job()
    job.services = { { name = "redis:7", alias = "zz" }, { name = "postgres:16", alias = "db" }, { name = "busybox" } }
    local pod = render()
    pod = render({}, job)
    assert.same({ "build", "helper", "db", "svc-0", "zz" }, names(pod.spec.containers))
    assert.equal("v1", pod.apiVersion)
    assert.equal("Pod", pod.kind)
    assert.equal("Never", pod.spec.restartPolicy)
  end)

  it("is named after the runner, project and slot, and stays the same for the same job", function()
    local a = render({}, nil, { token = "glrt-t3_AbCdEfGhIjKl" })
    local b = render({}, nil, { token = "glrt-t3_AbCdEfGhIjKl" })
    assert.matches("^runner%-abcdefghi%-project%-4821%-concurrent%-0%-[a-z0-9]+$", a.metadata.name)
    assert.equal(a.metadata.name, b.metadata.name)
    assert.equal(8, #a.metadata.name:match("%-([a-z0-9]+)$"))
    assert.truthy(#a.metadata.name <= 63)
    assert.equal("AbCdEfGhI", a.metadata.labels["manager.runner.gitlab.com/id-short"])
  end)

  it("uses the job image, else the runner's, else fails clearly", function()
    local job = H.job()
    assert.equal("alpine:3.20", H.container(render({}, job), "build").image)
    job.image = { name = "ruby:$RUBY_VERSION" }
    H.setvar(job, "RUBY_VERSION", "3.3")
    assert.equal("ruby:3.3", H.container(render({}, job), "build").image)
    job.image = nil
    local pod, err = lunar.render(lunar.runner { name = "t", kubernetes = { namespace = "ci" } }, job)
    assert.is_nil(pod)
    assert.matches("kubernetes%.image", err)
  end)

  describe("pull policies", function()
    it("maps names and takes the job's request within the allowed list", function()
      local job = H.job()
      job.image = { name = "alpine", pull_policy = { "if-not-present" } }
      local pod = render({ pull_policy = { "always", "if-not-present" } }, job)
      assert.equal("IfNotPresent", H.container(pod, "build").imagePullPolicy)
      assert.equal("IfNotPresent", H.container(pod, "helper").imagePullPolicy)
      pod = render({ pull_policy = "never" })
      assert.equal("Never", H.container(pod, "build").imagePullPolicy)
      pod = render({})
      assert.is_nil(H.container(pod, "build").imagePullPolicy)
    end)

    it("refuses a job policy the runner does not allow", function()
      local job = H.job()
      job.image = { name = "alpine", pull_policy = { "if-not-present" } }
      local pod, err = H.render({ allowed_pull_policies = { "always" } }, job)
      assert.is_nil(pod)
      assert.equal('invalid pull policy for container "build": pull_policy ["IfNotPresent"] defined in GitLab pipeline config is not one of the allowed_pull_policies ["Always"]', err)
    end)
  end)

  describe("allowed images", function()
    it("lets matching images and the runner's own image through", function()
      local job = H.job()
      job.image = { name = "registry.example.com/team/app:1" }
      assert.truthy(H.render({ allowed_images = { "registry.example.com/**" } }, job))
      job.image = { name = "alpine:3.20" }
      assert.truthy(H.render({ allowed_images = { "registry.example.com/**" } }, job))
    end)

    it("refuses other build and service images", function()
      local job = H.job()
      job.image = { name = "evil/miner:latest" }
      local pod, err = H.render({ allowed_images = { "registry.example.com/**" } }, job)
      assert.is_nil(pod)
      assert.matches('disallowed image: the job image "evil/miner:latest" is not on kubernetes.allowed_images', err, 1, true)
      job = H.job()
      job.services = { { name = "mysql:8" } }
      pod, err = H.render({ allowed_services = { "postgres:*" } }, job)
      assert.is_nil(pod)
      assert.matches('the service image "mysql:8" is not on kubernetes.allowed_services', err, 1, true)
    end)
  end)

  describe("resources", function()
    it("fills limits and requests per container class and the pod", function()
      local pod = render {
        cpu_limit = "2", memory_request = "1Gi", ephemeral_storage_limit = "5Gi",
        helper_cpu_request = "100m", service_memory_limit = "512Mi",
        pod_cpu_limit = "4", pod_memory_request = "2Gi",
      }
      assert.same({ limits = { cpu = "2", ["ephemeral-storage"] = "5Gi" }, requests = { memory = "1Gi" } },
        H.container(pod, "build").resources)
      assert.same({ requests = { cpu = "100m" } }, H.container(pod, "helper").resources)
      assert.same({ limits = { cpu = "4" }, requests = { memory = "2Gi" } }, pod.spec.resources)
    end)

    it("leaves resources out when none are set", function()
      local pod = render()
      assert.is_nil(H.container(pod, "build").resources)
      assert.is_nil(pod.spec.resources)
    end)
  end)

  describe("security", function()
    it("drops NET_RAW by default and lets cap_drop beat cap_add", function()
      local pod = render()
      assert.same({ drop = { "NET_RAW" } }, H.container(pod, "build").securityContext.capabilities)
      pod = render { cap_add = { "SYS_TIME", "NET_ADMIN" }, cap_drop = { "NET_ADMIN" } }
      assert.same({ add = { "SYS_TIME" }, drop = { "NET_RAW", "NET_ADMIN" } }, H.container(pod, "helper").securityContext.capabilities)
      pod = render { cap_add = { "NET_RAW" } }
      assert.same({ add = { "NET_RAW" } }, H.container(pod, "build").securityContext.capabilities)
    end)

    it("lets a container's own capability lists replace the global ones", function()
      local pod = render { cap_add = { "SYS_TIME" }, build_container_security_context = { capabilities = { drop = { "ALL" } } } }
      assert.same({ add = { "SYS_TIME" }, drop = { "ALL" } }, H.container(pod, "build").securityContext.capabilities)
      assert.same({ add = { "SYS_TIME" }, drop = { "NET_RAW" } }, H.container(pod, "helper").securityContext.capabilities)
    end)

    it("applies privileged, escalation, users, SELinux, seccomp and AppArmor", function()
      local pod = render {
        privileged = true, allow_privilege_escalation = false,
        pod_security_context = { run_as_user = 1000, fs_group = 2000, supplemental_groups = { 3 } },
        helper_container_security_context = { privileged = false, run_as_user = 0, selinux_type = "spc_t",
          proc_mount = "unmasked", read_only_root_filesystem = true,
          seccomp_profile = { type = "Localhost", localhost_profile = "ci.json" },
          app_armor_profile = { type = "RuntimeDefault" } },
      }
      local b, h = H.container(pod, "build").securityContext, H.container(pod, "helper").securityContext
      assert.is_true(b.privileged)
      assert.is_false(b.allowPrivilegeEscalation)
      assert.equal(1000, b.runAsUser) -- copied from the pod context
      assert.is_false(h.privileged)
      assert.equal(0, h.runAsUser)
      assert.same({ type = "spc_t" }, h.seLinuxOptions)
      assert.equal("Unmasked", h.procMount)
      assert.is_true(h.readOnlyRootFilesystem)
      assert.same({ type = "Localhost", localhostProfile = "ci.json" }, h.seccompProfile)
      assert.same({ type = "RuntimeDefault" }, h.appArmorProfile)
      assert.same({ runAsUser = 1000, fsGroup = 2000, supplementalGroups = { 3 } }, pod.spec.securityContext)
    end)

    it("takes the job's user only when allowed, never for the helper", function()
      local job = H.job()
      job.image = { name = "alpine", executor_opts = { kubernetes = { user = "1000:2000" } } }
      local pod = render({ allowed_users = { "1000" }, allowed_groups = { "2000" } }, job)
      assert.equal(1000, H.container(pod, "build").securityContext.runAsUser)
      assert.equal(2000, H.container(pod, "build").securityContext.runAsGroup)
      assert.is_nil(H.container(pod, "helper").securityContext.runAsUser)
      job.image.executor_opts.kubernetes.user = "0"
      local warnings
      pod, warnings = render({}, job)
      assert.is_nil(H.container(pod, "build").securityContext.runAsUser)
      assert.matches('the job\'s user "0" for container "build" is not allowed', warnings[1], 1, true)
    end)
  end)

  describe("volumes", function()
    it("adds user volumes in GitLab Runner's order before lunar's own, mounted everywhere", function()
      local job = H.job()
      job.services = { { name = "postgres:16" } }
      local pod = render({ volumes = {
        empty_dir = { { name = "scratch", mount_path = "/scratch", medium = "Memory", size_limit = "1Gi" } },
        host_path = { { name = "sock", mount_path = "/var/run/docker.sock", read_only = true, mount_propagation = "HostToContainer" } },
        pvc = { { name = "cache-$CI_PROJECT_ID", mount_path = "/cache/$CI_PROJECT_ID", sub_path = "x" } },
        secret = { { name = "kubeconfig", mount_path = "/kube", items = { config = "config" } } },
        config_map = { { name = "cfg", mount_path = "/etc/cfg" } },
        csi = { { name = "vault", mount_path = "/vault", driver = "d", fs_type = "ext4" } },
        nfs = { { name = "shared", mount_path = "/shared", server = "nfs", path = "/e", read_only = true } },
      } }, job)
      assert.same({ "sock", "kubeconfig", "cache-4821", "cfg", "scratch", "vault", "shared", "scripts", "logs", "repo" }, names(pod.spec.volumes))
      assert.same({ path = "/var/run/docker.sock" }, pod.spec.volumes[1].hostPath)
      assert.same({ secretName = "kubeconfig", items = { { key = "config", path = "config" } } }, pod.spec.volumes[2].secret)
      assert.same({ claimName = "cache-4821" }, pod.spec.volumes[3].persistentVolumeClaim)
      assert.same({ medium = "Memory", sizeLimit = "1Gi" }, pod.spec.volumes[5].emptyDir)
      assert.same({ server = "nfs", path = "/e", readOnly = true }, pod.spec.volumes[7].nfs)
      for _, c in ipairs(pod.spec.containers) do
        local m = names(c.volumeMounts)
        assert.same({ "scripts", "logs", "sock", "kubeconfig", "cache-4821", "cfg", "scratch", "vault", "shared", "repo" }, m)
        assert.equal("/cache/4821", c.volumeMounts[5].mountPath)
        assert.equal("x", c.volumeMounts[5].subPath)
        assert.equal("HostToContainer", c.volumeMounts[3].mountPropagation)
      end
    end)

    it("does not add the builds emptyDir when a user volume is mounted at the builds dir", function()
      local pod = render { volumes = { pvc = { { name = "builds", mount_path = "/builds" } } } }
      assert.same({ "builds", "scripts", "logs" }, names(pod.spec.volumes))
    end)
  end)

  describe("metadata", function()
    it("has GitLab Runner's labels and annotations, user labels expanded and sanitised", function()
      local job = H.job()
      H.setvar(job, "TEAM", "payments team")
      local pod = render({ pod_labels = { team = "$TEAM", ["pod"] = "mine", ["x.runner.gitlab.com/evil"] = "1" },
        pod_annotations = { note = "job $CI_JOB_ID", ["job.runner.gitlab.com/name"] = "renamed" } }, job)
      local l, a = pod.metadata.labels, pod.metadata.annotations
      assert.equal("payments_team", l.team)
      assert.equal(l["job.runner.gitlab.com/pod"], l.pod) -- defaults cannot be overridden
      assert.is_nil(l["x.runner.gitlab.com/evil"])
      assert.equal("4821", l["project.runner.gitlab.com/id"])
      assert.equal("acme", l["project.runner.gitlab.com/namespace"])
      assert.equal("test", l["manager.runner.gitlab.com/name"])
      assert.equal("job 918273", a.note)
      assert.equal("renamed", a["job.runner.gitlab.com/name"]) -- defaults can be
      assert.equal("1h0m0s", a["job.runner.gitlab.com/timeout"])
      assert.equal("4be0c3a1f7d29e85b6c04d13a9f2e7c58b1d6a30", a["job.runner.gitlab.com/sha"])
      assert.equal("ci", pod.metadata.namespace)
    end)

    it("falls back to the default namespace with a warning", function()
      local pod, warnings = render { namespace = "" }
      assert.equal("default", pod.metadata.namespace)
      assert.equal("Namespace is empty, therefore assuming 'default'.", warnings[1])
    end)
  end)

  describe("environment", function()
    it("gives build the public and runner variables, never secret ones, with $ escaped", function()
      local job = H.job()
      H.setvar(job, "SECRET", "hunter2", { public = false, masked = true })
      H.setvar(job, "PRICE", "$5 and $$", { raw = true })
      local build = H.container(render({}, job), "build")
      assert.is_nil(H.env(build, "SECRET"))
      assert.is_nil(H.env(build, "CI_JOB_TOKEN"))
      assert.equal("$$5 and $$$$", H.env(build, "PRICE"))
      assert.equal("/builds/acme/payments-api", H.env(build, "CI_PROJECT_DIR"))
      assert.equal("yes", H.env(build, "CI_SERVER"))
      assert.equal("3600", H.env(build, "CI_JOB_TIMEOUT"))
      assert.is_nil(H.container(render({}, job), "helper").env)
    end)

    it("gives services the public variables plus their own, expanded", function()
      local job = H.job("postgres-service")
      local pod = render({}, job)
      local db = H.container(pod, "db")
      assert.equal("app_test", H.env(db, "POSTGRES_DB"))
      assert.equal("true", H.env(db, "CI"))
      assert.same({ "postgres", "-c", "fsync=off" }, db.args)
    end)
  end)

  describe("scheduling", function()
    it("sets node selector, tolerations, affinity, DNS and the pod-level fields", function()
      local pod = render {
        node_selector = { ["kubernetes.io/arch"] = "arm64" },
        node_tolerations = { ["dedicated=ci"] = "NoSchedule", ["gpu"] = "", [""] = "" },
        affinity = { node_affinity = { preferred_during_scheduling_ignored_during_execution = {
          { weight = 5, preference = { match_expressions = { { key = "pool", operator = "In", values = { "ci" } } } } } } } },
        dns_policy = "none", dns_config = { nameservers = { "1.1.1.1" }, options = { { name = "ndots", value = "2" } } },
        scheduler_name = "s", priority_class_name = "p", runtime_class_name = "gvisor", service_account = "sa",
        automount_service_account_token = false, pod_termination_grace_period_seconds = 5,
        image_pull_secrets = { "regcred" },
      }
      local s = pod.spec
      assert.same({ ["kubernetes.io/arch"] = "arm64" }, s.nodeSelector)
      assert.same({ { operator = "Exists" }, { key = "dedicated", operator = "Equal", value = "ci", effect = "NoSchedule" },
        { key = "gpu", operator = "Exists" } }, s.tolerations)
      assert.same({ nodeAffinity = { preferredDuringSchedulingIgnoredDuringExecution = {
        { weight = 5, preference = { matchExpressions = { { key = "pool", operator = "In", values = { "ci" } } } } } } } }, s.affinity)
      assert.equal("None", s.dnsPolicy)
      assert.same({ nameservers = { "1.1.1.1" }, options = { { name = "ndots", value = "2" } } }, s.dnsConfig)
      assert.equal("s", s.schedulerName)
      assert.equal("p", s.priorityClassName)
      assert.equal("gvisor", s.runtimeClassName)
      assert.equal("sa", s.serviceAccountName)
      assert.is_false(s.automountServiceAccountToken)
      assert.equal(5, s.terminationGracePeriodSeconds)
      assert.equal(3601, s.activeDeadlineSeconds)
      -- the configured pull secrets, then the job Secret with the job's registry credentials
      assert.same({ { name = "regcred" }, { name = pod.metadata.name } }, s.imagePullSecrets)
      assert.matches(":arm64%-v", H.container(pod, "helper").image)
    end)

    it("omits pull secrets for the service account's own, and defaults affinity and DNS", function()
      local pod = render { image_pull_secrets = { "regcred" }, use_service_account_image_pull_secrets = true }
      assert.is_nil(pod.spec.imagePullSecrets)
      assert.same({}, pod.spec.affinity)
      assert.equal("ClusterFirst", pod.spec.dnsPolicy)
    end)

    it("takes the helper's architecture and OS from the runner's machine with helper_image_autoset_arch_and_os", function()
      local machines = { x86_64 = "x86_64", amd64 = "x86_64", aarch64 = "arm64", arm64 = "arm64", s390x = "s390x", ppc64le = "ppc64le" }
      local p = io.popen("uname -m")
      local arch = machines[p:read("l")] or "x86_64"
      p:close()
      local selector = { ["kubernetes.io/arch"] = arch == "arm64" and "s390x" or "arm64", ["kubernetes.io/os"] = "windows" }
      local pod = render { node_selector = selector, helper_image_autoset_arch_and_os = true }
      assert.matches("gitlab%-runner%-helper:" .. arch .. "%-v[%d.]+$", H.container(pod, "helper").image)
      pod = render { node_selector = selector }
      assert.not_matches("gitlab%-runner%-helper:" .. arch .. "%-v[%d.]+$", H.container(pod, "helper").image)
    end)

    it("drops a $patch that Kubernetes kept as a plain key from the Pod, with a warning", function()
      local pod, warnings = render { node_tolerations = { ["a=b"] = "NoSchedule" }, pod_spec = {
        { patch = "tolerations: [{$patch: delete, key: b}]" } } }
      -- what GitLab Runner creates, and what the API server stores: the key is gone, the rest stays
      assert.same({ { key = "b" } }, pod.spec.tolerations)
      assert.truthy(table.concat(warnings, "\n"):find(
        "pod_spec: spec.tolerations[0].$patch is not applied there", 1, true), table.concat(warnings, "\n"))
    end)

    it("picks the Windows helper image from the node selector", function()
      local pod = render { node_selector = { ["kubernetes.io/os"] = "windows", ["node.kubernetes.io/windows-build"] = "10.0.20348" } }
      assert.matches("gitlab%-runner%-helper:x86_64%-v[%d.]+%-servercore21H2$", H.container(pod, "helper").image)
      assert.is_nil(H.container(pod, "build").securityContext) -- no NET_RAW drop on Windows
    end)
  end)

  describe("services", function()
    it("names containers by the first valid unused alias and aliases every hostname", function()
      local job = H.job()
      job.services = {
        { name = "registry.example.com/db/postgres:16", alias = "Bad_Alias, db" },
        { name = "postgres:15", alias = "db" },
      }
      local pod2, err = H.render({}, job)
      assert.is_nil(pod2)
      assert.equal('the alias "Bad_Alias" of service "registry.example.com/db/postgres:16" is not a valid DNS name: it must consist of lower case alphanumeric characters or \'-\'', err)
      job.services[1].alias = "db1, db"
      local pod = render({ host_aliases = { { ip = "10.0.0.9", hostnames = { "git.internal" } } } }, job)
      assert.same({ ip = "127.0.0.1", hostnames = { "registry.example.com-db-postgres", "db1", "db", "postgres" } }, pod.spec.hostAliases[1])
      assert.same({ ip = "10.0.0.9", hostnames = { "git.internal" } }, pod.spec.hostAliases[2])
      -- db1 names the first service (its alias list stops being read there), db
      -- the second; "registry.example.com__db__postgres" is no DNS name
      assert.same({ "build", "helper", "db", "db1" }, names(pod.spec.containers))
      job.services[2].alias = "db1"
      assert.same({ "build", "helper", "db1", "svc-0" }, names(render({}, job).spec.containers))
    end)

    it("puts the runner's services before the job's", function()
      local pod = render({ services = { { name = "redis:7", alias = "cache", environment = { "MODE=ci" }, entrypoint = { "redis-server" } } } })
      local cache = H.container(pod, "cache")
      assert.equal("redis:7", cache.image)
      assert.equal("ci", H.env(cache, "MODE"))
      assert.same({ "redis-server" }, cache.command)
    end)

    it("gets no host aliases from a cluster older than 1.7", function()
      local job = H.job("postgres-service")
      local pod = assert(lunar.render(H.runner {}, job, { server_version = "1.6" }))
      assert.is_nil(pod.spec.hostAliases)
    end)
  end)

  it("hooks the container lifecycle into build, helper and services", function()
    local pod = render { container_lifecycle = { pre_stop = { exec = { command = { "sleep", "5" } } },
      post_start = { tcp_socket = { port = 8080 } } } }
    assert.same({ preStop = { exec = { command = { "sleep", "5" } } }, postStart = { tcpSocket = { port = 8080 } } },
      H.container(pod, "build").lifecycle)
    assert.truthy(H.container(pod, "helper").lifecycle)
  end)
end)
