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
    { "trials", "integer", 3, "rounds", min = 1, max = 100 },
    { "path", "enum", "veth", "veth; or ssh: the subscriber started on b over ssh",
      values = { "veth", "ssh" } },
    qsl.net.params.mtu, qsl.net.params.offload, qsl.net.params.ipv6,
    { "cpus_a", "integer_list", {}, "CPUs host a's roles run on (empty: any)", min = 0,
      max = 1023, allow_empty = true },
    { "cpus_b", "integer_list", {}, "CPUs host b's roles run on (empty: any)", min = 0,
      max = 1023, allow_empty = true },
  },
}
local p = s:parse(arg)
local art = s:artifact{ title = "Where datagrams are lost on a shaped link (two namespaces)" }
local expected = feed.messages(p)
local cpus = { a = #p.cpus_a > 0 and p.cpus_a or nil, b = #p.cpus_b > 0 and p.cpus_b or nil }
for side, c in pairs(cpus) do qsl.net.check_cpus("cpus_" .. side, c) end    -- before any trial

local rows = s:grid(p.trials, p.rcvbufs, p.rates, function(rcvbuf, rate)
  local pair <close> = qsl.net.pair(roles.merge({ management = p.path == "ssh", cpus = cpus,
                                                  ipv6 = p.ipv6 }, qsl.net.link_opts(p)))
  local to = p.ipv6 and pair.b.addr6 or pair.b.addr
  pair:qdisc(pair.a, "tbf", { rate = p.link_rate, burst = p.link_burst, limit = p.link_limit })
  pair:loss(pair.b, p.loss)
  local sshd <close> = p.path == "ssh" and qsl.net.sshd(pair) or nil
  local dev0 = { a = pair:stats(pair.a), b = pair:stats(pair.b) }
  local drops <close>, drops_na = qsl.measure.drops{ pair.a.pid, pair.b.pid }
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
  local why, unseen = feed.path_books{ pub = pr, sub = sr, queue = q, wire = wire,
                                       sndbuf = sndbuf, drops = k }
  return roles.merge({ rcvbuf = feed.size_label(rcvbuf), granted_rcvbuf = ready.granted_rcvbuf,
           target_rate = rate, rate = pr.msgs_per_s, burst = pr.burst_max,
           moved = pr.schedule_moved, sent = pr.datagrams,
           received = sr.datagrams, queue = q.drops, wire = wire, socket = sr.kernel_drops,
           sender = pr.send_failures, overlimits = q.overlimits, unbalanced = why,
           kernel = k and qsl.measure.drop_text(k.reasons) or "n/a", drops_na = drops_na,
           drop_reasons = k and k.reasons, ok = why and "NO" or "yes",
           devices = devices }, feed.unseen_fields(unseen))
end)

local cells = art:spread{ title = "Datagrams lost, by place (over rounds)", rows = rows,
  main = true, by = { "rcvbuf", "target_rate" }, format = "%.0f",
  fields = { "queue", "wire", "socket", "sender", "received" } }
local places = {}
for _, c in ipairs(cells) do
  for _, place in ipairs{ "queue", "wire", "socket" } do
    places[#places + 1] = { rcvbuf = c.rcvbuf, place = place, rate = c.target_rate,
                            lost = c[place .. "_median"] }
  end
end
art:plot_rows{ title = "Datagrams lost (median of rounds) against the publisher's rate",
  rows = places, by = { "rcvbuf", "place" }, x = "rate", y = "lost", logx = true,
  xlabel = "publisher rate (messages/s)", ylabel = "datagrams lost" }
art:table{ title = "Every trial", rows = rows, columns = { "rcvbuf", "target_rate", "trial",
  "rate %.0f", "burst", "moved", "sent", "received", "queue", "wire", "socket", "sender",
  "overlimits", "ok", "kernel", "unseen" }, note = "rate: messages/s sent, paced with " ..
  (p.catch_up and "catch_up=true (after a stall, what is overdue leaves at once)" or
  "catch_up=false (after a stall the schedule moves on: moved counts it)") ..
  "; burst: the most datagrams sent with no pacing wait between them; ok: the books " ..
  "balance; queue, wire, socket: tc's, nft's and " ..
  "SO_MEMINFO's counts, each the kernel's own (kernel: its drops by reason in both hosts, BPF)" ..
  " plus unseen, what it never showed" }
art:set{ cells = cells, trials = rows, expected_messages = expected, catch_up = p.catch_up,
         cpus = { a = cpus.a or "any", b = cpus.b or "any" },
         link = { rate = p.link_rate,
         burst = p.link_burst, limit = p.link_limit, loss = p.loss } }
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
