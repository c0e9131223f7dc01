-- Connecting to the API server in every supported way, over TLS, against the
-- test double: bearer token, token file (re-read when rotated), client
-- certificate, kubeconfig (setting, KUBECONFIG, contexts), in-cluster.
local S = require "spec.kube.support"
local lunar = require "lunar"

describe("lunar.kube connection", function()
  local d
  setup(function() d = S.start() end)
  teardown(function() S.stop(d) end)

  local function last_user()
    local reqs = S.requests(d)
    return reqs[#reqs].user
  end

  it("authenticates with a bearer token", function()
    local c = S.client(d)
    local v = assert(c:version())
    assert.matches("kube%-double", v.gitVersion)
    assert(c:list("pods"))
    assert.equal(d.admin_user, last_user())
    assert.equal("settings (kubernetes.host)", c:info().source)
    c:close()
  end)

  it("re-reads a rotated bearer token file", function()
    local dir = S.tmpdir()
    local file = dir .. "/token"
    S.write_file(file, d.admin_token .. "\n")
    local c = S.client(d, { bearer_token = false, bearer_token_file = file })
    assert(c:list("secrets"))
    assert.equal(d.admin_user, last_user())
    S.write_file(file, d.restricted_token .. "\n") -- the token rotates
    local ok, err = c:list("secrets")
    assert.is_nil(ok)
    assert.matches('User "system:serviceaccount:ci:restricted"', err, 1, true)
    S.write_file(file, d.admin_token)
    assert(c:list("secrets"))
    assert.equal(d.admin_user, last_user())
    os.execute("rm -rf " .. S.q(dir))
  end)

  it("authenticates with a client certificate", function()
    local c = S.client(d, { bearer_token = false, cert_file = d.client_cert, key_file = d.client_key })
    assert(c:list("pods"))
    assert.equal(d.client_user, last_user())
  end)

  it("uses the kubeconfig's current context, or the one named in settings", function()
    local c = assert(lunar.kube.client { kubeconfig = d.kubeconfig })
    assert(c:list("pods"))
    assert.equal(d.admin_user, last_user())
    assert.same({ server = d.url, namespace = "ci",
                  source = "kubeconfig " .. d.kubeconfig .. ' (context "token")' }, c:info())
    local cc = assert(lunar.kube.client { kubeconfig = d.kubeconfig, context = "cert" })
    assert(cc:list("pods"))
    assert.equal(d.client_user, last_user())
    local none, err = lunar.kube.client { kubeconfig = d.kubeconfig, context = "prod" }
    assert.is_nil(none)
    assert.equal("kubeconfig " .. d.kubeconfig .. ': context "prod" not found: set kubernetes.context'
      .. " to one of its contexts (token, cert, restricted)", err)
  end)

  it("reads kubeconfig files from KUBECONFIG, with relative paths, in the real binary", function()
    -- a second kubeconfig next to a copy of the CA, referenced by a relative path
    local dir = S.tmpdir()
    os.execute("cp " .. S.q(d.ca_file) .. " " .. S.q(dir .. "/ca.crt"))
    S.write_file(dir .. "/config", lunar.json.encode {
      ["current-context"] = "rel",
      clusters = { { name = "rel", cluster = { server = d.url, ["certificate-authority"] = "ca.crt" } } },
      users = { { name = "rel", user = { tokenFile = "token" } } },
      contexts = { { name = "rel", context = { cluster = "rel", user = "rel", namespace = "default" } } },
    })
    S.write_file(dir .. "/token", d.admin_token)
    local out = S.run_lunar({ KUBECONFIG = dir .. "/missing:" .. dir .. "/config" }, [[
      local c = assert(require("lunar").kube.client {})
      local v = assert(c:version())
      print(c:info().source, c:info().namespace, v.major)
    ]])
    assert.equal("kubeconfig " .. dir .. '/config (context "rel")\tdefault\t1\n', out)
    os.execute("rm -rf " .. S.q(dir))
  end)

  it("discovers the cluster from inside a Pod (in-cluster, with an overridden root)", function()
    local root = S.tmpdir()
    local sa = root .. "/var/run/secrets/kubernetes.io/serviceaccount"
    os.execute("mkdir -p " .. S.q(sa) .. " && cp " .. S.q(d.ca_file) .. " " .. S.q(sa .. "/ca.crt"))
    S.write_file(sa .. "/token", d.admin_token .. "\n")
    S.write_file(sa .. "/namespace", "ci")
    local port = d.url:match(":(%d+)$")
    local out = S.run_lunar({ KUBERNETES_SERVICE_HOST = "127.0.0.1", KUBERNETES_SERVICE_PORT = port,
                              LUNAR_KUBE_IN_CLUSTER_ROOT = root, HOME = root }, [[
      local c = assert(require("lunar").kube.client {})
      assert(c:list("pods"))
      print(c:info().source, c:info().namespace)
    ]])
    assert.equal("in-cluster service account (" .. sa .. ")\tci\n", out)
    assert.equal(d.admin_user, last_user())
    os.execute("rm -rf " .. S.q(root))
  end)

  it("says what it tried when nothing is configured", function()
    local home = S.tmpdir()
    local out = S.run_lunar({ HOME = home }, [[
      local c, err = require("lunar").kube.client {}
      print(c, err)
    ]])
    assert.matches("nil\tno Kubernetes API configuration found; tried: kubernetes.host (not set), "
      .. "in-cluster (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set), kubeconfig "
      .. "(KUBECONFIG is not set; " .. home .. "/.kube/config: no such file). Set kubernetes.host", out, 1, true)
    os.execute("rm -rf " .. S.q(home))
  end)

  it("refuses an exec credential plugin with a way out", function()
    local dir = S.tmpdir()
    S.write_file(dir .. "/config", lunar.json.encode {
      ["current-context"] = "eks",
      clusters = { { name = "eks", cluster = { server = d.url } } },
      users = { { name = "eks", user = { exec = { command = "aws", args = { "eks", "get-token" } } } } },
      contexts = { { name = "eks", context = { cluster = "eks", user = "eks" } } },
    })
    local c, err = lunar.kube.client { kubeconfig = dir .. "/config" }
    assert.is_nil(c)
    assert.matches('user "eks": exec credential plugins (here "aws") are not supported: use a token '
      .. "or client certificate instead", err, 1, true)
    os.execute("rm -rf " .. S.q(dir))
  end)
end)
