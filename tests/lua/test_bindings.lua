-- qsl.procfs, qsl.sock, qsl.wire, qsl.engine, qsl.hist, qsl.clock, qsl.strace from Lua; qsl as a
-- table of every module; measure.poll.
local qsl = require "qsl"

test("procfs: self and a child", function()
  local st = assert(qsl.procfs.stat())
  assert(st.pid > 0 and st.state and st.utime_ticks >= 0)
  local s = assert(qsl.procfs.status())
  assert(math.type(s.VmHWM) == "integer" and s.VmHWM > 0 and s.Name)
  assert(qsl.procfs.schedstat().cpu_ns >= 0)
  assert(qsl.procfs.fd_count() >= 3)
  assert(qsl.procfs.clock_ticks() > 0)
  local p <close> = assert(qsl.proc.spawn{ argv = { "sh", "-c", "echo ready; exec sleep 30" } })
  assert(p:ready(5000))
  local cs = assert(qsl.procfs.stat(p.pid))
  assert(cs.pid == p.pid and cs.ppid == st.pid)
  assert(qsl.procfs.fd_count(p.pid) >= 3)
end)

test("procfs: missing is nil, message", function()
  local v, err, code = qsl.procfs.stat(2147483000)
  assert(v == nil and err:find("No such file") and code == 2, err)
  local n, e2 = qsl.procfs.sysctl("net.no.such")
  assert(n == nil and e2)
  assert(qsl.procfs.sysctl("net.core.rmem_max") > 0)
  local snmp = assert(qsl.procfs.snmp())
  assert(math.type(snmp.Udp.RcvbufErrors) == "integer")
  local snmp6 = assert(qsl.procfs.snmp6())
  assert(math.type(snmp6.Udp6.RcvbufErrors) == "integer" and snmp6.Ip6.InReceives >= 0)
  local none, e3, c3 = qsl.procfs.snmp6("/proc/no/snmp6")
  assert(none == nil and e3:find("/proc/no/snmp6", 1, true) and c3 == 2, e3)
  must_fail_with("dotted sysctl name", qsl.procfs.sysctl, "../../etc/passwd")
  must_fail_with("not a process id", qsl.procfs.stat, -4)
end)

test("sock: options, granted values and drops", function()
  local rx <close> = assert(qsl.sock.udp())
  assert(rx:bind("127.0.0.1", 0))
  local host, port = rx:local_address()
  assert(host == "127.0.0.1" and port > 0)
  assert(rx:setopt("rcvbuf", 4096) == 8192, "granted = 2 x requested")
  assert(rx:getopt("rcvbuf") == 8192)
  local tx <close> = assert(qsl.sock.udp())
  assert(tx:connect("127.0.0.1", port))
  for _ = 1, 1000 do assert(tx:send(string.rep("x", 64)) == 64) end
  local got = 0
  while rx:recv(128, 0) do got = got + 1 end
  assert(got < 1000 and got + rx:drops() == 1000, got .. " + " .. rx:drops())
  local s <close> = assert(qsl.sock.udp())
  must_fail_with("unknown socket option 'rcvbuff'; known: rcvbuf", s.setopt, s, "rcvbuff", 1)
  must_fail_with("'nodelay' applies to TCP sockets only", s.setopt, s, "nodelay", 1)
  must_fail_with("not a numeric IPv4 address", s.bind, s, "localhost", 0)
  s:close()
  must_fail_with("closed socket", s.send, s, "x")
end)

test("sock: TCP round trip and a timeout", function()
  local l <close> = assert(qsl.sock.tcp())
  assert(l:setopt("reuseaddr", true) == 1)
  assert(l:bind("127.0.0.1", 0))
  assert(l:listen())
  local _, port = l:local_address()
  local c <close> = assert(qsl.sock.tcp())
  assert(c:connect("127.0.0.1", port))
  assert(c:setopt("nodelay", 1) == 1)
  local a <close> = assert(l:accept(1000))
  c:send("ping")
  assert(a:recv(16, 1000) == "ping")
  local v, err = a:recv(16, 50)
  assert(v == nil and err == "timeout")
end)

test("wire: round trip and decode errors", function()
  local w = qsl.wire
  local b = w.encode{ type = "NewOrder", order_id = 7, symbol = 1, price = -3, quantity = 5,
                      side = "sell", tif = "ioc" }
  assert(#b == 43 and w.frame_size("NewOrder") == 43)
  local m, n = w.decode(b)
  assert(n == 43 and m.type == "NewOrder" and m.price == -3 and m.side == "sell"
         and m.tif == "ioc" and m.order_type == "limit")
  local hb = w.decode(b .. w.encode{ type = "Heartbeat", token = 9 }, 44)
  assert(hb.type == "Heartbeat" and hb.token == 9)
  assert(select(2, w.decode(b:sub(1, 42))) == "Truncated")
  assert(select(2, w.decode(w.header{ type = "Heartbeat", body_len = 4097 })) == "BodyTooLarge")
  assert(select(2, w.decode(w.header{ type = 77, body_len = 8 })) == "UnknownType")
  assert(select(2, w.decode(w.header{ type = "Heartbeat", version = 2, body_len = 8 }))
         == "UnsupportedVersion")
  must_fail_with("field 'side': invalid value 'up'", w.encode,
                 { type = "NewOrder", order_id = 1, symbol = 0, price = 1, quantity = 1, side = "up" })
end)

test("engine from Lua", function()
  local ok, err = pcall(qsl.engine.new, { capacity = 100 })
  assert(not ok and err:find("max_orders=", 1, true), err)
  local e <close> = qsl.engine.new{ symbols = 2, max_orders = 100, max_quantity = 50 }
  local ev, why = e:submit{ order_id = 1, symbol = 0, side = "sell", price = 100, quantity = 5 }
  assert(why == nil and ev[1].kind == "accepted" and ev[1].seq == 1)
  ev = e:submit{ order_id = 2, symbol = 0, side = "buy", price = 101, quantity = 2 }
  assert(ev[2].kind == "trade" and ev[2].price == 100 and ev[2].maker_id == 1)
  local _, r = e:submit{ order_id = 3, symbol = 0, side = "buy", price = 1, quantity = 51 }
  assert(r == "MaxQuantityExceeded")
  local bid, ask = e:best(0)
  assert(bid == nil and ask == 100)
  local d = e:depth(0, "sell")
  assert(d[1].price == 100 and d[1].quantity == 3 and d[1].orders == 1)
  assert(select(2, e:cancel(0, 99)) == "UnknownOrder")
  assert(e:stats().rejects.UnknownOrder == 1)
  assert(e:stats().bytes > 0 and math.type(e:stats().bytes) == "integer")
  -- huge_pages: past 1,024 resting orders the pool is in 2 MiB mappings, counted whole
  ok, err = pcall(qsl.engine.new, { huge_pages = 1 })
  assert(not ok and err:find("huge_pages= is a boolean", 1, true), err)
  for _, huge in ipairs{ false, true } do
    local h <close> = qsl.engine.new{ symbols = 1, huge_pages = huge }
    for id = 1, 2000 do
      h:submit{ order_id = id, symbol = 0, side = "buy", price = 100, quantity = 1 }
    end
    assert(h:depth(0, "buy")[1].orders == 2000)
    local bytes = h:stats().bytes
    assert((bytes >= 2 << 20) == huge, ("huge_pages=%s: %d bytes"):format(huge, bytes))
  end
  assert(#e:depth(0, "sell", 0) == 0)
  local f <close> = qsl.engine.new{ symbols = 3 }
  local s = f:run_flow{ seed = 42, orders = 20000 }
  -- the original's flow: 16,931 market-data messages for seed 42 x 20,000 x 3 symbols
  assert(s.accepted > 0 and s.trades + s.top_of_book == 16931 and s.ns_per_order > 0)
end)

test("hist, clock, strace", function()
  local h = qsl.hist.new()
  assert(h:percentile(50) == nil)
  for i = 1, 1000 do h:record(i * 1000) end
  local s = h:summary()
  assert(s.count == 1000 and s.min == 1000 and s.max == 1000000)
  assert(s.p50 >= 500000 and s.p50 <= 500000 * (1 + 1 / 64))
  -- issue 21.8: a count never wraps negative; what would pass the largest is refused
  local big = qsl.hist.new()
  big:record(100, math.maxinteger)
  must_fail_with("largest count", big.record, big, 100, 2)
  assert(big:count() == math.maxinteger)
  local one = qsl.hist.new()
  one:record(5)
  must_fail_with("largest", big.merge, big, one)
  local t0 = qsl.clock.now_ns()
  qsl.clock.sleep_ms(20)
  assert(qsl.clock.now_ns() - t0 >= 20e6)
  local f = assert(io.open("tests/data/strace-6.1-f-c.txt")):read("a")
  local sum = assert(qsl.strace.parse(f))
  assert(#sum.rows == 36 and sum.total.calls == 356 and sum.rows[1].syscall == "wait4")
  local none, err = qsl.strace.parse("strace: exec: Permission denied\n")
  assert(none == nil and err:find("no summary header"), err)
  local x, _, code = qsl.strace.parse_file("/nonexistent")
  assert(x == nil and code == 2)
end)

test("qsl: the Lua library as fields, loaded on first use", function()
  local qsl = require "qsl"
  assert(qsl.roles == require "qsl.roles" and qsl.measure == require "qsl.measure")
  assert(rawget(qsl, "roles") == qsl.roles, "loaded once, then a plain field")
  assert(qsl.proc == require "qsl.proc", "the C modules are fields from the start")
  assert(qsl.no_such_module == nil and qsl["roles.x"] == nil and qsl[1] == nil)
  assert(qsl["../qsl/roles"] == nil, "a path is not a module name")
end)

test("measure.poll: returns once true, or the last results at the deadline", function()
  local measure = require "qsl.measure"
  local calls = 0
  local v, extra = measure.poll(5000, function()
    calls = calls + 1
    return calls == 3 and "done", calls
  end)
  assert(v == "done" and extra == 3 and calls == 3, tostring(v) .. " after " .. calls)
  local t0 = qsl.clock.now_ns()
  calls = 0
  v, extra = measure.poll(50, function()
    calls = calls + 1
    return false, calls
  end)
  local took = (qsl.clock.now_ns() - t0) / 1e6
  assert(v == false and extra == calls and calls >= 2, "the last call's results")
  assert(took >= 50, ("gave up after %.1f ms, before the deadline"):format(took))
  assert(error_of(measure.poll, "5", print):find("ms must be a number", 1, true))
end)
