-- Issue 10.8/10.9: an artifact with a plot is interrupted while gnuplot draws
-- (exit 130/143, previous artifact intact, no temporary file, no process
-- left), fails cleanly when gnuplot fails, and two runs writing the same
-- artifact into one directory never mix their files.
local qsl = require "qsl"

local function put(path, s)
  local f = assert(io.open(path, "w")); f:write(s); f:close()
end
local function poll(what, cond, ms)
  assert(qsl.measure.poll(ms, cond), "timed out waiting for " .. what)
end

-- a scenario that writes artifact `x` with a plot, tagged with its `mark` parameter
local SCRIPT = [[
local artifact = require "qsl.artifact"
local s = require("qsl.scenario").new{ name = "x", description = "plot writer", params = {
  { name = "mark", type = "string", default = "m", help = "text to find in both files" },
  { name = "times", type = "integer", default = 1, help = "writes", min = 1, max = 100 } } }
local p = s:parse(arg)
for i = 1, p.times do
  local art = artifact.new{ name = "x", scenario = s }
  art:text("mark " .. p.mark .. " " .. i)
  art:set("mark", p.mark .. " " .. i)
  art:plot{ title = "t", series = { { name = "s", points = { { 1, 2 }, { 2, 3 } } } } }
  art:write()
end
]]

local dir = scratch()
local script = dir .. "/writer.lua"
put(script, SCRIPT)
local bin = scratch()

-- 1. interrupted while gnuplot draws
put(bin .. "/gnuplot", "#!/bin/sh\n: > \"$QSL_FAKE_STARTED\"\nexec sleep 30\n")
assert(os.execute("chmod +x " .. bin .. "/gnuplot"))
for _, sig in ipairs{ "INT", "TERM" } do
  local out = scratch()
  put(out .. "/x.txt", "previous artifact\n")
  local started = out .. ".started"
  local p <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, script, "out=" .. out },
    env = { PATH = bin .. ":" .. os.getenv("PATH"), QSL_FAKE_STARTED = started } })
  poll("gnuplot to start", function() return read(started) ~= nil or not p:running() end, 10000)
  assert(p:running(), "the run ended before gnuplot: " .. p:errors())
  local t0 = qsl.clock.now_ns()
  assert(p:signal(sig))
  local st = assert(p:wait(5000))
  local want = sig == "INT" and 130 or 143
  assert(st.code == want, sig .. ": exit " .. tostring(st.code) .. " " .. p:errors())
  assert((qsl.clock.now_ns() - t0) < 1.5e9, sig .. ": slow to stop")
  assert(read(out .. "/x.txt") == "previous artifact\n", sig .. ": the previous artifact changed")
  assert(ls(out) == "x.txt\n", sig .. ": files left: " .. ls(out))
  os.remove(started)
end

-- 2. gnuplot fails (issue 21.2): the data is written all the same, the text says the plot
-- was not drawn, the run exits 1 naming the plot, the reason and the script it kept
put(bin .. "/gnuplot", "#!/bin/sh\necho 'line 3: bad plot' >&2\nexit 1\n")
do
  local out = scratch()
  local p <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, script, "out=" .. out },
    env = { PATH = bin .. ":" .. os.getenv("PATH") } })
  local st = assert(p:wait(20000))
  assert(st.code == 1, "exit " .. tostring(st.code))
  local err = p:errors()
  assert(err:find('plot "t": gnuplot failed (exit 1): line 3: bad plot', 1, true), err)
  local gp = err:match("kept: (%S+%.gp)")
  assert(gp and read(gp):find("plot '", 1, true), "the script named is there: " .. err)
  assert(read(out .. "/x.txt"):find("(plot not drawn: plot \"t\": gnuplot failed", 1, true))
  assert(require("cjson").decode(read(out .. "/x.json")).results.mark == "m 1")
  local temps = ls(out):gsub("%.x%.lock\n", ""):gsub("%.x%.plot%.[%d.]+%.gp\n", "")
                       :gsub("%.x%.plot%.[%d.]+%.p1%.s1%.dat\n", "")
  assert(temps == "x.json\nx.txt\n", "files: " .. ls(out))
end

-- 2b. a plot with no points (plot_rows over no rows) is not drawn, and costs no data
do
  local out = scratch()
  local empty = dir .. "/empty.lua"
  put(empty, [[
local s = require("qsl.scenario").new{ name = "e", description = "empty plot", params = {} }
s:parse(arg)
local art = require("qsl.artifact").new{ name = "e", scenario = s }
art:table{ title = "none", columns = { "a", "b %.1f" }, rows = {} }
art:plot_rows{ title = "nothing to draw", rows = {}, x = "a", y = "b" }
art:write()
]])
  local p <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, empty, "out=" .. out } })
  local st = assert(p:wait(20000))
  assert(st.code == 0, "exit " .. tostring(st.code) .. " " .. p:errors())
  assert(read(out .. "/e.txt"):find('(plot "nothing to draw" not drawn: no points)', 1, true))
  assert(read(out .. "/e.json"))
end

-- 2c. a column declared as a positional table is refused where it is declared, before
-- any trial, naming the table, the column and the forms that work (issue 21.2, 27)
do
  local artifact = require "qsl.artifact"
  local art = artifact.new{ name = "y" }
  local e = error_of(art.table, art, { title = "T", columns = { "a", { "b", "b_label", "%.1f" } }, rows = {} })
  assert(e:find('table "T", column 2: {"b", "b_label", "%.1f"} is a positional table', 1, true), e)
  assert(e:find('{key = "b", label = ..., format = ...}', 1, true), e)
  e = error_of(art.table, art, { title = "T", columns = { { key = "a", lable = "A" } }, rows = {} })
  assert(e:find('unknown name "lable"', 1, true), e)
  e = error_of(art.table, art, { title = "T", columns = { "a %.1q" }, rows = {} })
  assert(e:find("must print one number", 1, true), e)
  e = error_of(art.spread, art, { title = "S", rows = {}, fields = { { "x", "%.1f" } } })
  assert(e:find('spread "S", field 1', 1, true), e)
end

-- 3. two runs write the same artifact at once, many times: each final pair is one run's
do
  local out = scratch()
  local a <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, script, "out=" .. out, "mark=A", "times=15" } })
  local b <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, script, "out=" .. out, "mark=B", "times=15" } })
  local sa, sb = assert(a:wait(60000)), assert(b:wait(60000))
  assert(sa.code == 0, "A: " .. a:errors())
  assert(sb.code == 0, "B: " .. b:errors())
  local txt = read(out .. "/x.txt")
  local json = require("cjson").decode(read(out .. "/x.json"))
  local mark = txt:match("mark (%a %d+)")
  assert(mark and mark == json.results.mark, ("txt says %s, json says %s"):format(tostring(mark), json.results.mark))
  local left = ls(out):gsub("%.x%.lock\n", "")
  assert(left == "x.json\nx.svg\nx.txt\n" or left == "x.json\nx.txt\n", "files: " .. left)
end
