-- deploy/: the manifests agree with each other and with lunar's code (the
-- schema validation itself is the ctest openapi/deploy), and the Role and the
-- README's table are exactly what lua/lunar/permissions.lua lists.
local lunar = require "lunar"
local permissions = require "lunar.permissions"
local H = require "helper"

local deploy = H.root .. "/deploy/"

local function yaml(file) return assert(lunar.yaml.decode(H.read(deploy .. file), file)) end

local function plain(v)
  -- drop the array metatables so that assert.same compares data only
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = plain(x) end
  return t
end

describe("deploy/", function()
  local k = yaml("kustomization.yaml")
  local role, binding, sa = yaml("role.yaml"), yaml("rolebinding.yaml"), yaml("serviceaccount.yaml")
  local deployment, secret = yaml("deployment.yaml"), yaml("secret.yaml")
  local pod = deployment.spec.template.spec

  it("grants exactly the permissions lunar's code lists, and no exec or attach", function()
    assert.same(plain(permissions.role("lunar")), plain(role))
    for _, rule in ipairs(role.rules) do
      for _, res in ipairs(rule.resources) do
        assert.not_equal("pods/exec", res)
        assert.not_equal("pods/attach", res)
        assert.not_equal("*", res)
      end
      for _, verb in ipairs(rule.verbs) do assert.not_equal("*", verb) end
    end
    local have = {}
    for _, c in ipairs(permissions.checks()) do have[c.resource .. " " .. c.verb] = true end
    -- what the lead's runner needs (issue 11); a row removed from the list fails here
    for _, need in ipairs { "pods create", "pods get", "pods list", "pods watch", "pods delete", "pods patch",
      "pods/log get", "secrets create", "secrets get", "events list" } do
      assert.truthy(have[need], need)
    end
  end)

  it("lists every request the C core makes, and nothing it does not make but the rows explained as ahead", function()
    -- the core's requests: lunar_kube_VERB(client, "resource", ...) outside the client itself
    -- (core/kube/ and its Lua face, core/bind/kube.c)
    local used, sites = {}, {}
    local p = io.popen("find " .. H.q(H.root .. "/core") .. " -name '*.c' -not -path '*/core/kube/*'"
      .. " -not -path '*/core/bind/kube.c'")
    for file in p:lines() do
      local text = H.read(file)
      for verb, res in text:gmatch("lunar_kube_(%a+)%s*%([^,]+,%s*\"([%w/]+)\"") do
        verb = ({ get = "get", list = "list", create = "create", delete = "delete", patch = "patch" })[verb]
        if verb then used[verb .. " " .. res] = true; sites[verb .. " " .. res] = file end
      end
      for verb, res in text:gmatch("lunar_kube_(watch_start)%s*%([^,]+,%s*\"([%w/]+)\"") do
        used["watch " .. res] = true; sites["watch " .. res] = file
      end
      if text:find("lunar_kube_logs_start%s*%(") then used["get pods/log"] = true end
    end
    p:close()
    assert.truthy(used["create pods"], "the scan finds the core's requests")
    local listed = {}
    for _, c in ipairs(permissions.checks()) do listed[c.verb .. " " .. c.resource] = true end
    for perm in pairs(used) do
      assert.truthy(listed[perm], perm .. " is requested in " .. tostring(sites[perm]) .. " but not in lua/lunar/permissions.lua")
    end
    for perm in pairs(listed) do
      if not used[perm] then
        assert.truthy(permissions.ahead[perm], perm .. " is granted but the core never requests it: remove it, or explain it in permissions.ahead")
      else
        assert.is_nil(permissions.ahead[perm], perm .. " is requested now: remove it from permissions.ahead")
      end
    end
  end)

  it("has the README's permissions table from the same list", function()
    local readme = H.read(H.root .. "/README.md")
    local block = readme:match("<!%-%- permissions:begin %-%->\n(.-)<!%-%- permissions:end %-%->")
    assert.equal(permissions.markdown(), block)
  end)

  it("binds the Role to the service account the Deployment runs as", function()
    assert.equal("lunar", sa.metadata.name)
    assert.equal(role.metadata.name, binding.roleRef.name)
    assert.equal("Role", binding.roleRef.kind)
    assert.same({ kind = "ServiceAccount", name = sa.metadata.name }, plain(binding.subjects[1]))
    assert.equal(sa.metadata.name, pod.serviceAccountName)
  end)

  it("runs one non-root replica that never overlaps, without privileges", function()
    assert.equal(1, deployment.spec.replicas)
    assert.equal("Recreate", deployment.spec.strategy.type)
    assert.is_true(pod.securityContext.runAsNonRoot)
    assert.is_true(pod.securityContext.runAsUser > 0)
    local c = pod.containers[1]
    assert.is_false(c.securityContext.allowPrivilegeEscalation)
    assert.is_true(c.securityContext.readOnlyRootFilesystem)
    assert.same({ "ALL" }, plain(c.securityContext.capabilities.drop))
    assert.equal("metrics", c.livenessProbe.httpGet.port)
    assert.equal("metrics", c.readinessProbe.httpGet.port)
    assert.equal("metrics", c.ports[1].name)
  end)

  it("mounts the entrypoint from the ConfigMap and the token where runner.lua reads it", function()
    local c = pod.containers[1]
    local mounts, volumes = {}, {}
    for _, m in ipairs(c.volumeMounts) do mounts[m.name] = m end
    for _, v in ipairs(pod.volumes) do volumes[v.name] = v end
    -- the entrypoint: the generated ConfigMap, at the path the container runs
    local gen = k.configMapGenerator[1]
    assert.equal(gen.name, volumes.runner.configMap.name)
    assert.equal(mounts.runner.mountPath .. "/" .. gen.files[1], c.args[#c.args])
    -- the token: the Secret, in the directory of runner.lua's token_file
    assert.equal(secret.metadata.name, volumes.token.secret.secretName)
    local text = H.read(deploy .. "runner.lua")
    local token_file = text:match('token_file = "([^"]+)"')
    assert.equal(mounts.token.mountPath .. "/token", token_file)
    assert.truthy(secret.stringData.token)
    -- jobs run in the namespace the Role is applied to
    assert.equal(k.namespace, text:match('namespace = "([^"]+)"'))
  end)

  it("gives the runner shutdown_timeout and 30 s more before the kubelet kills it", function()
    local shutdown = tonumber(H.read(deploy .. "runner.lua"):match("shutdown_timeout = (%d+)"))
    assert.truthy(shutdown, "runner.lua sets shutdown_timeout")
    assert.equal(shutdown + 30, pod.terminationGracePeriodSeconds)
  end)

  it("has an entrypoint that passes lunar check", function()
    local status, out, err = H.run(H.q(H.bin) .. " check " .. H.q(deploy .. "runner.lua"))
    assert.equal(0, status, err)
    assert.matches(": ok", out)
  end)

  it("lists in the image every library the lunar binary links", function()
    local recipe = H.read(deploy .. "Containerfile")
    local runtime = recipe:match("FROM debian:bookworm%-slim(.*)$")
    assert.truthy(runtime, "the run stage is Debian slim")
    assert.matches("USER 10001", runtime)
    assert.matches('ENTRYPOINT %["/usr/local/bin/lunar"%]', runtime)
    -- readelf -d names each linked library; dpkg -S names its package
    local p = io.popen("readelf -d " .. H.q(H.bin) .. " 2>/dev/null")
    local needed = {}
    for lib in p:read("a"):gmatch("Shared library: %[([^%]]+)%]") do needed[#needed + 1] = lib end
    p:close()
    assert.is_true(#needed > 3, "readelf found the libraries")
    local m = io.popen("gcc -print-multiarch")
    local multiarch = m:read("l")
    m:close()
    local base = { libc6 = true, ["libgcc-s1"] = true } -- in every Debian image
    for _, lib in ipairs(needed) do
      -- the sanitizer runtimes of `make test-asan`'s build are not the image's
      if lib:match("^lib[aul]?b?san") or lib:match("^libubsan") then goto next end
      local q = io.popen("dpkg -S " .. H.q("*/" .. multiarch .. "/" .. lib) .. " 2>/dev/null")
      local pkg = (q:read("l") or ""):match("^([^:]+)")
      q:close()
      assert.truthy(pkg, "no package ships " .. lib)
      if not base[pkg] then
        assert.truthy(runtime:find(" " .. pkg:gsub("%p", "%%%0") .. "[%s\\]"), "the image does not install " .. pkg .. " (" .. lib .. ")")
      end
      ::next::
    end
  end)
end)
