-- Where datagrams are lost on a path: the link's queue, the wire, the receiving socket
--
-- Two hosts of their own (`qsl.net.pair`: network namespaces joined by a veth link, no
-- route to anywhere else); the sender's end of the link is shaped by a token bucket
-- (tbf: `link_rate` bytes/s, `link_burst`, a queue of `link_limit` bytes). Per trial,
-- the publisher on host a paces the seeded flow at a rate to a subscriber on host b
-- with a given SO_RCVBUF, and every datagram sent is found again: received, dropped by
-- the link's queue (tc's drop counter; the sender's Udp SndbufErrors must agree),
-- lost on the way (`loss`: an nftables rule drops that fraction at random as they arrive,
-- and counts them), dropped at the receiving socket (SO_MEMINFO), or refused to the
-- sender. Where BPF runs, each place is the kernel's own count too (QDISC_DROP,
-- NETFILTER_DROP, SOCKET_RCVBUFF), equal to tc's, nft's and SO_MEMINFO's; a drop for any
-- other reason, or books that do not balance, fail the trial (marked; the run exits 1).
-- path=ssh: the same, the subscriber started on host b through an sshd there (reached over a
-- management link of its own, so the measured link carries the experiment alone).
local qsl = require "qsl"
local roles, feed = qsl.roles, qsl.feed

local s = qsl.scenario.new{
  name = "path_loss",
  quick = "orders=3000 rates=100000 rcvbufs=2048 link_rate=100000 loss=0.05 trials=1",
  params = {
    roles.params("publish", "seed", "symbols", "flow", "catch_up"),
    roles.param("publish", "orders", { default = 20000 }),
    { "rates", "integer_list", { 10000, 30000, 60000, 120000 }, "publisher rates (messages/s)",
      min = 1, max = 10000000 },
    { "rcvbufs", "integer_list", { 2048, 0 }, "SO_RCVBUF requests (0: the default)", min = 0,
      max = 1 << 30 },
    { "link_rate", "integer", 2000000, "the link's tbf rate (bytes/s)", min = 1000,
      max = 1 << 32 },
    { "link_burst", "integer", 4000, "tbf burst (bytes; at least one 1514-byte frame)",
      min = 1514, max = 1 << 30 },
    { "link_limit", "integer", 8000, "tbf queue limit (bytes; at least one 1514-byte frame)",
      min = 1514, max = 1 << 30 },
    { "loss", "number", 0.01, "fraction lost on the way, at random (0: none)", min = 0, max = 1 },
    { "dup", "number", 0, "fraction of a's datagrams sent twice (nft dup at a's way out, " ..
      "counted; the copies cross every queue)", min = 0, max = 1 },
    { "trials", "integer", 3, "rounds", min = 1, max = 100 },
    { "path", "enum", "veth", "veth; or ssh: the subscriber started on b over ssh",
      values = { "veth", "ssh" } },
    qsl.net.params.mtu, qsl.net.params.offload, qsl.net.params.ipv6,
    { "hops", "integer", 0, "routers between a and b (0: one link; each router a namespace " ..
      "forwarding to the next)", min = 0, max = 8 },
    { "hop_link", "string", "none", "hops>0: the queue of each router's link toward b, as " ..
      "link= (none: no queue); one for all, or one per router separated by ';'" },
    { "cpus_a", "integer_list", {}, "CPUs host a's roles run on (empty: any)", min = 0,
      max = 1023, allow_empty = true },
    { "cpus_b", "integer_list", {}, "CPUs host b's roles run on (empty: any)", min = 0,
      max = 1023, allow_empty = true },
  },
}
local p = s:parse(arg)
local art = s:artifact{ title = ("Where datagrams are lost on a shaped link (%s%s)"):format(
  p.hops > 0 and ("%d routers between two hosts"):format(p.hops) or "two namespaces",
  p.ipv6 and ", IPv6" or "") }
local expected = feed.messages(p)
local cpus = { a = #p.cpus_a > 0 and p.cpus_a or nil, b = #p.cpus_b > 0 and p.cpus_b or nil }
for side, c in pairs(cpus) do qsl.net.check_cpus("cpus_" .. side, c) end    -- before any trial
if p.hops > 0 and p.path == "ssh" then qsl.fail("hops= needs path=veth (ssh's management " ..
  "link joins a and b directly)") end
local hop_links = qsl.net.hop_links_param(p.hop_link, p.hops)

-- a pair, or a chain through p.hops routers (hop 1 is a's end, hop k+1 router k's)
local function path()
  local o = roles.merge({ cpus = cpus, ipv6 = p.ipv6 }, qsl.net.link_opts(p))
  if p.hops == 0 then return qsl.net.pair(roles.merge(o, { management = p.path == "ssh" })) end
  local c = qsl.net.chain(roles.merge(o, { hops = p.hops }))
  for k, r in ipairs(c.routers) do c:shape(r.east, hop_links[k].link) end
  return c
end

-- every hop's counts in a trial: its place, its queue's drops and the kernel's QDISC_DROP there
local function hop_rows(q, hops, k)
  local out = { { hop = 1, at = "a", sent = q.link.tx_packets, dropped = q.drops,
                  kernel = k and (k.hosts[1].QDISC_DROP or 0) or "n/a" } }
  for i, h in ipairs(hops) do
    out[i + 1] = { hop = i + 1, at = "router " .. i, sent = h.sent, dropped = h.drops,
                   forwarded = h.forwarded, kernel = k and (k.hosts[i + 1].QDISC_DROP or 0)
                   or "n/a" }
  end
  return out
end

local rows = s:grid(p.trials, p.rcvbufs, p.rates, function(rcvbuf, rate)
  local pair <close> = path()
  local to = qsl.net.addr(pair.b, p.ipv6)
  pair:qdisc(pair.a, "tbf", { rate = p.link_rate, burst = p.link_burst, limit = p.link_limit })
  pair:loss(pair.b, p.loss)
  if p.dup > 0 then pair:dup(pair.a, p.dup) end
  local sshd <close> = p.path == "ssh" and qsl.net.sshd(pair) or nil
  local dev0 = { a = pair:stats(pair.a), b = pair:stats(pair.b) }
  local pids = { pair.a.pid }
  for _, r in ipairs(pair.routers or {}) do pids[#pids + 1] = r.pid end
  pids[#pids + 1] = pair.b.pid
  local drops <close>, drops_na = qsl.measure.drops(pids)
  local hops0 = pair.routers and pair:sample()
  local sub <close>, ready = roles.start("subscribe", { bind = to, rcvbuf = rcvbuf,
    expected = expected, idle_ms = 500 }, sshd and sshd.at or pair.b.at)
  local before = qsl.measure.net(pair.a.pid)
  local pr = roles.run("publish", { host = to, port = ready.port, seed = p.seed,
    orders = p.orders, symbols = p.symbols, flow = p.flow, rate = rate,
    catch_up = p.catch_up }, pair.a.at)
  local sndbuf = qsl.net.udp_counts(qsl.measure.delta(before, qsl.measure.net(pair.a.pid)))
                 .SndbufErrors
  local sr = roles.finish(sub, { timeout = 120000 })
  local q, wire, k = pair:stats(pair.a), pair:lost(pair.b), drops and drops:read("udp")
  local devices = { a = qsl.net.stats_delta(dev0.a, q),
                    b = qsl.net.stats_delta(dev0.b, pair:stats(pair.b)) }
  local hops = hops0 and qsl.net.hops_delta(hops0, pair:sample()) or {}
  q = devices.a                                  -- over the trial
  local copies = p.dup > 0 and pair:duplicated(pair.a) or 0
  local why, unseen = feed.path_books{ pub = pr, sub = sr, queue = q, wire = wire,
    sndbuf = sndbuf, drops = k, hops = hops, copies = copies }
  local routers = 0
  for _, h in ipairs(hops) do routers = routers + h.drops end
  return roles.merge({ rcvbuf = feed.size_label(rcvbuf), granted_rcvbuf = ready.granted_rcvbuf,
           target_rate = rate, rate = pr.msgs_per_s, burst = pr.burst_max,
           moved = pr.schedule_moved, sent = pr.datagrams,
           received = sr.datagrams, queue = q.drops, routers = routers, wire = wire,
           socket = sr.kernel_drops, hops = hop_rows(q, hops, k), copies = copies,
           duplicates = sr.duplicates, reordered = sr.reordered,
           control = pair.control and pair:control() or 0,
           sender = pr.send_failures, overlimits = q.overlimits, unbalanced = why,
           kernel = k and qsl.measure.drop_text(k.reasons) or "n/a", drops_na = drops_na,
           drop_reasons = k and k.reasons, ok = why and "NO" or "yes",
           devices = devices }, feed.unseen_fields(unseen))
end)

local lost_at = { "queue", "wire", "socket" }
if p.hops > 0 then table.insert(lost_at, 2, "routers") end
local cells = art:spread{ title = "Datagrams lost, by place (over rounds)", rows = rows,
  main = true, by = { "rcvbuf", "target_rate" }, format = "%.0f",
  fields = table.move({ "sender", "received" }, 1, 2, #lost_at + 1, { table.unpack(lost_at) }) }
local per_hop, hop_cells = {}, nil
if p.hops > 0 then
  for _, r in ipairs(rows) do
    for _, h in ipairs(r.hops) do
      per_hop[#per_hop + 1] = roles.merge({ rcvbuf = r.rcvbuf, target_rate = r.target_rate,
        trial = r.trial, link = h.hop == 1 and ("tbf:rate=%d,burst=%d,limit=%d"):format(
        p.link_rate, p.link_burst, p.link_limit) or hop_links[h.hop - 1].text }, h)
    end
  end
  hop_cells = art:spread{ title = "Datagrams dropped at each hop's queue (over rounds)",
    rows = per_hop, main = true, by = { "rcvbuf", "target_rate", "hop", "at" },
    format = "%.0f", fields = { "dropped", "sent" } }
  art:table{ title = "Every hop of every trial", rows = per_hop, key = { "rcvbuf",
    "target_rate", "trial", "hop" }, columns = { "rcvbuf", "target_rate", "trial", "hop", "at",
    "link", "forwarded", "sent", "dropped", "kernel" }, note = "hop 1 is a's end of the first " ..
    "link, hop k+1 router k's end toward b; forwarded: the router's IP forward count; sent, " ..
    "dropped: the device's tx packets and the queue's drops (tc); kernel: QDISC_DROP in that " ..
    "node's namespace (BPF). The books follow every packet: what a hop sent, the next node " ..
    "took in, forwarded, and its queue sent or dropped" }
end
local places = {}
for _, c in ipairs(cells) do
  for _, place in ipairs(lost_at) do
    places[#places + 1] = { rcvbuf = c.rcvbuf, place = place, rate = c.target_rate,
                            lost = c[place .. "_median"] }
  end
end
art:plot_rows{ title = "Datagrams lost (median of rounds) against the publisher's rate",
  rows = places, by = { "rcvbuf", "place" }, x = "rate", y = "lost", logx = true,
  xlabel = "publisher rate (messages/s)", ylabel = "datagrams lost" }
local columns = { "rcvbuf", "target_rate", "trial", "rate %.0f", "burst", "moved", "sent",
  "received", "queue", "routers", "wire", "socket", "sender", "overlimits", "ok", "kernel",
  "unseen" }
if p.dup > 0 then
  for i, c in ipairs{ "copies", "duplicates", "reordered" } do table.insert(columns, 7 + i, c) end
end
art:table{ title = "Every trial", rows = rows, columns = columns,
  note = "rate: messages/s sent, paced with " ..
  (p.catch_up and "catch_up=true (after a stall, what is overdue leaves at once)" or
  "catch_up=false (after a stall the schedule moves on: moved counts it)") ..
  "; burst: the most datagrams sent with no pacing wait between them; ok: the books " ..
  "balance; queue (a's link), routers (their queues, hops>0), wire, socket: tc's, nft's and " ..
  "SO_MEMINFO's counts, each the kernel's own (kernel: its drops by reason in every host, " ..
  "BPF) plus unseen, what it never showed" .. (p.dup > 0 and "; copies: the dup rule's " ..
  "count (sent = publisher's datagrams + copies); duplicates, reordered: the subscriber's " ..
  "counts of them (messages; one a datagram here)" or "") }
if p.hops > 0 and p.ipv6 then
  local n = 0
  for _, r in ipairs(rows) do n = n + r.control end
  art:caveat(("IPv6 routers report joining all-routers (ff02::2): their %d listener reports " ..
    "were dropped at each router's output hook (nft, counted), so the links carried the " ..
    "experiment alone"):format(n))
end
art:set{ cells = cells, trials = rows, expected_messages = expected, catch_up = p.catch_up,
         hops = p.hops, hop_cells = hop_cells, per_hop = p.hops > 0 and per_hop or nil,
         cpus = { a = cpus.a or "any", b = cpus.b or "any" },
         link = { rate = p.link_rate,
         burst = p.link_burst, limit = p.link_limit, loss = p.loss, dup = p.dup } }
art:caveat("a veth link between namespaces: the kernel's queueing and socket paths, no NIC, " ..
           "driver or wire; the wire's loss is a netfilter rule at the receiving host")
art:caveat("a datagram in the link's queue still counts against the sender's SO_SNDBUF (not " ..
           "once the peer's IP layer took it): where that fills, the sender slows (rate column)")
art:caveat(qsl.net.cpus_caveat(cpus, art.cpus_online()))
feed.unseen_caveat(art, rows)
if rows[1].drops_na then
  art:caveat("the kernel's drop reasons: n/a (" .. rows[1].drops_na .. ")")
end
for _, r in ipairs(rows) do
  art:unbalanced(("%s %d/s trial %d"):format(r.rcvbuf, r.target_rate, r.trial), r.unbalanced)
end
art:write()
