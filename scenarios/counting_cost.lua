-- What qsl's own counting costs the path it measures: on and off, side by side
--
-- Four ways per round, in an order that turns from round to round: off; drops (the kernel's
-- drop program attached: BPF on skb:kfree_skb, held by a helper process watching the
-- trial's namespace as the scenarios do, measure.drops: the audit's perf counters too);
-- stamps (the subscriber timing each datagram's wait in the socket, timestamps=1); both.
-- Each: the subscriber stopped, the publisher bursts the flow into its (large) buffer, its
-- rate taken; then the subscriber, continued, drains the queue, its drain rate taken. Each
-- way's rates against off's in the same round say what it costs.
local qsl = require "qsl"
local roles, feed = qsl.roles, qsl.feed

local s = qsl.scenario.new{
  name = "counting_cost",
  quick = "orders=20000 trials=2",
  params = {
    roles.params("publish", "seed", "symbols", "flow"),
    roles.param("publish", "orders", { default = 100000 }),
    { "rcvbuf", "integer", 64 << 20, "SO_RCVBUF request (forced where CAP_NET_ADMIN allows)",
      min = 4096, max = 1 << 30 },
    { "trials", "integer", 8, "rounds, each with the four ways", min = 1, max = 100 },
  },
}
local p = s:parse(arg)
local art = s:artifact{ title = "The cost of counting: publisher and drain rates, on and off" }
local bpf_ok, bpf_why = qsl.kernel.available()
local force, expected = feed.can_force(), feed.messages(p)
local helper <close> = require("qsl.temp")()
assert(io.open(helper.path, "w")):write([[
local qsl = require "qsl"
local d, why = qsl.measure.drops{ tonumber(arg[1]) }
if not d then io.stderr:write(why, "\n") os.exit(1) end
print(("ready attached=1 audited=%d"):format(d.audit and 1 or 0))
io.stdout:flush()
io.read("a")
]]):close()

local pinned = art.cpus_online() >= 2

-- what = "off", "drops" (the program attached), "stamps" (timestamps=1) or "both"
local function trial(what)
  local bpf, stamps = what == "drops" or what == "both", what == "stamps" or what == "both"
  local ns <close> = roles.netns()
  local ns_pid = ns and ns.pid or nil
  -- pinned apart: a queue drains ~1.7x as fast on the CPU that allocated it, and unpinned
  -- each way would land on either by chance
  local sub_at = { netns_of = ns_pid, cpu = pinned and 1 or nil }
  local pub_at = { netns_of = ns_pid, cpu = pinned and 0 or nil }
  local hold <close> = bpf and assert(qsl.proc.spawn{ argv = { qsl.exe(), helper.path,
    tostring(ns and ns.pid or 0) }, stdin = "pipe" }) or nil
  if hold then assert(hold:ready(10000), "the helper did not attach the drop program") end
  local sub <close>, ready = roles.start("subscribe", { rcvbuf = p.rcvbuf, force = force,
    expected = expected, idle_ms = 300, timestamps = stamps and 1 or 0 }, sub_at)
  roles.pause(sub)
  local pr = roles.run("publish", { port = ready.port, seed = p.seed, orders = p.orders,
    symbols = p.symbols, flow = p.flow }, pub_at)
  assert(sub:signal("CONT"))
  local sr = roles.finish(sub, { timeout = 120000 })
  if hold then hold:close_stdin() assert(hold:wait(5000)) end
  assert(sr.datagrams >= 100 and sr.duration_ns > 0, "too few datagrams to time a drain")
  assert(sr.socket_wait_count == (stamps and sr.datagrams or 0), "not every datagram stamped")
  return { counting = what, publish_rate = pr.msgs_per_s, dropped = sr.kernel_drops,
           drain_rate = (sr.datagrams - 1) / (sr.duration_ns / 1e9) }
end

local WAYS = bpf_ok and { "off", "drops", "stamps", "both" } or { "off", "stamps" }
local rows, ratios = {}, {}
for t = 1, p.trials do
  local got = {}
  for k = 0, #WAYS - 1 do          -- each round starts one further on: no order bias
    local what = WAYS[(t - 1 + k) % #WAYS + 1]
    got[what] = trial(what)
    got[what].trial = t
    rows[#rows + 1] = got[what]
  end
  for k = 2, #WAYS do
    local what = WAYS[k]
    ratios[#ratios + 1] = { trial = t, counting = what,
      publish_ratio = got[what].publish_rate / got.off.publish_rate,
      drain_ratio = got[what].drain_rate / got.off.drain_rate }
  end
end

art:spread{ title = "Against off, over rounds (1.000: no cost; below: slower when counting)",
  rows = ratios, by = "counting", fields = { "publish_ratio", "drain_ratio" }, format = "%.3f",
  main = true }
art:table{ title = "Every round", rows = rows, columns = { "trial", "counting",
  "publish_rate %.0f", "drain_rate %.0f", "dropped" },
  note = "counting: off, drops (the drop program and the audit's perf counters), stamps (the " ..
         "subscriber's " ..
         "timestamps), both; publish_rate: the burst's messages/s; drain_rate: datagrams/s, " ..
         "first to last receive of the queue filled while the subscriber was stopped" }
art:set{ rows = rows, ratios = ratios, forced = force, expected_messages = expected }
art:caveat(force and "SO_RCVBUFFORCE: the burst fits the buffer" or
  "no CAP_NET_ADMIN: the buffer is net.core.rmem_max's, and a burst past it is dropped")
art:caveat(("loopback, %d CPUs; one round's four ways run back to back, each round starting " ..
  "one way further on"):format(art.cpus_online()))
art:caveat(pinned and "publisher on CPU 0, subscriber on CPU 1 in every way: the drain of a " ..
  "stopped subscriber's queue runs ~1.7x as fast on the CPU whose softirq allocated it, so " ..
  "unpinned ways would differ by where each landed, not by what it counts" or
  "one CPU: publisher and subscriber share it")
art:caveat(bpf_ok and "the drop program (and the audit's perf counter) runs on every packet " ..
  "the kernel frees, in any namespace: with no drop in the trial its cost here is what it " ..
  "adds to the machine's other drops" or "drops and both: n/a (" .. bpf_why .. ")")
art:write()
