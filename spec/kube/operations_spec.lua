-- The operations the job lifecycle needs, against the test double over TLS.
local S = require "spec.kube.support"
local lunar = require "lunar"

describe("lunar.kube operations", function()
  local d, c
  setup(function()
    d = S.start()
    c = S.client(d)
  end)
  teardown(function() S.stop(d) end)

  it("creates, gets and deletes a Secret", function()
    local s = assert(c:create("secrets", S.secret("ops-secret")))
    assert.equal("ci", s.metadata.namespace)
    assert.is_string(s.metadata.uid)
    local got = assert(c:get("secrets", "ops-secret"))
    assert.equal(s.metadata.uid, got.metadata.uid)
    assert.equal("ZWNobyBoaQ==", got.data.script)
    assert(c:delete("secrets", "ops-secret"))
    local none, err, status = c:get("secrets", "ops-secret")
    assert.is_nil(none)
    assert.equal(404, status)
    assert.equal('get secrets "ops-secret" in namespace "ci": not found (404): secrets "ops-secret" not found', err)
  end)

  it("creates a Pod, sets the Secret's owner reference with a merge patch, deletes with options", function()
    assert(c:create("secrets", S.secret("job-1")))
    local pod = assert(c:create("pods", S.pod("job-1", "sleep 30")))
    local patched = assert(c:patch("secrets", "job-1", { metadata = { ownerReferences = {
      { apiVersion = "v1", kind = "Pod", name = "job-1", uid = pod.metadata.uid } } } }))
    assert.equal(pod.metadata.uid, patched.metadata.ownerReferences[1].uid)
    assert.equal("ZWNobyBoaQ==", patched.data.script) -- a merge patch keeps the rest
    S.clear_requests(d)
    assert(c:delete("pods", "job-1", { grace_period_seconds = 0, propagation_policy = "Background" }))
    local req = S.requests(d)[1]
    assert.equal("DELETE", req.method)
    assert.equal("/api/v1/namespaces/ci/pods/job-1", req.path)
    assert.equal("gracePeriodSeconds=0&propagationPolicy=Background", req.query)
    -- the owned Secret goes with its Pod
    assert.truthy(S.eventually(function() return c:get("secrets", "job-1") == nil end))
  end)

  it("lists by label selector", function()
    assert(c:create("secrets", S.secret("sel-a", { team = "a", app = "x" })))
    assert(c:create("secrets", S.secret("sel-b", { team = "b", app = "x" })))
    local l = assert(c:list("secrets", { label_selector = "app=x,team in (a)" }))
    assert.equal(1, #l.items)
    assert.equal("sel-a", l.items[1].metadata.name)
    assert.is_string(l.metadata.resourceVersion)
    local all = assert(c:list("secrets", { label_selector = "app=x" }))
    assert.equal(2, #all.items)
  end)

  it("reads the Events of a Pod", function()
    for i, name in ipairs { "ev-pod", "other-pod" } do
      assert(c:create("events", {
        metadata = { name = name .. ".1" },
        involvedObject = { kind = "Pod", name = name, namespace = "ci" },
        type = "Warning", reason = "FailedScheduling", message = "event " .. i,
      }))
    end
    local evs = assert(c:events("ev-pod"))
    assert.equal(1, #evs.items)
    assert.equal("event 1", evs.items[1].message)
  end)

  it("asks the server for its version and what it may do", function()
    local v = assert(c:version())
    assert.equal("1", v.major)
    local allowed, reason = c:can_i("create", "pods")
    assert.is_true(allowed)
    assert.is_string(reason)
    local r = S.client(d, { bearer_token = d.restricted_token })
    assert.is_true((r:can_i("list", "pods")))
    assert.is_false((r:can_i("create", "pods")))
    assert.is_false((r:can_i("delete", "pods")))
    assert.is_false((r:can_i("create", "secrets")))
  end)

  it("watches: lists first, then reports changes until the callback says stop", function()
    assert(c:create("secrets", S.secret("w-a", { watch = "1" })))
    local seen = {}
    local rv = c:watch("secrets", { label_selector = "watch=1", timeout = 30 }, function(type, obj)
      seen[#seen + 1] = type .. " " .. obj.metadata.name
      if obj.metadata.name == "w-a" and type == "ADDED" then
        -- callbacks run between loop rounds, so they may use the client
        assert(c:create("secrets", S.secret("w-b", { watch = "1" })))
      elseif type == "ADDED" then
        assert(c:delete("secrets", "w-a"))
      elseif type == "DELETED" then
        return false
      end
    end)
    assert.same({ "ADDED w-a", "ADDED w-b", "DELETED w-a" }, seen)
    assert.matches("^%d+$", rv)
    -- resuming from the returned version sees only what came after
    assert(c:delete("secrets", "w-b"))
    local later = {}
    local _, why = c:watch("secrets", { label_selector = "watch=1", resource_version = rv, timeout = 1 },
      function(type, obj) later[#later + 1] = type .. " " .. obj.metadata.name end)
    assert.equal("timeout", why)
    assert.same({ "DELETED w-b" }, later)
  end)

  it("lets a watch callback do many requests while events keep arriving", function()
    local first = assert(c:create("secrets", S.secret("many-0", { many = "1" })))
    local calls = 0
    local rv = c:watch("secrets", { label_selector = "many=1", timeout = 30 }, function(_, obj)
      calls = calls + 1
      for i = 1, 40 do assert(c:create("secrets", S.secret("many-" .. i, { many = "1" }))) end
      return false -- stop at the first event; the 40 queued meanwhile are dropped
    end)
    assert.equal(1, calls)
    assert.equal(first.metadata.resourceVersion, rv)
    assert.equal(41, #assert(c:list("secrets", { label_selector = "many=1" })).items)
  end)

  it("follows a container's log with timestamps", function()
    assert(c:create("pods", S.pod("log-1", "for i in 1 2 3; do echo line $i; done")))
    assert.truthy(S.wait_phase(c, "log-1", "Succeeded"))
    local lines, stamps = {}, {}
    assert.is_true(c:logs("log-1", { follow = true, timeout = 30 }, function(line, ts)
      lines[#lines + 1] = line
      stamps[#stamps + 1] = ts
    end))
    assert.same({ "line 1", "line 2", "line 3" }, lines)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d", stamps[1])
    assert.equal("line 1\nline 2\nline 3\n", c:logs("log-1", { container = "main" }))
    assert.equal("line 3\n", c:logs("log-1", { tail_lines = 1 }))
  end)

  it("stops following a log when the callback returns false", function()
    assert(c:create("pods", S.pod("log-2", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.05; done")))
    assert.truthy(S.wait_phase(c, "log-2", "Running"))
    local n = 0
    assert.is_true(c:logs("log-2", { follow = true, timeout = 30 }, function(line)
      n = n + 1
      assert.equal("tick " .. n, line)
      if n >= 5 then return false end
    end))
    assert.equal(5, n)
    assert(c:delete("pods", "log-2", { grace_period_seconds = 0 }))
  end)

  it("leaves nothing in flight when an error unwinds a call, and the client usable", function()
    local cc = S.client(d)
    assert(c:create("pods", S.pod("log-big", "i=0; while [ $i -lt 4000 ]; do i=$((i+1)); echo 'a line of some length to fill the buffer quickly, number' $i; done; sleep 30")))
    assert.truthy(S.wait_phase(c, "log-big", "Running"))
    -- the log text outgrows the call's memory limit while the stream runs
    local ok, err = lunar.call({ memory = 64 * 1024 }, function()
      return cc:logs("log-big", { follow = true, timeout = 20 })
    end)
    assert.is_false(ok)
    assert.matches("memory", err)
    assert(cc:version()) -- the loop runs again: nothing of the dead call is touched
    assert.has_no_error(function() cc:close() end) -- its busy count was given back
    -- arguments refused after a conversion: nothing leaks (LeakSanitizer in make test-asan)
    assert.has_error(function() c:create("secrets", S.secret("x-1", {}), { namespace = {} }) end)
    assert.has_error(function() c:patch("secrets", "x-1", { data = { f = print } }) end)
    assert(c:delete("pods", "log-big", { grace_period_seconds = 0 }))
  end)

  it("keeps a client usable by a to-be-closed variable", function()
    do
      local cc <close> = S.client(d)
      assert(cc:version())
    end
    local cc = S.client(d)
    cc:close()
    assert.has_error(function() cc:version() end, "kubernetes client is closed")
  end)
end)
