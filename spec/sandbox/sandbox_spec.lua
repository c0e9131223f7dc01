-- Per-job code runs in lunar's sandbox: under an instruction budget, a
-- wall-clock deadline and a memory limit that nothing it does can escape, and
-- without the library functions that end, spawn or change the process. Each
-- failure fails the render (never the runner) and names the policy and a
-- file:line. The runaway cases run the real binary under `timeout`, so that a
-- budget that does not hold shows as a failed spec, not a hung test run.
local lunar = require "lunar"
local H = require "helper"

local job_path = H.root .. "/examples/basic/job.json"

-- Renders the basic job under a runner file whose `prelude` runs at load and
-- whose kubernetes settings are `settings` (Lua source). Returns exit status,
-- stdout, stderr and the runner's path.
local function render_with(prelude, settings)
  local _, _, path = H.load("-- placeholder\nreturn 1\n")
  H.write(path, 'local lunar = require "lunar"\n' .. prelude .. "\nreturn lunar.runner {\n  kubernetes = {\n    namespace = \"ci\", image = \"alpine\",\n" .. settings .. "\n  },\n}\n")
  local status, out, err = H.run("timeout 30 " .. H.q(H.bin) .. " render " .. H.q(path) .. " " .. H.q(job_path))
  return status, out, err, path
end

local function fails_with(status, err, policy, path, what)
  assert.equal(1, status, "exit status " .. tostring(status) .. "; stderr: " .. err)
  assert.truthy(err:find("policy " .. policy .. " failed: " .. path .. ":%d+: "), err)
  assert.truthy(err:find(what, 1, true), err)
end

describe("the instruction budget", function()
  it("cannot be swallowed by pcall or xpcall", function()
    local status, _, err, path = render_with("", [[
    node_selector = function()
      while true do pcall(function() while true do end end) end
    end,]])
    fails_with(status, err, "node_selector", path, "instruction budget exhausted")
    status, _, err, path = render_with("", [[
    node_selector = function()
      while true do xpcall(function() while true do end end, function(e) return e end) end
    end,]])
    fails_with(status, err, "node_selector", path, "instruction budget exhausted")
  end)

  it("counts coroutines, also ones made while the entrypoint loaded", function()
    local status, _, err, path = render_with(
      "local spin = coroutine.wrap(function() while true do end end)\nlocal co = coroutine.create(function() while true do end end)",
      [[
    node_selector = function() spin() end,
    pod_labels = function() coroutine.resume(co) end,]])
    fails_with(status, err, "node_selector", path, "instruction budget exhausted")
    status, _, err, path = render_with(
      "local co = coroutine.create(function() while true do end end)",
      "    pod_labels = function() while true do coroutine.resume(co) end end,")
    fails_with(status, err, "pod_labels", path, "instruction budget exhausted")
  end)

  it("cannot be removed with debug.sethook, even one captured at load", function()
    local status, _, err, path = render_with("local sethook = debug.sethook",
      "    node_selector = function() sethook() while true do end end,")
    fails_with(status, err, "node_selector", path, "debug.sethook is not available to per-job code")
  end)

  it("bounds the __pairs of a returned table", function()
    local status, _, err, path = render_with("", [[
    node_selector = function()
      return setmetatable({}, { __pairs = function() while true do end end })
    end,]])
    fails_with(status, err, "node_selector", path, "instruction budget exhausted")
  end)

  it("bounds string patterns that backtrack (one C call the hook cannot stop)", function()
    local status, _, err, path = render_with("", [[
    node_selector = function()
      local s = ("a"):rep(20000)
      return { x = s:find(".-.-.-.-b") and "y" or "n" }
    end,]])
    fails_with(status, err, "node_selector", path, "instruction budget exhausted")
    status, _, err, path = render_with("", [[
    node_selector = function()
      local s = ("a"):rep(3000)
      local n = 0
      for _ in s:gmatch("(a*)(a*)(a*)b") do n = n + 1 end
      return { x = select(2, s:gsub("a-a-a-b", "")) .. n }
    end,]])
    fails_with(status, err, "node_selector", path, "instruction budget exhausted")
  end)

  it("leaves ordinary patterns alone", function()
    local pod = assert(H.render { node_selector = function(job)
      local name = job.image.name
      local a, b = ("key=value"):match("^([^=]+)=(.*)$")
      local trimmed = ("  x y  "):match("^%s*(.-)%s*$")
      local parts = {}
      for w in ("a,b,,c"):gmatch("([^,]*)") do parts[#parts + 1] = w end
      local bal = ("f(a(b)c)d"):match("%b()")
      local fr = (("THE (quick) fox"):gsub("%f[%a]%a+", "W"))
      local back = ("say 'hi' ok"):match("(['\"])(.-)%1")
      return { a = a .. b, t = trimmed, p = table.concat(parts, "|"), b = bal, f = fr, q = back,
        n = tostring(name:find("alpine", 1, true)), pos = tostring(("abc"):find("()b")) }
    end })
    assert.same({ a = "keyvalue", t = "x y", p = "a|b||c", b = "(a(b)c)", f = "W (W) W", q = "'",
      n = "1", pos = "2" }, pod.spec.nodeSelector)
  end)

  it("refuses finalizers, which would run outside any budget", function()
    local status, _, err, path = render_with("", [[
    node_selector = function()
      setmetatable({}, { __gc = function() while true do end end })
      collectgarbage()
    end,]])
    fails_with(status, err, "node_selector", path, "a metatable with __gc is not available to per-job code")
  end)

  it("is backed by a wall-clock deadline", function()
    local status, _, err, path = render_with("", [[
    node_selector = function()
      local s = ("x"):rep(4000000)
      while true do s:find("y", 1, true) end
    end,]])
    fails_with(status, err, "node_selector", path, "wall-clock deadline exceeded")
  end)
end)

describe("nested calls", function()
  it("stop at their own smaller limit, and the caller goes on", function()
    local ok, inner_ok, inner_err, after = lunar.call(nil, function()
      local a, b = lunar.call({ instructions = 100000 }, function() while true do end end)
      local n = 0
      for i = 1, 1000 do n = n + i end
      return a, b, n
    end)
    assert.is_true(ok)
    assert.is_false(inner_ok)
    assert.matches("instruction budget exhausted %(100000 instructions", inner_err)
    assert.equal(500500, after)
    -- a nested call never gets more than its caller has left
    local ok2, err2 = lunar.call({ instructions = 200000 }, function()
      return lunar.call({ instructions = 10 ^ 9 }, function() while true do end end)
    end)
    assert.is_false(ok2)
    assert.matches("instruction budget exhausted", err2)
  end)
end)

describe("the memory limit", function()
  it("fails a policy that grows without end, also through pcall", function()
    -- in-process with a small limit and a long deadline: the memory limit is
    -- what must stop it, also on a loaded machine or under ASan
    local resolve = require "lunar.resolve"
    resolve.limits = { memory = 16 * 2 ^ 20, seconds = 120 }
    local ok1, pod1, err1 = pcall(H.render, { node_selector = function()
      local t = {}
      for i = 1, 400 do t[#t + 1] = ("x"):rep(1000000) .. i end
      return { n = tostring(#t) }
    end })
    local ok2, pod2, err2 = pcall(H.render, { node_selector = function()
      for _ = 1, 50 do
        pcall(function() local t = {} for i = 1, 400 do t[#t + 1] = ("y"):rep(1000000) .. i end end)
      end
      return { n = "survived" }
    end })
    resolve.limits = nil
    assert.is_true(ok1 and ok2)
    assert.is_nil(pod1)
    assert.matches("^policy node_selector failed: .*sandbox_spec%.lua:%d+: memory limit exceeded", err1)
    assert.is_nil(pod2)
    assert.matches("^policy node_selector failed: .*sandbox_spec%.lua:%d+: memory limit exceeded", err2)
  end)

  it("leaves the runner usable afterwards", function()
    local runner = H.runner { node_selector = function()
      local t = {}
      while true do t[#t + 1] = ("y"):rep(100000) .. #t end
    end }
    local pod, err = lunar.render(runner, H.job())
    assert.is_nil(pod)
    assert.matches("memory limit exceeded", err)
    assert(H.render { node_selector = function() return { a = ("z"):rep(10) } end })
    collectgarbage()
    local big = {}
    for i = 1, 200000 do big[i] = { i } end -- outside a call: no limit
    assert.equal(200000, #big)
  end)
end)

describe("the sandbox", function()
  local refused = {
    { "os.exit(3)", "os.exit" },
    { "os.execute('true')", "os.execute" },
    { "io.popen('id')", "io.popen" },
    { "io.open('/tmp/lunar-sandbox-spec', 'w')", "io.open in mode \"w\"" },
    { "io.write('x')", "io.write" },
    { "io.stdout:write('x')", "file:write" },
    { "os.remove('/nonexistent')", "os.remove" },
    { "package.loadlib('libc.so.6', 'exit')", "package.loadlib" },
    { "package.searchers[3]('lunar')", "package.searchers" },
    { "require('socket')", "require \"socket\"" },
    { "debug.getupvalue(print, 1)", "debug.getupvalue" },
    { "load(string.dump(function() end), 'f', 'b')", "load of binary chunks" },
    { "collectgarbage('stop')", "collectgarbage(\"stop\")" },
    { "exit(0)", "os.exit" }, -- captured while the entrypoint loaded
  }
  for _, case in ipairs(refused) do
    it("refuses " .. case[1] .. " in per-job code", function()
      local status, out, err, path = render_with("local exit = os.exit",
        "    node_selector = function() " .. case[1] .. " end,")
      assert.equal("", out)
      fails_with(status, err, "node_selector", path, case[2] .. " is not available to per-job code")
    end)
  end

  it("leaves the load phase the whole library", function()
    local status, out, err = render_with("local f = assert(io.open(os.tmpname(), 'w')); f:write('x'); f:close()",
      "    node_selector = function() return { os = os.getenv('HOME') and 'linux' or 'linux' } end,")
    assert.equal(0, status, err)
    assert.equal("linux", lunar.json.decode(out).spec.nodeSelector.os)
  end)

  it("keeps the job and the frozen settings out of reach", function()
    local runner
    runner = H.runner { namespace = function()
      require("lunar.config").lookup(runner).config.kubernetes.image = "evil"
      return "ci"
    end }
    local pod, err = lunar.render(runner, H.job())
    assert.is_nil(pod)
    assert.matches("lookup is not available to per%-job code", err)
    local cases = {
      function(job) require("lunar.readonly").source(job).id = 1 end,
      function(job) getmetatable(job).__index = function() return "evil" end end,
      function(job) rawset(job.variables, "CI_JOB_ID", "evil") end,
    }
    for i, f in ipairs(cases) do
      pod, err = H.render { namespace = function(job) f(job) return "ci" end }
      assert.is_nil(pod, "case " .. i)
      assert.matches("^policy namespace failed: .*sandbox_spec%.lua:%d+: ", err)
    end
  end)

  it("freezes the settings: tables the entrypoint keeps are not the runner's", function()
    local k = { namespace = "ci", image = "alpine:3.20" }
    local ps = {}
    ps[1] = function(_, pod)
      ps[2] = { patch_type = "merge", patch = '{"hostname": "evil"}' }
      k.image = "evil"
      return pod
    end
    k.pod_spec = ps
    local runner = lunar.runner { kubernetes = k }
    for _ = 1, 2 do
      local pod = assert(lunar.render(runner, H.job()))
      assert.is_nil(pod.spec.hostname)
      assert.equal("alpine:3.20", H.container(pod, "build").image)
    end
  end)
end)

describe("a failing policy", function()
  -- deep recursion runs until the stack or the memory limit: give it time on a loaded machine
  local resolve = require "lunar.resolve"
  before_each(function() resolve.limits = { seconds = 120 } end)
  after_each(function() resolve.limits = nil end)

  it("names itself and a file:line, also for a cyclic result and an error object", function()
    local pod, err = H.render { node_selector = function() local t = {} t.self = { t } return t end }
    assert.is_nil(pod)
    assert.matches("^policy node_selector failed: .*sandbox_spec%.lua:%d+: the value contains itself %(a cycle at %.self%[1%]%)$", err)
    pod, err = H.render { pod_labels = function() error({}) end }
    assert.matches("^policy pod_labels failed: .*sandbox_spec%.lua:%d+: %(error object is a table value%)", err)
    pod, err = H.render { pod_labels = function() local function f() return f() + 1 end return f() end }
    assert.matches("^policy pod_labels failed: .*sandbox_spec%.lua:%d+: ", err)
    assert.truthy(err:find("stack overflow", 1, true) or err:find("memory limit exceeded", 1, true), err)
    pod, err = H.render { pod_spec = { function() local t = {} t[1] = t return t end } }
    assert.matches("^policy pod_spec%[1%] failed: .*sandbox_spec%.lua:%d+: the value contains itself", err)
  end)
end)
