-- Where the kernel drops a burst, by its own reason, next to qsl's books
--
-- The same seeded burst of market data, three ways: over loopback, over a veth link whose
-- sender end has a small token-bucket queue, and over a veth link that loses a fraction of
-- the datagrams on the way in (an nftables rule). Each trial in namespaces of its own, so
-- the kernel's drops counted there (a BPF program on skb:kfree_skb, by enum
-- skb_drop_reason) are this trial's alone. Side by side: what qsl's own counters say -
-- SO_MEMINFO at the socket, tc at the queue, the nft rule on the wire - and what the
-- kernel says it freed and why. Any drop for a reason no place names, or a count that
-- differs, fails the trial's books; where BPF cannot run the kernel's columns are n/a.
local qsl = require "qsl"
local roles, feed = qsl.roles, qsl.feed

local s = qsl.scenario.new{
  name = "drop_reasons",
  quick = "orders=2000 trials=1",
  params = {
    roles.params("publish", "seed", "symbols", "flow"),
    roles.param("publish", "orders", { default = 20000 }),
    { "rcvbuf", "integer", 2048, "the subscriber's SO_RCVBUF request (0: the default)",
      min = 0, max = 1 << 30 },
    { "paths", "enum_list", { "loopback", "queue", "wire" }, "loopback; queue: a veth link " ..
      "with the tbf of link=; wire: a veth link losing loss= of the datagrams; down: a veth " ..
      "link whose receiving end is down (a place no book names: the trial fails, showing it)",
      values = { "loopback", "queue", "wire", "down" } },
    { "link", "string", "tbf:rate=2000000,burst=4000,limit=8000", "the queue path's link" },
    { "loss", "number", 0.05, "the wire path's loss (a fraction)", min = 0, max = 1 },
    { "trials", "integer", 3, "rounds", min = 1, max = 100 },
  },
}
local p = s:parse(arg)
local link = qsl.net.link_param(p.link, "veth")
local art = s:artifact{ title = "Where a burst is dropped: qsl's books and the kernel's reasons" }
local expected = feed.messages(p)
local ways = { loopback = { path = "loopback" }, queue = { path = "veth", link = link },
               wire = { path = "veth", loss = p.loss },
               down = { path = "veth", before_send = function(pair)
                 qsl.net.run(pair.b, { "ip", "link", "set", pair.b.ifname, "down" })
               end } }

local rows = s:grid(p.trials, p.paths, function(path)
  local way = ways[path]
  local r = feed.run{ sub = { rcvbuf = p.rcvbuf, expected = expected, idle_ms = 300 },
    pub = { seed = p.seed, orders = p.orders, symbols = p.symbols, flow = p.flow },
    path = way.path, link = way.link, loss = way.loss, before_send = way.before_send }
  local k = r.drops and r.drops.reasons
  local why, unseen = feed.books(r)
  local function kernel(reason) return k and (k[reason] or 0) or "n/a" end
  local other = {}
  for reason, n in pairs(k or {}) do
    if reason ~= "SOCKET_RCVBUFF" and reason ~= "QDISC_DROP" and reason ~= "NETFILTER_DROP" then
      other[reason] = n
    end
  end
  return roles.merge({ path = path, sent = r.pub.datagrams, received = r.sub.datagrams,
           socket = r.sub.kernel_drops, queue = r.queue and r.queue.drops or 0,
           wire = r.wire or 0, sender = r.pub.send_failures,
           SOCKET_RCVBUFF = kernel("SOCKET_RCVBUFF"), QDISC_DROP = kernel("QDISC_DROP"),
           NETFILTER_DROP = kernel("NETFILTER_DROP"),
           other = k and qsl.measure.drop_text(other) or "n/a", drop_reasons = k,
           not_udp = r.drops and qsl.measure.drop_text(r.drops.others) or "n/a",
           drops_na = r.drops_na, unbalanced = why, ok = why and "NO" or "yes",
           devices = r.devices }, feed.unseen_fields(unseen))
end)

art:table{ title = ("Per trial: %d messages, SO_RCVBUF %d requested"):format(expected, p.rcvbuf),
  rows = rows, main = true, columns = { "path", "trial", "sent", "received", "socket",
    "SOCKET_RCVBUFF", "queue", "QDISC_DROP", "wire", "NETFILTER_DROP", "sender", "other", "unseen",
    "ok", "not_udp" },
  note = "qsl's counts (socket: SO_MEMINFO, queue: tc, wire: the nft rule, sender: refused " ..
    "sends) beside the kernel's own count of UDP datagrams by reason (BPF on skb:kfree_skb, " ..
    "both hosts' namespaces); ok: sent = received + every place, each place equal to its " ..
    "reason or above it by unseen (what the kernel never showed), no other reason; " ..
    "not_udp: the kernel's other drops there (IGMP, ...), not ours" }
art:spread{ title = "Over rounds: datagrams dropped, by place", rows = rows, by = "path",
  fields = { "socket", "queue", "wire" }, format = "%.0f" }
for _, r in ipairs(rows) do
  art:unbalanced(("%s trial %d"):format(r.path, r.trial), r.unbalanced)
end
art:set{ trials = rows, expected_messages = expected, link = p.link, loss = p.loss }
art:caveat(rows[1].drops_na and "the kernel's drop reasons: n/a (" .. rows[1].drops_na .. ")"
  or "the kernel's reasons are its own names (enum skb_drop_reason, read from its BTF)")
feed.unseen_caveat(art, rows)
art:caveat("veth links between namespaces: the kernel's queueing and socket paths, no NIC, " ..
  "driver or wire; the wire's loss is a netfilter rule at the receiving host")
art:caveat("the queue drops only when the publisher outruns the sender's SO_SNDBUF, which " ..
  "the queued datagrams still fill: how many varies from trial to trial")
art:write()
