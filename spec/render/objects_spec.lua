-- The objects of one job in the pod-native model: the job Secret (scripts,
-- variables, registry credentials) and the Pod that runs the stages from it.
local lunar = require "lunar"
local render = require "lunar.render"
local H = require "helper"

local function objects(k, job, top)
  return render.render_objects(H.runner(k, top), job or H.job())
end

local function decode(secret, key) return secret.stringData[key] end

local names = H.names

describe("the job's objects", function()
  it("are a Secret holding every stage script, then the Pod that mounts it", function()
    local r = objects()
    assert.same({ "Secret", "Pod" }, { r.objects[1].kind, r.objects[2].kind })
    assert.equal(r.pod.metadata.name, r.secret.metadata.name)
    assert.equal(r.pod.metadata.namespace, r.secret.metadata.namespace)
    assert.equal(r.pod.metadata.labels.pod, r.secret.metadata.labels.pod)
    for _, key in ipairs { "build", "helper", "get_sources", "step_script", "after_script", "variables.sh" } do
      assert.truthy(r.secret.stringData[key], key)
    end
    assert.matches("echo hello from lunar", decode(r.secret, "step_script"), 1, true)
    local scripts = r.pod.spec.volumes[1]
    assert.same({ name = "scripts", secret = { secretName = r.secret.metadata.name, defaultMode = 365 } }, scripts)
  end)

  it("run the pre-build stages as init containers on the helper image, then build and helper", function()
    local job = H.job()
    job.cache = { { key = "deps", paths = { "vendor/" }, policy = "pull-push", when = "on_success" } }
    job.dependencies = { { id = 5, name = "compile", token = "t", artifacts_file = { filename = "artifacts.zip", size = 10 } } }
    local pod = objects({}, job).pod
    assert.same({ "get-sources", "restore-cache", "download-artifacts" }, names(pod.spec.initContainers))
    for _, c in ipairs(pod.spec.initContainers) do
      assert.matches("gitlab%-runner%-helper", c.image)
      assert.equal("sh", c.command[1])
    end
    assert.same({ "sh", "-c", "exec sh /scripts-4821-918273/build" }, H.container(pod, "build").command)
    assert.same({ "sh", "-c", "exec sh /scripts-4821-918273/helper" }, H.container(pod, "helper").command)
    -- restore-cache and helper share the cache dir
    local cache
    for _, v in ipairs(pod.spec.volumes) do if v.name == "cache" then cache = v end end
    assert.same({ name = "cache", emptyDir = {} }, cache)
    local mounted = {}
    for _, m in ipairs(H.container(pod, "restore-cache").volumeMounts) do mounted[m.name] = m.mountPath end
    assert.equal("/cache", mounted.cache)
    assert.equal("/builds", mounted.repo)
  end)

  it("hold the registry credentials as a dockerconfigjson pull secret, DOCKER_AUTH_CONFIG first", function()
    local job = H.job()
    H.setvar(job, "DOCKER_AUTH_CONFIG", '{"auths":{"registry.acme.test":{"auth":"b3duOnNlY3JldA=="},"other.io":{"username":"u","password":"p"}}}', { public = false })
    local r = objects({ image_pull_secrets = { "regcred" } }, job)
    assert.equal("kubernetes.io/dockerconfigjson", r.secret.type)
    local cfg = assert(lunar.json.decode(decode(r.secret, ".dockerconfigjson")))
    assert.equal("b3duOnNlY3JldA==", cfg.auths["registry.acme.test"].auth) -- DOCKER_AUTH_CONFIG won over the job token
    assert.equal("dTpw", cfg.auths["other.io"].auth)
    assert.same({ { name = "regcred" }, { name = r.secret.metadata.name } }, r.pod.spec.imagePullSecrets)
  end)

  it("are an Opaque Secret and no pull secret without credentials", function()
    local job = H.job()
    job.credentials = {}
    local r = objects({}, job)
    assert.equal("Opaque", r.secret.type)
    assert.is_nil(r.secret.stringData[".dockerconfigjson"])
    assert.is_nil(r.pod.spec.imagePullSecrets)
  end)

  it("keep secret values out of the Pod spec", function()
    local job = H.job("postgres-service")
    local r = objects({}, job)
    local pod_text = assert(lunar.json.encode(r.pod))
    for _, v in ipairs(job.variables) do
      if v.masked or v.public == false then
        assert.falsy(pod_text:find(v.value, 1, true), v.key .. " leaked into the Pod")
      end
    end
    assert.falsy(pod_text:find(job.token, 1, true), "the job token leaked into the Pod")
    -- the service reads its password from the Secret
    local db = H.container(r.pod, "db")
    local ref
    for _, e in ipairs(db.env) do if e.name == "POSTGRES_PASSWORD" then ref = e end end
    assert.same({ name = "POSTGRES_PASSWORD", valueFrom = { secretKeyRef = { name = r.secret.metadata.name, key = "service-1.POSTGRES_PASSWORD" } } }, ref)
    assert.equal("s3cr3t-Pa55w0rd-xyz", decode(r.secret, "service-1.POSTGRES_PASSWORD"))
  end)

  it("run services as native sidecars when asked", function()
    local r = objects({ sidecars = "native" }, H.job("postgres-service"))
    local inits = r.pod.spec.initContainers
    assert.equal("db", inits[1].name)
    assert.equal("Always", inits[1].restartPolicy)
    assert.equal("get-sources", inits[2].name)
    assert.is_nil(inits[2].restartPolicy)
    assert.same({ "build", "helper" }, names(r.pod.spec.containers))
  end)

  it("fall back to plain service containers on a cluster older than 1.29", function()
    local r = render.render_objects(H.runner { sidecars = "native" }, H.job("postgres-service"), { server_version = "1.28" })
    assert.same({ "get-sources" }, names(r.pod.spec.initContainers))
    assert.truthy(H.container(r.pod, "db"))
    local found
    for _, w in ipairs(r.warnings) do
      if w == "Kubernetes 1.28 is older than 1.29: native sidecars are not available, services run as plain containers" then found = true end
    end
    assert.truthy(found)
  end)

  it("honour the job image's entrypoint: it runs with lunar's command as arguments", function()
    local job = H.job()
    job.image = { name = "alpine", entrypoint = { "/bin/tini", "--" } }
    local build = H.container(objects({}, job).pod, "build")
    assert.same({ "/bin/tini", "--" }, build.command)
    assert.same({ "sh", "-c", "exec sh /scripts-4821-918273/build" }, build.args)
    job.image.entrypoint = { "" }
    build = H.container(objects({}, job).pod, "build")
    assert.same({ "sh", "-c", "exec sh /scripts-4821-918273/build" }, build.command)
    assert.is_nil(build.args)
  end)

  it("warn that Windows nodes cannot run the stage scripts", function()
    local r = objects { node_selector = { ["kubernetes.io/os"] = "windows" } }
    local found
    for _, w in ipairs(r.warnings) do if w:find("POSIX shell", 1, true) then found = true end end
    assert.truthy(found)
  end)

  it("use a runner's stage override", function()
    local runner = lunar.runner {
      name = "t", kubernetes = { namespace = "ci", image = "alpine" },
      stages = { step_script = function(_, _, default) return default .. "\necho extra-step" end },
    }
    local r = render.render_objects(runner, H.job())
    assert.matches("echo extra%-step", decode(r.secret, "step_script"))
  end)
end)
