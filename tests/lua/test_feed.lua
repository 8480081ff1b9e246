-- qsl.feed: the books that every feed trial must balance, and a trial in a network
-- namespace of its own (where one can be made) whose UDP counters are its alone.
local qsl = require "qsl"
local feed = require "qsl.feed"
local roles = require "qsl.roles"

-- A trial's results as feed.run gives them, balanced; over is merged in.
local function trial(over)
  local r = { pub = { datagrams = 100, messages = 300, send_failures = 2 },
              sub = { datagrams = 90, kernel_drops = 8, received = 270, interior_gaps = 20,
                      tail_loss = 10, malformed = 0, duplicates = 0 },
              isolated = true, net = { Udp = { InDatagrams = 90, RcvbufErrors = 8 } } }
  for part, fields in pairs(over or {}) do
    if type(fields) ~= "table" then
      r[part] = fields
    else
      for k, v in pairs(fields) do r[part][k] = v end
    end
  end
  return r
end

test("books: balanced is nil, each imbalance is named with its numbers", function()
  assert(feed.books(trial()) == nil)
  local why = feed.books(trial{ sub = { kernel_drops = 7 } })
  assert(why:find("datagrams sent 100 ~= received 90 + kernel drops 7 + send failures 2", 1, true),
         why)
  why = feed.books(trial{ sub = { tail_loss = 9 } })
  assert(why:find("received 270 + gaps 20 + tail 9 ~= published 300", 1, true), why)
  why = feed.books(trial{ sub = { duplicates = 1 } })
  assert(why:find("0 malformed datagrams, 1 duplicates", 1, true), why)
  why = feed.books(trial{ net = { Udp = { InDatagrams = 90, RcvbufErrors = 9 } } })
  assert(why:find("kernel drops 8 (SO_MEMINFO) ~= the trial's RcvbufErrors 9 (Udp 9, Udp6 0)",
                  1, true), why)
  -- over IPv6 the trial counts in snmp6's Udp6: checked the same way
  local v6 = { Udp = { InDatagrams = 0, RcvbufErrors = 0 },
               Udp6 = { InDatagrams = 90, RcvbufErrors = 8 } }
  assert(feed.books(trial{ net = v6 }) == nil)
  v6.Udp6.RcvbufErrors = 5
  why = feed.books(trial{ net = v6 })
  assert(why and why:find("RcvbufErrors 5 (Udp 0, Udp6 5)", 1, true), why)
end)

test("books: the namespace's counters are checked only where they are the trial's", function()
  -- not isolated: the machine's counters include other traffic
  assert(feed.books(trial{ isolated = false, net = { Udp = { InDatagrams = 5e6,
                                                             RcvbufErrors = 77 } } }) == nil)
  -- a namespace that saw no datagram in either family (no snmp6: IPv6 not built in)
  assert(feed.books(trial{ net = { Udp = { InDatagrams = 0, RcvbufErrors = 0 } } }) == nil)
end)

test("a trial over IPv6 counts in Udp6 (snmp6), and Udp stays 0", function()
  if not roles.isolated() then return skip("no network namespaces here") end
  local expected = feed.messages{ seed = 42, orders = 2000, symbols = 3, flow = "original" }
  local r = feed.run{ sub = { rcvbuf = 2048, expected = expected, idle_ms = 200 },
                      pub = { seed = 42, orders = 2000, symbols = 3 }, ipv6 = true }
  assert(feed.books(r) == nil, feed.books(r))
  local udp6 = r.net.Udp6
  assert(r.net.Udp.InDatagrams == 0 and r.net.Udp.RcvbufErrors == 0, "IPv4 saw nothing")
  assert(udp6.InDatagrams == r.sub.datagrams and udp6.RcvbufErrors == r.sub.kernel_drops and
         r.sub.kernel_drops > 0, ("Udp6 InDatagrams %d, RcvbufErrors %d; received %d, " ..
         "dropped %d"):format(udp6.InDatagrams, udp6.RcvbufErrors, r.sub.datagrams,
         r.sub.kernel_drops))
end)

test("a trial in a namespace of its own counts its datagrams alone", function()
  local expected = feed.messages{ seed = 42, orders = 2000, symbols = 3, flow = "original" }
  local r = feed.run{ sub = { rcvbuf = 2048, expected = expected, idle_ms = 200 },
                      pub = { seed = 42, orders = 2000, symbols = 3 } }
  assert(r.isolated == roles.isolated(), "isolated whenever namespaces can be made")
  assert(feed.books(r) == nil, feed.books(r))
  assert(r.pub.messages == expected, "the flow the engine says")
  if not r.isolated then return end
  local udp = r.net.Udp
  assert(udp.InDatagrams == r.sub.datagrams and udp.RcvbufErrors == r.sub.kernel_drops,
         ("Udp InDatagrams %d, RcvbufErrors %d; received %d, dropped %d"):format(
           udp.InDatagrams, udp.RcvbufErrors, r.sub.datagrams, r.sub.kernel_drops))
end)

test("netns(): a namespace held by a process, gone when closed", function()
  if not roles.isolated() then
    assert(roles.netns() == nil)
    return
  end
  local pid
  do
    local ns <close> = roles.netns()
    pid = ns.pid
    local net = require("qsl.measure").net(pid)
    assert(net.Udp and net.Tcp, "its counters read")
    assert(net.Udp.InDatagrams == 0, "a new namespace has seen no datagram")
  end
  local gone = qsl.measure.poll(2000, function() return qsl.procfs.stat(pid) == nil end)
  assert(gone, "the holder " .. pid .. " outlived its handle")
end)

test("subscribe mode=raw counts datagrams and nothing else", function()
  local r = feed.run{ sub = { mode = "raw", rcvbuf = 8 << 20, idle_ms = 200 },
                      pub = { seed = 42, orders = 3000, symbols = 3 } }
  assert(r.ready.mode == "raw")
  assert(r.sub.datagrams + r.sub.kernel_drops == r.pub.datagrams and r.sub.datagrams > 0)
  assert(r.sub.messages == 0 and r.sub.received == 0 and r.sub.malformed == 0,
         "raw mode neither decodes nor tracks sequences")
  assert(r.sub.ended_by == "idle")
end)

-- issue 21.17: idle_ms starts at the first datagram; with nothing at all, first_ms ends
-- the wait (ended_by=first), not the 60 s deadline
test("a subscriber that hears nothing ends after first_ms, saying so", function()
  local roles = require "qsl.roles"
  local t0 = qsl.clock.now_ns()
  local res = roles.run("subscribe", { first_ms = 300, idle_ms = 50 })
  local ms = (qsl.clock.now_ns() - t0) / 1e6
  assert(res.ended_by == "first" and res.datagrams == 0, res.ended_by)
  assert(ms >= 300 and ms < 5000, ms)
  res = roles.run("subscribe", { deadline_ms = 200, idle_ms = 50 })
  assert(res.ended_by == "deadline", res.ended_by)
end)

-- subscribe print=1, as the original's subscriber: each message a line, each forward skip
-- marked with how many numbers it missed, so the marks sum to the interior gaps.
test("subscribe print=1: every message decoded on a line, the gaps marked and counted", function()
  local roles = require "qsl.roles"
  local sub <close>, ready = roles.start("subscribe", { print = 1, rcvbuf = 2048, idle_ms = 300 })
  roles.run("publish", { port = ready.port, orders = 3000, symbols = 2 })
  local sr = roles.finish(sub)
  local lines, missing = 0, 0
  for l in sub:output():gmatch("[^\n]+") do
    if l:find("^Md") then
      lines = lines + 1
      assert(l:find("^MdTrade%(seq=%d+,sym=%d+,px=%-?%d+,qty=%d+%)$") or
             l:find("^MdTopOfBook%(seq=%d+,sym=%d+,bid=[-%d]+,ask=[-%d]+%)$"), l)
    elseif l:find("^gap:") then
      missing = missing + assert(tonumber(l:match("^gap: (%d+) missing")), l)
    end
  end
  assert(lines == sr.messages and sr.messages > 0, lines .. " lines, " .. sr.messages)
  assert(sr.duplicates == 0 and sr.reordered == 0, "loopback reordered")
  assert(missing == sr.interior_gaps, missing .. " marked, " .. sr.interior_gaps .. " gaps")
end)

-- A paced publisher stalled mid-run (SIGSTOP for 300 ms, the stimulus): catch_up=1, the
-- default, keeps its absolute schedule and sends what fell overdue at once; catch_up=0 moves
-- the schedule on, counts it, and never sends more than a batch without a wait.
test("publish catch_up=0: a stall never becomes a burst larger than a batch", function()
  local function stalled(catch_up)
    local sub <close>, ready = roles.start("subscribe", { idle_ms = 1000 })
    -- 60,000 orders (51,404 messages) at 20,000 messages/s: ~2.6 s; the stall 0.5 s in
    local pub <close> = roles.start("publish", { port = ready.port, orders = 60000, rate = 20000,
                                                 batch = 16, catch_up = catch_up })
    qsl.clock.sleep_ms(500)
    roles.pause(pub)
    assert(not pub:line("result", 0), "the publisher was done before the stall")
    qsl.clock.sleep_ms(300)
    assert(pub:signal("CONT"))
    local pr = roles.finish(pub)
    local sr = roles.finish(sub)
    assert(sr.messages > 0 and pr.messages > 0)
    return pr
  end
  local held = stalled(0)
  assert(held.schedule_moved >= 1 and held.late_ms >= 250,
         ("moved %d times, %.1f ms"):format(held.schedule_moved, held.late_ms))
  assert(held.burst_max <= 16, "catch_up=0 sent a burst of " .. held.burst_max)
  local caught = stalled(1)
  assert(caught.schedule_moved == 0 and caught.late_ms == 0)
  assert(caught.burst_max > 16 * 100, "catch_up=1 after a 300 ms stall: burst " ..
         caught.burst_max)       -- 6,000 messages fell due in it
end)

test("path_books: a pair's and a chain's, every packet followed hop by hop", function()
  local function t(over)
    local b = { pub = { datagrams = 1000, send_failures = 0 },
                sub = { datagrams = 600, kernel_drops = 50, duplicates = 0 }, wire = 30,
                sndbuf = 200,
                queue = { drops = 200, packets = 800 },
                hops = { { arrived = 800, forwarded = 800, sent = 680, drops = 120 } } }
    for k, v in pairs(over or {}) do b[k] = v end
    return b
  end
  assert(feed.path_books(t()) == nil)
  -- without routers: a's queue's packets are the subscriber's
  assert(feed.path_books(t{ hops = {}, queue = { drops = 320, packets = 680 },
                            sndbuf = 320 }) == nil)
  local why = feed.path_books(t{ hops = {}, queue = { drops = 320, packets = 690 },
                                 sndbuf = 320 })
  assert(why and why:find("the link carried 690 packets, 10 of them not ours", 1, true), why)
  -- a router that took in more than it forwarded, or a queue that lost some uncounted
  -- (each with the whole still balanced: only the hop-by-hop book sees it)
  why = feed.path_books(t{ hops = { { arrived = 800, forwarded = 790, sent = 680, drops = 120 } } })
  assert(why and why:find("router 1 took in 800 packets, forwarded 790", 1, true), why)
  why = feed.path_books(t{ hops = { { arrived = 800, forwarded = 800, sent = 670, drops = 120 } } })
  assert(why and why:find("router 1 forwarded 800 packets; hop 2 sent 670, dropped 120", 1,
                          true), why)
  why = feed.path_books(t{ hops = { { arrived = 790, forwarded = 790, sent = 670, drops = 120 } } })
  assert(why and why:find("hop 1 sent 800 packets, router 1 took in 790", 1, true), why)
  -- the kernel's QDISC_DROP in router 1's namespace above tc's count there
  local drops = { reasons = { QDISC_DROP = 330, NETFILTER_DROP = 30, SOCKET_RCVBUFF = 50 },
                  hosts = { { QDISC_DROP = 200 }, { QDISC_DROP = 130 }, {} } }
  why = feed.path_books(t{ drops = drops })
  assert(why and why:find("hop 2: the kernel dropped 130 (QDISC_DROP) in router 1, tc " ..
                          "counted 120", 1, true), why)
  drops.reasons.QDISC_DROP, drops.hosts[2].QDISC_DROP = 320, 120
  assert(feed.path_books(t{ drops = drops }) == nil)
end)
