-- What the Kubernetes API server refuses, refused by lunar first: at `lunar
-- check` for settings (with the key path and file:line: lunar.config) and at
-- render for what job data, policies and patches produce (with the field:
-- M.objects). The rules follow the API server's validation of v1 Pods and
-- Secrets (pkg/apis/core/validation).
local M = {}

local function is_label(s)
  return type(s) == "string" and #s >= 1 and #s <= 63 and s:match("^[a-z0-9][-a-z0-9]*$") ~= nil
    and s:sub(-1) ~= "-"
end
M.is_label = is_label

-- "a lowercase RFC 1123 label (at most 63 characters of a-z, 0-9 and '-',
-- starting and ending with a letter or digit)"
M.LABEL = "is not a valid name: the API server wants an RFC 1123 label (at most 63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit)"

local function is_secret_key(s)
  return type(s) == "string" and #s >= 1 and #s <= 253 and s:match("^[-._a-zA-Z0-9]+$") ~= nil
    and s ~= "." and s ~= ".."
end
M.is_secret_key = is_secret_key

local NODE_OPS = { In = true, NotIn = true, Exists = true, DoesNotExist = true, Gt = true, Lt = true }
local LABEL_OPS = { In = true, NotIn = true, Exists = true, DoesNotExist = true }

-- A requirement { key, operator, values } (settings spelling and Pod
-- spelling share these names); `node` allows Gt/Lt. Returns a message or nil.
function M.requirement(r, node)
  if type(r) ~= "table" then return nil end
  local op, values = r.operator, r.values
  local ops = node and NODE_OPS or LABEL_OPS
  if type(op) == "string" and not ops[op] then
    return string.format("operator %q is not valid here (use %s)", op,
      node and "In, NotIn, Exists, DoesNotExist, Gt or Lt" or "In, NotIn, Exists or DoesNotExist")
  end
  local n = type(values) == "table" and #values or 0
  if (op == "In" or op == "NotIn") and n == 0 then
    return string.format("operator %s needs at least one value", op)
  end
  if (op == "Exists" or op == "DoesNotExist") and n > 0 then
    return string.format("operator %s takes no values", op)
  end
  if op == "Gt" or op == "Lt" then
    if n ~= 1 or not tostring(values[1]):match("^%-?%d+$") then
      return string.format("operator %s needs exactly one integer value", op)
    end
  end
end

-- Settings checks the schema's types cannot express. `fail(path, msg)`.
function M.settings(k, fail)
  if type(k) ~= "table" then return end
  if k.dns_policy == "none" or k.dns_policy == "None" then
    local dc = k.dns_config
    if type(dc) ~= "table" or type(dc.nameservers) ~= "table" or #dc.nameservers == 0 then
      fail("kubernetes.dns_policy", 'dns_policy "none" needs dns_config with at least one nameserver (the API server refuses dnsPolicy None without it)')
    end
  end
  if type(k.volumes) == "table" then
    for kind, list in pairs(k.volumes) do
      if type(list) == "table" then
        for i, v in ipairs(list) do
          if type(v) == "table" and type(v.name) == "string" and not v.name:find("$", 1, true) and not is_label(v.name) then
            fail(string.format("kubernetes.volumes.%s[%d].name", kind, i), string.format("%q %s", v.name, M.LABEL))
          end
        end
      end
    end
  end
  local function terms(list, path, node)
    if type(list) ~= "table" then return end
    for i, r in ipairs(list) do
      local msg = M.requirement(r, node)
      if msg then fail(string.format("%s[%d]", path, i), msg) end
    end
  end
  local function affinity_term(t, path)
    if type(t) ~= "table" then return end
    for i, ns in ipairs(type(t.namespaces) == "table" and t.namespaces or {}) do
      if not is_label(ns) then fail(string.format("%s.namespaces[%d]", path, i), string.format("%q %s", tostring(ns), M.LABEL)) end
    end
    for _, sel in ipairs { "label_selector", "namespace_selector" } do
      if type(t[sel]) == "table" then terms(t[sel].match_expressions, path .. "." .. sel .. ".match_expressions", false) end
    end
  end
  local a = type(k.affinity) == "table" and k.affinity or {}
  local na = type(a.node_affinity) == "table" and a.node_affinity or {}
  local req = na.required_during_scheduling_ignored_during_execution
  if type(req) == "table" and type(req.node_selector_terms) == "table" then
    for i, term in ipairs(req.node_selector_terms) do
      local p = string.format("kubernetes.affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_terms[%d]", i)
      if type(term) == "table" then
        terms(term.match_expressions, p .. ".match_expressions", true)
        terms(term.match_fields, p .. ".match_fields", true)
      end
    end
  end
  for i, pref in ipairs(type(na.preferred_during_scheduling_ignored_during_execution) == "table" and na.preferred_during_scheduling_ignored_during_execution or {}) do
    local p = string.format("kubernetes.affinity.node_affinity.preferred_during_scheduling_ignored_during_execution[%d]", i)
    if type(pref) == "table" then
      if math.type(pref.weight) == "integer" and (pref.weight < 1 or pref.weight > 100) then fail(p .. ".weight", "must be between 1 and 100") end
      if type(pref.preference) == "table" then
        terms(pref.preference.match_expressions, p .. ".preference.match_expressions", true)
        terms(pref.preference.match_fields, p .. ".preference.match_fields", true)
      end
    end
  end
  for _, kind in ipairs { "pod_affinity", "pod_anti_affinity" } do
    local pa = type(a[kind]) == "table" and a[kind] or {}
    local base = "kubernetes.affinity." .. kind
    for i, t in ipairs(type(pa.required_during_scheduling_ignored_during_execution) == "table" and pa.required_during_scheduling_ignored_during_execution or {}) do
      affinity_term(t, string.format("%s.required_during_scheduling_ignored_during_execution[%d]", base, i))
    end
    for i, w in ipairs(type(pa.preferred_during_scheduling_ignored_during_execution) == "table" and pa.preferred_during_scheduling_ignored_during_execution or {}) do
      local p = string.format("%s.preferred_during_scheduling_ignored_during_execution[%d]", base, i)
      if type(w) == "table" then
        if math.type(w.weight) == "integer" and (w.weight < 1 or w.weight > 100) then fail(p .. ".weight", "must be between 1 and 100") end
        affinity_term(w.pod_affinity_term, p .. ".pod_affinity_term")
      end
    end
  end
end

-- The rendered objects. Raises { message } naming the first field the API
-- server would refuse.
local function fail(fmt, ...) error({ message = string.format(fmt, ...) }, 0) end

local function str_list(v, path)
  if v == nil then return end
  if type(v) ~= "table" then fail("%s: expected a list of strings, got %s", path, type(v)) end
  for i, x in ipairs(v) do
    if type(x) ~= "string" then fail("%s[%d]: expected a string, got %s", path, i - 1, type(x)) end
  end
end

local function container(c, path)
  if not is_label(c.name) then fail("%s.name: %q %s", path, tostring(c.name), M.LABEL) end
  if type(c.image) ~= "string" or c.image == "" then
    fail("%s (%s): has no image (a pod_spec entry or policy removed it?); the API server refuses a container without one", path, c.name)
  end
  str_list(c.command, path .. ".command")
  str_list(c.args, path .. ".args")
  for i, e in ipairs(type(c.env) == "table" and c.env or {}) do
    if type(e) ~= "table" or type(e.name) ~= "string" or e.name == "" then
      fail("%s.env[%d]: an environment variable needs a name", path, i - 1)
    end
  end
  for i, p in ipairs(type(c.ports) == "table" and c.ports or {}) do
    local n = type(p) == "table" and p.containerPort
    if math.type(n) ~= "integer" or n < 1 or n > 65535 then
      fail("%s.ports[%d].containerPort: expected a port number 1..65535, got %s", path, i - 1, tostring(n))
    end
  end
end

local function selector_terms(list, path, node)
  for i, r in ipairs(type(list) == "table" and list or {}) do
    local msg = M.requirement(r, node)
    if msg then fail("%s[%d]: %s", path, i - 1, msg) end
  end
end

local function pod_affinity_term(t, path)
  if type(t) ~= "table" then return end
  for i, ns in ipairs(type(t.namespaces) == "table" and t.namespaces or {}) do
    if not is_label(ns) then fail("%s.namespaces[%d]: %q %s", path, i - 1, tostring(ns), M.LABEL) end
  end
  for _, sel in ipairs { "labelSelector", "namespaceSelector" } do
    if type(t[sel]) == "table" then selector_terms(t[sel].matchExpressions, path .. "." .. sel .. ".matchExpressions", false) end
  end
end

local function affinity(a, path)
  if type(a) ~= "table" then return end
  local na = a.nodeAffinity
  if type(na) == "table" then
    local req = na.requiredDuringSchedulingIgnoredDuringExecution
    for i, term in ipairs(type(req) == "table" and type(req.nodeSelectorTerms) == "table" and req.nodeSelectorTerms or {}) do
      local p = string.format("%s.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[%d]", path, i - 1)
      selector_terms(term.matchExpressions, p .. ".matchExpressions", true)
      selector_terms(term.matchFields, p .. ".matchFields", true)
    end
    for i, pref in ipairs(type(na.preferredDuringSchedulingIgnoredDuringExecution) == "table" and na.preferredDuringSchedulingIgnoredDuringExecution or {}) do
      local p = string.format("%s.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[%d]", path, i - 1)
      if type(pref.preference) == "table" then
        selector_terms(pref.preference.matchExpressions, p .. ".preference.matchExpressions", true)
        selector_terms(pref.preference.matchFields, p .. ".preference.matchFields", true)
      end
    end
  end
  for _, kind in ipairs { "podAffinity", "podAntiAffinity" } do
    local pa = a[kind]
    if type(pa) == "table" then
      for i, t in ipairs(type(pa.requiredDuringSchedulingIgnoredDuringExecution) == "table" and pa.requiredDuringSchedulingIgnoredDuringExecution or {}) do
        pod_affinity_term(t, string.format("%s.%s.requiredDuringSchedulingIgnoredDuringExecution[%d]", path, kind, i - 1))
      end
      for i, w in ipairs(type(pa.preferredDuringSchedulingIgnoredDuringExecution) == "table" and pa.preferredDuringSchedulingIgnoredDuringExecution or {}) do
        pod_affinity_term(type(w) == "table" and w.podAffinityTerm, string.format("%s.%s.preferredDuringSchedulingIgnoredDuringExecution[%d].podAffinityTerm", path, kind, i - 1))
      end
    end
  end
end

-- The path of the first string holding a NUL byte, or nil.
local function nul_path(v, path)
  if type(v) == "string" then return v:find("\0", 1, true) and path or nil end
  if type(v) ~= "table" then return nil end
  for k, x in pairs(v) do
    local sub = type(k) == "number" and string.format("%s[%d]", path, k - 1) or (path .. "." .. tostring(k))
    if type(k) == "string" and k:find("\0", 1, true) then return sub end
    local found = nul_path(x, sub)
    if found then return found end
  end
end

-- `text`: the Pod as JSON when the caller has it (a NUL shows as \u0000).
function M.objects(pod, secret, text)
  local spec = pod.spec
  local names = {}
  for _, list in ipairs { "initContainers", "containers" } do
    for i, c in ipairs(type(spec[list]) == "table" and spec[list] or {}) do
      local path = string.format("pod.spec.%s[%d]", list, i - 1)
      if type(c) ~= "table" then fail("%s: expected a container object", path) end
      container(c, path)
      if names[c.name] then fail("%s.name: %q is used by two containers", path, c.name) end
      names[c.name] = true
    end
  end
  local vnames = {}
  for i, v in ipairs(type(spec.volumes) == "table" and spec.volumes or {}) do
    local path = string.format("pod.spec.volumes[%d].name", i - 1)
    if type(v) ~= "table" or not is_label(v.name) then fail("%s: %q %s", path, tostring(type(v) == "table" and v.name), M.LABEL) end
    if vnames[v.name] then fail("%s: %q is used by two volumes", path, v.name) end
    vnames[v.name] = true
  end
  if spec.dnsPolicy == "None" then
    local dc = spec.dnsConfig
    if type(dc) ~= "table" or type(dc.nameservers) ~= "table" or #dc.nameservers == 0 then
      fail("pod.spec.dnsPolicy: None needs dnsConfig with at least one nameserver")
    end
  end
  affinity(spec.affinity, "pod.spec.affinity")
  if secret and type(secret.stringData) == "table" then
    for key in pairs(secret.stringData) do
      if not is_secret_key(key) then
        fail("secret.stringData: %q is not a valid Secret key (letters, digits, '-', '_' and '.' only): rename the variable or file it comes from", key)
      end
    end
  end
  -- a NUL byte anywhere (the API server refuses it in names, values, commands)
  if not text or text:find("\\u0000", 1, true) then
    local where = nul_path(pod, "pod")
    if where then fail("%s: contains a NUL byte", where) end
  end
end

return M
