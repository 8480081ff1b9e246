-- qsl.feed: the building blocks of the feed experiments (rcvbuf_burst,
-- rcvbuf_sweep, feed_throughput).
--   messages{seed=, orders=, symbols=, flow=} -> what the publisher will send:
--       the same flow through the same engine, run in-process
--   run{sub={subscribe params}, pub={publish params}, path=, link=, timeout=}
--       -> {ready = the subscriber's ready line, pub = publish result, sub = subscribe result,
--           net = the network counters' delta over the trial (measure.net), isolated}
--       a subscriber started first (its ready line gives the port), then the publisher;
--       both finished, every field checked against the roles' declarations. Both run in a
--       network namespace of the trial's own where one can be made (isolated = true), so
--       net counts this trial's datagrams alone; else in ours, with the machine's traffic.
--       path = "veth": on two hosts of their own joined by a veth link (qsl.net.pair; net
--       is then the subscriber's host's); link = net.parse_link's {kind, params}: the
--       queueing discipline of the sender's end of that link (.queue: its counters after)
--   books(r) -> nil when the counts balance, else what does not:
--       datagrams sent = received + kernel drops + send failures (+ the link's queue drops
--       with a link; SO_MEMINFO sees every drop on the socket, tail drops included), received + interior gaps + tail loss =
--       published, nothing malformed or duplicated, and (isolated) the namespace's Udp
--       RcvbufErrors equal to the kernel drops
--   fanout{subs={params, ...}, pub={publish params}, path=, ipv6=, group=, timeout=}
--       -> {readies, subs = their results in order, pub, net, nets, shared, group, iface}:
--       one publisher to a multicast group (default 239.77.0.1, ff15::77 with ipv6) and
--       one subscriber process per entry of subs, each joined to it with its own socket,
--       buffer and books. path = "veth": publisher on host a, subscribers on host b
--       (qsl.net.pair); "star": each subscriber on a host of its own behind a switch
--       (qsl.net.star; the switch makes the copies); else all in one namespace of the
--       trial's own, over lo (IPv4 only: Linux routes no IPv6 multicast out of lo).
--       shared: one host makes every copy (lo, veth); nets[i]: the network counters' delta
--       of subscriber i's host (net = nets[1]). Skipped (exit 2) where no namespace can be
--       made: lo takes multicast only in one of qsl's own.
--   path_lost(pub, sub) -> lost on the way to that subscriber's socket
--   fanout_books(r) -> nil when every subscriber's counts balance, else what does not:
--       each subscriber's sequence books as in books(), with what it lost on the way
--       (sent - sender's failures - received - the socket's drops, never negative); where
--       one host makes the copies (shared) that loss the same for every subscriber, since a
--       datagram is copied to each member only once it arrived there, and the namespace's
--       Udp RcvbufErrors = the sum of the socket drops; on a star, each host's
--       RcvbufErrors = its subscriber's drops (IPv4)
--   can_force() -> whether SO_RCVBUFFORCE works here (CAP_NET_ADMIN); false, why, errno
--   need_force() -> skips the run (exit 2) without CAP_NET_ADMIN, which SO_RCVBUFFORCE needs
--   size_label(bytes) -> "2 KiB", "8 MiB", "OS default" (0)
local qsl = require "qsl"
local roles = require "qsl.roles"
local measure = require "qsl.measure"
local M = {}

-- messages(t): the messages the flow of t's seed, orders, symbols and flow produces
-- (t may be a scenario's parameters: only those four are read)
function M.messages(o)
  local e <close> = qsl.engine.new{ symbols = o.symbols }
  local st = e:run_flow{ seed = o.seed, orders = o.orders, flow = o.flow }
  return st.trades + st.top_of_book
end

function M.run(o)
  roles.options("feed.run", o, { "sub", "pub", "path", "link", "timeout" })
  -- path = "veth": publisher and subscriber on two hosts of their own (qsl.net), the
  -- subscriber bound to its host's address; else one namespace of the trial's own
  if o.link and o.path ~= "veth" then error("feed.run: link= needs path = \"veth\"", 2) end
  local pair <close> = o.path == "veth" and require("qsl.net").hosts("veth", o.link) or nil
  local ns <close> = not pair and roles.netns() or nil
  local counted = pair and pair.b.pid or (ns and ns.pid)
  local sub_at = pair and pair.b.at or (ns and { netns_of = ns.pid })
  local sub_params, pub_params = roles.merge(o.sub), roles.merge(o.pub)
  if pair then sub_params.bind, pub_params.host = pair.b.addr, pair.b.addr end
  local before = measure.net(counted)
  local sub <close>, ready = roles.start("subscribe", sub_params, sub_at)
  pub_params.port = ready.port
  local pub <close> = roles.start("publish", pub_params, pair and pair.a.at or sub_at)
  local pr = roles.finish(pub, { timeout = o.timeout or 120000 })
  local sr = roles.finish(sub, { timeout = o.timeout or 120000 })
  local net = measure.delta(before, measure.net(counted))
  return { ready = ready, pub = pr, sub = sr, net = net, isolated = counted ~= nil,
           queue = o.link and pair:stats(pair.a) or nil }
end

-- The publisher's host, and subscriber i's: one host for all (lo, or b of a pair: the
-- copies are made there, shared = true) or a host each (a star: the switch copies).
local function hosts_for(o, n)
  local net = require "qsl.net"
  if o.path == "star" then
    local star = net.star(n + 1, { ipv6 = o.ipv6 })
    return star, star[1], function(i) return star[i + 1] end, false
  end
  if o.path == "veth" then
    local pair = net.pair{ ipv6 = o.ipv6 }
    return pair, pair.a, function() return pair.b end, true
  end
  if o.ipv6 then
    error("feed.fanout: Linux routes no IPv6 multicast out of lo (Ip6OutNoRoutes counts " ..
          "every datagram): use path=veth or star", 3)
  end
  local ns = roles.netns()
  if not ns then qsl.skip("multicast fan-out on lo needs a network namespace of its own") end
  local host = { pid = ns.pid, at = { netns_of = ns.pid }, ifname = "lo" }
  net.run(host, { "ip", "link", "set", "lo", "multicast", "on" })
  return ns, host, function() return host end, true
end

local function stop_all(procs)
  for _, p in ipairs(procs) do
    if p:running() then p:stop(500) end
  end
end

function M.fanout(o)
  roles.options("feed.fanout", o, { "subs", "pub", "path", "ipv6", "group", "timeout" })
  assert(type(o.subs) == "table" and #o.subs >= 1, "feed.fanout: subs must list subscribers")
  local held <close>, a, host_of, shared = hosts_for(o, #o.subs)
  local group = o.group or (o.ipv6 and "ff15::77" or "239.77.0.1")
  local before = {}
  for i = 1, #o.subs do before[i] = measure.net(host_of(i).pid) end
  local procs, readies, port = {}, {}, nil
  local ok, err = pcall(function()
    for i, params in ipairs(o.subs) do
      local b = host_of(i)
      local sp = roles.merge(params, { bind = group, iface = b.ifname, port = port })
      procs[i], readies[i] = roles.start("subscribe", sp, b.at)
      port = port or readies[i].port
    end
  end)
  if not ok then
    stop_all(procs)
    error(err, 2)
  end
  local r = { readies = readies, subs = {}, group = group, iface = host_of(1).ifname,
              isolated = true, shared = shared, nets = {} }
  ok, err = pcall(function()     -- the subscribers are stopped whatever fails here
    local pp = roles.merge(o.pub, { host = group, iface = a.ifname, port = port })
    procs[#procs + 1] = roles.start("publish", pp, a.at)
    r.pub = roles.finish(procs[#procs], { timeout = o.timeout or 120000 })
    for i = 1, #o.subs do
      r.subs[i] = roles.finish(procs[i], { timeout = o.timeout or 120000 })
    end
  end)
  stop_all(procs)
  if not ok then error(err, 2) end
  for i = 1, #o.subs do r.nets[i] = measure.delta(before[i], measure.net(host_of(i).pid)) end
  r.net = r.nets[1]
  return r
end

-- Lost before the copy reached this subscriber's socket, as its counts tell it.
function M.path_lost(pr, sr)
  return pr.datagrams - pr.send_failures - sr.datagrams - sr.kernel_drops
end

-- The namespace's Udp RcvbufErrors against the socket drops it should equal (IPv4 only:
-- an IPv6 trial leaves Udp at zero).
local function udp_check(net, drops, what)
  local udp = net and net.Udp
  if udp and udp.InDatagrams + udp.RcvbufErrors > 0 and udp.RcvbufErrors ~= drops then
    return ("%s %d (SO_MEMINFO) ~= the trial's Udp RcvbufErrors %d"):format(what, drops,
                                                                            udp.RcvbufErrors)
  end
end

function M.fanout_books(r)
  local common, drops, shared = nil, 0, r.shared ~= false
  for i, sr in ipairs(r.subs) do
    local lost = M.path_lost(r.pub, sr)
    common = common or lost
    if lost < 0 or (shared and lost ~= common) then
      return ("subscriber %d: %d lost on the way, subscriber 1: %d (one host copies: the same " ..
              "for all)"):format(i, lost, common)
    end
    local why = M.books{ pub = r.pub, sub = sr, path_lost = lost }
      or not shared and udp_check(r.nets[i], sr.kernel_drops, "its socket drops")
    if why then return ("subscriber %d: %s"):format(i, why) end
    drops = drops + sr.kernel_drops
  end
  return shared and udp_check(r.net, drops, "the subscribers' socket drops") or nil
end

function M.books(r)
  local pr, sr = r.pub, r.sub
  local path = r.path_lost or (r.queue and r.queue.drops) or 0
  if pr.datagrams ~= sr.datagrams + sr.kernel_drops + pr.send_failures + path then
    return ("datagrams sent %d ~= received %d + kernel drops %d + send failures %d%s"):format(
      pr.datagrams, sr.datagrams, sr.kernel_drops, pr.send_failures,
      r.path_lost and (" + lost on the way %d"):format(path)
      or r.queue and (" + the link's queue drops %d"):format(path) or "")
  end
  if sr.received + sr.interior_gaps + sr.tail_loss ~= pr.messages then
    return ("received %d + gaps %d + tail %d ~= published %d"):format(sr.received,
      sr.interior_gaps, sr.tail_loss, pr.messages)
  end
  -- isolated, the namespace's UDP counters see this subscriber's socket alone (IPv4: an
  -- IPv6 trial counts in snmp6, not read here, and leaves Udp at zero)
  local why = r.isolated and udp_check(r.net, sr.kernel_drops, "kernel drops")
  if why then return why end
  if sr.malformed + sr.duplicates > 0 then
    return ("%d malformed datagrams, %d duplicates"):format(sr.malformed, sr.duplicates)
  end
  return nil
end

function M.can_force()
  local probe <close> = assert(qsl.sock.udp())
  local ok, err, code = probe:setopt("rcvbufforce", 4096)
  return ok ~= nil, err, code
end

function M.need_force()
  local ok, err, code = M.can_force()
  if ok then return end
  if code == 1 then qsl.skip("force=true needs CAP_NET_ADMIN (SO_RCVBUFFORCE: " .. err .. ")") end
  qsl.fail("force=true: " .. err)
end

function M.size_label(n)
  if n == 0 then return "OS default" end
  if n >= 1 << 20 and n % (1 << 20) == 0 then return ("%d MiB"):format(n >> 20) end
  if n >= 1024 and n % 1024 == 0 then return ("%d KiB"):format(n >> 10) end
  return tostring(n) .. " B"
end

return M
