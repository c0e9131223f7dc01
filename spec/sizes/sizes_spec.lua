-- Hostile sizes stay bounded: a strategic merge patch is linear in the list
-- sizes. Asserted as a ratio of CPU times (a quadratic merge takes 16 times
-- as long for 4 times the items, a linear one 4), never as a wall-clock limit.
local lunar = require "lunar"

local function spec_with(n)
  local env = {}
  for i = 1, n do env[i] = { name = "V" .. i, value = "x" .. i } end
  return { containers = lunar.json.array { { name = "build", image = "alpine", env = lunar.json.array(env) } } }
end

local PATCH = "containers:\n- name: build\n  env:\n  - name: ADDED\n    value: one\n  - name: V7\n    value: changed\n"

local function cost(n)
  local spec = spec_with(n)
  local best = math.huge
  for _ = 1, 3 do
    local t = os.clock()
    local out = assert(lunar.patch.apply(spec, { name = "p", patch_type = "strategic", patch = PATCH }))
    best = math.min(best, os.clock() - t)
    local env, by = out.containers[1].env, {}
    for _, e in ipairs(env) do by[e.name] = e.value end
    assert.equal(n + 1, #env)
    assert.equal("changed", by.V7)
    assert.equal("one", by.ADDED)
  end
  return best
end

describe("a strategic merge patch", function()
  it("is linear in the size of the list it merges into", function()
    local small, large = cost(4000), cost(16000)
    assert.is_true(large < small * 9, string.format("4000 items: %.3f s, 16000 items: %.3f s", small, large))
  end)
end)
