-- qsl.proc from Lua: ready and result lines, deadlines, stopping, spawn failures, roles.
local qsl = require "qsl"

test("ready, result and rusage", function()
  local p <close> = assert(qsl.proc.spawn{ argv = { "sh", "-c",
    "echo noise; echo ready pid=$$ port=40123 name=x; echo result ok=1 rate=2.5" } })
  local r = assert(p:ready(5000))
  assert(r.port == 40123 and r.name == "x" and r.pid == p.pid, "ready fields")
  local st = assert(p:wait(5000))
  assert(st.exited and st.code == 0)
  assert(math.type(st.utime_us) == "integer" and st.maxrss_kb > 0 and st.nvcsw >= 0)
  local res = assert(p:result())
  assert(res.ok == 1 and res.rate == 2.5)
  assert(p:output():find("noise", 1, true))
end)

test("a child that dies before ready fails at once", function()
  local p <close> = assert(qsl.proc.spawn{ argv = { "sh", "-c", "echo bind failed >&2; exit 3" } })
  local t0 = qsl.clock.now_ns()
  local r, err = p:ready(10000)
  assert(r == nil)
  assert(err:find("exit code 3", 1, true), err)
  assert(err:find("bind failed", 1, true), err)
  assert(qsl.clock.now_ns() - t0 < 5e9, "waited for the timeout instead of the exit")
end)

test("a child never ready times out", function()
  local p <close> = assert(qsl.proc.spawn{ argv = { "sleep", "30" } })
  local r, err = p:ready(200)
  assert(r == nil and err:find("no ready line within 200 ms", 1, true), err)
  local st = p:stop(1000)
  assert(st.signal_name == "TERM" and not st.killed)
end)

test("a child ignoring TERM is killed after the grace", function()
  local p <close> = assert(qsl.proc.spawn{ argv = { "sh", "-c",
    'trap "" TERM; echo ready; while :; do sleep 0.05; done' } })
  assert(p:ready(5000))
  local st = p:stop(300)
  assert(st.killed and st.signal_name == "KILL", tostring(st.signal_name))
  assert(not p:running())
end)

test("a wrapped child: stop signals the target, not the wrapper", function()
  -- the wrapper must outlive its child and exit by itself, as strace does
  local p <close> = assert(qsl.proc.spawn{
    wrap = { "sh", "-c", '"$@"; echo wrapper-done; exit 0', "wrapper" },
    argv = { "sh", "-c", "echo ready pid=$$; exec sleep 30" } })
  local r = assert(p:ready(5000))
  assert(r.pid ~= p.pid and p.target == r.pid)
  local st = p:stop(3000)
  assert(st.exited and st.code == 0 and not st.killed, "wrapper was killed")
  assert(p:output():find("wrapper-done", 1, true))
end)

test("spawn failures are nil, message", function()
  local p, err, code = qsl.proc.spawn{ argv = { "/nonexistent/prog" } }
  assert(p == nil and err:find("exec: No such file", 1, true) and code == 2, err)
  must_fail_with("exactly one of role", qsl.proc.spawn, {})
  must_fail_with("argv[2] is a table", qsl.proc.spawn, { argv = { "x", {} } })
end)

test("the flow role end to end", function()
  local p <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, "flow", "orders=5000", "hold=1" } })
  assert(p:ready(5000))
  local res = assert(p:line("result", 20000))
  assert(res.orders == 5000 and res.datagrams == res.trades + res.top_of_book)
  assert(assert(qsl.procfs.schedstat(p.pid)).cpu_ns > 0)
  local st = p:stop(2000)
  assert(st.exited and st.code == 0, "hold=1 ends cleanly on TERM")
end)

test("a role rejects a bad argument by name", function()
  local p <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, "flow", "orderz=5" } })
  local r, err = p:ready(5000)
  assert(not r and err:find("unknown parameter 'orderz'", 1, true), err)
end)

test("a network namespace has its own loopback", function()
  local p <close>, err = qsl.proc.spawn{ netns = true, argv = { "sh", "-c",
    "echo ready lines=$(wc -l < /proc/net/dev)" } }
  if not p then                 -- without CAP_SYS_ADMIN: nil and the stage that failed
    assert(err:find("network namespace"), err)
    return
  end
  local r = assert(p:ready(5000))
  assert(r.lines == 3, "a new namespace holds only lo (2 header lines + lo)")
end)

-- issue 21.3: p:running() reaps the child; what it printed is kept for finish
test("a role reaped by running() still gives finish its result line", function()
  local roles = require "qsl.roles"
  for _ = 1, 5 do
    local p <close> = roles.start("flow", { orders = 2000 })
    local deadline = qsl.clock.now_ns() + 20e9
    while p:running() do
      assert(qsl.clock.now_ns() < deadline, "flow orders=2000 did not end in 20 s")
      qsl.clock.sleep_ms(5)
    end
    local res, st = roles.finish(p)
    assert(res.orders == 2000 and st.exited and st.code == 0)
  end
  local q <close> = assert(qsl.proc.spawn{ argv = { "sh", "-c", "echo result pid=$$ a=7" } })
  local deadline = qsl.clock.now_ns() + 5e9
  while q:running() do
    assert(qsl.clock.now_ns() < deadline)
    qsl.clock.sleep_ms(2)
  end
  assert(assert(q:line("result", 1000)).a == 7)
  assert(assert(q:result()).a == 7)
end)

test("roles.pause: stopped and seen stopped, or an error naming the process", function()
  local roles = require "qsl.roles"
  local p <close> = roles.start("subscribe", { idle_ms = 60000, first_ms = 60000 })
  assert(roles.pause(p) == p and qsl.procfs.stat(p.pid).state == "T")
  assert(p:signal("CONT"))
  -- one already gone cannot be stopped: said, not assumed
  local q <close> = assert(qsl.proc.spawn{ argv = { "sh", "-c", "exit 0" } })
  assert(q:wait(5000))
  local ok, err = pcall(roles.pause, q)
  assert(not ok and err:find("already been reaped", 1, true), err)
end)

-- issue 21.13: run-scoped files go when qsl-run goes, SIGKILL included; a directory given
-- as rmdir-only goes only if empty
test("a killed run leaves no temporary file, key or directory behind", function()
  local keep, empty = scratch(), scratch()
  assert(io.open(keep .. "/x", "w")):close()
  local script = scratch() .. "/killed.lua"
  local f = assert(io.open(script, "w"))
  f:write(([[
local qsl = require "qsl"
local t <close> = qsl.temp()
assert(io.open(t.path, "w")):write("private"):close()
assert(qsl.fs.remove_at_exit(%q, { rmdir = true }))
assert(qsl.fs.remove_at_exit(%q, { rmdir = true }))
print(("ready path=%%s dir=%%s"):format(t.path, qsl.fs.run_dir()))
io.stdout:flush()
qsl.clock.sleep_ms(30000)
]]):format(keep, empty))
  f:close()
  local p <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, script } })
  local up = assert(p:ready(10000))
  assert(io.open(up.path), "the temporary file is there while the run lives")
  assert(up.path:sub(1, #up.dir + 1) == up.dir .. "/")
  assert(p:signal("KILL"))
  assert(p:wait(5000))
  assert(qsl.measure.poll(5000, function() return not io.open(up.dir) end),
         up.dir .. " outlived a SIGKILL")
  assert(qsl.measure.poll(5000, function() return not io.open(empty) end),
         "the empty directory given with rmdir was left")
  assert(io.open(keep .. "/x"), "a directory with something in it was removed")
end)

test("spawn cpus: a set pins the child; a CPU not here, or cpu with cpus, is refused", function()
  local p <close> = assert(qsl.proc.spawn{ argv = { "sleep", "5" }, cpus = { 0 } })
  local f = assert(io.open("/proc/" .. p.pid .. "/status"))
  local allowed = f:read("a"):match("Cpus_allowed_list:%s*(%S+)")
  f:close()
  assert(allowed == "0", allowed)
  local ok, err = pcall(qsl.proc.spawn, { argv = { "true" }, cpus = { 1000 } })
  assert(not ok and err:find("CPU 1000 is not one this process may run on", 1, true), err)
  ok, err = pcall(qsl.proc.spawn, { argv = { "true" }, cpus = { 0 }, cpu = 0 })
  assert(not ok and err:find("give cpu or cpus, not both", 1, true), err)
  ok, err = pcall(qsl.proc.spawn, { argv = { "true" }, cpus = {} })
  assert(not ok and err:find("non-empty list", 1, true), err)
end)
