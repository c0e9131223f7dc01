-- Registry credentials of a job, for image pulls: the DOCKER_AUTH_CONFIG
-- variable first, then the payload's `credentials` of type registry (GitLab's
-- own registry and dependency proxy, with the job token). The first source
-- that names a registry wins, as in GitLab Runner. The result is the content
-- of a kubernetes.io/dockerconfigjson Secret entry (`.dockerconfigjson`).
local lunar = require "lunar"

local M = {}

-- dockerconfigjson(payload, values) -> JSON text, or nil when the job has no
-- credentials, plus a list of warnings. `values` maps variable names to values.
function M.dockerconfigjson(payload, values)
  local auths, order, warnings = {}, {}, {}
  local function add(server, username, password, auth)
    if type(server) ~= "string" or server == "" or auths[server] then return end
    if not auth and username and password then auth = lunar.util.base64(username .. ":" .. password) end
    if not auth then return end
    auths[server] = { username = username, password = password, auth = auth }
    order[#order + 1] = server
  end
  local text = values.DOCKER_AUTH_CONFIG
  if text and text ~= "" then
    local doc, err = lunar.json.decode(text, "DOCKER_AUTH_CONFIG")
    if type(doc) ~= "table" then
      warnings[#warnings + 1] = "DOCKER_AUTH_CONFIG is not valid JSON and was ignored: " .. tostring(err or "not an object")
    elseif type(doc.auths) == "table" then
      local servers = {}
      for server in pairs(doc.auths) do servers[#servers + 1] = server end
      table.sort(servers)
      for _, server in ipairs(servers) do
        local a = doc.auths[server]
        if type(a) == "table" then
          local auth = type(a.auth) == "string" and a.auth ~= "" and a.auth or nil
          add(server, type(a.username) == "string" and a.username or nil,
            type(a.password) == "string" and a.password or nil, auth)
        end
      end
    end
  end
  for _, cred in ipairs(payload.credentials or {}) do
    if type(cred) == "table" and cred.type == "registry" then add(cred.url, cred.username, cred.password) end
  end
  if #order == 0 then return nil, warnings end
  return assert(lunar.json.encode { auths = auths }), warnings
end

return M
