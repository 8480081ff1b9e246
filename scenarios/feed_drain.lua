-- How fast a subscriber drains a full receive queue, against a raw recvmmsg loop
--
-- Per round, packing and receive mode: a subscriber (`qsl-run subscribe`, a large
-- SO_RCVBUF) is stopped with SIGSTOP once ready, the publisher bursts the flow into
-- its queue and ends, and the subscriber, continued, drains the queue: its drain rate
-- is the datagrams it received over first to last receive. `raw` is the same recvmmsg
-- loop counting datagrams only (no decode, no sequence tracking): the floor the others
-- are compared with, in the same round. The books balance in every trial: datagrams
-- sent = received + kernel drops + send failures, and every message is accounted for.
local qsl = require "qsl"
local roles, feed = qsl.roles, qsl.feed

local s = qsl.scenario.new{
  name = "feed_drain",
  quick = "orders=20000 trials=1",
  params = {
    roles.params("publish", "seed", "symbols", "flow"),
    roles.param("publish", "orders", { default = 100000 }),
    { "packing", "enum_list", { "single", "packed" }, "one message per datagram, or packed",
      values = { "single", "packed" } },
    { "modes", "enum_list", { "raw", "recvmmsg", "io_uring" }, "receive modes",
      values = { "raw", "recvmmsg", "io_uring" } },
    { "rcvbuf", "integer", 64 << 20, "SO_RCVBUF request (forced where CAP_NET_ADMIN allows)",
      min = 0, max = 1 << 30 },
    { "trials", "integer", 5, "rounds", min = 1, max = 100 },
    { "socket_wait", "boolean", false, "time each datagram's wait in the socket (recvmmsg, " ..
      "io_uring: timestamps=1; raw never stamps). Off by default: the stamps change the " ..
      "drain itself (counting_cost)" },
  },
}
local p = s:parse(arg)
local art = s:artifact{ title = "Subscriber drain rate against a raw recvmmsg loop (loopback)" }
local force = feed.can_force()
local expected = feed.messages(p)

local rows = s:grid(p.trials, p.packing, roles.modes(art, p.modes), function(packing, mode)
  local ns <close> = roles.netns()
  local at = ns and { netns_of = ns.pid } or nil
  local sub <close>, ready = roles.start("subscribe", { mode = mode, rcvbuf = p.rcvbuf,
    force = force, expected = expected, idle_ms = 300,
    timestamps = p.socket_wait and mode ~= "raw" and 1 or 0 }, at)
  roles.pause(sub)
  local pr = roles.run("publish", { port = ready.port, seed = p.seed, orders = p.orders,
    symbols = p.symbols, flow = p.flow, packed = packing == "packed" }, at)
  assert(sub:signal("CONT"))
  local sr = roles.finish(sub, { timeout = 120000 })
  assert(pr.datagrams == sr.datagrams + sr.kernel_drops + pr.send_failures,
         ("%d datagrams sent, %d received, %d dropped"):format(pr.datagrams, sr.datagrams,
                                                               sr.kernel_drops))
  assert(sr.datagrams >= 100 and sr.duration_ns > 0,
         ("%d datagrams arrived: too few to time a drain (raise orders)"):format(sr.datagrams))
  local books = mode ~= "raw" and feed.books{ pub = pr, sub = sr }
  assert(not books, books)
  local rate = (sr.datagrams - 1) / (sr.duration_ns / 1e9)
  return roles.merge({ packing = packing, mode = mode, datagrams = sr.datagrams,
           dropped = sr.kernel_drops, granted_rcvbuf = ready.granted_rcvbuf,
           drain_ms = sr.duration_ns / 1e6, datagrams_per_s = rate,
           messages_per_s = rate * pr.messages / pr.datagrams }, feed.socket_wait(sr))
end)

local cells = art:spread{ title = "Drain rate over rounds (datagrams/s)", rows = rows, main = true,
  by = { "packing", "mode" }, fields = { "datagrams_per_s %.0f", "dropped %.0f" } }
local raw = {}
for _, c in ipairs(cells) do
  if c.mode == "raw" then raw[c.packing] = c.datagrams_per_s_median end
end
for _, c in ipairs(cells) do
  c.vs_raw = raw[c.packing] and c.datagrams_per_s_median / raw[c.packing]
end
art:table{ title = "Median drain rate against raw recvmmsg's, same rounds", rows = cells,
           main = true,
           columns = { "packing", "mode", "datagrams_per_s_median %.0f", "vs_raw %.3f" } }
art:table{ title = "Every trial", rows = rows, columns = { "packing", "mode", "trial",
  "datagrams", "dropped", "granted_rcvbuf", "drain_ms %.2f", "datagrams_per_s %.0f",
  "messages_per_s %.0f", "socket_wait_p50_us %.0f", "socket_wait_max_us %.0f" },
  note = "socket_wait: a datagram's time from the kernel's receive to the read (us): the " ..
         "queue filled while the subscriber was stopped, then drained" }
art:set{ cells = cells, trials = rows, forced = force, expected_messages = expected }
art:caveat(force and "SO_RCVBUFFORCE: the burst fits the buffer" or
  "no CAP_NET_ADMIN: the buffer is net.core.rmem_max's, and a burst past it is dropped")
art:caveat(("loopback; publisher and subscriber share %d CPUs; the subscriber drains alone")
           :format(art.cpus_online()))
art:caveat("drain time is the subscriber's first to last receive of a queue filled while stopped")
art:caveat(p.socket_wait and "socket_wait on: recvmmsg and io_uring read a clock per receive " ..
  "and a stamp per datagram, raw does not; the stamps change the drain rate itself " ..
  "(counting_cost), so the ratios to raw are not like for like" or
  "socket_wait off: no timestamps (socket_wait=true times each datagram's wait)")
art:write()
