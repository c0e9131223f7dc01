-- Strategic merge patch against real Kubernetes: every case in
-- strategic_cases.json records what `kubectl patch --local --type strategic`
-- (Kubernetes 1.33) made of it: the resulting document, or an error. lunar
-- must produce the same document, or fail too. scripts/strategic-oracle.py
-- re-checks the recorded answers against a kubectl and records new cases.
local lunar = require "lunar"

local root = os.getenv("LUNAR_SOURCE_DIR") or "."
local f = assert(io.open(root .. "/spec/patch/strategic_cases.json", "rb"))
local data = assert(lunar.json.decode(f:read("a")))
f:close()

local function canonical(v) return assert(lunar.json.encode(v)) end

describe("strategic merge patch matches kubectl on", function()
  assert.is_true(#data.cases >= 100)
  for _, case in ipairs(data.cases) do
    it(case.name, function()
      local doc = type(case.doc) == "string" and data.docs[case.doc] or case.doc
      local out, err = lunar.patch.strategic(doc, case.patch, case.kind)
      if case.kubectl_error then
        assert.is_nil(out, "kubectl refused this patch: " .. case.kubectl_error)
        assert.matches("^strategic merge patch: ", err)
      else
        assert.is_not_nil(out, err)
        assert.equal(canonical(case.want), canonical(out))
      end
    end)
  end
end)
