-- qsl.feed: the building blocks of the feed experiments (rcvbuf_burst,
-- rcvbuf_sweep, feed_throughput).
--   messages{seed=, orders=, symbols=, flow=} -> what the publisher will send:
--       the same flow through the same engine, run in-process
--   run{sub={subscribe params}, pub={publish params}, path=, link=, ipv6=, timeout=}
--       -> {ready = the subscriber's ready line, pub = publish result, sub = subscribe result,
--           net = the network counters' delta over the trial (measure.net), isolated}
--       a subscriber started first (its ready line gives the port), then the publisher;
--       both finished, every field checked against the roles' declarations. drops: the
--       kernel's drops of UDP datagrams by reason in the trial's namespaces (measure.drops'
--       read("udp"); .others: the rest, such as IGMP), or nil and drops_na saying why (no
--       BPF here, no namespace of the trial's own). Both run in a
--       network namespace of the trial's own where one can be made (isolated = true), so
--       net counts this trial's datagrams alone; else in ours, with the machine's traffic.
--       path = "veth": on two hosts of their own joined by a veth link (qsl.net.pair; net
--       is then the subscriber's host's); link = net.parse_link's {kind, params}: the
--       queueing discipline of the sender's end of that link (.queue: its counters after);
--       loss = a fraction (0..1) of the datagrams dropped on the way in at b (pair:loss;
--       .wire: how many); before_send = fn(pair): called once the subscriber is ready,
--       before the publisher starts (pair nil off veth). devices (veth): each end's
--       counters over the trial, {a =, b =} of net.stats_delta (root qdisc, .qdiscs,
--       .link's stats64); ipv6 = true: over IPv6 (::1, or the pair's addr6), net's Udp6
--       and Ip6 counting the trial's datagrams
--   books(r) -> nil when the counts balance, else what does not:
--       datagrams sent = received + kernel drops + send failures (+ the link's queue drops
--       with a link; SO_MEMINFO sees every drop on the socket, tail drops included),
--       received + interior gaps + tail loss =
--       published, nothing malformed or duplicated, (isolated) the namespace's Udp and
--       Udp6 RcvbufErrors (/proc/net/snmp, snmp6) equal to the kernel drops, and (r.drops:
--       the kernel's account, where BPF runs) every drop the kernel made in the trial's
--       namespaces a place of the book: SOCKET_RCVBUFF the socket's drops, QDISC_DROP the
--       link's queue's, NETFILTER_DROP the wire's (loss=)
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
--       drops: the kernel's drops of UDP datagrams by reason in every namespace of the trial
--       (publisher's host, hosts[1]; subscriber i's, hosts[i + 1]; a star's switch;
--       .others: the rest), or drops_na.
--   fanout_books(r) -> nil when every subscriber's counts balance, else what does not:
--       each subscriber's copies all found again (received or dropped at its socket: no
--       remainder called "lost on the way"), its sequence books as in books(); where one
--       host makes the copies (shared) the namespace's Udp RcvbufErrors = the sum of the
--       socket drops; on a star, each host's RcvbufErrors and SOCKET_RCVBUFF = its
--       subscriber's drops; and the kernel's drops in all the trial's namespaces are the
--       sockets' (SOCKET_RCVBUFF) and, on a star, the switch's own stack's (one per datagram
--       it floods: r.hub), nothing else: a drop anywhere else is shown by its reason
--   kernel_book(drops, places) -> why, unseen: why nil when the kernel's own account
--       (measure.drops' read) agrees with the book, else what does not: places = { {name=,
--       reason=, count=, counter=}, ... }, each place the kernel reason that counts it and
--       qsl's own count of it (count nil: the kernel's is the only one); the kernel may not
--       count more than qsl, and every reason dropped must be some place's, so no drop can
--       pass unnamed (reasons= for a place several reasons count). unseen = {total, text,
--       skipped}: what qsl counted that the program never saw. On 6.18 over veth the
--       kernel sometimes makes a drop and does not run the program for it (no recursion
--       miss counted): drops.skipped (measure.drops' audit, perf's own count of the
--       tracepoint less the program's runs, by reason) says how many; an unseen count
--       within it is reported, not a failure; above it, it fails; with no audit (perf
--       cannot count here) it is reported, unexplained.
--       books, path_books and fanout_books return it as their second value.
--   unseen_fields(unseen) -> a row's {unseen, unseen_places, unseen_skipped}
--   unseen_caveat(art, rows): a caveat in art where some row's `unseen` is > 0
--   socket_wait(sub result) -> {socket_wait_p50_us, _p99_us, _p999_us, _max_us}: how long
--       datagrams waited in the socket (subscribe timestamps=1), or "n/a" each without
--   path_books{pub=, sub=, queue= (pair:stats), wire= (pair:lost), sndbuf= (the sender's Udp
--       SndbufErrors), drops= (measure.drops' read or nil)} -> nil when every datagram sent
--       over a shaped, lossy link is found again (received, or dropped at the queue, on the
--       wire, at the socket, refused to the sender), the link carried ours alone, and where
--       the kernel's account is there it names each place (QDISC_DROP, NETFILTER_DROP,
--       SOCKET_RCVBUFF) with the same counts and nothing else; else what does not.
--       hops= (net.hops_delta of a chain's samples): the routers after a's queue, each
--       {arrived, forwarded, sent, drops}; the book then follows every packet hop by hop
--       (what a queue sent the next node took in, a router forwarded all of it, its queue
--       sent or dropped all it forwarded) and each router's QDISC_DROP (drops.hosts[k+1])
--       is at most its queue's drops. copies= (pair:duplicated): the dup rule's copies,
--       sent besides the publisher's datagrams; the subscriber's duplicates at most that
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

-- The kernel's drops in the trial's namespaces only (ours would mix in the machine's
-- traffic): a counter, or nil and why.
local function trial_drops(pair, counted)
  local ok, why = qsl.kernel.available()
  if not ok then return nil, why end
  if not counted then return nil, "no network namespace of the trial's own" end
  return measure.drops(pair and { pair.a.pid, pair.b.pid } or { counted })
end

function M.run(o)
  roles.options("feed.run", o, { "sub", "pub", "path", "link", "loss", "before_send", "timeout",
                                 "ipv6" })
  -- path = "veth": publisher and subscriber on two hosts of their own (qsl.net), the
  -- subscriber bound to its host's address; else one namespace of the trial's own
  if (o.link or o.loss) and o.path ~= "veth" then
    error("feed.run: link= and loss= need path = \"veth\"", 2)
  end
  local pair <close> = o.path == "veth" and
    require("qsl.net").hosts("veth", o.link, nil, { ipv6 = o.ipv6 }) or nil
  if o.loss then pair:loss(pair.b, o.loss) end
  local ns <close> = not pair and roles.netns() or nil
  local counted = pair and pair.b.pid or (ns and ns.pid)
  local sub_at = pair and pair.b.at or (ns and { netns_of = ns.pid })
  local sub_params, pub_params = roles.merge(o.sub), roles.merge(o.pub)
  local to = pair and (o.ipv6 and pair.b.addr6 or pair.b.addr) or (o.ipv6 and "::1")
  if to then sub_params.bind, pub_params.host = to, to end
  local before = measure.net(counted)
  local dev0 = pair and { a = pair:stats(pair.a), b = pair:stats(pair.b) }
  local drops <close>, drops_na = trial_drops(pair, counted)
  local sub <close>, ready = roles.start("subscribe", sub_params, sub_at)
  pub_params.port = ready.port
  if o.before_send then o.before_send(pair) end
  local pub <close> = roles.start("publish", pub_params, pair and pair.a.at or sub_at)
  local pr = roles.finish(pub, { timeout = o.timeout or 120000 })
  local sr = roles.finish(sub, { timeout = o.timeout or 120000 })
  local net = measure.delta(before, measure.net(counted))
  local dev = pair and { a = pair:stats(pair.a), b = pair:stats(pair.b) }
  local nets = require "qsl.net"
  return { ready = ready, pub = pr, sub = sr, net = net, isolated = counted ~= nil,
           queue = o.link and dev.a or nil, drops = drops and drops:read("udp"),
           drops_na = not drops and drops_na or nil, wire = o.loss and pair:lost(pair.b) or nil,
           devices = dev and { a = nets.stats_delta(dev0.a, dev.a),
                               b = nets.stats_delta(dev0.b, dev.b) } }
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
  local before, pids = {}, { a.pid }
  for i = 1, #o.subs do
    before[i], pids[i + 1] = measure.net(host_of(i).pid), host_of(i).pid
  end
  pids[#pids + 1] = held.hub and held.hub.pid         -- a star's switch
  local drops <close>, drops_na = measure.drops(pids)
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
  r.net, r.drops, r.drops_na = r.nets[1], drops and drops:read("udp"), drops_na
  r.hub = held.hub ~= nil
  return r
end

-- The namespace's RcvbufErrors (/proc/net/snmp's Udp and snmp6's Udp6: a trial's datagrams
-- count in one family's) against the socket drops they should equal.
local function udp_check(net, drops, what)
  if not net or not net.Udp then return nil end
  local v6 = net.Udp6 or { InDatagrams = 0, RcvbufErrors = 0 }
  local seen = net.Udp.InDatagrams + net.Udp.RcvbufErrors + v6.InDatagrams + v6.RcvbufErrors
  local errors = net.Udp.RcvbufErrors + v6.RcvbufErrors
  if seen > 0 and errors ~= drops then
    return ("%s %d (SO_MEMINFO) ~= the trial's RcvbufErrors %d (Udp %d, Udp6 %d)"):format(what,
      drops, errors, net.Udp.RcvbufErrors, v6.RcvbufErrors)
  end
end

-- The reasons the kernel gives a datagram its socket had no room for: SOCKET_RCVBUFF, and
-- PROTO_MEM where UDP's batched enqueue (6.18) drops part of a batch.
M.socket_reasons = { "SOCKET_RCVBUFF", "PROTO_MEM" }

local function socket_drops(reasons)
  return (reasons.SOCKET_RCVBUFF or 0) + (reasons.PROTO_MEM or 0)
end

function M.fanout_books(r)
  local drops = 0
  for i, sr in ipairs(r.subs) do
    -- every copy found again: received or dropped at its socket, nothing left over; where
    -- else the kernel dropped it, its reason is in the kernel's book below
    local missing = r.pub.datagrams - r.pub.send_failures - sr.datagrams - sr.kernel_drops
    if missing ~= 0 then
      return ("subscriber %d: %d datagrams sent (less %d refused) ~= received %d + socket " ..
        "drops %d; the kernel's drops: %s"):format(i, r.pub.datagrams, r.pub.send_failures,
        sr.datagrams, sr.kernel_drops, r.drops and measure.drop_text(r.drops.reasons)
        or "n/a" .. (r.drops_na and " (" .. r.drops_na .. ")" or ""))
    end
    local why = M.books{ pub = r.pub, sub = sr }
      or not r.shared and udp_check(r.nets[i], sr.kernel_drops, "its socket drops")
      or not r.shared and r.drops and socket_drops(r.drops.hosts[i + 1]) > sr.kernel_drops
        and ("its host's SOCKET_RCVBUFF+PROTO_MEM %d > its socket drops %d"):format(
          socket_drops(r.drops.hosts[i + 1]), sr.kernel_drops)
    if why then return ("subscriber %d: %s"):format(i, why) end
    drops = drops + sr.kernel_drops
  end
  local why = r.shared and udp_check(r.net, drops, "the subscribers' socket drops")
  if why or not r.drops then return why or nil end
  local reasons, hub = r.drops.reasons, r.hub and r.drops.hosts[#r.drops.hosts]
  if hub then
    -- the switch floods each datagram to its own stack too, which has no socket for it
    -- (no IPv4 address; IPv6 off): a place of its own, one drop per datagram it forwarded
    local copies, sent = 0, r.pub.datagrams - r.pub.send_failures
    reasons = {}
    for reason, n in pairs(r.drops.reasons) do
      copies = copies + (hub[reason] or 0)
      reasons[reason] = n - (hub[reason] or 0) > 0 and n - (hub[reason] or 0) or nil
    end
    local skipped = r.drops.skipped and ((r.drops.skipped.NOT_SPECIFIED or 0) +
                                        (r.drops.skipped.IPV6DISABLED or 0))
    if copies > sent or copies < sent - (skipped or 0) then
      return ("the switch's own stack: the kernel dropped %d (%s), one per datagram sent " ..
              "would be %d"):format(copies, measure.drop_text(hub), sent)
    end
  end
  return M.kernel_book({ reasons = reasons, skipped = r.drops.skipped }, { { name = "sockets",
    reasons = M.socket_reasons, count = drops, counter = "SO_MEMINFO" } })
end

-- A place's reasons (reason= or reasons=) and what the kernel showed and skipped for them.
local function place_seen(drops, place)
  local reasons = place.reasons or { place.reason }
  local seen, skipped = 0, drops.skipped and 0
  for _, r in ipairs(reasons) do
    seen = seen + (drops.reasons[r] or 0)
    if skipped then skipped = skipped + (drops.skipped[r] or 0) end
  end
  return reasons, seen, skipped
end

function M.kernel_book(drops, places)
  local named, why = {}, {}
  local unseen = { total = 0, skipped = drops.skipped and 0, places = {} }
  for _, place in ipairs(places) do
    local reasons, seen, skipped = place_seen(drops, place)
    local label = table.concat(reasons, "+")
    for _, r in ipairs(reasons) do named[r] = true end
    if place.count and seen > place.count then
      why[#why + 1] = ("%s: the kernel dropped %d (%s), %s counted %d"):format(place.name, seen,
        label, place.counter or "qsl", place.count)
    elseif place.count and seen < place.count then
      -- counted by qsl's counter, never shown to the program: the audit (perf's own
      -- count of the tracepoint) says whether the kernel made them and skipped it
      local gap = place.count - seen
      unseen.total = unseen.total + gap
      if skipped then unseen.skipped = unseen.skipped + math.min(gap, skipped) end
      unseen.places[#unseen.places + 1] = ("%s %d (%s %d, %s %d%s)"):format(place.name, gap,
        label, seen, place.counter or "qsl", place.count,
        skipped and ("; the kernel skipped the program for %d"):format(skipped) or "")
      if skipped and gap > skipped then
        why[#why + 1] = ("%s: %s counted %d drops the kernel never showed (%s %d), and it " ..
          "skipped the program for %d of that reason"):format(place.name, place.counter or
          "qsl", gap, label, seen, skipped)
      end
    end
  end
  local stray = {}
  for reason, n in pairs(drops.reasons) do
    if not named[reason] then stray[reason] = n end
  end
  if next(stray) then
    why[#why + 1] = "dropped for a reason no place of the book names: " .. measure.drop_text(stray)
  end
  local lost = qsl.kernel.overflow() or 0
  if lost > 0 then why[#why + 1] = lost .. " drops the BPF map had no room to count" end
  table.sort(why)
  unseen.text = #unseen.places > 0 and table.concat(unseen.places, ", ") or "none"
  return why[1] and table.concat(why, "; ") or nil, unseen
end

-- The subscriber's socket_wait (timestamps=1) as a row's fields, in us; "n/a" without.
function M.socket_wait(sr)
  local on = (sr.socket_wait_count or 0) > 0
  local function us(f) return on and sr[f] / 1e3 or "n/a" end
  return { socket_wait_p50_us = us("socket_wait_p50_ns"),
           socket_wait_p99_us = us("socket_wait_p99_ns"),
           socket_wait_p999_us = us("socket_wait_p999_ns"),
           socket_wait_max_us = us("socket_wait_max_ns") }
end

-- A row's fields for what the kernel never showed the program: unseen (a count, "n/a"
-- without BPF), unseen_places (text), unseen_skipped (of them, the drops the audit saw
-- the kernel make and skip the program for; "n/a" without the audit).
function M.unseen_fields(unseen)
  return { unseen = unseen and unseen.total or "n/a", unseen_places = unseen and unseen.text,
           unseen_skipped = unseen and unseen.skipped or "n/a" }
end

function M.unseen_caveat(art, rows)
  local trials, total, skipped, audited = 0, 0, 0, true
  for _, r in ipairs(rows) do
    if type(r.unseen) == "number" and r.unseen > 0 then
      trials, total = trials + 1, total + r.unseen
      if type(r.unseen_skipped) == "number" then skipped = skipped + r.unseen_skipped
      else audited = false end
    end
  end
  if trials == 0 then return nil end
  local misses = qsl.kernel.misses()
  local head = ("unseen: in %d of %d trials qsl's counters (SO_MEMINFO, nft) counted %d drops " ..
    "the BPF program never saw"):format(trials, #rows, total)
  if audited and skipped == total then
    return art:caveat(head .. (": the kernel made every one of them but did not run the " ..
      "program for it (perf's own count of skb:kfree_skb, by reason, exceeded the program's " ..
      "runs by at least as many; recursion_misses %s); there the books balance on qsl's " ..
      "counters and the kernel's per-namespace counts are lower bounds"):format(
      misses and tostring(misses) or "n/a"))
  end
  art:caveat(head .. ("; the audit (perf's count of skb:kfree_skb against the program's " ..
    "runs) accounts for %s of them; recursion_misses %s"):format(audited and tostring(skipped)
    or "n/a (no audit)", misses and tostring(misses) or "n/a"))
end

function M.books(r)
  local pr, sr = r.pub, r.sub
  local queue, wire = r.queue and r.queue.drops or 0, r.wire or 0
  local places = { { name = "socket", reasons = M.socket_reasons, count = sr.kernel_drops,
                     counter = "SO_MEMINFO" } }
  places[2] = r.queue and { name = "queue", reason = "QDISC_DROP", count = queue, counter = "tc" }
  places[#places + 1] = r.wire and { name = "wire", reason = "NETFILTER_DROP", count = wire,
                                     counter = "nft" } or nil
  local kernel, unseen
  if r.drops then kernel, unseen = M.kernel_book(r.drops, places) end
  if pr.datagrams ~= sr.datagrams + sr.kernel_drops + pr.send_failures + queue + wire then
    -- where the missing datagrams went, if the kernel saw it, is said beside the sum
    return ("datagrams sent %d ~= received %d + kernel drops %d + send failures %d%s%s%s"):format(
      pr.datagrams, sr.datagrams, sr.kernel_drops, pr.send_failures,
      r.queue and (" + the link's queue drops %d"):format(queue) or "",
      r.wire and (" + lost on the wire %d"):format(wire) or "", kernel and "; " .. kernel or "")
  end
  if kernel then return kernel, unseen end
  if sr.received + sr.interior_gaps + sr.tail_loss ~= pr.messages then
    return ("received %d + gaps %d + tail %d ~= published %d"):format(sr.received,
      sr.interior_gaps, sr.tail_loss, pr.messages)
  end
  -- isolated, the namespace's UDP counters (Udp, Udp6) see this subscriber's socket alone
  local why = r.isolated and udp_check(r.net, sr.kernel_drops, "kernel drops")
  if why then return why end
  if sr.malformed + sr.duplicates > 0 then
    return ("%d malformed datagrams, %d duplicates"):format(sr.malformed, sr.duplicates)
  end
  return nil, unseen
end

function M.path_books(t)
  local pr, sr, q, hops, copies = t.pub, t.sub, t.queue, t.hops or {}, t.copies or 0
  local queued, arrived = q.drops, sr.datagrams + t.wire + sr.kernel_drops
  for _, h in ipairs(hops) do queued = queued + h.drops end
  if pr.datagrams + copies ~= sr.datagrams + queued + t.wire + sr.kernel_drops +
                              pr.send_failures then
    return ("%d sent%s; received %d, queue %d, wire %d, socket %d, sender %d"):format(
      pr.datagrams, copies > 0 and (" and %d copies"):format(copies) or "", sr.datagrams,
      queued, t.wire, sr.kernel_drops, pr.send_failures)
  end
  if sr.duplicates > copies then
    return ("the subscriber saw %d duplicates, the dup rule made %d copies"):format(
      sr.duplicates, copies)
  end
  -- hop by hop: what a queue sent is what the next node took in, a router forwarded all it
  -- took in, and its queue sent or dropped all it forwarded; the last queue's packets are
  -- the subscriber's (received, lost on the wire, dropped at its socket)
  local next_in = hops[1] and hops[1].arrived or arrived
  if q.packets ~= next_in then
    return hops[1] and ("hop 1 sent %d packets, router 1 took in %d"):format(q.packets, next_in)
      or ("the link carried %d packets, %d of them not ours"):format(q.packets,
                                                                      q.packets - arrived)
  end
  for k, h in ipairs(hops) do
    next_in = hops[k + 1] and hops[k + 1].arrived or arrived
    if h.forwarded ~= h.arrived then
      return ("router %d took in %d packets, forwarded %d"):format(k, h.arrived, h.forwarded)
    elseif h.sent + h.drops ~= h.forwarded then
      return ("router %d forwarded %d packets; hop %d sent %d, dropped %d"):format(k,
        h.forwarded, k + 1, h.sent, h.drops)
    elseif h.sent ~= next_in then
      return ("hop %d sent %d packets, %s took in %d"):format(k + 1, h.sent, hops[k + 1] and
        "router " .. (k + 1) or "b (received, wire, socket)", next_in)
    end
  end
  -- a's queue's drops are the sender's SndbufErrors; a copy's drop is no socket's (the
  -- kernel tells no one which copies the queue dropped: then a bound, not an equality)
  if t.sndbuf > q.drops or q.drops > t.sndbuf + copies then
    return ("SndbufErrors %d, queue drops %d%s"):format(t.sndbuf, q.drops, copies > 0 and
      (" (%d copies could account for the difference)"):format(copies) or "")
  end
  if not t.drops then return nil end
  -- the kernel's QDISC_DROP in each node's namespace is that node's queue's (hosts: a, the
  -- routers in order, b); it may fall short (unseen, below), never exceed tc's count
  for k, h in ipairs(hops) do
    local seen = t.drops.hosts[k + 1] and t.drops.hosts[k + 1].QDISC_DROP or 0
    if seen > h.drops then
      return ("hop %d: the kernel dropped %d (QDISC_DROP) in router %d, tc counted %d"):format(
        k + 1, seen, k, h.drops)
    end
  end
  return M.kernel_book(t.drops, {
    { name = "queue", reason = "QDISC_DROP", count = queued, counter = "tc" },
    { name = "wire", reason = "NETFILTER_DROP", count = t.wire, counter = "nft" },
    { name = "socket", reasons = M.socket_reasons, count = sr.kernel_drops,
      counter = "SO_MEMINFO" } })
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
