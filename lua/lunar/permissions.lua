-- The Kubernetes permissions lunar uses in the job namespace: the one list
-- from which deploy/role.yaml, `lunar doctor`'s access checks and the README's
-- table are made (scripts/gen-permissions.lua writes the files; spec/deploy
-- fails when they drift). Add a row here when the code starts using a verb.
--
-- lunar never needs pods/exec or pods/attach: every stage runs as the Pod's own
-- container and the runner only reads (see the README, Execution model).
local M = {}

-- { group, resource, verbs, why }; `group` "" is the core API group.
M.rules = {
  { group = "", resource = "pods", verbs = { "create", "get", "list", "watch", "delete", "patch" },
    why = "create each job's Pod, follow all of them with one watch, find them again after a restart, delete them at the end or on cancel" },
  { group = "", resource = "pods/log", verbs = { "get" },
    why = "stream each stage container's log into the job trace" },
  { group = "", resource = "secrets", verbs = { "create", "get" },
    why = "the job Secret (stage scripts, variables, registry credentials; read again after a restart); get also checks image_pull_secrets" },
  { group = "", resource = "serviceaccounts", verbs = { "get" },
    why = "check that the service account exists before the Pod is created (resource_availability_check_max_attempts)" },
  { group = "policy", resource = "poddisruptionbudgets", verbs = { "create" },
    why = "keep voluntary evictions (node drains) off a running job's Pod (pod_disruption_budget)" },
  { group = "", resource = "events", verbs = { "list" },
    why = "print a failed Pod's warning events in its trace (print_pod_warning_events)" },
}

-- Rows of M.rules that no request of the C core makes yet, and why they are
-- granted all the same ("verb resource" -> why). spec/deploy scans core/ for
-- the requests it makes: each one must be in M.rules, and each row of M.rules
-- must be made by the core or be listed here, so the Role stays exact.
M.ahead = {
  ["get pods"] = "read back a Pod whose create answer was lost (a 409 AlreadyExists on a retry); the runner otherwise reads Pods from its watch and list",
}

-- Permissions lunar must not have; doctor warns when they are granted.
M.never = {
  { group = "", resource = "pods/exec", verb = "create", why = "lunar never runs commands in a Pod through the API server" },
  { group = "", resource = "pods/attach", verb = "create", why = "lunar never attaches to a Pod" },
}

-- Every (group, resource, verb) as a flat list, in the order of M.rules.
function M.checks()
  local list = {}
  for _, r in ipairs(M.rules) do
    for _, verb in ipairs(r.verbs) do
      list[#list + 1] = { group = r.group, resource = r.resource, verb = verb, why = r.why }
    end
  end
  return list
end

local function split(resource)
  local res, sub = resource:match("^([^/]+)/(.+)$")
  return res or resource, sub
end
M.split = split

-- The Role granting `checks` (default: all of M.rules) in `namespace`, as a
-- table ready for YAML. Rules keep the order of M.rules; one rule per resource.
function M.role(name, namespace, checks)
  local rules, by_resource = {}, {}
  for _, c in ipairs(checks or M.checks()) do
    local key = c.group .. "\0" .. c.resource
    local rule = by_resource[key]
    if not rule then
      rule = { apiGroups = { c.group }, resources = { c.resource }, verbs = {} }
      by_resource[key] = rule
      rules[#rules + 1] = rule
    end
    rule.verbs[#rule.verbs + 1] = c.verb
  end
  local metadata = { name = name }
  if namespace then metadata.namespace = namespace end
  return { apiVersion = "rbac.authorization.k8s.io/v1", kind = "Role", metadata = metadata, rules = rules }
end

-- The RoleBinding of Role `name` to `subject`: { kind = "ServiceAccount" |
-- "User" | "Group", name, namespace (service accounts) }.
function M.binding(name, namespace, subject)
  local s = { kind = subject.kind, name = subject.name }
  if subject.kind == "ServiceAccount" then
    s.namespace = subject.namespace or namespace
  else
    s.apiGroup = "rbac.authorization.k8s.io"
  end
  local metadata = { name = name }
  if namespace then metadata.namespace = namespace end
  return {
    apiVersion = "rbac.authorization.k8s.io/v1", kind = "RoleBinding", metadata = metadata,
    roleRef = { apiGroup = "rbac.authorization.k8s.io", kind = "Role", name = name },
    subjects = { s },
  }
end

-- The README's table (Markdown).
function M.markdown()
  local lines = { "| Resource | Verbs | Why |", "|---|---|---|" }
  for _, r in ipairs(M.rules) do
    local res = r.group == "" and r.resource or (r.group .. "/" .. r.resource)
    lines[#lines + 1] = string.format("| `%s` | %s | %s |", res, table.concat(r.verbs, ", "), r.why)
  end
  for _, n in ipairs(M.never) do
    lines[#lines + 1] = string.format("| `%s` | none | %s |", n.resource, n.why)
  end
  return table.concat(lines, "\n") .. "\n"
end

return M
