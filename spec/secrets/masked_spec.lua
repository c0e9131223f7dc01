-- Secret values (masked or non-public variables, and public values built from
-- them) never reach the Pod spec, nor lunar's messages; job data in messages
-- and annotations has its control characters escaped.
local lunar = require "lunar"
local H = require "helper"
local render = require "lunar.render"

local PASSWORD = "s3cr3t-Pa55w0rd-xyzzy"

local function job_with_secret()
  local job = H.job()
  H.setvar(job, "DB_PASSWORD", PASSWORD, { public = false, masked = true })
  H.setvar(job, "DATABASE_URL", "postgres://app:$DB_PASSWORD@db/app")
  return job
end

local function env_entry(container, name)
  for _, e in ipairs(container.env or {}) do
    if e.name == name then return e end
  end
end

local function render_err(k, job, top)
  local ok, err = pcall(render.render_objects, H.runner(k, top), job)
  assert.is_false(ok, "the render should fail")
  return err.message or tostring(err)
end

describe("secret values", function()
  it("reach a public variable that uses them through the job Secret (secretKeyRef)", function()
    local r = render.render_objects(H.runner(), job_with_secret())
    local e = env_entry(H.container(r.pod, "build"), "DATABASE_URL")
    assert.is_nil(e.value)
    assert.same({ secretKeyRef = { name = r.secret.metadata.name, key = "env.DATABASE_URL" } }, e.valueFrom)
    assert.equal("postgres://app:" .. PASSWORD .. "@db/app", r.secret.stringData["env.DATABASE_URL"])
    assert.is_nil(lunar.json.encode(r.pod):find(PASSWORD, 1, true))
  end)

  it("never land in labels, annotations, node selectors or image names: the render refuses, naming the field", function()
    local cases = {
      { { pod_labels = { team = "$DB_PASSWORD" } }, "pod.metadata.labels.team" },
      { { pod_annotations = { note = "pw=${DB_PASSWORD}" } }, "pod.metadata.annotations.note" },
      { { pod_annotations = { url = "$DATABASE_URL" } }, "pod.metadata.annotations.url" },
      { { image = "registry.example.com/$DB_PASSWORD:1" }, "pod.spec.containers[0].image" },
    }
    for _, case in ipairs(cases) do
      local job = job_with_secret()
      job.image = nil
      local ok, e = pcall(render.render_objects, H.runner(case[1]), job)
      assert.is_false(ok, case[2])
      local err = e.message
      assert.truthy(err:find(case[2], 1, true), err)
      assert.truthy(err:find("secret variable", 1, true), err)
      assert.is_nil(err:find(PASSWORD:sub(1, 8), 1, true), err)
    end
    local job = job_with_secret()
    H.setvar(job, "KUBERNETES_NODE_SELECTOR_POOL", "pool=" .. PASSWORD, { public = false, masked = true })
    local err = render_err({ node_selector_overwrite_allowed = ".*" }, job)
    assert.truthy(err:find("pod.spec.nodeSelector.pool", 1, true), err)
  end)

  it("never appear in messages, whole or in pieces", function()
    local job = job_with_secret()
    H.setvar(job, "KUBERNETES_NAMESPACE_OVERWRITE", "ns-" .. PASSWORD, { public = false, masked = true })
    local err = render_err({ namespace_overwrite_allowed = "^ci-" }, job)
    assert.truthy(err:find("KUBERNETES_NAMESPACE_OVERWRITE", 1, true), err)
    for i = 1, #PASSWORD - 7 do
      assert.is_nil(err:find(PASSWORD:sub(i, i + 7), 1, true), err)
    end
    err = render_err({ namespace = function(j) error("half: " .. j.variables.DB_PASSWORD:sub(4, 15)) end }, job_with_secret())
    assert.truthy(err:find("policy namespace failed", 1, true), err)
    assert.is_nil(err:find(PASSWORD:sub(4, 15), 1, true), err)
  end)
end)

describe("control characters from job data", function()
  it("are escaped in annotations and messages", function()
    local job = H.job()
    job.job_info.name = "build\n\27[31mFAKE"
    job.git_info.ref = "main\r\27]0;x\7"
    local r = render.render_objects(H.runner(), job)
    local ann = r.pod.metadata.annotations
    assert.equal("build\\n\\x1b[31mFAKE", ann["job.runner.gitlab.com/name"])
    assert.is_nil(ann["job.runner.gitlab.com/ref"]:find("%c"))
    job.job_info.name = "build\27[31mFAKE"
    local err = render_err({ namespace = function(j) error("bad name " .. j.name) end }, job)
    assert.is_nil(err:find("\27", 1, true), err)
    assert.truthy(err:find("\\x1b[31mFAKE", 1, true), err)
  end)
end)
