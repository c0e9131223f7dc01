-- Where GitLab Runner's Kubernetes executor behaves one way and lunar used to
-- behave another (and not better): lunar does what GitLab Runner does.
local H = require "helper"
local render = require "lunar.render"

local function objects(k, job)
  return render.render_objects(H.runner(k), job or H.job())
end

local function err_of(k, job)
  local ok, e = pcall(render.render_objects, H.runner(k), job or H.job())
  assert.is_false(ok, "the render should fail")
  return e.message
end

describe("GitLab Runner's behaviour", function()
  it("KUBERNETES_NODE_TOLERATIONS_* with an empty value tolerates every taint, when allowed", function()
    local job = H.setvar(H.job(), "KUBERNETES_NODE_TOLERATIONS_1", "")
    H.setvar(job, "KUBERNETES_NODE_SELECTOR_1", "")
    H.setvar(job, "KUBERNETES_POD_LABELS_1", "")
    local r = objects({ node_tolerations_overwrite_allowed = ".*", node_selector_overwrite_allowed = ".*",
      pod_labels_overwrite_allowed = ".*" }, job)
    assert.same({ { operator = "Exists" } }, r.pod.spec.tolerations)
    assert.is_nil(r.pod.spec.nodeSelector)
    assert.is_nil(r.pod.metadata.labels[""])
  end)

  it("judges the uid and the gid of a job user each on its own", function()
    local job = H.job()
    job.image.executor_opts = { kubernetes = { user = "0:1000" } }
    local build = H.container(objects({}, job).pod, "build")
    assert.is_nil(build.securityContext and build.securityContext.runAsUser)
    assert.equal(1000, build.securityContext.runAsGroup)
    job.image.executor_opts = { kubernetes = { user = "nobody:2000" } }
    build = H.container(objects({}, job).pod, "build")
    assert.equal(2000, build.securityContext.runAsGroup)
  end)

  it("fails a node selector whose kubernetes.io/os is not linux, windows or freebsd, even with helper_image", function()
    local err = err_of { node_selector = { ["kubernetes.io/os"] = "plan9" }, helper_image = "registry.example.com/helper:1" }
    assert.truthy(err:find('unsupported OSType "plan9"', 1, true), err)
    assert(objects { node_selector = { ["kubernetes.io/os"] = "freebsd" }, helper_image = "registry.example.com/helper:1" })
  end)

  it("skips a service with an empty name: no container, no host alias, no number used", function()
    local job = H.job()
    job.services = { { name = "" }, { name = "redis:7" } }
    local pod = objects({}, job).pod
    local names = {}
    for _, c in ipairs(pod.spec.containers) do names[#names + 1] = c.name end
    for _, c in ipairs(pod.spec.initContainers or {}) do names[#names + 1] = c.name end
    assert.truthy(table.concat(names, ","):find("svc%-0"), table.concat(names, ","))
    assert.is_nil(table.concat(names, ","):find("svc%-1"), table.concat(names, ","))
    for _, ha in ipairs(pod.spec.hostAliases or {}) do
      for _, h in ipairs(ha.hostnames) do assert.not_equal("", h) end
    end
  end)

  it("FF_DISABLE_UMASK_FOR_KUBERNETES_EXECUTOR: no world-writable checkout; the helper stages chown to the build user", function()
    local job = H.setvar(H.job(), "FF_DISABLE_UMASK_FOR_KUBERNETES_EXECUTOR", "true")
    job.image.executor_opts = { kubernetes = { user = "1000:1000" } }
    local r = objects({}, job)
    local first = r.pod.spec.initContainers[1]
    assert.equal("init-build-user", first.name)
    assert.equal(H.container(r.pod, "build").image, first.image)
    assert.equal(1000, first.securityContext.runAsUser)
    local files = r.secret.stringData
    assert.truthy(files.find_build_user:find('"$(id -u):$(id -g)"', 1, true))
    for _, stage in ipairs { "prepare_script", "get_sources" } do
      assert.is_nil(files[stage]:find("umask 0000", 1, true), stage)
    end
    assert.truthy(files.get_sources:find("lunar_chown_build", 1, true))
    -- without the flag: umask 0000 as before, no init container of the build image
    r = objects({}, H.job())
    assert.equal("get-sources", r.pod.spec.initContainers[1].name)
    assert.truthy(r.secret.stringData.get_sources:find("umask 0000", 1, true))
  end)

  it("takes a blank size_limit and dns_policy = \"\" as unset, and Kubernetes' spellings of enumerations", function()
    local r = objects { dns_policy = "", volumes = { empty_dir = { { name = "scratch", mount_path = "/s", size_limit = " " } } } }
    assert.equal("ClusterFirst", r.pod.spec.dnsPolicy)
    for _, v in ipairs(r.pod.spec.volumes) do
      if v.name == "scratch" then assert.is_nil(v.emptyDir.sizeLimit) end
    end
    r = objects { dns_policy = "ClusterFirstWithHostNet", pull_policy = "IfNotPresent" }
    assert.equal("ClusterFirstWithHostNet", r.pod.spec.dnsPolicy)
    assert.equal("IfNotPresent", H.container(r.pod, "build").imagePullPolicy)
  end)
end)
