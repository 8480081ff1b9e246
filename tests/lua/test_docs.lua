-- Every ```lua block of docs/writing-scenarios.md runs as a scenario and writes its artifact.
local qsl = require "qsl"

local f = assert(io.open("docs/writing-scenarios.md"))
local text = f:read("a")
f:close()
local n = 0
for block in text:gmatch("```lua\n(.-)```") do
  n = n + 1
  test("writing-scenarios.md block " .. n, function()
    local dir = scratch()
    local path = dir .. "/example.lua"
    local w = assert(io.open(path, "w"))
    w:write(block)
    w:close()
    local p <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, path, "out=" .. dir } })
    local st = assert(p:wait(120000))
    local h = io.popen("ls " .. dir)
    local files = h:read("a")
    h:close()
    assert(st.code == 0, ("block %d: exit %s: %s"):format(n, tostring(st.code), p:errors()))
    assert(files:find("%.json"), ("block %d wrote no artifact: %s"):format(n, files))
  end)
end
assert(n >= 3, "the code blocks of docs/writing-scenarios.md were not found")
