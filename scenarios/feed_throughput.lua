-- Feed publisher throughput: qsl's publisher against a raw send() loop, side by side in each trial
--
-- Each trial runs the chosen publishers one after another, each into a fresh
-- subscriber: `raw` (the same messages, made beforehand, one send() each: the
-- kernel's floor), `single` (qsl's publisher: flow + engine + encode +
-- sendmmsg, one message per datagram), `packed` (MoldUDP64 framing, many
-- messages per datagram) and `gso` (packed datagrams, many per send via
-- UDP_SEGMENT). Rates are the publisher's (first send to last); loss is what
-- the subscriber did not get. Ratios are taken within a trial, so load on
-- the machine affects both sides of each ratio alike.
local qsl = require "qsl"
local scenario = qsl.scenario
local roles = qsl.roles
local feed = qsl.feed

local s = scenario.new{
  name = "feed_throughput",
  quick = "orders=2000 trials=1 variants=raw,single",
  params = {
    roles.params("publish", "seed", "flow", "orders", { default = 200000, min = 1000 }),
    { "trials", "integer", 5, "trials", min = 1, max = 100 },
    roles.param("subscribe", "rcvbuf", { default = 8388608 }),
    { "variants", "enum_list", { "raw", "single", "packed", "gso" }, "publishers to run, in order",
      values = { "raw", "single", "packed", "gso" } },
  },
}
local p = s:parse(arg)
local art = s:artifact{ title = "Feed publisher throughput against a raw send() loop (loopback)" }
local VARIANTS = { raw = { raw = 1 }, single = {}, packed = { packed = 1 },
                   gso = { packed = 1, gso = 1 } }
local expected = feed.messages{ seed = p.seed, orders = p.orders, symbols = 3, flow = p.flow }

local rows = {}
s:trials(p.trials, function(t)
  local raw_rate
  for _, v in ipairs(p.variants) do
    local pub = { seed = p.seed, orders = p.orders, flow = p.flow }
    for k, x in pairs(VARIANTS[v]) do pub[k] = x end
    local r = feed.run{ sub = { rcvbuf = p.rcvbuf, expected = expected, idle_ms = 300,
                                deadline_ms = 120000 }, pub = pub }
    assert(r.pub.messages == expected, v .. ": the publisher sent a different flow")
    raw_rate = v == "raw" and r.pub.msgs_per_s or raw_rate
    rows[#rows + 1] = { trial = t, variant = v, msgs_per_s = r.pub.msgs_per_s,
      dgrams_per_s = r.pub.dgrams_per_s, datagrams = r.pub.datagrams,
      vs_raw = raw_rate and r.pub.msgs_per_s / raw_rate, loss = r.pub.messages - r.sub.received,
      kernel_drops = r.sub.kernel_drops, send_failures = r.pub.send_failures }
  end
end)

art:table{ title = ("Per run: %d orders -> %d messages"):format(p.orders, expected), rows = rows,
           columns = { "trial", "variant", "msgs_per_s %.0f", "dgrams_per_s %.0f", "datagrams",
                       "vs_raw %.2f", "loss", "kernel_drops", "send_failures" } }
local fields = { "msgs_per_s %.0f", "loss", "dgrams_per_s %.0f" }
if p.variants[1] == "raw" then fields[#fields + 1] = "vs_raw %.2f" end
art:set{ runs = rows, expected_messages = expected, summary = art:spread{ rows = rows,
  title = "Over trials: messages/s, and the ratio to raw measured within each trial",
  by = "variant", fields = fields, main = true } }
art:caveat(("loopback; publisher and subscriber share %d CPUs"):format(art.cpus_online()))
art:caveat("raw makes its messages before its clock starts; the others run flow + engine in it")
art:caveat("a rate is the publisher's own (first send to last); loss > 0: the receiver lagged")
art:write()
