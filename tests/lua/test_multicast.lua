-- Multicast fan-out: one publisher to a group, several subscriber processes with books of
-- their own (feed.fanout), on lo in a namespace of the test's own and across a veth link,
-- IPv4 and IPv6; the roles' multicast parameters refused with a reason when wrong.
local qsl = require "qsl"
local feed = require "qsl.feed"
local roles = require "qsl.roles"

local function fanout_trial(over)
  local sub = { datagrams = 90, kernel_drops = 8, received = 270, interior_gaps = 20,
                tail_loss = 10, malformed = 0, duplicates = 0 }
  local r = { pub = { datagrams = 100, messages = 300, send_failures = 2 },
              subs = { sub, setmetatable({}, { __index = sub }) }, isolated = true, shared = true,
              net = { Udp = { InDatagrams = 180, RcvbufErrors = 16 } } }
  for k, v in pairs(over or {}) do
    if k == 2 then r.subs[2] = setmetatable(v, { __index = sub }) else r[k] = v end
  end
  return r
end

test("fanout_books: balanced is nil, each imbalance is named, no remainder", function()
  assert(feed.fanout_books(fanout_trial()) == nil)
  -- a copy neither received nor dropped at the socket: never "lost on the way", named
  local why = feed.fanout_books(fanout_trial{ [2] = { datagrams = 87 } })
  assert(why:find("subscriber 2: 100 datagrams sent (less 2 refused) ~= received 87 + socket " ..
                  "drops 8; the kernel's drops: n/a", 1, true), why)
  why = feed.fanout_books(fanout_trial{ [2] = { duplicates = 1 } })
  assert(why:find("subscriber 2: 0 malformed datagrams, 1 duplicates", 1, true), why)
  why = feed.fanout_books(fanout_trial{ net = { Udp = { InDatagrams = 180, RcvbufErrors = 9 } } })
  assert(why:find("socket drops 16 (SO_MEMINFO) ~= the trial's RcvbufErrors 9 (Udp 9, Udp6 0)", 1,
                  true), why)
  -- the kernel's account: the sockets' drops balance; a drop elsewhere shows its reason
  local r = fanout_trial{ drops = { reasons = { SOCKET_RCVBUFF = 16 } } }
  assert(feed.fanout_books(r) == nil, feed.fanout_books(r))
  r = fanout_trial{ [2] = { datagrams = 85 },
                    drops = { reasons = { SOCKET_RCVBUFF = 16, NEIGH_DEAD = 5 } } }
  why = feed.fanout_books(r)
  assert(why:find("the kernel's drops: SOCKET_RCVBUFF 16, NEIGH_DEAD 5", 1, true), why)
  r.subs[2].datagrams = nil
  why = feed.fanout_books(r)
  assert(why:find("no place of the book names: NEIGH_DEAD 5", 1, true), why)
end)

test("fanout_books on a star: each subscriber's own host's counters", function()
  local sub = { datagrams = 90, kernel_drops = 8, received = 270, interior_gaps = 20,
                tail_loss = 10, malformed = 0, duplicates = 0 }
  local function host(rcvbuf_errors)
    return { Udp = { InDatagrams = 90, RcvbufErrors = rcvbuf_errors } }
  end
  local r = { pub = { datagrams = 100, messages = 300, send_failures = 2 }, shared = false,
              subs = { sub, setmetatable({}, { __index = sub }) }, nets = { host(8), host(8) },
              drops = { reasons = { SOCKET_RCVBUFF = 16 },
                        hosts = { {}, { SOCKET_RCVBUFF = 8 }, { SOCKET_RCVBUFF = 8 } } } }
  assert(feed.fanout_books(r) == nil, feed.fanout_books(r))
  r.nets[2] = host(9)
  local why = feed.fanout_books(r)
  assert(why:find("subscriber 2: its socket drops 8 (SO_MEMINFO) ~= the trial's " ..
                  "RcvbufErrors 9 (Udp 9, Udp6 0)", 1, true), why)
  r.nets[2], r.drops.hosts[3] = host(8), { SOCKET_RCVBUFF = 9 }
  why = feed.fanout_books(r)
  assert(why:find("subscriber 2: its host's SOCKET_RCVBUFF+PROTO_MEM 9 > its socket drops 8",
                  1, true), why)
  -- fewer is the kernel not showing the program some: the whole book's unseen says how many
  r.drops.hosts[3], r.drops.reasons.SOCKET_RCVBUFF = { SOCKET_RCVBUFF = 7 }, 15
  local unseen
  why, unseen = feed.fanout_books(r)
  assert(why == nil and unseen.total == 1, why)
  -- the switch's own stack frees one copy of each datagram it forwards: a place of its own
  r.drops.hosts[3], r.drops.reasons.SOCKET_RCVBUFF, r.hub = { SOCKET_RCVBUFF = 8 }, 16, true
  r.drops.hosts[4], r.drops.reasons.NOT_SPECIFIED = { NOT_SPECIFIED = 98 }, 98
  assert(feed.fanout_books(r) == nil, feed.fanout_books(r))
  r.drops.hosts[4].NOT_SPECIFIED = 97
  why = feed.fanout_books(r)
  assert(why:find("the switch's own stack: the kernel dropped 97 (NOT_SPECIFIED 97), one per " ..
                  "datagram sent would be 98", 1, true), why)
  -- the audit saw the kernel skip the program for that one
  r.drops.skipped, r.drops.reasons.NOT_SPECIFIED = { NOT_SPECIFIED = 1, SOCKET_RCVBUFF = 0 }, 97
  assert(feed.fanout_books(r) == nil, feed.fanout_books(r))
  r.drops.skipped, r.drops.reasons.NOT_SPECIFIED = nil, 98
  r.drops.hosts[4].NOT_SPECIFIED, r.drops.reasons.NOT_SPECIFIED = 98, 99
  why = feed.fanout_books(r)
  assert(why:find("no place of the book names: NOT_SPECIFIED 1", 1, true), why)
end)

-- Three subscribers of one group, each receiving every message when its buffer has room.
local function three(path, ipv6)
  local expected = feed.messages{ seed = 42, orders = 300, symbols = 3 }
  local subs = {}
  for i = 1, 3 do subs[i] = { expected = expected, rcvbuf = 8 << 20, idle_ms = 500 } end
  local r = feed.fanout{ subs = subs, path = path, ipv6 = ipv6,
                         pub = { orders = 300, rate = 20000 } }
  assert(feed.fanout_books(r) == nil, feed.fanout_books(r))
  assert(#r.subs == 3 and r.pub.messages == expected)
  for i, sr in ipairs(r.subs) do
    assert(r.readies[i].port == r.readies[1].port, "one port for the group")
    -- a small datagram is charged about 832 bytes here: lossless where that much was granted
    if r.readies[i].granted_rcvbuf >= expected * 1024 then
      assert(sr.received == expected and sr.kernel_drops == 0,
             ("subscriber %d: %d of %d, %d dropped"):format(i, sr.received, expected,
                                                             sr.kernel_drops))
    end
  end
  return r
end

test("three subscribers of a group on lo, in a namespace of the test's own", function()
  if not roles.isolated() then return end
  local r = three("loopback")
  assert(r.group == "239.77.0.1" and r.iface == "lo")
  local udp = r.net.Udp
  assert(udp.InDatagrams == r.subs[1].datagrams * 3, "each member got its own copy")
end)

test("three subscribers across a veth link, IPv4 and IPv6", function()
  if not roles.isolated() then return end
  assert(three("veth").iface == "qb")
  assert(three("veth", true).group == "ff15::77")
end)

test("three subscribers on hosts of their own behind a switch, IPv4 and IPv6", function()
  if not roles.isolated() then return end
  local r = three("star")
  assert(r.shared == false and #r.nets == 3 and r.iface == "e0")
  for i, sr in ipairs(r.subs) do
    assert(r.nets[i].Udp.InDatagrams == sr.datagrams, "each host counts its subscriber alone")
  end
  assert(three("star", true).group == "ff15::77")
end)

test("IPv6 multicast on lo is refused before anything starts, with the reason", function()
  local ok, err = pcall(feed.fanout, { ipv6 = true, pub = {}, subs = { {} } })
  assert(not ok and err:find("no IPv6 multicast out of lo", 1, true), err)
end)

test("a slow subscriber does its work: the run takes at least messages x work_ns", function()
  if not roles.isolated() then return end
  local expected = feed.messages{ seed = 42, orders = 300, symbols = 3 }
  local t0 = qsl.clock.now_ns()
  local r = feed.fanout{ subs = { { expected = expected, rcvbuf = 8 << 20, work_ns = 200000 } },
                         pub = { orders = 300 } }
  local took = qsl.clock.now_ns() - t0
  assert(feed.fanout_books(r) == nil, feed.fanout_books(r))
  local worked = r.subs[1].messages * 200000
  assert(worked > 0 and took >= worked, ("took %d ns for %d ns of work"):format(took, worked))
end)

local function role_error(role, args)
  local argv = { QSL_RUN, role }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local p <close> = assert(qsl.proc.spawn{ argv = argv })
  local st = assert(p:wait(10000))
  return st.code, p:errors()
end

test("the roles refuse a group without an interface, an interface without a group", function()
  for _, case in ipairs{
    { "publish", { "host=239.77.0.1", "port=9" }, "iface= must name the interface" },
    { "publish", { "host=127.0.0.1", "port=9", "iface=lo" }, "127.0.0.1 is not one" },
    { "publish", { "host=ff15::77", "port=9", "iface=nosuchif0" }, "iface=nosuchif0: no such" },
    { "subscribe", { "bind=239.77.0.1", "iface=" .. ("x"):rep(16) }, "at most 15 characters" },
    { "subscribe", { "bind=127.0.0.1", "iface=lo" }, "127.0.0.1 is not one" },
    { "subscribe", { "work_ns=10000001" }, "work_ns" },
  } do
    local code, err = role_error(case[1], case[2])
    assert(code == 1, table.concat(case[2], " ") .. ": exit " .. tostring(code))
    assert(err:find(case[3], 1, true), err)
  end
end)

-- This process's children now: every /proc/PID/stat whose parent is this process.
local function children()
  local me, n = qsl.procfs.stat().pid, 0
  local h = io.popen("cat /proc/[0-9]*/stat 2>/dev/null")
  for line in h:lines() do
    local ppid = line:match("^%d+ %(.*%) %a (%d+)")
    if tonumber(ppid) == me then n = n + 1 end
  end
  h:close()
  return n
end

test("a publisher that cannot start leaves no subscriber running", function()
  if not roles.isolated() then return end
  local before = children()
  collectgarbage("stop")      -- stopped by fanout itself, not by a collector that came by
  local ok, err = pcall(feed.fanout, { subs = { {}, {} }, pub = { rate = "fast" } })
  local after = children()
  collectgarbage("restart")
  assert(not ok and err:find("rate=fast", 1, true), err)
  assert(after <= before, ("%d children left, %d before"):format(after, before))
end)
