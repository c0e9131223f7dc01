-- Per-job KUBERNETES_* overwrites: each variable, behind its gate, with the
-- errors naming the variable, the value and the limit.
local H = require "helper"

local function job(vars)
  local j = H.job()
  for k, v in pairs(vars) do H.setvar(j, k, v) end
  return j
end

describe("per-job overwrites", function()
  describe("scalar", function()
    local cases = {
      { "KUBERNETES_NAMESPACE_OVERWRITE", "namespace_overwrite_allowed", "^ci-", "ci-review", function(p) return p.metadata.namespace end },
      { "KUBERNETES_SERVICE_ACCOUNT_OVERWRITE", "service_account_overwrite_allowed", "^deploy", "deployer", function(p) return p.spec.serviceAccountName end },
    }
    for _, c in ipairs(cases) do
      local var, gate, regex, value, get = table.unpack(c)
      it(var .. " applies when " .. gate .. " matches", function()
        local pod = assert(H.render({ [gate] = regex }, job { [var] = value }))
        assert.equal(value, get(pod))
      end)
      it(var .. " is refused when it does not match", function()
        local pod, err = H.render({ [gate] = regex }, job { [var] = "prod" })
        assert.is_nil(pod)
        assert.equal(string.format('%s: the value "prod" is not allowed: it does not match kubernetes.%s ("%s")', var, gate, regex), err)
      end)
      it(var .. " is ignored without a gate", function()
        local pod = assert(H.render({}, job { [var] = value }))
        assert.are_not.equal(value, get(pod))
      end)
    end

    it("matches anywhere unless anchored, as GitLab Runner does", function()
      local pod = assert(H.render({ namespace_overwrite_allowed = "ci-" }, job { KUBERNETES_NAMESPACE_OVERWRITE = "prod-ci-x" }))
      assert.equal("prod-ci-x", pod.metadata.namespace)
    end)

    it("KUBERNETES_BEARER_TOKEN needs bearer_token_overwrite_allowed", function()
      local render = require "lunar.render"
      local r = render.render_objects(H.runner { bearer_token_overwrite_allowed = true }, job { KUBERNETES_BEARER_TOKEN = "tok" })
      assert.equal("tok", r.kubernetes.bearer_token)
      assert.same('"BearerToken" overwritten with "XXXXXXXX..."', r.log[1])
      r = render.render_objects(H.runner {}, job { KUBERNETES_BEARER_TOKEN = "tok" })
      assert.is_nil(r.kubernetes.bearer_token)
    end)

    it("has no namespace_per_job to yield to: lunar refuses that setting at load", function()
      local ok, err = pcall(H.render, { namespace_per_job = true, namespace_overwrite_allowed = ".*" }, job { KUBERNETES_NAMESPACE_OVERWRITE = "x" })
      assert.is_false(ok)
      assert.matches("kubernetes.namespace_per_job: lunar does not support this setting", tostring(err), 1, true)
    end)
  end)

  describe("maps", function()
    it("KUBERNETES_POD_LABELS_* adds labels when the whole value matches the gate", function()
      local pod = assert(H.render({ pod_labels = { team = "a" }, pod_labels_overwrite_allowed = "^team=" },
        job { KUBERNETES_POD_LABELS_1 = "team=b" }))
      assert.equal("b", pod.metadata.labels.team)
      local _, err = H.render({ pod_labels_overwrite_allowed = "^team=" }, job { KUBERNETES_POD_LABELS_1 = "owner=me" })
      assert.equal('KUBERNETES_POD_LABELS_1: the value "owner=me" is not allowed: it does not match kubernetes.pod_labels_overwrite_allowed ("^team=")', err)
      _, err = H.render({ pod_labels_overwrite_allowed = ".*" }, job { KUBERNETES_POD_LABELS_1 = "novalue" })
      assert.equal('KUBERNETES_POD_LABELS_1: the value "novalue" is not of the form key=value', err)
    end)

    it("KUBERNETES_POD_ANNOTATIONS_* adds annotations", function()
      local pod = assert(H.render({ pod_annotations_overwrite_allowed = ".*" }, job { KUBERNETES_POD_ANNOTATIONS_X = "a/b=c=d" }))
      assert.equal("c=d", pod.metadata.annotations["a/b"])
    end)

    it("KUBERNETES_NODE_SELECTOR_* changes the node selector and with it the helper image", function()
      local pod = assert(H.render({ node_selector = { ["kubernetes.io/arch"] = "amd64" }, node_selector_overwrite_allowed = "^kubernetes.io/arch=" },
        job { KUBERNETES_NODE_SELECTOR_ARCH = "kubernetes.io/arch=arm64" }))
      assert.same({ ["kubernetes.io/arch"] = "arm64" }, pod.spec.nodeSelector)
      assert.matches(":arm64%-v", H.container(pod, "helper").image)
    end)

    it("KUBERNETES_NODE_TOLERATIONS_* adds tolerations key[=value]:Effect", function()
      local pod = assert(H.render({ node_tolerations_overwrite_allowed = ".*" },
        job { KUBERNETES_NODE_TOLERATIONS_1 = "gpu=true:NoSchedule", KUBERNETES_NODE_TOLERATIONS_2 = "spot" }))
      assert.same({ { key = "gpu", operator = "Equal", value = "true", effect = "NoSchedule" }, { key = "spot", operator = "Exists" } },
        pod.spec.tolerations)
    end)

    it("ignores map overwrites without a gate", function()
      local pod = assert(H.render({}, job { KUBERNETES_NODE_SELECTOR_X = "a=b" }))
      assert.is_nil(pod.spec.nodeSelector)
    end)
  end)

  describe("resources", function()
    local classes = {
      { "", "build", function(p) return H.container(p, "build").resources end },
      { "SERVICE_", "service", function(p) return H.container(p, "db").resources end },
      { "HELPER_", "helper", function(p) return H.container(p, "helper").resources end },
      { "POD_", "pod", function(p) return p.spec.resources end },
    }
    for _, c in ipairs(classes) do
      local prefix, label, get = table.unpack(c)
      for _, res in ipairs { { "CPU", "cpu", "2", "4", "cpu" }, { "MEMORY", "memory", "1Gi", "2Gi", "memory" }, { "EPHEMERAL_STORAGE", "ephemeral_storage", "1Gi", "3Gi", "ephemeral-storage" } } do
        if not (prefix == "POD_" and res[1] == "EPHEMERAL_STORAGE") then
          for _, kind in ipairs { { "LIMIT", "limit", "limits" }, { "REQUEST", "request", "requests" } } do
            local var = "KUBERNETES_" .. prefix .. res[1] .. "_" .. kind[1]
            local key = prefix:lower() .. res[2] .. "_" .. kind[2]
            it(var .. " raises the " .. label .. " " .. kind[2] .. " up to " .. key .. "_overwrite_max_allowed", function()
              local j = job { [var] = res[3] }
              j.services = { { name = "postgres:16", alias = "db" } }
              local pod = assert(H.render({ [key] = "1m", [key .. "_overwrite_max_allowed"] = res[4] }, j))
              assert.equal(res[3], get(pod)[kind[3]][res[5]])
              -- equal to the cap is allowed, above it is not
              j = job { [var] = res[4] }
              j.services = { { name = "postgres:16", alias = "db" } }
              assert.truthy(H.render({ [key .. "_overwrite_max_allowed"] = res[4] }, j))
              j = job { [var] = "9" .. res[4] }
              local _, err = H.render({ [key .. "_overwrite_max_allowed"] = res[4] }, j)
              assert.matches(var .. ': the resource "[%a]+" requested "9' .. res[4] .. '" is higher than the limit allowed "' .. res[4] .. '"', err)
              -- without a cap the variable is ignored
              j = job { [var] = res[3] }
              j.services = { { name = "postgres:16", alias = "db" } }
              pod = assert(H.render({ [key] = "1m" }, j))
              assert.equal("1m", get(pod)[kind[3]][res[5]])
            end)
          end
        end
      end
    end

    it("compares quantities across units and names the field like GitLab Runner", function()
      local _, err = H.render({ cpu_limit_overwrite_max_allowed = "1500m" }, job { KUBERNETES_CPU_LIMIT = "2" })
      assert.equal('KUBERNETES_CPU_LIMIT: the resource "CPULimit" requested "2" is higher than the limit allowed "1500m" (kubernetes.cpu_limit_overwrite_max_allowed)', err)
      assert.truthy(H.render({ memory_limit_overwrite_max_allowed = "1Gi" }, job { KUBERNETES_MEMORY_LIMIT = "1000Mi" }))
      _, err = H.render({ memory_limit_overwrite_max_allowed = "1Gi" }, job { KUBERNETES_MEMORY_LIMIT = "lots" })
      assert.matches('KUBERNETES_MEMORY_LIMIT: quantity "lots" is not valid', err, 1, true)
    end)

    it("lets a service's own variables overwrite that service only", function()
      local j = H.job()
      j.services = {
        { name = "postgres:16", alias = "db", variables = { { key = "KUBERNETES_SERVICE_MEMORY_LIMIT", value = "2Gi" } } },
        { name = "redis:7", alias = "cache" },
      }
      local pod = assert(H.render({ service_memory_limit = "512Mi", service_cpu_limit = "1", service_memory_limit_overwrite_max_allowed = "4Gi" }, j))
      assert.same({ limits = { cpu = "1", memory = "2Gi" } }, H.container(pod, "db").resources)
      assert.same({ limits = { cpu = "1", memory = "512Mi" } }, H.container(pod, "cache").resources)
      j.services[1].variables[1].value = "8Gi"
      local _, err = H.render({ service_memory_limit_overwrite_max_allowed = "4Gi" }, j)
      assert.matches("services[1] (postgres:16): KUBERNETES_SERVICE_MEMORY_LIMIT: the resource \"ServiceMemoryLimit\" requested \"8Gi\"", err, 1, true)
    end)
  end)
end)
