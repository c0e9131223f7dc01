-- lunar.patch through the real C module: the three patch types, the Pod type
-- check and lunar.patch.apply as the renderer calls it for pod_spec entries.
local lunar = require "lunar"

local P = lunar.patch
local null = lunar.json.null
local encode = lunar.json.encode

-- A PodSpec in small, as the Pod builder makes them.
local function spec()
  return lunar.json.decode [[{
    "containers": [
      {"name": "build", "image": "alpine", "args": ["-x", "-y"],
       "env": [{"name": "A", "value": "1"}],
       "volumeMounts": [{"name": "repo", "mountPath": "/builds"}]},
      {"name": "helper", "image": "h"}],
    "volumes": [{"name": "repo", "emptyDir": {}}],
    "dnsPolicy": "ClusterFirst",
    "nodeSelector": {"kubernetes.io/arch": "amd64"}
  }]]
end

local function names(list)
  local out = {}
  for i, v in ipairs(list) do out[i] = v.name end
  return out
end

describe("lunar.patch.merge", function()
  it("merges objects key by key, deletes with null and replaces lists (RFC 7386)", function()
    local doc = spec()
    local before = encode(doc)
    local out = assert(P.merge(doc, {
      hostname = "ci",
      dnsPolicy = null,
      nodeSelector = { ["kubernetes.io/arch"] = "arm64", zone = "a" },
      containers = { { name = "only", image = "x" } },
    }))
    assert.equal("ci", out.hostname)
    assert.is_nil(out.dnsPolicy)
    assert.same({ ["kubernetes.io/arch"] = "arm64", zone = "a" }, out.nodeSelector)
    assert.same({ "only" }, names(out.containers))
    assert.equal(before, encode(doc)) -- the argument is not changed
  end)

  it("returns the patch itself when it is not an object", function()
    assert.same({ "c" }, P.merge({ a = "b" }, { "c" }))
    assert.equal("bar", P.merge({ a = "foo" }, "bar"))
  end)

  it("raises for values that have no JSON form: a programming error", function()
    assert.has_error(function() P.merge({}, { f = print }) end)
  end)
end)

describe("lunar.patch.json", function()
  it("applies the operations in order: add with - appends, ~1 escapes /", function()
    local out = assert(P.json(spec(), {
      { op = "add", path = "/containers/0/args/-", value = "-z" },
      { op = "replace", path = "/nodeSelector/kubernetes.io~1arch", value = "arm64" },
      { op = "test", path = "/dnsPolicy", value = "ClusterFirst" },
      { op = "move", from = "/dnsPolicy", path = "/hostname" },
      { op = "copy", from = "/containers/0/env", path = "/containers/1/env" },
      { op = "remove", path = "/volumes/0" },
    }))
    assert.same({ "-x", "-y", "-z" }, out.containers[1].args)
    assert.equal("arm64", out.nodeSelector["kubernetes.io/arch"])
    assert.equal("ClusterFirst", out.hostname)
    assert.is_nil(out.dnsPolicy)
    assert.same({ { name = "A", value = "1" } }, out.containers[2].env)
    assert.equal("[]", encode(out.volumes)) -- an emptied list stays a list
  end)

  it("returns nil and names the failing operation (counted from 0) and why", function()
    local out, err = P.json(spec(), {
      { op = "replace", path = "/dnsPolicy", value = "None" },
      { op = "test", path = "/hostname", value = "x" },
    })
    assert.is_nil(out)
    assert.equal("json patch operation 1 (test): /hostname does not exist", err)
    out, err = P.json(spec(), { { op = "test", path = "/dnsPolicy", value = "None" } })
    assert.is_nil(out)
    assert.equal('json patch operation 0 (test): /dnsPolicy is "ClusterFirst", expected "None"', err)
    out, err = P.json(spec(), { { op = "add", path = "/containers/5", value = {} } })
    assert.is_nil(out)
    assert.equal("json patch operation 0 (add): cannot add /containers/5: index 5 is out of range (the list has 2 items)", err)
    out, err = P.json(spec(), { { op = "upsert", path = "/x" } })
    assert.is_nil(out)
    assert.equal('json patch operation 0: unknown op "upsert" (valid: add, remove, replace, move, copy, test)', err)
  end)

  it("raises when the operations are not a table", function()
    assert.has_error(function() P.json(spec(), "[]") end)
  end)
end)

describe("lunar.patch.strategic", function()
  it("merges containers by name, and env and volumeMounts inside them", function()
    local out = assert(P.strategic(spec(), {
      containers = { {
        name = "build",
        env = { { name = "B", value = "2" } },
        volumeMounts = { { name = "fuse", mountPath = "/dev/fuse" } },
      } },
    }))
    assert.same({ "build", "helper" }, names(out.containers))
    assert.same({ "B", "A" }, names(out.containers[1].env))
    assert.same({ "fuse", "repo" }, names(out.containers[1].volumeMounts))
    assert.equal("alpine", out.containers[1].image)
  end)

  it("understands the directives", function()
    local out = assert(P.strategic(spec(), {
      ["$setElementOrder/containers"] = { { name = "helper" }, { name = "build" } },
      containers = { { name = "build", ["$deleteFromPrimitiveList/args"] = { "-x" } } },
      volumes = { { name = "repo", ["$retainKeys"] = { "name", "hostPath" }, hostPath = { path = "/r" } } },
    }))
    assert.same({ "helper", "build" }, names(out.containers))
    assert.same({ "-y" }, out.containers[2].args)
    assert.same({ { name = "repo", hostPath = { path = "/r" } } }, out.volumes)
    out = assert(P.strategic(spec(), { containers = { { name = "helper", ["$patch"] = "delete" } } }))
    assert.same({ "build" }, names(out.containers))
  end)

  it("patches a whole Pod when asked: finalizers merge as a set", function()
    local pod = { metadata = { name = "p", finalizers = { "a", "b" } }, spec = spec() }
    local out = assert(P.strategic(pod, { metadata = { finalizers = { "c", "a" } } }, "Pod"))
    assert.same({ "c", "a", "b" }, out.metadata.finalizers)
  end)

  it("returns nil and a message for patches Kubernetes rejects", function()
    local out, err = P.strategic(spec(), { containers = { { image = "x" } } })
    assert.is_nil(out)
    assert.equal('strategic merge patch: spec.containers[0]: the patch item {"image":"x"} has no "name" (the merge key of this list)', err)
    out, err = P.strategic(spec(), { nodeSelector = { ["$patch"] = "merge" } })
    assert.is_nil(out)
    assert.matches('spec%.nodeSelector: "%$patch: merge" is not valid on an object', err)
  end)

  it("raises for a kind it does not know", function()
    assert.has_error(function() P.strategic(spec(), {}, "Deployment") end)
  end)
end)

describe("lunar.patch.check", function()
  it("accepts a valid PodSpec and names the first field with a wrong type", function()
    assert.is_true(P.check(spec()))
    local s = spec()
    s.containers[1].env = "A=1"
    assert.same({ nil, 'spec.containers[0].env: expected a list, got a string ("A=1")' }, { P.check(s) })
    s = spec()
    s.containers[2].resources = { limits = { cpu = 2, memory = "1Gi" } } -- quantities may be numbers
    assert.is_true(P.check(s))
    s.securityContext = { runAsUser = 1000.0 }
    assert.same({ nil, "spec.securityContext.runAsUser: expected an integer, got a number (1000.0)" }, { P.check(s) })
  end)

  it("rejects unknown fields, suggesting the one meant", function()
    local s = spec()
    s.nodeSelecter = {}
    assert.same({ nil, 'spec.nodeSelecter: unknown field (did you mean "nodeSelector"?)' }, { P.check(s) })
    assert.same({ nil, 'metadata.labels.a: expected a string, got an integer (1)' },
      { P.check({ metadata = { labels = { a = 1 } } }, "Pod") })
  end)
end)

describe("lunar.patch.apply", function()
  local function apply(opts) return P.apply(spec(), opts) end

  it("applies a YAML patch, strategic by default", function()
    local out = assert(apply { name = "pod_spec[1] (fuse)", patch = [[
containers:
  - name: build
    resources:
      limits:
        github.com/fuse: "1"
]] })
    assert.same({ limits = { ["github.com/fuse"] = "1" } }, out.containers[1].resources)
    assert.same({ "build", "helper" }, names(out.containers))
  end)

  it("keeps a $patch that Kubernetes does not apply as a plain key, as kubectl patch --local does", function()
    -- tolerations and args are replaced whole: no directive applies inside them
    local s = spec()
    s.tolerations = { { key = "a", operator = "Exists" } }
    local out = assert(P.apply(s, { patch = "tolerations: [{$patch: delete, key: b}]" }))
    assert.same({ { ["$patch"] = "delete", key = "b" } }, out.tolerations)
    -- a new item of a keyed list is added as written, directives inside included
    out = assert(apply { patch = "containers: [{name: new, image: nn, env: [{$patch: replace}, {name: X}]}]" })
    assert.same({ { ["$patch"] = "replace" }, { name = "X" } }, out.containers[1].env)
    -- where Kubernetes applies it, it is a directive: nothing of it is left
    out = assert(apply { patch = "containers: [{name: build, env: [{$patch: replace}, {name: X}]}]" })
    assert.same({ { name = "X" } }, out.containers[1].env)
  end)

  it("applies JSON text and Lua tables of each type", function()
    local out = assert(apply { patch_type = "merge", patch = '{"hostname": "ci"}' })
    assert.equal("ci", out.hostname)
    out = assert(apply { patch_type = "json", patch = { { op = "add", path = "/hostname", value = "x" } } })
    assert.equal("x", out.hostname)
    out = assert(apply { patch_type = "json", patch = "- op: remove\n  path: /containers/1\n" })
    assert.same({ "build" }, names(out.containers))
  end)

  it("starts every message with the entry's name and says what is wrong", function()
    local _, err = apply { name = "pod_spec[2] (fuse)", patch = "containers:\n  - name: build\n    image: a: b\n" }
    assert.equal("pod_spec[2] (fuse): patch:3:13: mapping values are not allowed in this context", err)
    _, err = apply { name = "pod_spec[2] (fuse)", source = "/etc/lunar/fuse.yaml", patch = "containers: [\n" }
    assert.equal("pod_spec[2] (fuse): /etc/lunar/fuse.yaml:2:1: did not find expected node content while parsing a flow node", err)
    _, err = apply { name = "pod_spec[1]", patch_type = "strategik", patch = "{}" }
    assert.equal('pod_spec[1]: unknown patch_type "strategik" (use "strategic", "merge" or "json")', err)
    _, err = apply { name = "pod_spec[3] (dns)", patch_type = "json",
      patch = '[{"op": "test", "path": "/dnsPolicy", "value": "None"}]' }
    assert.equal('pod_spec[3] (dns): json patch operation 0 (test): /dnsPolicy is "ClusterFirst", expected "None"', err)
    _, err = apply { name = "pod_spec[1]", patch = { containers = { { name = "build", env = "A=1" } } } }
    assert.equal('pod_spec[1]: spec.containers[0].env: expected a list, got a string ("A=1")', err)
    _, err = apply { name = "pod_spec[1]", patch_type = "merge", patch = "hostNetwork: \"yes\"\n" }
    assert.equal('pod_spec[1]: spec.hostNetwork: expected a boolean, got a string ("yes")', err)
    -- unquoted, YAML 1.1 reads yes as true (as Kubernetes does)
    local spec = assert(apply { name = "pod_spec[1]", patch_type = "merge", patch = "hostNetwork: yes\n" })
    assert.is_true(spec.hostNetwork)
    _, err = apply { name = "pod_spec[1]", patch = "[1, 2]" }
    assert.equal("pod_spec[1]: strategic merge patch: expected an object, got a list", err)
    _, err = apply { name = "pod_spec[4]" }
    assert.equal("pod_spec[4]: no patch: set patch (YAML or JSON text, or a table) or patch_path", err)
    _, err = apply { name = "pod_spec[4]", patch = 42 }
    assert.equal("pod_spec[4]: patch must be YAML or JSON text or a table, not a number", err)
    _, err = apply { name = "pod_spec[5]", patch = { f = print } }
    assert.equal("pod_spec[5]: patch.f: a function cannot be converted to JSON", err)
  end)

  it("rejects a JSON patch document that names a key twice (RFC 6902 A.13)", function()
    local _, err = apply { name = "p", patch_type = "json",
      patch = '[{"op": "add", "path": "/baz", "value": "qux", "op": "remove"}]' }
    assert.matches("^p: patch:1:%d+: duplicate object key", err)
  end)

  it("raises for arguments of the wrong type: a programming error", function()
    assert.has_error(function() P.apply("spec", { patch = "{}" }) end)
    assert.has_error(function() P.apply(spec(), "{}") end)
  end)
end)
