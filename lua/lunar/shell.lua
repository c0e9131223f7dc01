-- POSIX shell text: quoting and the few printing idioms of the stage scripts.
--
-- Everything that comes from a job (variable values, ref names, paths, cache
-- keys, artifact names, ...) reaches a script only through M.quote, so it is
-- one shell word that the shell never expands: no `$(...)`, backticks,
-- globbing, field splitting or word ending at `;` or a newline.
local M = {}

-- Words that need no quotes: no shell metacharacter, no `=` (a first word
-- with `=` would be an assignment), no `~` (tilde expansion).
local BARE = "^[%w_%-%./:,+@%%]+$"

-- s -> one shell word with the exact bytes of s. NUL cannot be passed to a
-- shell at all and is dropped.
function M.quote(s)
  s = tostring(s)
  if s:find("\0", 1, true) then s = s:gsub("%z", "") end
  if s:match(BARE) then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- { "a", "b c" } -> "a 'b c'"
function M.words(list)
  local out = {}
  for i, w in ipairs(list) do out[i] = M.quote(w) end
  return table.concat(out, " ")
end

-- A valid shell (and environment) variable name.
function M.is_name(s)
  return type(s) == "string" and s:match("^[A-Za-z_][A-Za-z0-9_]*$") ~= nil
end

-- Whitespace-separated fields, as Go's strings.Fields (GIT_CLEAN_FLAGS, ...).
function M.fields(s)
  local out = {}
  for w in tostring(s or ""):gmatch("%S+") do out[#out + 1] = w end
  return out
end

-- Lines that print a message in GitLab's colours; the text is data.
local COLOURS = {
  plain = nil,
  notice = "\\033[32;1m",  -- bold green: notices and `$ command` echoes
  warning = "\\033[0;33m", -- yellow
  error = "\\033[31;1m",   -- bold red
}

function M.say(kind, text)
  local colour = COLOURS[kind]
  if not colour then return "printf '%s\\n' " .. M.quote(text) end
  return "printf '" .. colour .. "%s\\033[0;m\\n' " .. M.quote(text)
end

function M.notice(text) return M.say("notice", text) end
function M.warning(text) return M.say("warning", text) end
function M.error(text) return M.say("error", text) end

-- Kubernetes expands $(VAR) in env values and container commands and turns
-- $$ into $: doubling every $ keeps a text exactly as written.
function M.kube_escape(s) return (s:gsub("%$", "$$")) end

return M
