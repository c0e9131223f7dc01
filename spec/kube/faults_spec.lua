-- Surviving API server trouble: retries with backoff, Retry-After, dropped
-- watch and log streams resumed, 410 Gone, and a create whose response was
-- lost. The double's request log shows what went over the wire; no check
-- depends on how fast this machine is (the one time check is a lower bound).
local S = require "spec.kube.support"

local function requests_to(d, pattern, method)
  local out = {}
  for _, r in ipairs(S.requests(d)) do
    if r.path:match(pattern) and (not method or r.method == method) then out[#out + 1] = r end
  end
  return out
end

local function is_watch(r) return r.watch == true end

describe("lunar.kube under faults", function()
  local d, c
  setup(function()
    d = S.start()
    c = S.client(d)
  end)
  teardown(function() S.stop(d) end)
  before_each(function()
    S.faults(d)
    S.clear_requests(d)
  end)

  it("retries a 500 and succeeds", function()
    assert(c:create("secrets", S.secret("f-500")))
    S.faults(d, { rules = { { method = "GET", path = "/secrets/f-500$", error = 500, times = 1 } } })
    S.clear_requests(d)
    local before = c:stats()
    local s = assert(c:get("secrets", "f-500"))
    assert.equal("f-500", s.metadata.name)
    local reqs = requests_to(d, "/secrets/f%-500$")
    assert.same({ 500, 200 }, { reqs[1].status, reqs[2].status })
    assert.equal(before.retries + 1, c:stats().retries)
  end)

  it("gives up after retry_limit attempts with the server's message", function()
    S.faults(d, { rules = { { method = "GET", path = "/pods$", error = 503, times = 3 } } })
    local cc = S.client(d, { retry_limit = 3 })
    local ok, err, status = cc:list("pods")
    assert.is_nil(ok)
    assert.equal(503, status)
    assert.equal('list pods in namespace "ci": the API server at ' .. d.url .. " is failing (503 "
      .. "ServiceUnavailable) after 3 attempts: kube_double: injected fault; "
      .. "raise kubernetes.retry_limit or retry_backoff_max to wait longer", err)
    assert.equal(3, #requests_to(d, "/pods$", "GET"))
  end)

  it("retries errors named by retry_limits, as often as they say (GitLab Runner's retry_limits)", function()
    local rule = { method = "GET", path = "/pods$", error = 409, message = "the object has been modified", times = 2 }
    S.faults(d, { rules = { rule } })
    local plain = S.client(d)
    local ok, _, status = plain:list("pods")
    assert.is_nil(ok) -- a 409 is final by default
    assert.equal(409, status)
    S.faults(d, { rules = { rule } })
    S.clear_requests(d)
    local cc = S.client(d, { retry_limits = { ["object has been modified"] = 3 } })
    assert(cc:list("pods"))
    assert.same({ 409, 409, 200 }, (function()
      local out = {}
      for _, r in ipairs(requests_to(d, "/pods$", "GET")) do out[#out + 1] = r.status end
      return out
    end)())
    S.faults(d, { rules = { rule } })
    local short = S.client(d, { retry_limits = { ["object has been modified"] = 2, ["modified"] = 1 } })
    ok, _, status = short:list("pods") -- the longest matching text counts: 2 attempts
    assert.is_nil(ok)
    assert.equal(409, status)
  end)

  it("waits as long as a 429's Retry-After says", function()
    S.faults(d, { rules = { { method = "GET", path = "/pods$", error = 429, retry_after = 1, times = 1 } } })
    assert(c:list("pods"))
    local reqs = requests_to(d, "/pods$", "GET")
    assert.same({ 429, 200 }, { reqs[1].status, reqs[2].status })
    -- a lower bound: the retry cannot come before the server allowed it
    assert.is_true(reqs[2].time - reqs[1].time >= 0.9)
  end)

  it("keeps to the client-side rate limit (qps, burst)", function()
    local slow = S.client(d, { qps = 5, burst = 1 })
    for _ = 1, 4 do assert(slow:list("pods")) end
    local reqs = requests_to(d, "/pods$", "GET")
    assert.equal(4, #reqs)
    -- a lower bound: after the burst, one request per 200 ms at most
    assert.is_true(reqs[4].time - reqs[1].time >= 0.55)
  end)

  it("resumes a dropped watch from the last resourceVersion, without repeats", function()
    local rv0 = assert(c:list("secrets", { label_selector = "drop=1" })).metadata.resourceVersion
    local a = assert(c:create("secrets", S.secret("d-a", { drop = "1" })))
    S.faults(d, { rules = { { path = "/secrets$", watch = true, drop_after_events = 1, times = 1 } } })
    S.clear_requests(d)
    local seen = {}
    c:watch("secrets", { label_selector = "drop=1", resource_version = rv0, timeout = 30 }, function(type, obj)
      seen[#seen + 1] = type .. " " .. obj.metadata.name
      if obj.metadata.name == "d-a" then assert(c:create("secrets", S.secret("d-b", { drop = "1" }))) end
      if obj.metadata.name == "d-b" then return false end
    end)
    assert.same({ "ADDED d-a", "ADDED d-b" }, seen)
    local watches, lists = {}, 0
    for _, r in ipairs(requests_to(d, "/secrets$", "GET")) do
      if is_watch(r) then watches[#watches + 1] = r.query else lists = lists + 1 end
    end
    assert.equal(0, lists) -- resumed, not listed again
    assert.is_true(#watches >= 2)
    assert.matches("resourceVersion=" .. rv0 .. "&", watches[1], 1, true)
    local resumed = tonumber(watches[2]:match("resourceVersion=(%d+)"))
    assert.is_true(resumed >= tonumber(a.metadata.resourceVersion))
  end)

  it("lists again after 410 Gone, without reporting unchanged objects twice", function()
    assert(c:create("secrets", S.secret("g-a", { gone = "1" })))
    S.faults(d, { rules = { { path = "/secrets$", watch = true, expire = true, times = 1 } } })
    local seen = {}
    local _, why = c:watch("secrets", { label_selector = "gone=1", timeout = 2 }, function(type, obj)
      seen[#seen + 1] = type .. " " .. obj.metadata.name
    end)
    assert.equal("timeout", why)
    assert.same({ "ADDED g-a" }, seen)
    local kinds = {}
    for _, r in ipairs(requests_to(d, "/secrets$", "GET")) do kinds[#kinds + 1] = is_watch(r) and "watch" or "list" end
    assert.same({ "list", "watch", "list", "watch" }, { table.unpack(kinds, 1, 4) })
  end)

  it("reports what changed while its version was compacted away", function()
    assert(c:create("secrets", S.secret("h-a", { compact = "1" })))
    local seen = {}
    c:watch("secrets", { label_selector = "compact=1", timeout = 30 }, function(type, obj)
      seen[#seen + 1] = type .. " " .. obj.metadata.name
      if type == "ADDED" and obj.metadata.name == "h-a" then
        -- change things and compact the history: the watch must list again
        -- or see the events; either way it reports each change once
        assert(c:delete("secrets", "h-a"))
        assert(c:create("secrets", S.secret("h-b", { compact = "1" })))
        S.compact(d)
      end
      if obj.metadata.name == "h-b" then return false end
    end)
    table.sort(seen)
    assert.same({ "ADDED h-a", "ADDED h-b", "DELETED h-a" }, seen)
  end)

  it("resumes a dropped log stream without duplicated or lost lines", function()
    assert(c:create("pods", S.pod("flog", "for i in $(seq 1 40); do echo line $i; done")))
    assert.truthy(S.wait_phase(c, "flog", "Succeeded"))
    -- drop in the middle of a line, after a few lines
    S.faults(d, { rules = { { path = "/pods/flog/log", drop_after_bytes = 200, times = 1 } } })
    S.clear_requests(d)
    local lines = {}
    assert.is_true(c:logs("flog", { follow = true, timeout = 30 }, function(line) lines[#lines + 1] = line end))
    local want = {}
    for i = 1, 40 do want[i] = "line " .. i end
    assert.same(want, lines)
    local reqs = requests_to(d, "/pods/flog/log$")
    assert.equal(2, #reqs)
    assert.matches("sinceTime=", reqs[2].query, 1, true)
  end)

  it("accepts its own object when a create's response was lost (409 AlreadyExists)", function()
    -- the first POST creates the Secret, then its response is lost (the
    -- connection is cut): the retry meets 409 AlreadyExists
    S.faults(d, { rules = { { method = "POST", path = "/secrets$", lose_response = true, times = 1 } } })
    local s = assert(c:create("secrets", S.secret("lost-1", { job = "42" })))
    assert.equal("lost-1", s.metadata.name)
    local posts = requests_to(d, "/secrets$", "POST")
    assert.equal(409, posts[#posts].status)
    local gets = requests_to(d, "/secrets/lost%-1$", "GET")
    assert.equal(1, #gets)
  end)

  it("does not take over an object that is not its own", function()
    assert(c:create("secrets", S.secret("taken", { job = "1" })))
    local ok, err, status = c:create("secrets", S.secret("taken", { job = "2" }))
    assert.is_nil(ok)
    assert.equal(409, status)
    assert.equal('create secrets "taken" in namespace "ci": conflict (409 AlreadyExists): secrets "taken" already exists', err)
  end)
end)
