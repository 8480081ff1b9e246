-- qsl.temp: a temporary file path that removes itself when its variable is closed.
--   local out <close> = temp()    -- out.path; removed at scope end, on error too
return function()
  return setmetatable({ path = os.tmpname() }, { __close = function(t) os.remove(t.path) end })
end
