-- The Lua half of the `lunar` module: loaded by luaopen_lunar, it adds the
-- configuration DSL and the renderer to the C library table.
local lunar = require "lunar"

lunar.runner = function(...) return require("lunar.config").runner(...) end
lunar.render = function(...) return require("lunar.render").render(...) end

return lunar
