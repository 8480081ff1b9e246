-- qsl-run show and compare: tables read back from the JSON, ratios to the first
-- file checked against values computed by hand, provenance differences warned,
-- artifacts of other scenarios or other schemas refused with the reason.
local qsl = require "qsl"
local cjson = require "cjson"

local tmp = scratch()

local function qsl_run(...)
  local p <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, ... } })
  local st = assert(p:wait(30000))
  return st.code, p:output(), p:errors()
end

-- a scenario whose numbers are known: loss 10, 30, 20 (x scale) at 4 KiB, 5 at 8 KiB
local script = tmp .. "/known.lua"
local f = assert(io.open(script, "w"))
f:write([[
local s = require("qsl.scenario").new{ name = "known", description = "known numbers", params = {
  { "scale", "integer", 1, "multiplies every loss", min = 1, max = 1000 },
  { "extra", "boolean", false, "a 16 KiB row" } } }
local p = s:parse(arg)
local art = s:artifact()
local rows = { { size = "4 KiB", loss = 10 * p.scale }, { size = "4 KiB", loss = 30 * p.scale },
               { size = "4 KiB", loss = 20 * p.scale }, { size = "8 KiB", loss = 5 } }
if p.extra then rows[#rows + 1] = { size = "16 KiB", loss = 1 } end
art:table{ title = "every trial", rows = rows, columns = { "size", "loss" } }
art:spread{ title = "loss over trials", main = true, rows = rows, by = "size", fields = { "loss %.1f" } }
art:set("trials", rows)
art:write()
]])
f:close()

-- an artifact document written back as JSON (a run's artifact, edited): its path
local function write_doc(name, doc)
  local path = tmp .. "/" .. name .. ".json"
  local g = assert(io.open(path, "w"))
  g:write(cjson.encode(doc))
  g:close()
  return path
end

local function run_known(name, ...)
  local c, _, e = qsl_run(script, "out=" .. tmp .. "/" .. name, "--quiet", ...)
  assert(c == 0, e)
  return tmp .. "/" .. name .. "/known.json"
end
local a = run_known("a")
local b = run_known("b", "scale=3")
local c3 = run_known("c", "extra=true")

test("show prints the main tables read back from the JSON", function()
  local c, o, e = qsl_run("show", a)
  assert(c == 0, e)
  assert(o:find("loss over trials", 1, true) and not o:find("every trial", 1, true), o)
  assert(o:find("4 KiB%s+3%s+10.0%s+20.0%s+30.0"), o)
end)

test("compare: values side by side, B/A computed by hand", function()
  local c, o, e = qsl_run("compare", a, b)
  assert(c == 0, e)
  -- 4 KiB: min 10 -> 30, median 20 -> 60, max 30 -> 90: 3.000; trials 3 -> 3: 1.000
  assert(o:find("4 KiB%s+trials%s+3%s+3%s+1%.000"), o)
  assert(o:find("4 KiB%s+loss min%s+10%.0%s+30%.0%s+3%.000"), o)
  assert(o:find("4 KiB%s+loss median%s+20%.0%s+60%.0%s+3%.000"), o)
  assert(o:find("8 KiB%s+loss max%s+5%.0%s+5%.0%s+1%.000"), o)
  assert(o:find("warning: parameter scale differs: 1 in " .. a .. ", 3 in " .. b, 1, true), o)
  -- a row only in C: absent from the table of A's rows; a row only in A would show "-"
  c, o = qsl_run("compare", c3, a)
  assert(c == 0 and o:find("16 KiB%s+loss min%s+1%.0%s+-%s+-"), o)
end)

test("compare --csv: one line per value, full precision", function()
  local c, o = qsl_run("compare", "--csv", a, b)
  assert(c == 0, o)
  assert(o:find("table,row,column," .. a .. "," .. b .. ",B/A,B mark", 1, true), o)
  assert(o:find("loss over trials,4 KiB,loss median,20,60,3,noise\n", 1, true), o)
  assert(o:find("loss over trials,4 KiB,loss min,10,30,3,\n", 1, true), o)   -- no mark: not a median
end)

-- issue 27: a ratio is marked a change only when the runs' per-trial ranges do not overlap
-- (known numbers: A's losses 10, 20, 30 at 4 KiB; scale=3 gives 30, 60, 90, touching A's
-- range at 30: noise, though the median tripled; scale=10 gives 100-300: a change; the
-- 8 KiB row, 5 in both, is noise at a ratio of 1)
test("compare marks a median as a change only beyond the runs' ranges", function()
  local d = run_known("d", "scale=10")
  local c, o, e = qsl_run("compare", a, b)
  assert(c == 0, e)
  assert(o:find("4 KiB%s+loss median%s+20%.0%s+60%.0%s+3%.000%s+noise"), o)
  assert(o:find("change: the per-trial ranges (min-max) do not overlap", 1, true), o)
  c, o, e = qsl_run("compare", a, d)
  assert(c == 0, e)
  assert(o:find("4 KiB%s+loss median%s+20%.0%s+200%.0%s+10%.000%s+change"), o)
  assert(o:find("8 KiB%s+loss median%s+5%.0%s+5%.0%s+1%.000%s+noise"), o)
  c, o = qsl_run("compare", "--csv", a, d)
  assert(o:find("loss over trials,4 KiB,loss median,20,200,10,change\n", 1, true), o)
end)

-- a median shown without its range (a table of medians only) gets no mark, and no error
test("compare leaves a median without its range unmarked", function()
  local doc = cjson.decode(assert(io.open(a)):read("a"))
  local t = doc.tables[2]
  local cols = {}
  for _, c in ipairs(t.columns) do
    if not c.key:match("_min$") and not c.key:match("_max$") then cols[#cols + 1] = c end
  end
  t.columns = cols
  for _, r in ipairs(t.rows) do r.loss_min, r.loss_max = nil, nil end
  local path = write_doc("medians", doc)
  local c, o, e = qsl_run("compare", path, path)
  assert(c == 0, e)
  assert(o:find("4 KiB%s+loss median%s+20%.0%s+20%.0%s+1%.000\n"), o)
end)

-- issue 27: a table whose columns changed between the runs is compared on the columns they
-- share, with what changed said above it, not skipped
test("compare shows a table whose columns changed, saying which", function()
  local doc = cjson.decode(assert(io.open(a)):read("a"))
  local t = doc.tables[2]
  t.columns[#t.columns + 1] = { key = "extra", label = "extra" }
  for _, r in ipairs(t.rows) do r.extra = 1 end
  local path = write_doc("more", doc)
  local c, o, e = qsl_run("compare", a, path)
  assert(c == 0, e)
  assert(o:find('its columns changed in ' .. path .. ': only in this run: extra; the others are compared', 1, true), o)
  assert(o:find("4 KiB%s+loss median%s+20%.0%s+20%.0%s+1%.000"), o)
end)

test("compare warns for every provenance field that differs", function()
  local doc = cjson.decode(assert(io.open(b)):read("a"))
  doc.provenance.kernel = "5.10.0-other"
  doc.provenance.sysctls["net.core.rmem_max"] = "123457"  -- a value no machine here has
  doc.provenance.git.dirty = not doc.provenance.git.dirty
  local other = tmp .. "/other.json"
  local g = assert(io.open(other, "w"))
  g:write(cjson.encode(doc))
  g:close()
  local c, o = qsl_run("compare", a, other)
  assert(c == 0, o)
  assert(o:find("warning: kernel differs: ", 1, true) and o:find("5.10.0-other in " .. other, 1, true), o)
  assert(o:find("warning: sysctl net.core.rmem_max differs", 1, true), o)
  assert(o:find("warning: dirty tree differs", 1, true), o)
end)

test("compare refuses other scenarios, old and newer schemas, with the reason", function()
  local ef = tmp .. "/ef"
  local c, _, e = qsl_run("engine_flow", "orders=2000", "trials=1", "out=" .. ef, "--quiet")
  assert(c == 0, e)
  c, _, e = qsl_run("compare", a, ef .. "/engine_flow.json")
  assert(c == 1 and e:find("is from scenario known, " .. ef .. "/engine_flow.json from scenario " ..
                           "engine_flow: compare takes runs of one scenario", 1, true), e)
  local doc = cjson.decode(assert(io.open(a)):read("a"))
  for _, case in ipairs{ { nil, "older than artifact schemas" }, { 99, "artifact schema 99, this qsl-run reads schema 1" } } do
    doc.schema = case[1]
    local path = write_doc("schema", doc)
    c, _, e = qsl_run("compare", a, path)
    assert(c == 1 and e:find(case[2], 1, true), e)
  end
  c, _, e = qsl_run("show", "/nonexistent.json")
  assert(c == 1 and e:find("/nonexistent.json", 1, true), e)
  c, _, e = qsl_run("compare", a)
  assert(c == 1 and e:find("usage: qsl-run compare", 1, true), e)
end)


-- issue 21.4: a main table whose key does not identify a row is refused by name, never
-- paired silently; a declared key = {...} makes it comparable
test("compare refuses a key that two rows share, and takes a declared key", function()
  local dup = tmp .. "/dup.lua"
  local g = assert(io.open(dup, "w"))
  g:write([[
local s = require("qsl.scenario").new{ name = "dup", description = "rows a key cannot tell apart",
  params = { { "keyed", "boolean", false, "declare key = {mode, clients}" } } }
local p = s:parse(arg)
local art = s:artifact()
art:table{ title = "ratios", main = true, key = p.keyed and { "mode", "clients" } or nil,
  rows = { { mode = "io_uring", clients = 1, ratio = 1.0 }, { mode = "io_uring", clients = 16, ratio = 2.0 } },
  columns = { "mode", "clients", "ratio %.2f" } }
art:write()
]])
  g:close()
  for _, run in ipairs{ { "x", "keyed=false" }, { "y", "keyed=false" }, { "kx", "keyed=true" },
                        { "ky", "keyed=true" } } do
    local c, _, e = qsl_run(dup, "out=" .. tmp .. "/" .. run[1], "--quiet", run[2])
    assert(c == 0, e)
  end
  local c, o, e = qsl_run("compare", tmp .. "/x/dup.json", tmp .. "/y/dup.json")
  assert(c == 1, o)
  assert(e:find('table "ratios": key (mode) does not identify a row: rows 1 and 2 are both "io_uring"',
                1, true), e)
  c, o, e = qsl_run("compare", tmp .. "/kx/dup.json", tmp .. "/ky/dup.json")
  assert(c == 0, e)
  assert(o:find("io_uring%s+16%s+ratio%s+2%.00%s+2%.00%s+1%.000"), o)
end)
