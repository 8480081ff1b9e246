-- Interruption of every shipped scenario, and the refusal matrix: each case ends
-- with the right exit code, a message that says what happened, no process left
-- behind and nothing half-written.
local qsl = require "qsl"
local roles = require "qsl.roles"

-- the processes that carry a tag in their environment (every descendant of a run we start)
local function tagged(tag)
  local out, h = {}, io.popen("ls /proc")
  for pid in h:lines() do
    if pid:match("^%d+$") then
      local env = qsl.procfs.read("/proc/" .. pid .. "/environ")
      if env and env:find("QSL_TEST_TAG=" .. tag, 1, true) then out[#out + 1] = tonumber(pid) end
    end
  end
  h:close()
  return out
end
local function run(args, env)
  local argv = { QSL_RUN }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return assert(qsl.proc.spawn{ argv = argv, env = env })
end
local function cpu(pids)
  local n = 0
  for _, pid in ipairs(pids) do
    local s = qsl.procfs.schedstat(pid)
    n = n + (s and s.cpu_ns or 0)
  end
  return n
end

-- children: processes the scenario runs at once besides itself (TEMPLATE measures in-process)
local LONG_RUNS = {
  { "engine_flow", "orders=50000000 trials=3", 1 },
  { "rcvbuf_burst", "orders=3000000 sizes=8388608 trials=3", 1 },
  { "feed_throughput", "orders=5000000 trials=3", 1 },
  { "profile_gateway", "requests=50000000 trials=2", 1 },
  { "gateway_load", "requests=50000000 clients=4 modes=epoll trials=2 pingpong=0", 1 },
  { "gateway_abuse", "load_ms=60000", 1 },
  -- a chain: hosts a and b, two routers (a namespace holder each) and the subscriber
  { "path_loss", "hops=2 orders=2000000 rates=20000 trials=3 link_rate=1000000", 5 },
  { "TEMPLATE", "datagrams=1000000 trials=1000", 0 },
}

for _, case in ipairs(LONG_RUNS) do
  for _, sig in ipairs{ "INT", "TERM" } do
    local script, args, procs = case[1], case[2], 1 + case[3]
    test(script .. " interrupted by SIG" .. sig, function()
      local dir = scratch()
      local name = script == "TEMPLATE" and "template" or script
      local old = dir .. "/" .. name .. ".txt"
      local f = io.open(old, "w")
      f:write("previous artifact\n")
      f:close()
      local tag = tostring(math.random(1, 1 << 30))
      local argv = { "scenarios/" .. script .. ".lua", "out=" .. dir }
      for a in args:gmatch("%S+") do argv[#argv + 1] = a end
      local p <close> = run(argv, { QSL_TEST_TAG = tag })
      -- mid-run: once it has a child of its own, and once its children did real work
      local started = qsl.measure.poll(10000, function() return #tagged(tag) >= procs end)
      assert(started, script .. " started no child within 10 s: " .. p:errors())
      qsl.measure.poll(10000, function() return cpu(tagged(tag)) >= 50e6 end)
      assert(p:running(), script .. " ended before the signal: " .. p:errors())
      local t0 = qsl.clock.now_ns()
      assert(p:signal(sig))
      local st = assert(p:wait(5000))
      local took = (qsl.clock.now_ns() - t0) / 1e9
      local want = sig == "INT" and 130 or 143
      assert(st.code == want, script .. ": exit " .. tostring(st.code) .. " " .. p:errors())
      assert(took < 1.0, script .. (": took %.2f s to stop"):format(took))
      assert(p:errors():find("interrupted by SIG" .. sig, 1, true), p:errors())
      local left = tagged(tag)
      assert(#left == 0, script .. ": processes left behind: " .. table.concat(left, " "))
      assert(read(old) == "previous artifact\n", script .. ": the previous artifact changed")
      assert(ls(dir) == name .. ".txt\n", script .. ": files left: " .. ls(dir))
    end)
  end
end

test("a fixed port already taken refuses", function()
  local hold <close> = assert(qsl.sock.tcp())
  assert(hold:bind("127.0.0.1", 0))
  assert(hold:listen())
  local _, port = hold:local_address()
  local dir = scratch()
  local p <close> = run{ "scenarios/profile_gateway.lua", "out=" .. dir, "port=" .. port,
                         "strace=false", "trials=1", "requests=1000" }
  local st = assert(p:wait(30000))
  local files = ls(dir)
  assert(st.code == 3, "exit " .. tostring(st.code))
  assert(p:errors():find("Address already in use", 1, true), p:errors())
  assert(files == "", "files written: " .. files)
end)

test("a role crashing mid-run refuses", function()
  local dir = scratch()
  local tag = tostring(math.random(1, 1 << 30))
  local p <close> = run({ "scenarios/engine_flow.lua", "out=" .. dir, "orders=50000000", "trials=2" },
                        { QSL_TEST_TAG = tag })
  local victim = qsl.measure.poll(10000, function()
    for _, pid in ipairs(tagged(tag)) do
      local cmd = qsl.procfs.read("/proc/" .. pid .. "/cmdline") or ""
      if cmd:find("flow", 1, true) and pid ~= p.pid then return pid end
    end
  end)
  assert(victim, "no flow role appeared")
  assert(os.execute("kill -SEGV " .. victim))
  local st = assert(p:wait(60000))
  local files = ls(dir)
  assert(st.code == 3, "exit " .. tostring(st.code) .. ": " .. p:errors())
  assert(p:errors():find("trial 1/2:", 1, true) and p:errors():find("SEGV", 1, true), p:errors())
  assert(files == "", "files written: " .. files)
end)

test("an unparsable result is an error naming the field", function()
  local p <close> = assert(qsl.proc.spawn{ argv = { "sh", "-c",
    "echo ready pid=$$; echo result datagrams=1 messages=1 received=12x kernel_drops=3" } })
  assert(p:ready())
  -- no field list: the subscribe role's declaration says what its result line holds
  must_fail_with("subscribe printed a result line without an integer received (got 12x)",
                 roles.finish, p, "subscribe")
  local q <close> = assert(qsl.proc.spawn{ argv = { "sh", "-c", "echo ready pid=$$; echo result" } })
  assert(q:ready())
  must_fail_with("without an integer messages (got nil)", roles.finish, q, "publish")
  -- a program that is no declared role: its numbers are named by the caller
  local w <close> = assert(qsl.proc.spawn{ argv = { "sh", "-c", "echo ready pid=$$; echo result n=x" } })
  assert(w:ready())
  must_fail_with("helper printed a result line without a numeric n (got x)",
                 roles.finish, w, "helper", { numbers = { "n" } })
end)

test("an unwritable results directory is an error naming it, before any trial", function()
  local p <close> = run{ "scenarios/engine_flow.lua", "out=/proc/qsl-results", "orders=2000",
                         "trials=1", "progress=true" }
  local st = assert(p:wait(30000))
  assert(st.code == 1, "exit " .. tostring(st.code))
  assert(p:errors():find("parameter out=/proc/qsl-results: cannot create it", 1, true), p:errors())
  assert(not p:errors():find("trial 1", 1, true), p:errors())
end)
