-- qsl-run as a daily tool: the summary on stdout, failing early (out, NaN, an
-- artifact never written), scenarios by name from any directory, "did you mean".
local qsl = require "qsl"
local cjson = require "cjson"

local tmp = scratch()

-- qsl-run with argv from directory cwd: code, stdout, stderr
local function qsl_run(cwd, env, ...)
  local argv = { "sh", "-c", 'cd "$0" && exec "$@"', cwd, QSL_RUN, ... }
  local p <close> = assert(qsl.proc.spawn{ argv = argv, env = env })
  local st = assert(p:wait(60000))
  return st.code, p:output(), p:errors()
end

local function script(name, body)
  local path = ("%s/%s.lua"):format(tmp, name)
  local f = assert(io.open(path, "w"))
  f:write(body)
  f:close()
  return path
end

local HEAD = [[local s = require("qsl.scenario").new{ name = "%s", description = "d", params = {} }
local p = s:parse(arg)
local art = s:artifact()
]]

test("a quick run prints its main tables with units, the caveats' place and the paths", function()
  local out = tmp .. "/quick"
  local c, o, e = qsl_run("/", nil, "engine_flow", "orders=2000", "trials=2", "out=" .. out)
  assert(c == 0, e)
  assert(o:find("Spread over trials (ns per order)", 1, true), o)
  assert(o:find("ns_per_order", 1, true) and o:find("median", 1, true), o)
  assert(not o:find("Per trial", 1, true), "a table not marked main was printed:\n" .. o)
  assert(o:find("caveat(s), parameters and provenance in " .. out .. "/engine_flow.txt", 1, true), o)
  assert(o:find("wrote " .. out .. "/engine_flow.txt, " .. out .. "/engine_flow.json", 1, true), o)
  c, o = qsl_run("/", nil, "engine_flow", "orders=2000", "trials=2", "out=" .. out, "--quiet")
  assert(c == 0 and o == "", o)
  c, o, e = qsl_run("/", nil, "engine_flow", "orders=2000", "trials=2", "out=" .. out, "--json")
  assert(c == 0, e)
  local doc = cjson.decode(o)
  assert(doc.name == "engine_flow" and #doc.results.trials == 2, o)
  assert(e:find("wrote " .. out, 1, true), e)
end)

test("progress: redrawn in place on a terminal, one line per trial in a log", function()
  local out = tmp .. "/progress"
  -- script(1) runs qsl-run on a pseudo-terminal: stdout and stderr both arrive here
  local cmd = ("%s engine_flow orders=2000 trials=3 out=%s"):format(QSL_RUN, out)
  local p <close> = assert(qsl.proc.spawn{ argv = { "script", "-qec", cmd, "/dev/null" } })
  local st = assert(p:wait(60000))
  local o = p:output()
  assert(st.code == 0, o .. p:errors())
  assert(o:find("\r\27[K[engine_flow] trial 1/3\r\27[K[engine_flow] trial 2/3", 1, true), o)
  assert(o:find("trial 3/3  ~%d+ s left\r\nSpread over trials"), o)
  local c, _, e = qsl_run("/", nil, "engine_flow", "orders=2000", "trials=3", "out=" .. out,
                          "progress=true")
  assert(c == 0 and e:find("[engine_flow] trial 1/3\n[engine_flow] trial 2/3  ~", 1, true), e)
  assert(not e:find("\r", 1, true), e)
end)

test("a missing out directory is created; one that cannot be fails before the first trial", function()
  local out = tmp .. "/a/b/c"
  local c, _, e = qsl_run("/tmp", nil, "engine_flow", "orders=2000", "trials=1", "out=" .. out)
  assert(c == 0, e)
  assert(io.open(out .. "/engine_flow.json")):close()
  local file = script("plainfile", "")
  c, _, e = qsl_run("/tmp", nil, "engine_flow", "orders=2000", "trials=1", "progress=true",
                    "out=" .. file .. "/x")
  assert(c == 1 and e:find("parameter out=" .. file .. "/x: cannot create it", 1, true), e)
  assert(not e:find("trial 1", 1, true), "a trial ran before out was checked:\n" .. e)
end)

test("NaN or inf is an error where it is recorded, naming the key and the trial", function()
  local path = script("nan", HEAD:format("nan") ..
    'art:set("trials", { { trial = 1, loss = 0 }, { trial = 2, loss = 0/0 } })\nart:write()\n')
  local c, _, e = qsl_run(tmp, nil, path, "out=" .. tmp)
  assert(c == 1 and e:find("artifact:set trials[2].loss is NaN", 1, true), e)
  path = script("inf", HEAD:format("inf") ..
    'art:table{ title = "t", columns = { "x" }, rows = { { x = 1/0 } } }\nart:write()\n')
  c, _, e = qsl_run(tmp, nil, path, "out=" .. tmp)
  assert(c == 1 and e:find('table "t" rows[1].x is inf', 1, true), e)
  assert(not io.open(tmp .. "/nan.json") and not io.open(tmp .. "/inf.json"))
end)

test("an artifact created and never written fails the run", function()
  local path = script("unwritten", HEAD:format("unwritten") .. 'art:set("x", 1)\n')
  local c, _, e = qsl_run(tmp, nil, path, "out=" .. tmp)
  assert(c == 1 and e:find("artifact 'unwritten' was created but never written", 1, true), e)
  -- one the script dropped and the collector took is still found
  path = script("dropped", HEAD:format("dropped") ..
    'art = nil\ncollectgarbage()\ncollectgarbage()\n')
  c, _, e = qsl_run(tmp, nil, path, "out=" .. tmp)
  assert(c == 1 and e:find("artifact 'dropped' was created but never written", 1, true), e)
end)

test("a scenario by name from any directory, and from QSL_PATH first", function()
  for _, cwd in ipairs{ "/", "/tmp" } do
    local c, o, e = qsl_run(cwd, nil, "rcvbuf_burst", "--help")
    assert(c == 0 and o:find("rcvbuf_burst - UDP burst loss", 1, true), e)
    local out = tmp .. "/byname"
    c, o, e = qsl_run(cwd, nil, "rcvbuf_burst", "orders=2000", "sizes=65536", "trials=1", "out=" .. out)
    assert(c == 0 and o:find("wrote " .. out .. "/rcvbuf_burst.txt", 1, true), e)
  end
  local c, o = qsl_run("/", nil, "--list")
  local names = {}
  for name in o:gmatch("%f[^\n%z](%S+)") do names[#names + 1] = name end
  local sorted = table.move(names, 1, #names, 1, {})
  table.sort(sorted)
  assert(c == 0 and #names > 5 and table.concat(names, " ") == table.concat(sorted, " "), o)
  local mine = tmp .. "/mine"
  assert(qsl.fs.mkdir(mine))
  local f = assert(io.open(mine .. "/engine_flow.lua", "w"))
  f:write('-- my engine_flow\nprint("mine")\n')
  f:close()
  local env = { QSL_PATH = "/nonexistent:" .. mine, PATH = os.getenv("PATH") }
  c, o = qsl_run("/", env, "engine_flow")
  assert(c == 0 and o == "mine\n", o)
  c, o = qsl_run("/", env, "--list")
  assert(o:find("engine_flow%s+my engine_flow") and select(2, o:gsub("\nengine_flow ", "")) == 0, o)
end)

test("installed: qsl-run NAME finds PREFIX/share/qsl/scenarios", function()
  -- the layout `make install` makes: PREFIX/bin/qsl-run, PREFIX/share/qsl/{lua/qsl,scenarios}
  local prefix = tmp .. "/prefix"
  assert(os.execute(("mkdir -p '%s/bin' '%s/share/qsl/lua' '%s/share/qsl/scenarios' && " ..
    "cp '%s' '%s/bin/' && cp -r lua/qsl '%s/share/qsl/lua/' && cp scenarios/*.lua '%s/share/qsl/scenarios/'")
    :format(prefix, prefix, prefix, QSL_RUN, prefix, prefix, prefix)))
  local exe = prefix .. "/bin/" .. QSL_RUN:match("[^/]+$")
  local p <close> = assert(qsl.proc.spawn{ argv = { "sh", "-c", 'cd / && exec "$@"', "sh", exe,
    "engine_flow", "orders=2000", "trials=1", "out=" .. tmp .. "/inst" } })
  local st = assert(p:wait(30000))
  assert(st.code == 0 and p:output():find("wrote " .. tmp .. "/inst/engine_flow.txt", 1, true),
         p:errors())
end)

test("did you mean, for words, parameters and option fields", function()
  local c, o, e = qsl_run("/", nil, "rcvbuf_brust")
  assert(c == 1 and o == "" and e:find("(did you mean 'rcvbuf_burst'?)", 1, true), e)
  assert(not e:gsub("\n$", ""):find("\n"), "more than one line:\n" .. e)
  c, _, e = qsl_run("/", nil, "gatewy")
  assert(c == 1 and e:find("(did you mean 'gateway'?)", 1, true), e)
  c, _, e = qsl_run("/", nil, "zzzzzzzzzzzz")
  assert(c == 1 and not e:find("did you mean", 1, true), e)
  c, _, e = qsl_run("/", nil, "rcvbuf_burst", "trails=3")
  assert(c == 1 and e:find("unknown parameter 'trails' (did you mean 'trials'?)", 1, true), e)
  assert(qsl.suggest("trails", { "out", "trials", "json" }) == "trials")
  assert(qsl.suggest("zzzzzz", { "out", "trials" }) == nil)
  must_fail_with("expected a list of strings", qsl.suggest, "x", { "a", 3 })
  local msg = error_of(qsl.proc.spawn, { rol = "gateway" })
  assert(msg:find("unknown field 'rol'", 1, true) and msg:find("role", 1, true), msg)
end)

test("--version names the commit it was built from", function()
  local c, o = qsl_run("/", nil, "--version")
  local h = io.popen("git rev-parse --short=12 HEAD 2>/dev/null")
  local head = h:read("l")
  h:close()
  assert(c == 0, o)
  if head then        -- make rebuilds qsl-run whenever HEAD moves
    assert(o:match("commit (%x+)") == head, ("built from %s, HEAD is %s"):format(o, head))
  else
    assert(o:find("commit unknown", 1, true), o)
  end
end)

