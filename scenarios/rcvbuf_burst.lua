-- UDP burst loss against SO_RCVBUF: published = received + kernel drops + send failures, per trial
--
-- The burst / receive-buffer experiment of the original change, done right:
-- for each SO_RCVBUF request, several trials; each starts a subscriber
-- (`qsl-run subscribe`), waits for its ready line (no fixed sleep), bursts the
-- seeded flow's market data at it (`qsl-run publish`), and records what the
-- publisher sent, what arrived, and what the kernel says it dropped on the
-- socket (SO_MEMINFO) - tail drops included, which a sequence-gap counter
-- cannot see. scenarios/rcvbuf_sweep.lua finds the highest lossless paced rate.
local qsl = require "qsl"
local scenario = qsl.scenario
local roles = qsl.roles
local feed = qsl.feed

local s = scenario.new{
  name = "rcvbuf_burst",
  quick = "sizes=2048,8388608 trials=1 orders=300 modes=recvmmsg",
  params = {
    roles.params("publish", "seed", "orders", "symbols", "flow"),
    { "sizes", "integer_list", { 2048, 0, 8388608 },
      "SO_RCVBUF requests in bytes (0: the default)", min = 0, max = 1 << 30 },
    { "trials", "integer", 4, "trials per size", min = 1, max = 1000 },
    roles.params("publish", "packed", "gso", "datagram_bytes", "batch"),
    roles.params("subscribe", "force", "idle_ms"),
    { "socket_wait", "boolean", false, "time each datagram's wait in the socket (the " ..
      "subscriber's timestamps=1: a clock read per receive and a stamp per datagram). Off " ..
      "by default: the stamps change the drain, and with it the loss (counting_cost)" },
    { "modes", "enum_list", { "recvmmsg", "io_uring" }, "subscriber receive modes to compare",
      values = { "recvmmsg", "io_uring" } },
    qsl.net.params.path, qsl.net.params.link, qsl.net.params.ipv6,
  },
}
local p = s:parse(arg)
local link = qsl.net.link_param(p.link, p.path)
if p.gso and not p.packed then qsl.fail("parameter gso=true needs packed=true") end
if p.force then feed.need_force() end
local art = s:artifact{ title = ("UDP burst loss against SO_RCVBUF (%s%s)"):format(p.path,
  p.ipv6 and ", IPv6" or "") }
local expected = feed.messages(p)

local rows = s:grid(p.trials, p.sizes, roles.modes(art, p.modes), function(size, mode)
  local r = feed.run{ sub = { rcvbuf = size, force = p.force, expected = expected, mode = mode,
                              idle_ms = p.idle_ms, deadline_ms = 120000,
                              timestamps = p.socket_wait and 1 or 0 },
                      pub = { seed = p.seed, orders = p.orders, symbols = p.symbols, flow = p.flow,
                              packed = p.packed, gso = p.gso, datagram_bytes = p.datagram_bytes,
                              batch = p.batch }, path = p.path, link = link, ipv6 = p.ipv6 }
  assert(r.pub.messages == expected, "the publisher sent a different flow")
  local pr, sr = r.pub, r.sub
  local unbalanced, unseen = feed.books(r)
  return roles.merge({ mode = mode, size = feed.size_label(size), requested_rcvbuf = size,
           granted_rcvbuf = r.ready.granted_rcvbuf, published = pr.messages,
           published_datagrams = pr.datagrams, received = sr.received,
           loss = pr.messages - sr.received, interior_gaps = sr.interior_gaps,
           tail_loss = sr.tail_loss, kernel_drops = sr.kernel_drops, rxq_ovfl = sr.rxq_ovfl,
           send_failures = pr.send_failures,
           rcvbuf_errors = qsl.net.udp_counts(r.net).RcvbufErrors,
           queue_drops = r.queue and r.queue.drops or 0, backlog_drops = r.net.softnet.dropped,
           SOCKET_RCVBUFF = r.drops and (r.drops.reasons.SOCKET_RCVBUFF or 0) or "n/a",
           drop_reasons = r.drops and r.drops.reasons, drops_na = r.drops_na,
           burst_ms = pr.duration_ns / 1e6, rate = pr.msgs_per_s,
           ok = unbalanced and "NO" or "yes", unbalanced = unbalanced, devices = r.devices },
           feed.socket_wait(sr), feed.unseen_fields(unseen))
end)

art:table{ title = ("Per trial: %d orders (seed %d, %d symbols, flow %s) -> %d messages"):format(
             p.orders, p.seed, p.symbols, p.flow, expected), rows = rows,
           columns = { "size", "mode", "granted_rcvbuf", "trial", "published", "received", "loss",
             "interior_gaps", "tail_loss", "kernel_drops", "SOCKET_RCVBUFF", "unseen", "rxq_ovfl",
             "send_failures",
             "queue_drops", "rcvbuf_errors", "burst_ms %.1f", "rate %.0f", "ok",
             "socket_wait_p50_us %.1f", "socket_wait_p99_us %.1f", "socket_wait_max_us %.1f" },
           note = "loss = published - received (tail drops included); ok = the books balance " ..
                  "(datagrams sent = received + kernel drops + send failures + queue drops; " ..
                  "every drop the kernel made in the trial's namespaces has its place); " ..
                  "socket_wait: a datagram's time from the kernel's receive to the read, " ..
                  "us (SO_TIMESTAMPING)" }
art:set("summary", art:spread{ title = "Over trials: loss (messages), rate (messages/s)",
  main = true, rows = rows, by = { "size", "mode" }, fields = { "loss", "rate %.0f" } })
art:plot_rows{ title = ("Burst of %d messages: loss against the granted buffer"):format(expected),
  rows = rows, by = "mode", x = "granted_rcvbuf", y = "loss", spread = true, logx = true,
  xlabel = "granted SO_RCVBUF (bytes)", ylabel = "messages lost" }
for _, r in ipairs(rows) do
  art:unbalanced(("%s %s trial %d"):format(r.mode, r.size, r.trial), r.unbalanced)
end
art:set{ expected_messages = expected, isolated = roles.isolated(), trials = rows }
feed.unseen_caveat(art, rows)
art:caveat(("%s: no NIC, driver or wire; publisher and subscriber share %d CPUs")
           :format(p.path, art.cpus_online()))
art:caveat("kernel_drops is SO_MEMINFO's count, tail drops included; rxq_ovfl (SO_RXQ_OVFL) " ..
           "counts only drops before a later arrival, so it misses the tail")
art:caveat(rows[1].drops_na and "SOCKET_RCVBUFF and the kernel's other drop reasons: n/a (" ..
  rows[1].drops_na .. ")" or "SOCKET_RCVBUFF: the kernel's own count (skb:kfree_skb, BPF) of " ..
  "what it dropped on a full receive buffer in the trial's namespaces; any other reason " ..
  "fails the books")
art:caveat(roles.isolated() and "each trial in a network namespace of its own: rcvbuf_errors " ..
  "(Udp or Udp6 RcvbufErrors: /proc/net/snmp, snmp6) counts its datagrams alone; " ..
  "backlog_drops (softnet) is system-wide"
  or "rcvbuf_errors (Udp, Udp6 RcvbufErrors), backlog_drops (softnet): system-wide cross-checks")
art:caveat(("Linux doubles a request and clamps it to net.core.rmem_max (%s) unless force=true")
           :format(tostring(qsl.procfs.sysctl("net.core.rmem_max"))))
art:caveat("loss depends on when the subscriber gets to run during the burst: report ranges")
if p.socket_wait then
  art:caveat("socket_wait on: the stamps change how fast the subscriber drains " ..
             "(counting_cost), and with it the loss; compare runs made the same way")
end
art:write()
