-- lunar never hands the API server an object it would refuse: settings are
-- refused by `lunar check` (key path and file:line), what job data, policies
-- and patches produce is refused by the render (the field).
local lunar = require "lunar"
local H = require "helper"
local render = require "lunar.render"

local function check_err(settings)
  local r, err, path = H.load('local lunar = require "lunar"\nreturn lunar.runner {\n  kubernetes = {\n    namespace = "ci",\n' .. settings .. "\n  },\n}\n")
  assert.is_nil(r, "lunar check should refuse:\n" .. settings)
  return err, path
end

local function render_err(k, job)
  local ok, e = pcall(render.render_objects, H.runner(k), job or H.job())
  assert.is_false(ok, "the render should refuse")
  return e.message or tostring(e)
end

describe("lunar check refuses what the API server would", function()
  local cases = {
    { '    volumes = { empty_dir = { { name = "Build_Cache", mount_path = "/c" } } },',
      ":5: kubernetes.volumes.empty_dir[1].name: \"Build_Cache\" is not a valid name" },
    { '    dns_policy = "none",', ":5: kubernetes.dns_policy: dns_policy \"none\" needs dns_config" },
    { '    affinity = { pod_affinity = { required_during_scheduling_ignored_during_execution = { { topology_key = "k", namespaces = { "Not A Namespace" } } } } },',
      "namespaces[1]: \"Not A Namespace\" is not a valid name" },
    { '    affinity = { pod_anti_affinity = { required_during_scheduling_ignored_during_execution = { { topology_key = "k", label_selector = { match_expressions = { { key = "a", operator = "Gt", values = { "1" } } } } } } } },',
      "operator \"Gt\" is not valid here" },
    { '    affinity = { node_affinity = { required_during_scheduling_ignored_during_execution = { node_selector_terms = { { match_expressions = { { key = "a", operator = "In" } } } } } } },',
      "operator In needs at least one value" },
  }
  for _, case in ipairs(cases) do
    it("refuses " .. case[1]:gsub("^%s+", ""), function()
      local err = check_err(case[1])
      assert.truthy(err:find(case[2], 1, true), err)
    end)
  end
end)

describe("the render refuses what the API server would", function()
  it("a volume name made invalid by a job variable", function()
    local job = H.setvar(H.job(), "VOL", "Cache Dir")
    local err = render_err { volumes = { empty_dir = { { name = "$VOL", mount_path = "/c" } } } }
    assert.truthy(err:find("is not a valid name", 1, true) or err:find("volume", 1, true), err)
    err = render_err({ volumes = { empty_dir = { { name = "$VOL", mount_path = "/c" } } } }, job)
    assert.truthy(err:find("pod.spec.volumes[", 1, true), err)
  end)

  it("a container left without an image, or with a command that is not strings, by a pod_spec entry", function()
    local err = render_err { pod_spec = { { patch_type = "json", patch = '[{"op": "remove", "path": "/containers/0/image"}]' } } }
    assert.truthy(err:find("pod.spec.containers[0] (build): has no image", 1, true), err)
    err = render_err { pod_spec = { function(_, pod) pod.spec.containers[1].command = { "sh", 7 } return pod end } }
    assert.truthy(err:find("containers[0].command[1]: expected a string", 1, true), err)
    err = render_err { pod_spec = { function(_, pod)
      pod.spec.containers[1].env = { { value = "x" } } return pod end } }
    assert.truthy(err:find("pod.spec.containers[0].env[0]: an environment variable needs a name", 1, true), err)
  end)

  it("dnsPolicy None without dnsConfig from a policy", function()
    local err = render_err { dns_policy = function() return "none" end }
    assert.truthy(err:find("dnsPolicy: None needs dnsConfig", 1, true), err)
  end)

  it("a Secret key that is not a valid key", function()
    local job = H.job()
    job.services = { { name = "redis:7", alias = "cache", variables = { { key = "MY PASS", value = "$CI_JOB_TOKEN" } } } }
    local err = render_err({}, job)
    assert.truthy(err:find("is not a valid Secret key", 1, true), err)
  end)

  it("a NUL byte in an overwrite value", function()
    local job = H.setvar(H.job(), "KUBERNETES_POD_ANNOTATIONS_1", "note=a\0b", { public = false })
    local err = render_err({ pod_annotations_overwrite_allowed = ".*" }, job)
    assert.truthy(err:find("KUBERNETES_POD_ANNOTATIONS_1: the value contains a NUL byte", 1, true), err)
    job = H.job()
    job.image.name = "alpine\0:evil"
    err = render_err({}, job)
    assert.truthy(err:find("field image.name: contains a NUL byte", 1, true), err)
  end)
end)
