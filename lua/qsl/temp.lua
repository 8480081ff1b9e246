-- qsl.temp: a temporary file path that removes itself when its variable is closed.
--   local out <close> = temp()    -- out.path; removed at scope end, on error too
-- It lives in the run's directory (qsl.fs.run_dir), which goes with everything in it when
-- qsl-run ends however it ends: a SIGKILL leaves no file behind either.
local qsl = require "qsl"
local n = 0
return function()
  local dir = assert(qsl.fs.run_dir())
  n = n + 1
  local path = ("%s/temp.%d"):format(dir, n)
  assert(io.open(path, "w")):close()       -- as os.tmpname: the file exists, empty
  return setmetatable({ path = path }, { __close = function(t) os.remove(t.path) end })
end
