-- Reading files lunar is pointed at (payloads, patch files, token files, CA
-- bundles): read(path) -> contents | nil, message (the message names the path).
local M = {}

function M.read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  return text
end

return M
