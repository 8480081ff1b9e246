-- Parameter declarations and overrides; artifact refusal, atomicity and provenance.
local scenario = require "qsl.scenario"
local artifact = require "qsl.artifact"

local function declare()
  return scenario.new{ name = "t", description = "test", params = {
    { name = "n", type = "integer", default = 4, min = 1, max = 10, help = "count" },
    { name = "sizes", type = "integer_list", default = { 2048, 0 }, help = "sizes", min = 0,
      max = 1 << 30 },
    { name = "mode", type = "enum", values = { "burst", "sweep" }, default = "burst", help = "m" },
    { name = "rate", type = "number", default = 1.5, help = "r", min = 0, max = 1e9 },
    { name = "on", type = "boolean", default = false, help = "b" } } }
end

test("defaults and overrides", function()
  local s = declare()
  local p = s:parse{}
  assert(p.n == 4 and p.sizes[2] == 0 and p.mode == "burst" and p.out == "results/runs")
  p = s:parse{ "n=7", "sizes=1,2,3", "mode=sweep", "rate=2e3", "on=true" }
  assert(p.n == 7 and #p.sizes == 3 and p.mode == "sweep" and p.rate == 2000 and p.on)
  assert(s:help():find("sizes", 1, true))
end)

test("a bad override names the parameter", function()
  for _, case in ipairs{
    { "nn=3", "unknown parameter 'nn'" },
    { "n=3.5", "parameter n=3.5: expected an integer" },
    { "n=11", "parameter n=11: must be at most 10" },
    { "n=0", "parameter n=0: must be at least 1" },
    { "sizes=1,,2", "parameter sizes=1,,2: empty element" },
    { "sizes=1,x", "parameter sizes=1,x: element 'x': expected an integer" },
    { "mode=fast", "parameter mode=fast: expected one of burst, sweep" },
    { "rate=nan", "parameter rate=nan: expected a number" },
    { "on=maybe", "parameter on=maybe: expected true or false" },
    { "justaword", "argument 'justaword' is not key=value" },
  } do
    local s = declare()
    local msg = must_fail_with(case[2], s.parse, s, { case[1] })
    assert(msg:find("exit=1", 1, true), msg)
  end
  local s = declare()
  must_fail_with("given twice", s.parse, s, { "n=2", "n=3" })
  must_fail_with("unknown type 'int'", scenario.new, { name = "x", description = "y",
    params = { { name = "a", type = "int", help = "h" } } })
end)

test("stats: spread", function()
  local st = require "qsl.stats"
  local s = st.summary{ 5, 1, 3, 2, 4 }
  assert(s.n == 5 and s.min == 1 and s.median == 3 and s.max == 5 and s.mean == 3)
  assert(st.median{ 1, 2, 3, 4 } == 2.5)
  -- issue 21.19: a median prints as its column's values do
  local m = st.median{ 12296, 12298, 1, 99999 }
  assert(m == 12297 and math.type(m) == "integer", tostring(m))
  assert(math.type(st.median{ math.maxinteger, math.maxinteger - 2 }) == "integer")
  local art = require("qsl.artifact").new{ name = "m" }
  local text = require("qsl.artifact").render_table{ columns = { { key = "a" }, { key = "b" } },
    rows = { { a = st.median{ 12296, 12298 }, b = st.median{ 1, 2 } } } }
  assert(text:find("12297%s+1%.5\n") and not text:find("12297.0", 1, true), text)
  art:spread{ title = "s", rows = { { x = 12296 }, { x = 12298 } }, fields = { "x" } }
  text = require("qsl.artifact").render_table(art.sections[1].t)
  assert(text:find("x%s+12296%s+12297%s+12298"), text)
  assert(st.percentile({ 1, 2, 3, 4 }, 75) == 3 and st.percentile({ 1, 2, 3, 4 }, 100) == 4)
  assert(not pcall(st.summary, { 1, 0 / 0 }))
  must_fail_with("an empty list has no min, median or max", st.summary, {})
  -- a record without the field is named, not a list silently cut short at it
  must_fail_with("record 2 has no field 'loss'", st.column, { { loss = 1 }, { lose = 2 }, { loss = 3 } },
                 "loss")
  -- a spread of no rows (every trial failed) renders "-" so the run can be refused for its reasons
  local art = artifact.new{ name = "none" }
  local lines = art:spread{ title = "t", rows = {}, fields = { "loss" } }
  assert(#lines == 1 and lines[1].n == 0 and lines[1].median == nil)
end)


test("an artifact is written atomically, with its provenance", function()
  local dir = scratch()
  local a = artifact.new{ name = "demo" }
  a:table{ title = "T", columns = { { key = "x" }, { key = "y", format = "%.2f" } }, rows = { { x = 1, y = 2.5 } } }
  a:set("trials", { { x = 1, y = 2.5 } })
  a:caveat("loopback only")
  a:plot{ title = "p", xlabel = "x", ylabel = "y", series = { { name = "s", points = { { 1, 2 }, { 2, 3 } } } } }
  local paths = a:write{ dir = dir }
  local txt = read(dir .. "/demo.txt")
  assert(txt:find("loopback only", 1, true) and txt:find("2.50", 1, true))
  assert(txt:find("kernel", 1, true) and txt:find("git", 1, true))
  local doc = require("cjson").decode(read(dir .. "/demo.json"))
  assert(doc.results.trials[1].y == 2.5 and doc.provenance.kernel and doc.provenance.date_utc)
  -- where it ran: the machine, the OS by its own name, the tick /proc's CPU times count in
  local prov = doc.provenance
  local uname <close> = assert(io.popen("uname -m"))
  assert(prov.machine == uname:read("l"), prov.machine)
  assert(txt:find("\n  machine +" .. prov.machine) and txt:find("\n  clk_tck +%d+\n") and
         txt:find("\n  os +%S"), txt)
  assert(prov.os ~= "unknown" and prov.os:find("%a"), prov.os)
  assert(type(prov.clk_tck) == "number" and prov.clk_tck == math.floor(prov.clk_tck) and
         prov.clk_tck > 0, tostring(prov.clk_tck))
  assert(prov.strace ~= nil)
  if #paths == 3 then assert(read(dir .. "/demo.svg"):find("<svg", 1, true)) end
  assert(not ls(dir):find("tmp", 1, true), "temporary files left: " .. ls(dir))
end)

test("an invalid measurement refuses and keeps the old artifact", function()
  local dir = scratch()
  local f = io.open(dir .. "/demo.txt", "w")
  f:write("old artifact\n")
  f:close()
  local a = artifact.new{ name = "demo" }
  a:set("x", 1)
  a:invalid("trial 3: subscriber printed no result line")
  local msg = must_fail_with("trial 3: subscriber printed no result line", a.write, a, { dir = dir })
  assert(msg:find("exit=3", 1, true), msg)
  assert(read(dir .. "/demo.txt") == "old artifact\n")
  assert(ls(dir) == "demo.txt\n", "unexpected files: " .. ls(dir))
end)

test("an unwritable directory is an error naming the path", function()
  local a = artifact.new{ name = "demo" }
  local msg = must_fail_with("/nonexistent/results/demo.txt", a.write, a, { dir = "/nonexistent/results" })
  assert(msg:find("exit=1", 1, true), msg)
end)

test("a non-finite result is refused where it is set, naming the key", function()
  local a = artifact.new{ name = "demo" }
  must_fail_with("artifact:set rate is NaN", a.set, a, "rate", 0 / 0)
  must_fail_with("artifact:set rows[2].y is -inf", a.set, a, { rows = { { y = 1 }, { y = -1 / 0 } } })
  must_fail_with('table "t" rows[1].x is inf', a.table, a,
                 { title = "t", columns = { "x" }, rows = { { x = 1 / 0 } } })
  assert(a.data.rate == nil and a.data.rows == nil and #a.sections == 0)
end)

test("trials: a row each, an error refuses naming the trial, arguments pass through", function()
  local s = declare()
  s:parse{ "out=" .. scratch() }
  local art = s:artifact()
  local row = s:trial("sum", function(a, b) return { sum = a + b } end, 2, 3)
  assert(row.sum == 5)
  assert(s:trial("nothing", function() end) == true)
  local none, why = s:trial("bad", function(x) error("count off by " .. x, 0) end, 1)
  assert(none == nil and why == "count off by 1")
  local rows = s:trials(4, function(i)
    assert(i ~= 3, "third fails")
    return { v = i }
  end, { label = function(i) return "v" .. i end })
  assert(#rows == 2 and rows[2].trial == 2, "the run stops at the first failure")
  rows = s:trials(4, function(i)
    assert(i ~= 3, "third fails")
    return { v = i }
  end, { keep_going = true })
  assert(#rows == 3 and rows[3].trial == 4)
  local problems = table.concat(art.problems, "\n")
  assert(problems:find("bad: count off by 1", 1, true), problems)
  assert(problems:find("trial 3/4 (v3): ", 1, true), problems)
  assert(select(2, problems:gsub("third fails", "")) == 2, problems)
  must_fail_with("bad: count off by 1", art.write, art)
end)

test("grid: n rounds of every combination, first list outermost, every row returned", function()
  local s = declare()
  s:parse{ "out=" .. scratch() }
  local art = s:artifact()
  local seen = {}
  local rows = s:grid(2, { "a", "b" }, { 1, 2, 3 }, function(x, y)
    seen[#seen + 1] = x .. y
    return { x = x, y = y }
  end)
  assert(#rows == 12 and table.concat(seen, " ") == "a1 a2 a3 b1 b2 b3 a1 a2 a3 b1 b2 b3",
         table.concat(seen, " "))
  assert(rows[1].trial == 1 and rows[7].trial == 2 and rows[12].x == "b" and rows[12].y == 3)
  assert(#s:grid(3, {}, function() error("never called") end) == 0)
  assert(error_of(s.grid, s, 1, { 1 }):find("the last argument is fn", 1, true))
  seen = {}
  rows = s:grid(2, { 1, 2 }, function(x)
    seen[#seen + 1] = x
    assert(x ~= 2, "two fails")
    return { x = x }
  end)
  assert(#rows == 1 and #seen == 2, "the first failure stops the run")
  assert(art.problems[1]:find("trial 1/2 (2): ", 1, true), art.problems[1])
  must_fail_with("two fails", art.write, art)
end)

local qsl = require "qsl"

-- issue 21.20: a scenario outside any git tree still says what ran: qsl-run's own commit
-- (as --version gives it) and the scenario file's SHA-256
test("provenance names qsl-run's commit and the scenario's digest, wherever it lives", function()
  local dir = scratch()
  local script = dir .. "/outside.lua"
  local f = assert(io.open(script, "w"))
  f:write([[
local s = require("qsl.scenario").new{ name = "outside", description = "a scenario outside the tree",
  params = {} }
s:parse(arg)
local art = s:artifact()
art:set("x", 1)
art:write()
]])
  f:close()
  local p <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, script, "out=" .. dir, "--quiet" } })
  local st = assert(p:wait(20000))
  assert(st.code == 0, p:errors())
  local v <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, "--version" } })
  assert(v:wait(5000))
  local commit = v:output():match("commit ([%w%-]+)")
  local h <close> = assert(qsl.proc.spawn{ argv = { "sha256sum", script } })
  assert(h:wait(5000))
  local digest = h:output():match("^(%x+)")
  local doc = require("cjson").decode(read(dir .. "/outside.json"))
  assert(doc.provenance.git.commit:find("not a git checkout", 1, true), doc.provenance.git.commit)
  assert(commit and doc.provenance.qsl_run:find("commit " .. commit, 1, true), doc.provenance.qsl_run)
  assert(doc.provenance.scenario_sha256 == digest, doc.provenance.scenario_sha256)
  local txt = read(dir .. "/outside.txt")
  assert(txt:find("scenario_sha256 " .. digest, 1, true) and txt:find("commit " .. commit, 1, true), txt)
end)

-- issue 21.18: a user's runs (make demo's first) never overwrite the reference artifacts:
-- the default out is results/runs, which git ignores
test("a run's default output is kept apart from the reference artifacts", function()
  local s = require("qsl.scenario").new{ name = "d", description = "defaults", params = {} }
  local p = s:parse{ [0] = "d.lua" }
  assert(p.out == "results/runs", p.out)
  local g <close> = assert(qsl.proc.spawn{ argv = { "git", "check-ignore", "-q",
                                                     "results/runs/rcvbuf_burst.txt" } })
  local st = assert(g:wait(5000))
  if st.code == 128 then return end         -- not a git checkout (an installed copy)
  assert(st.code == 0, "results/runs/ is not ignored by git")
  local mk = assert(io.open("Makefile")):read("a")
  assert(mk:find("scenarios/rcvbuf_burst.lua out=results/runs", 1, true), "make demo writes elsewhere")
end)
