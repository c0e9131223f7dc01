-- GitLab Runner settings that lunar accepts under their TOML names but does
-- not use, and why: one row per setting. A setting accepted with no effect
-- would be a lie, so each row either refuses the setting at load (it cannot
-- mean what it says here) or warns once at load (lunar does what the setting
-- is for by other means, so the value changes nothing).
--
--   action = "refuse" | "warn"
--   why    = the reason, as the message ends
--   inert  = a value that means "off" in GitLab Runner too: no message then
local M = {}

M.settings = {
  ["kubernetes.namespace_per_job"] = {
    action = "refuse", inert = false,
    why = "lunar follows all its Pods with one watch in one namespace and does not create "
      .. "namespaces; set kubernetes.namespace (or allow KUBERNETES_NAMESPACE_OVERWRITE)",
  },
  ["kubernetes.poll_interval"] = {
    action = "warn",
    why = "lunar follows the Pod through one watch instead of polling its status, so there is no "
      .. "poll period; kubernetes.poll_timeout still bounds how long a Pod may take to start",
  },
}

-- Applies the rows to the runner table `t`: calls fail(path, message) for
-- each refused setting, and writes one line per warned setting to stderr
-- ("runner.lua:12: kubernetes.poll_interval: warning: ..."), `locate(path)`
-- giving "file:line". Returns the warnings written.
function M.check(t, fail, locate)
  local warnings = {}
  local paths = {}
  for path in pairs(M.settings) do paths[#paths + 1] = path end
  table.sort(paths)
  for _, path in ipairs(paths) do
    local row = M.settings[path]
    local v = t
    for key in path:gmatch("[^.]+") do v = type(v) == "table" and v[key] or nil end
    if v ~= nil and v ~= row.inert then
      if row.action == "refuse" then
        fail(path, "lunar does not support this setting: " .. row.why)
      else
        local line = string.format("%s: %s: warning: has no effect in lunar: %s", locate(path), path, row.why)
        warnings[#warnings + 1] = line
        io.stderr:write(line, "\n")
      end
    end
  end
  return warnings
end

return M
