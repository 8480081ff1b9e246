-- qsl-run itself: exit codes, messages, interruption, the profile's refusals.
local qsl = require "qsl"

-- run a script body through qsl-run: status, stdout, stderr, its path
local scripts = 0
local function script_path()
  scripts = scripts + 1
  return ("%s/script%d.lua"):format(scratch(), scripts)
end

local function run(body, ...)
  local path = script_path()
  local f = assert(io.open(path, "w"))
  f:write(body)
  f:close()
  local p <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, path, ... } })
  local st = assert(p:wait(20000))
  os.remove(path)
  return st, p:output(), p:errors(), path
end

local function cli(...)
  local p <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, ... } })
  local st = assert(p:wait(10000))
  return st.code, p:output(), p:errors()
end

test("exit codes", function()
  assert(run("print(1)").code == 0)
  local st, _, err = run('require("qsl").skip("strace is not installed")')
  assert(st.code == 2 and err:find("skipped: strace is not installed", 1, true), err)
  st, _, err = run('require("qsl").refuse("no valid trial")')
  assert(st.code == 3 and err:find("refused, no artifact written: no valid trial", 1, true), err)
end)

test("a Lua error has a traceback naming file and line", function()
  local st, _, err, path = run("local x = 1\nlocal y = nil + x\n")
  assert(st.code == 1)
  assert(err:find(path:match("[^/]+$") .. ":2:", 1, true), err)
  assert(err:find("stack traceback", 1, true), err)
end)

test("scenario parameters from the command line", function()
  local body = [[local s = require('qsl.scenario').new{name='x', description='d',
  params={{name='n', type='integer', default=1, help='how many', min=0, max=100}}}
local p = s:parse(arg) print('n=' .. p.n)]]
  local st, out = run(body, "n=5")
  assert(st.code == 0 and out == "n=5\n", out)
  local st2, _, err = run(body, "m=5")
  assert(st2.code == 1 and err:find("unknown parameter 'm'", 1, true), err)
  local st3, out3 = run(body, "--help")
  assert(st3.code == 0 and out3:find("how many", 1, true), out3)
end)

for _, case in ipairs{ { "INT", 130 }, { "TERM", 143 } } do
  local sig, code = case[1], case[2]
  test("SIG" .. sig .. " exits " .. code .. " and leaves no child", function()
    local path = script_path()
    local f = assert(io.open(path, "w"))
    f:write([[local qsl = require 'qsl'
local c <close> = assert(qsl.proc.spawn{argv = {'sleep', '60'}})
print('ready pid=' .. c.pid); io.stdout:flush()
qsl.clock.sleep_ms(30000)]])
    f:close()
    local p <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, path } })
    local r = assert(p:ready(5000))
    local t0 = qsl.clock.now_ns()
    assert(p:signal(sig))
    local st = assert(p:wait(5000))
    os.remove(path)
    assert(st.code == code, "exit " .. tostring(st.code))
    assert(qsl.clock.now_ns() - t0 < 1.5e9, "took more than a second to stop")
    local cs = qsl.procfs.stat(r.pid)
    assert(not cs or cs.state == "Z", "the scenario child survived")
    assert(p:errors():find("interrupted by SIG" .. sig, 1, true))
  end)
end

test("--version, --list and an unknown word", function()
  local c, out = cli("--version")
  assert(c == 0 and out:find("Lua 5.4", 1, true), out)
  c, out = cli("--list")
  assert(c == 0 and out:find("\nengine_flow%s+Engine cost") or out:find("^engine_flow%s+Engine cost"), out)
  local c2, _, err = cli("nonsense")
  assert(c2 == 1 and err:find("neither a scenario", 1, true), err)
  assert(err:find("roles: flow publish", 1, true), err)     -- one line, not a page of usage
  local c3, _, err3 = cli("/nonexistent.lua")
  assert(c3 == 1 and err3:find("cannot open", 1, true), err3)
  local c4, out4 = cli("gateway", "--help")
  assert(c4 == 0 and out4:find("idle_ms=N", 1, true) and out4:find(" ms)", 1, true), out4)
end)

-- A fake strace in PATH for each refusal of profile_gateway.
for i, case in ipairs{
  -- no strace at all: skipped
  { nil, "", "skipped: strace is not installed", 2 },
  -- strace cannot trace (ptrace denied): refused
  { "echo 'strace: ptrace(PTRACE_TRACEME, ...): Operation not permitted' >&2; exit 1",
    ":/usr/bin:/bin", "refused, no artifact written", 3 },
  -- strace runs the program but writes no summary: refused
  { 'while [ "$1" != -o ]; do shift; done; shift 2; exec "$@"', ":/usr/bin:/bin",
    "no usable summary", 3 },
  -- the traced gateway dies under load: refused
  { 'while [ "$1" != -o ]; do shift; done; shift 2; "$@" & sleep 0.3; kill -9 $!; wait; exit 0',
    ":/usr/bin:/bin", "refused, no artifact written", 3 },
} do
  local fake, path_extra, want, code = case[1], case[2], case[3], case[4]
  test("profile_gateway refusal " .. i .. ": " .. want, function()
    local dir = scratch()
    if fake then
      local f = assert(io.open(dir .. "/strace", "w"))
      f:write("#!/bin/sh\n" .. fake .. "\n")
      f:close()
      assert(os.execute("chmod +x " .. dir .. "/strace"))
    end
    local p <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, "scenarios/profile_gateway.lua",
      "out=" .. dir, "requests=3000", "strace_requests=200000", "trials=1" },
      env = { PATH = dir .. path_extra } })
    local st = assert(p:wait(60000))
    local h = io.popen("ls -A " .. dir)
    local files = h:read("a")
    h:close()
    assert(st.code == code, "exit " .. tostring(st.code) .. ": " .. p:errors())
    assert(p:errors():find(want, 1, true), p:errors())
    assert(not files:find("profile_gateway", 1, true), "an artifact was written: " .. files)
  end)
end

-- The original's make targets run qsl's scenarios (a dry run: what each would do).
test("make profile-io and make socket-stress run the scenarios, ARGS passed", function()
  if not qsl.have("make") then return skip("make is not installed") end
  for target, scenario in pairs{ ["profile-io"] = "scenarios/profile_gateway.lua",
                                 ["socket-stress"] = "scenarios/rcvbuf_burst.lua" } do
    local p <close> = assert(qsl.proc.spawn{ argv = { "make", "-n", "--no-print-directory",
      target, "ARGS=trials=2" } })
    local st = assert(p:wait(60000))
    local out = p:output()
    assert(st.code == 0, p:errors())
    assert(out:find(scenario .. " out=results/runs trials=2", 1, true), out)
  end
end)
