-- Multicast fan-out: one publisher, N subscribers of one group, one of them slow
--
-- The 1:N case of real market-data feeds. The publisher paces the seeded flow to a
-- multicast group; `subscribers` processes join it, each with its own socket, receive
-- buffer and books, the last one doing `slow_work_ns` of busy work per message (a slow
-- consumer), and as a control in the same rounds none of them (`peers`: one slow / all
-- fast). Per trial and subscriber: messages lost and the socket's drops (SO_MEMINFO),
-- against the publisher's rate. The kernel copies a datagram to every
-- member once it arrived, so what was lost before the copy must be the same for all;
-- each subscriber's books must balance, and the namespace's Udp RcvbufErrors equal the
-- sum of their drops (IPv4), else the trial is refused saying where. path=loopback runs
-- in a namespace of the trial's own over lo; path=veth across a link to one host of all
-- subscribers; path=star puts each subscriber on a host of its own behind a switch (a
-- bridge), which makes the copies - what each lost on the way may then differ (IPv6: not lo).
local qsl = require "qsl"
local roles, feed = qsl.roles, qsl.feed

local s = qsl.scenario.new{
  name = "multicast_fanout",
  quick = "orders=2000 rates=20000 trials=1",
  params = {
    roles.params("publish", "seed", "symbols", "flow"),
    roles.param("publish", "orders", { default = 20000 }),
    { "rates", "integer_list", { 25000, 50000, 100000, 200000 }, "publisher rates (messages/s)",
      min = 1, max = 10000000 },
    { "subscribers", "integer", 3, "subscriber processes", min = 1, max = 16 },
    roles.param("subscribe", "rcvbuf"),
    { "slow_work_ns", "integer", 10000, "the last subscriber's work per message (ns; 0: no " ..
      "slow one, and no control)", min = 0, max = 10000000 },
    { "path", "enum", "loopback", "lo in a namespace of its own, a veth link between two " ..
      "hosts, or a host per subscriber behind a switch", values = { "loopback", "veth", "star" } },
    { "ipv6", "boolean", false, "an IPv6 group (not on lo)" },
    { "trials", "integer", 3, "rounds", min = 1, max = 100 },
  },
}
local p = s:parse(arg)
if p.ipv6 and p.path == "loopback" then qsl.fail("ipv6=true needs path=veth or star") end
-- a switch of 16: the publisher's host, and one per subscriber
if p.path == "star" and p.subscribers > 15 then
  qsl.fail(("parameter subscribers=%d: path=star holds at most 15"):format(p.subscribers))
end
local art = s:artifact{ title = ("Multicast fan-out to %d subscribers (%s%s)"):format(
  p.subscribers, p.path, p.ipv6 and ", IPv6" or "") }
local expected = feed.messages(p)
local works = p.slow_work_ns > 0 and { p.slow_work_ns, 0 } or { 0 }

local per_trial = {}                  -- the kernel's unseen drops, one entry per trial
local rows = s:grid(p.trials, works, p.rates, function(work, rate)
  local subs, slow = {}, work > 0 and p.subscribers
  for i = 1, p.subscribers do
    subs[i] = { rcvbuf = p.rcvbuf, expected = expected, idle_ms = 500,
                work_ns = i == slow and work or 0 }
  end
  local r = feed.fanout{ subs = subs, path = p.path, ipv6 = p.ipv6, pub = { seed = p.seed,
    orders = p.orders, symbols = p.symbols, flow = p.flow, rate = rate } }
  assert(r.pub.messages == expected, "the publisher sent a different flow")
  local out, why, unseen = {}, feed.fanout_books(r)
  per_trial[#per_trial + 1] = feed.unseen_fields(unseen)
  unseen = per_trial[#per_trial].unseen
  art:unbalanced(("%s %d/s"):format(slow and "one slow" or "all fast", rate), why)
  for i, sr in ipairs(r.subs) do
    out[i] = { subscriber = i == slow and "slow" or "fast " .. i, target_rate = rate,
               peers = slow and "one slow" or "all fast", rate = r.pub.msgs_per_s,
               granted_rcvbuf = r.readies[i].granted_rcvbuf, received = sr.received,
               lost = expected - sr.received, loss_pct = 100 * (expected - sr.received) / expected,
               kernel_drops = sr.kernel_drops, send_failures = r.pub.send_failures,
               group = r.group, ok = why and "NO" or "yes",
               drop_reasons = r.drops and r.drops.reasons,
               kernel = r.drops and qsl.measure.drop_text(r.drops.reasons) or "n/a",
               not_udp = r.drops and qsl.measure.drop_text(r.drops.others) or "n/a",
               unseen = unseen }
  end
  return out
end)

local cells = art:spread{ title = "Messages lost per subscriber (over rounds)", rows = rows,
  main = true, by = { "peers", "subscriber", "target_rate" },
  fields = { "loss_pct %.2f", "lost", "rate %.0f" } }
art:plot_rows{ title = ("%d messages to %d subscribers: loss against the publisher's rate")
  :format(expected, p.subscribers), rows = rows, by = { "peers", "subscriber" },
  x = "target_rate", y = "loss_pct", spread = true, logx = true,
  xlabel = "publisher rate (messages/s)", ylabel = "messages lost (%)" }
art:table{ title = "Every trial", rows = rows, columns = { "peers", "target_rate", "trial",
  "subscriber", "rate %.0f", "granted_rcvbuf", "received", "lost", "kernel_drops",
  "send_failures", "kernel", "unseen", "ok", "not_udp" }, note = "kernel_drops: at its socket " ..
  "(SO_MEMINFO); kernel: the kernel's drops of UDP datagrams by reason in all the trial's " ..
  "namespaces (BPF); unseen: socket drops it never showed (the trial's); ok: the books " ..
  "balance, every copy found again and every such drop a socket's; not_udp: its other " ..
  "drops there (a subscriber's IGMP report at the publisher's host), not ours" }
art:set{ cells = cells, trials = rows, expected_messages = expected }
art:caveat(("%s: no NIC, driver or wire; %d subscribers and the publisher share %d CPUs, so " ..
  "a slow subscriber's work takes CPU from the others"):format(p.path, p.subscribers,
  art.cpus_online()))
art:caveat("rate is what the publisher achieved; the target is what it was paced to")
feed.unseen_caveat(art, per_trial)
if rows[1].kernel == "n/a" then art:caveat("the kernel's drop reasons: n/a (" .. tostring(
  select(2, qsl.kernel.available()) or "no namespace of the trial's own") .. ")") end
art:write()
