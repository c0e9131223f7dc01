local M = {}
function M.main(args)
  io.stderr:write("lunar: no commands yet\n")
  return 1
end
return M
