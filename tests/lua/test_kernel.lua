-- The kernel's own account (qsl.kernel, measure.drops, feed.kernel_book): arguments
-- checked, a burst's socket drops seen with their reason exactly as SO_MEMINFO and Udp
-- RcvbufErrors count them, a drop no place names failing the books, and n/a with the
-- reason (never 0) where BPF cannot run.
local qsl = require "qsl"
local feed, measure, roles = qsl.feed, qsl.measure, qsl.roles

local why_not
local function bpf_and_netns()
  local ok, why = qsl.kernel.available()
  why_not = not ok and "BPF cannot run here: " .. why
    or not roles.netns() and "no network namespace can be made here" or nil
  return why_not == nil
end

test("qsl.kernel: arguments are checked, availability says why", function()
  local ok, why = qsl.kernel.available()
  assert(ok == true or (ok == false and type(why) == "string" and #why > 10), why)
  assert(error_of(qsl.kernel.drops, { pid = -1 }):find("pid", 1, true))
  assert(error_of(qsl.kernel.drops, { pdi = 1 }):find("unknown field 'pdi'", 1, true))
  if not ok then
    local c, err = qsl.kernel.drops{}
    assert(c == nil and err == why)
    return
  end
  local c <close> = assert(qsl.kernel.drops{})
  assert(next(c:read()) == nil or true)       -- our namespace: whatever the machine drops
  c:close()
  assert(error_of(c.read, c):find("closed drop counter", 1, true))
  assert(select(2, qsl.kernel.drops{ pid = 0x7ffffffe }):find("network namespace", 1, true))
  assert(error_of(qsl.kernel.audit, { reasons = { "NO_SUCH_REASON" } })
    :find("this kernel has no drop reason NO_SUCH_REASON", 1, true))
  assert(error_of(qsl.kernel.audit, { reasons = {} }):find("1 to 16 names", 1, true))
  assert(error_of(qsl.kernel.audit, { reason = {} }):find("unknown field 'reason'", 1, true))
  assert(qsl.kernel.reason("SOCKET_RCVBUFF") and not qsl.kernel.reason("NO_SUCH_REASON"))
  local a, err = qsl.kernel.audit{ reasons = { "SOCKET_RCVBUFF", "all" } }
  if a then
    local n = assert(a:read())
    assert(n.all.fired >= n.SOCKET_RCVBUFF.fired and n.SOCKET_RCVBUFF.skipped >= 0)
    a:close()
    assert(error_of(a.read, a):find("closed audit", 1, true))
  else
    assert(type(err) == "string" and #err > 10, err)
  end
end)

test("kernel_book: every place's count agrees, a drop no place names is shown", function()
  local places = { { name = "socket", reason = "SOCKET_RCVBUFF", count = 7, counter = "SO_MEMINFO" },
                   { name = "queue", reason = "QDISC_DROP", count = 3, counter = "tc" } }
  assert(feed.kernel_book({ reasons = { SOCKET_RCVBUFF = 7, QDISC_DROP = 3 } }, places) == nil)
  -- the kernel counting more than qsl is a failure; less is shown as unseen
  assert(feed.kernel_book({ reasons = { SOCKET_RCVBUFF = 7, QDISC_DROP = 4 } }, places)
    :find("queue: the kernel dropped 4 (QDISC_DROP), tc counted 3", 1, true))
  local why, unseen = feed.kernel_book({ reasons = { SOCKET_RCVBUFF = 5 } }, places)
  assert(why == nil and unseen.total == 5, why)
  assert(unseen.text == "socket 2 (SOCKET_RCVBUFF 5, SO_MEMINFO 7), queue 3 (QDISC_DROP 0, tc 3)",
         unseen.text)
  assert(select(2, feed.kernel_book({ reasons = { SOCKET_RCVBUFF = 7, QDISC_DROP = 3 } }, places))
    .text == "none")
  local why = feed.kernel_book({ reasons = { SOCKET_RCVBUFF = 7, QDISC_DROP = 3,
                                             NO_SOCKET = 2 } }, places)
  assert(why:find("no place of the book names: NO_SOCKET 2", 1, true), why)
  -- a place the kernel alone counts (count nil) names its reason: no failure
  assert(feed.kernel_book({ reasons = { NETFILTER_DROP = 9 } },
                          { { name = "wire", reason = "NETFILTER_DROP" } }) == nil)
  -- with the audit: an unseen drop the kernel skipped the program for is shown with it; one
  -- more than it skipped fails; several reasons can count one place
  local audited = { reasons = { SOCKET_RCVBUFF = 5 }, skipped = { SOCKET_RCVBUFF = 2, QDISC_DROP = 3 } }
  why, unseen = feed.kernel_book(audited, places)
  assert(why == nil and unseen.skipped == 5, why)
  assert(unseen.text:find("socket 2 (SOCKET_RCVBUFF 5, SO_MEMINFO 7; the kernel skipped the " ..
                          "program for 2)", 1, true), unseen.text)
  audited.skipped.SOCKET_RCVBUFF = 1
  why = feed.kernel_book(audited, places)
  assert(why and why:find("socket: SO_MEMINFO counted 2 drops the kernel never showed " ..
    "(SOCKET_RCVBUFF 5), and it skipped the program for 1 of that reason", 1, true), why)
  why, unseen = feed.kernel_book({ reasons = { SOCKET_RCVBUFF = 4, PROTO_MEM = 3 } },
    { { name = "socket", reasons = feed.socket_reasons, count = 7, counter = "SO_MEMINFO" } })
  assert(why == nil and unseen.total == 0, why)
  assert(feed.unseen_fields(unseen).unseen_skipped == "n/a")
  assert(measure.drop_text{ B = 2, A = 2, C = 9 } == "C 9, A 2, B 2")
  assert(measure.drop_text{} == "none")
end)

test("a burst into a 2 KiB buffer: SOCKET_RCVBUFF == SO_MEMINFO's drops == RcvbufErrors",
  function()
    if not bpf_and_netns() then return skip(why_not) end
    local o = { seed = 42, orders = 3000, symbols = 8, flow = "original" }
    local expected = feed.messages(o)
    for _, path in ipairs{ "loopback", "veth" } do
      local r = feed.run{ sub = { rcvbuf = 2048, expected = expected, idle_ms = 300 }, pub = o,
        path = path, link = path == "veth" and qsl.net.parse_link("tbf:rate=2000000,burst=4000,limit=8000") or nil }
      assert(r.sub.kernel_drops > 0, "the burst overflowed nothing")
      -- over veth the kernel has been seen to skip the program for a few, now and then:
      -- each one the audit's (perf's count of the tracepoint less the program's runs)
      local seen = (r.drops.reasons.SOCKET_RCVBUFF or 0) + (r.drops.reasons.PROTO_MEM or 0)
      local why, unseen = feed.books(r)
      assert(why == nil, why)
      assert(seen + unseen.total == r.sub.kernel_drops and seen > 0.9 * r.sub.kernel_drops,
             ("SOCKET_RCVBUFF+PROTO_MEM %d, unseen %s, SO_MEMINFO %d"):format(seen,
               unseen.text, r.sub.kernel_drops))
      if r.drops.skipped then
        assert(unseen.skipped == unseen.total, unseen.text)
        assert(r.drops.skipped.all >= r.drops.skipped.SOCKET_RCVBUFF)
      else
        assert(type(r.drops.audit_na) == "string", "neither an audit nor why not")
      end
      assert(r.net.Udp.RcvbufErrors == r.sub.kernel_drops)
      if path == "veth" then
        -- the queue drops when the publisher outruns the sender's SO_SNDBUF: sometimes none
        assert((r.drops.reasons.QDISC_DROP or 0) == r.queue.drops, measure.drop_text(r.drops.reasons))
        assert((r.drops.hosts[1].QDISC_DROP or 0) == r.queue.drops)
        assert(not r.drops.hosts[1].SOCKET_RCVBUFF, "the sender's host has no receiver")
      end
      r.drops.reasons.NO_SOCKET = 1           -- what a stray drop does to the books
      assert(feed.books(r):find("no place of the book names: NO_SOCKET 1", 1, true))
    end
  end)

test("without the privilege for BPF the kernel's columns are n/a with the reason, never 0",
  function()
    if not os.execute("command -v setpriv >/dev/null") then return skip("no setpriv here") end
    if not qsl.kernel.available() then return skip("BPF does not run here at all") end
    local d = scratch()
    local cmd = ("setpriv --bounding-set=-bpf,-sys_admin,-perfmon %s scenarios/rcvbuf_burst.lua " ..
                 "--quick trials=1 sizes=2048 out=%s >%s/out 2>&1"):format(QSL_RUN, d, d)
    local ok = os.execute(cmd)
    assert(ok, read(d .. "/out"))
    local art = require("cjson").decode(read(d .. "/rcvbuf_burst.json"))
    for _, row in ipairs(art.results.trials) do
      assert(row.SOCKET_RCVBUFF == "n/a", tostring(row.SOCKET_RCVBUFF))
      assert(row.drops_na:find("Operation not permitted", 1, true), row.drops_na)
    end
    assert(read(d .. "/rcvbuf_burst.txt"):find("drop reasons: n/a (loading the BPF program: " ..
                                                "Operation not permitted", 1, true))
  end)

test("a send through a device that is down: NOT_SPECIFIED shown, the trial unbalanced, exit 1",
  function()
    if not bpf_and_netns() then return skip(why_not) end
    local d = scratch()
    local ok, _, code = os.execute(("%s scenarios/drop_reasons.lua --quick paths=down out=%s " ..
                                    ">%s/out 2>&1"):format(QSL_RUN, d, d))
    assert(not ok and code == 1, "exit " .. tostring(code) .. ": " .. read(d .. "/out"))
    local art = require("cjson").decode(read(d .. "/drop_reasons.json"))
    local row = art.results.trials[1]
    assert(row.ok == "NO" and row.received == 0, row.ok)
    -- veth_xmit frees what it cannot hand to a peer that is down (NOT_SPECIFIED); once the
    -- kernel has seen the carrier go and given the device the noop queue, that queue drops
    -- it (QDISC_DROP): either way every datagram, and no place of the book names it
    local k = row.drop_reasons
    assert((k.NOT_SPECIFIED or 0) + (k.QDISC_DROP or 0) == row.sent, measure.drop_text(k))
    assert(row.unbalanced:find("no place of the book names: ", 1, true), row.unbalanced)
    assert(#art.results.unreconciled == 1, #art.results.unreconciled)
    assert(read(d .. "/drop_reasons.txt"):find("RECONCILIATION FAILED", 1, true))
  end)

test("TCP_INFO: over a tbf link with a tiny queue both ways, the load's result shows retransmits",
  function()
    if not roles.netns() then return skip("no network namespace can be made here") end
    local pair <close> = qsl.net.pair()
    for _, h in ipairs{ pair.a, pair.b } do
      pair:qdisc(h, "tbf", { rate = 200000, burst = 2000, limit = 3000 })
    end
    local lr, gr = qsl.gateway.run("gateway", { bind = pair.b.addr },
      { host = pair.b.addr, connections = 16, depth = 8, requests = 20000 },
      { server_at = pair.b.at, load_at = pair.a.at, tcp_info = 50 })
    assert(lr.tcp_connections == 16 and gr.tcp_connections == 16 and lr.tcp_unread == 0,
           ("%d and %d connections read"):format(lr.tcp_connections, gr.tcp_connections))
    local drops = pair:stats(pair.a).drops + pair:stats(pair.b).drops
    assert(drops > 0, "the queues dropped nothing")
    -- a segment dropped in the peer's queue (or its ACK) is sent again: TCP counts it
    assert(lr.tcp_retrans > 0, ("the load retransmitted nothing (%d queue drops, the " ..
                                "gateway %d)"):format(drops, gr.tcp_retrans))
    -- a 200 kB/s link with a 3 kB queue: TCP's own rtt is milliseconds, loopback's microseconds
    assert(lr.tcp_rtt_p50_us > 1000 and lr.tcp_rtt_max_us >= lr.tcp_rtt_p50_us,
           lr.tcp_rtt_p50_us)
    local t = qsl.gateway.tcp(lr, gr)
    assert(t.retrans == lr.tcp_retrans + gr.tcp_retrans and t.tcp_rtt_p50_us == lr.tcp_rtt_p50_us)
    -- every connection's own record as it closed, and samples every 50 ms while open: the
    -- load's (connections 0..15) and the gateway's (accepted 1..16), each summing to its line
    local function records(list, first)
      local closing, sampled, retrans, seen = 0, 0, 0, {}
      for _, rec in ipairs(list) do
        if rec.closing == 1 then
          closing, retrans, seen[rec.conn] = closing + 1, retrans + rec.total_retrans, true
        else
          sampled = sampled + 1
        end
      end
      for conn = first, first + 15 do assert(seen[conn], "no record at close of " .. conn) end
      return closing, sampled, retrans
    end
    local closing, sampled, retrans = records(lr.tcp_info, 0)
    assert(closing == 16, closing .. " records at close")
    assert(retrans == lr.tcp_retrans, retrans .. " ~= " .. lr.tcp_retrans)
    assert(sampled >= 16 or lr.seconds < 0.05, sampled .. " samples in " .. lr.seconds .. " s")
    closing, sampled, retrans = records(gr.tcp_info, 1)
    assert(closing == 16 and retrans == gr.tcp_retrans, closing .. ", " .. retrans .. " ~= " ..
           gr.tcp_retrans)
    assert(sampled >= 16 or lr.seconds < 0.05, sampled .. " gateway samples")
  end)

test("tcp_info records parsed; a bad line named; tcp_info_ms alone refused", function()
  local r = qsl.gateway.parse_tcp_info("conn=3 t_ms=1.5 closing=1 rtt_us=40 lost=0\n")
  assert(#r == 1 and r[1].conn == 3 and r[1].t_ms == 1.5 and r[1].rtt_us == 40)
  assert(error_of(qsl.gateway.parse_tcp_info, "conn=1 t_ms=x closing=0 rtt_us=1\n")
           :find("t_ms=x is not a number", 1, true))
  assert(error_of(qsl.gateway.parse_tcp_info, "hello\n"):find("is not a record", 1, true))
  for _, argv in ipairs{ { QSL_RUN, "load", "port=1", "tcp_info_ms=5" },
                        { QSL_RUN, "gateway", "tcp_info_ms=5" } } do
    local p <close> = assert(qsl.proc.spawn{ argv = argv })
    local st = assert(p:wait(10000))
    assert(st.code == 1 and p:errors():find("tcp_info_ms= needs tcp_info=", 1, true), p:errors())
  end
end)

-- A paced feed into a subscriber that asks for receive timestamps; stop_ms > 0 stops the
-- subscriber (SIGSTOP) that long once the feed flows, then lets it go on.
local function timed_feed(mode, stop_ms, ns)
  local at = { netns_of = ns.pid }
  local probe <close>, granted = roles.start("subscribe", { rcvbuf = 8 << 20, idle_ms = 1 }, at)
  granted = granted.granted_rcvbuf
  probe:stop(1000)
  -- what arrives while it is stopped must fit the buffer granted (a small datagram is
  -- charged ~1 KB): no drop, whatever net.core.rmem_max allows
  local rate = math.max(50, math.min(2000, granted // 1500 * 1000 // (stop_ms + 10)))
  local o = { seed = 42, orders = math.max(300, rate), symbols = 3, rate = rate, batch = 1 }
  local expected = feed.messages(o)
  local sub <close>, ready = roles.start("subscribe", { rcvbuf = 8 << 20, timestamps = 1,
    expected = expected, idle_ms = 1000, mode = mode }, at)
  local base = measure.net(ns.pid).Udp.InDatagrams
  local pub <close> = roles.start("publish", roles.merge(o, { port = ready.port }), at)
  if stop_ms > 0 then
    -- stopped once the feed flows (the namespace's datagrams are the trial's alone), so a
    -- datagram comes within one interval of the stop
    assert(measure.poll(10000, function()
      return measure.net(ns.pid).Udp.InDatagrams >= base + 5 end), "the feed did not start")
    roles.pause(sub)
    local t0 = qsl.clock.now_ns()
    measure.poll(stop_ms + 100, function() return qsl.clock.now_ns() - t0 >= stop_ms * 1e6 end)
    assert(sub:signal("CONT"))
  end
  roles.finish(pub, { timeout = 60000 })
  local r = roles.finish(sub, { timeout = 60000 })
  assert(r.received == expected and r.kernel_drops == 0, r.received .. " of " .. expected)
  assert(r.socket_wait_count == r.datagrams and r.unstamped == 0,
         ("%d of %d datagrams timed"):format(r.socket_wait_count, r.datagrams))
  return r
end

test("socket_wait: a subscriber stopped 105 ms waits that long; one never stopped, under 1 ms",
  function()
    local ns <close> = roles.netns()
    if not ns then return skip("no network namespace can be made here") end
    for _, mode in ipairs{ "recvmmsg", "io_uring" } do
      if mode == "io_uring" and not qsl.io_uring() then
        return skip("io_uring: " .. select(2, qsl.io_uring()))
      end
      -- stopped 105 ms: the first datagram after the stop comes at most one interval (0.5 ms
      -- at 2,000/s, the rate unless the buffer granted is small) later: the longest wait is
      -- at least 100 ms
      local stopped = timed_feed(mode, 105, ns)
      assert(stopped.socket_wait_max_ns >= 100e6, mode .. ": the longest wait " ..
             stopped.socket_wait_max_ns .. " ns")
      local free = timed_feed(mode, 0, ns)
      assert(free.socket_wait_p50_ns < 1e6 and free.socket_wait_p50_ns > 0,
             mode .. ": median wait " .. free.socket_wait_p50_ns .. " ns")
      assert(free.socket_wait_max_ns < stopped.socket_wait_max_ns)
    end
  end)
