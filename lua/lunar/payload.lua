-- GitLab job payloads: checks the fields lunar relies on, with messages that
-- say which field is wrong and what was expected, and builds the read-only
-- `job` value that policies receive.
--
-- job fields: id, name, stage, ref, sha, before_sha, ref_type, tag (bool),
-- project = { id, name, path, namespace, root_namespace, url }, pipeline_id,
-- variables (name -> value, last occurrence wins), variable (name -> full
-- record {key, value, public, masked, file, raw}), image = { name,
-- entrypoint, pull_policy, ... }, services (list of image objects), timeout
-- (seconds), payload (the whole payload).
local lunar = require "lunar"
local readonly = require "lunar.readonly"
local T = require "lunar.types"

local M = {}

-- The shape of the payload fields lunar reads. Every field is checked where
-- it is, and a message names its path with JSON's 0-based indices
-- (`steps[0].script`, `services[1].variables[0].value`). Fields lunar does
-- not read are not checked (GitLab adds fields over time). JSON null is
-- accepted where a field is optional only when noted (`nullable`).
local null = lunar.json.null

local function describe(v)
  if v == null then return "null" end
  if type(v) == "table" and next(v) ~= nil and T.is_list(v) then return "a list" end
  return T.describe(v)
end
M.describe = describe

-- opts.closed: the keys are the only ones allowed (the text lists them)
local function obj(fields, opts)
  opts = opts or {}
  return { kind = "object", fields = fields, closed = opts.closed }
end
local function list(of) return { kind = "list", of = of } end
local function one_of(...) return { kind = "any", of = { ... } } end
local STR = { kind = "string" }
local INT = { kind = "integer" }
local BOOL = { kind = "boolean" }
local STRS = list(STR)
local function req(t) return { req = true, t = t } end
local function opt(t) return { req = false, t = t } end
local function nullable(t) return { req = false, null = true, t = t } end

-- Kubernetes and the stage scripts need integers that fit: a job timeout
-- beyond a year, or a port beyond 65535, is refused.
local MAX_TIMEOUT = 366 * 24 * 3600
local function int_range(lo, hi, what)
  return { kind = "integer", lo = lo, hi = hi, what = what }
end

local DATA = { kind = "string", nul = true } -- a value that may hold any byte
local VARIABLE = obj {
  key = req(STR), value = nullable(DATA), public = nullable(BOOL), masked = nullable(BOOL),
  file = nullable(BOOL), raw = nullable(BOOL),
}
local PORT = obj { number = req(int_range(1, 65535, "a port number")), protocol = nullable(STR), name = nullable(STR) }
local IMAGE = obj {
  name = nullable(STR), alias = nullable(STR), entrypoint = nullable(STRS), command = nullable(STRS),
  ports = nullable(list(PORT)), variables = nullable(list(VARIABLE)), pull_policy = nullable(one_of(STR, STRS)),
  executor_opts = nullable(obj({
    docker = nullable(obj {}),
    kubernetes = nullable(obj({ user = nullable(one_of(STR, INT)) }, { closed = "user" })),
  }, { closed = "docker, kubernetes" })),
}
local STEP = obj { name = req(STR), script = req(STRS), timeout = nullable(INT), when = nullable(STR),
  allow_failure = nullable(BOOL) }

local PAYLOAD = obj {
  id = req(INT),
  token = req(STR),
  allow_git_fetch = nullable(BOOL),
  job_info = req(obj {
    id = nullable(INT), name = nullable(STR), stage = nullable(STR), project_id = req(INT),
    project_name = nullable(STR), project_full_path = nullable(STR), pipeline_id = nullable(INT),
    namespace_id = nullable(INT), root_namespace_id = nullable(INT), user_id = nullable(INT),
  }),
  git_info = req(obj {
    repo_url = nullable(STR), repo_object_format = nullable(STR), ref = nullable(STR), sha = req(STR),
    before_sha = nullable(STR), ref_type = nullable(STR), refspecs = nullable(STRS),
    depth = nullable(int_range(0, 2 ^ 31 - 1, "a depth")), protected = nullable(BOOL),
  }),
  runner_info = nullable(obj { timeout = nullable(int_range(0, MAX_TIMEOUT, "a timeout in seconds (at most a year)")) }),
  variables = nullable(list(VARIABLE)),
  steps = nullable(list(STEP)),
  hooks = nullable(list(obj { name = req(STR), script = req(STRS) })),
  image = nullable(IMAGE),
  services = nullable(list(IMAGE)),
  artifacts = nullable(list(obj {
    name = nullable(STR), untracked = nullable(BOOL), paths = nullable(STRS), exclude = nullable(STRS),
    when = nullable(STR), artifact_type = nullable(STR), artifact_format = nullable(STR), expire_in = nullable(STR),
  })),
  cache = nullable(list(obj {
    key = nullable(STR), untracked = nullable(BOOL), policy = nullable(STR), paths = nullable(STRS),
    when = nullable(STR), fallback_keys = nullable(STRS),
  })),
  credentials = nullable(list(obj { type = req(STR), url = req(STR), username = req(STR), password = req(STR) })),
  dependencies = nullable(list(obj {
    id = req(INT), name = nullable(STR), token = nullable(STR),
    artifacts_file = nullable(obj { filename = nullable(STR), size = nullable(INT) }),
  })),
}

local KIND_TEXT = {
  string = "a string", integer = "an integer", boolean = "a boolean", object = "an object", list = "a list",
}

local function kind_of(t)
  if t.kind == "any" then
    local names = {}
    for _, x in ipairs(t.of) do names[#names + 1] = KIND_TEXT[x.kind] end
    return table.concat(names, " or ")
  end
  return t.what or KIND_TEXT[t.kind]
end

-- compile(t) -> check(v): nil, or where, message for the first field that
-- does not match. `where` lists the steps from the field up to `v` (a key,
-- or a 0-based list index): the path is only spelled out for a message
-- (M.validate), so a valid payload costs no string work. Each shape becomes
-- a closure once, at load.
local compile

local function compile_object(t)
  -- fields in a fixed order, so that the first error is stable
  local names = {}
  for name in pairs(t.fields) do names[#names + 1] = name end
  table.sort(names)
  local n, checks, required, nullok, kinds = #names, {}, {}, {}, {}
  for i, name in ipairs(names) do
    local f = t.fields[name]
    checks[i], required[i], nullok[i], kinds[i] = compile(f.t), f.req, f.null, kind_of(f.t)
  end
  local fields, closed = t.fields, t.closed
  return function(v)
    if type(v) ~= "table" or (next(v) ~= nil and T.is_list(v)) then
      return {}, "expected an object, got " .. describe(v)
    end
    if closed then
      for key in pairs(v) do
        if not fields[key] then
          return {}, string.format("unsupported key %q (supported: %s)", tostring(key), closed)
        end
      end
    end
    for i = 1, n do
      local name = names[i]
      local x = v[name]
      if x == nil then
        if required[i] then return { name }, "missing (a GitLab job payload has it; see POST /api/v4/jobs/request)" end
      elseif x == null then
        if not nullok[i] then return { name }, string.format("expected %s, got null", kinds[i]) end
        v[name] = nil -- an optional field sent as null is an absent one
      else
        local where, m = checks[i](x)
        if where then
          where[#where + 1] = name
          return where, m
        end
      end
    end
  end
end

function compile(t)
  local k = t.kind
  if k == "object" then return compile_object(t) end
  if k == "list" then
    local item = compile(t.of)
    return function(v)
      if type(v) ~= "table" or (next(v) ~= nil and not T.is_list(v)) then
        return {}, "expected a list, got " .. describe(v)
      end
      for i = 1, #v do
        local where, m = item(v[i])
        if where then
          where[#where + 1] = i - 1
          return where, m
        end
      end
    end
  end
  if k == "any" then
    local alternatives = {}
    for i, x in ipairs(t.of) do alternatives[i] = compile(x) end
    local text = kind_of(t)
    return function(v)
      for _, alt in ipairs(alternatives) do
        if not alt(v) then return nil end
      end
      return {}, string.format("expected %s, got %s", text, describe(v))
    end
  end
  if k == "string" then
    local nul = t.nul
    return function(v)
      if type(v) ~= "string" then return {}, "expected a string, got " .. describe(v) end
      if not nul and v:find("\0", 1, true) then return {}, "contains a NUL byte" end
    end
  end
  if k == "boolean" then
    return function(v)
      if type(v) ~= "boolean" then return {}, "expected a boolean, got " .. describe(v) end
    end
  end
  assert(k == "integer", k)
  local lo, hi, text = t.lo, t.hi, kind_of(t)
  return function(v)
    if math.type(v) ~= "integer" then
      if math.type(v) == "float" and v == math.floor(v) and v > -2 ^ 63 and v < 2 ^ 63 then
        v = math.tointeger(v)
      else
        return {}, string.format("expected %s, got %s", text, describe(v))
      end
    end
    if (lo and v < lo) or (hi and v > hi) then
      return {}, string.format("expected %s, got %d (out of range %d..%d)", text, v, lo, hi)
    end
  end
end

local check_payload = compile(PAYLOAD)

-- The path of a field from check's steps: `steps[0].script`.
local function spell(where)
  local path = ""
  for i = #where, 1, -1 do
    local step = where[i]
    if math.type(step) == "integer" then
      path = string.format("%s[%d]", path, step)
    else
      path = path == "" and step or (path .. "." .. step)
    end
  end
  return path
end


-- Returns nil, or a message naming the first malformed field.
function M.validate(payload, name)
  name = name or "job payload"
  if type(payload) ~= "table" then return name .. ": expected a JSON object, got " .. describe(payload) end
  local where, msg = check_payload(payload)
  if where then
    local p = spell(where)
    if p == "" then return string.format("%s: %s", name, msg) end
    if msg:sub(1, 8) == "missing " then return string.format("%s: missing field %s %s", name, p, msg:sub(9)) end
    return string.format("%s: field %s: %s", name, p, msg)
  end
  for i, var in ipairs(payload.variables or {}) do
    if var.key == "" then return string.format("%s: field variables[%d].key: is empty", name, i - 1) end
  end
  if #payload.git_info.sha < 8 then
    return string.format("%s: field git_info.sha: %q is shorter than 8 characters", name, payload.git_info.sha)
  end
end

-- The read-only job value policies receive.
function M.view(payload)
  local vars, records = {}, {}
  for _, var in ipairs(payload.variables or {}) do
    vars[var.key] = var.value or ""
    records[var.key] = var
  end
  local info, git = payload.job_info or {}, payload.git_info or {}
  local path = info.project_full_path or ""
  local timeout = payload.runner_info and payload.runner_info.timeout or 0
  if math.type(timeout) ~= "integer" or timeout <= 0 then timeout = 7200 end
  local job = {
    id = payload.id,
    name = info.name,
    stage = info.stage,
    pipeline_id = info.pipeline_id,
    ref = git.ref,
    ref_type = git.ref_type,
    tag = git.ref_type == "tag",
    sha = git.sha,
    before_sha = git.before_sha,
    project = {
      id = info.project_id,
      name = info.project_name,
      path = path,
      namespace = path:match("^(.*)/[^/]+$") or vars.CI_PROJECT_NAMESPACE,
      root_namespace = path:match("^([^/]+)/") or vars.CI_PROJECT_ROOT_NAMESPACE,
      url = vars.CI_PROJECT_URL,
    },
    variables = vars,
    variable = records,
    image = payload.image or {},
    services = payload.services or {},
    timeout = timeout,
    payload = payload,
  }
  return readonly.view(job, "lunar.job")
end

return M
