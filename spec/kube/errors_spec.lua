-- What a user sees when the connection or the permissions are wrong: every
-- message names the fix and carries the server's own words.
local S = require "spec.kube.support"
local lunar = require "lunar"

describe("lunar.kube error messages", function()
  local d
  setup(function() d = S.start() end)
  teardown(function() S.stop(d) end)

  it("an untrusted server certificate: set ca_file", function()
    local c = S.client(d, { ca_file = false })
    local ok, err, status = c:get("pods", "x")
    assert.is_nil(ok)
    assert.equal(0, status)
    assert.matches('get pods "x" in namespace "ci": the API server\'s certificate is not trusted (SSL '
      .. "certificate problem: self-signed certificate in certificate chain; trusted CA: the "
      .. "system's CA bundle): set kubernetes.ca_file to the CA bundle of the cluster", err, 1, true)
    -- and only the given CA is trusted: the system bundle does not sign the double
    local other = S.client(d, { ca_file = d.client_cert })
    assert.matches("the API server's certificate is not trusted", select(2, other:get("pods", "x")), 1, true)
  end)

  it("skips verification only when told to", function()
    local c = S.client(d, { ca_file = false, insecure_skip_tls_verify = true })
    assert(c:version())
  end)

  it("a rejected token: 401 names the credentials", function()
    local c = S.client(d, { bearer_token = "not-a-token" })
    local ok, err, status = c:list("pods")
    assert.is_nil(ok)
    assert.equal(401, status)
    assert.equal('list pods in namespace "ci": Unauthorized (401): the token or client certificate was '
      .. "rejected by the API server at " .. d.url .. ": check the credentials from settings "
      .. "(kubernetes.host) (an expired or rotated token? a token or certificate of another cluster?)", err)
  end)

  it("a forbidden request: 403 with the user, verb, resource, namespace and the Role rule", function()
    local c = S.client(d, { bearer_token = d.restricted_token })
    local ok, err, status = c:create("secrets", { metadata = { name = "s" }, stringData = { a = "b" } })
    assert.is_nil(ok)
    assert.equal(403, status)
    assert.equal('create secrets "s" in namespace "ci": forbidden (403): secrets is forbidden: User '
      .. '"system:serviceaccount:ci:restricted" cannot create resource "secrets" in API group "" in the '
      .. 'namespace "ci". Fix: user "system:serviceaccount:ci:restricted" needs RBAC permission to '
      .. 'create secrets in namespace "ci"; add this rule to a Role in namespace "ci" and a RoleBinding '
      .. 'for it (README, "Connecting to Kubernetes", has the whole Role lunar needs):\n'
      .. '  - apiGroups: [""]\n'
      .. '    resources: ["secrets"]\n'
      .. '    verbs: ["create"]', err)
    local _, everr = c:events("some-pod")
    assert.matches('cannot list resource "events"', everr, 1, true)
    assert.matches('resources: ["events"]\n    verbs: ["list"]', everr, 1, true)
  end)

  it("a missing namespace: says it does not exist", function()
    local c = S.client(d, { namespace = "nope" })
    local ok, err, status = c:create("pods", S.pod("p", "true"))
    assert.is_nil(ok)
    assert.equal(404, status)
    assert.equal('create pods "p" in namespace "nope": namespace "nope" does not exist: create it '
      .. "(kubectl create namespace nope) or set kubernetes.namespace to an existing one", err)
  end)

  it("connection refused: names the address and where it came from", function()
    local c = S.client(d, { host = "https://127.0.0.1:9", retry_limit = 2 })
    local ok, err, status = c:version()
    assert.is_nil(ok)
    assert.equal(0, status)
    assert.matches("get version: cannot connect to the API server at https://127.0.0.1:9 (after 2 "
      .. "attempts) (", err, 1, true)
    assert.matches("check kubernetes.host or the kubeconfig's cluster server, and that the API server "
      .. "is up and reachable from here", err, 1, true)
  end)

  it("a slow server: times out with the limit it hit", function()
    S.faults(d, { rules = { { method = "GET", path = "/api/v1/namespaces/ci/pods/slow$", latency = 2, times = 1 } } })
    local c = S.client(d, { request_timeout = 0.3, retry_limit = 1 })
    local ok, err = c:get("pods", "slow")
    assert.is_nil(ok)
    assert.matches('get pods "slow" in namespace "ci": timed out after 300 ms waiting for the API server at '
      .. d.url, err, 1, true)
    S.faults(d)
  end)

  it("a client certificate the server cannot use for the user: the files are named", function()
    local c, err = lunar.kube.client(S.settings(d, { bearer_token = false, cert_file = d.client_cert }))
    assert.is_nil(c)
    assert.equal("kubernetes.cert_file is set but kubernetes.key_file is not: a client certificate "
      .. "needs its key (set both, PEM files)", err)
    local c2 = S.client(d, { bearer_token = false, cert_file = d.client_cert, key_file = d.ca_file })
    local ok, err2 = c2:version()
    assert.is_nil(ok)
    assert.matches("the client certificate or key cannot be used", err2, 1, true)
  end)
end)
