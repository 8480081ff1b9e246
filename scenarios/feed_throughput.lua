-- Feed publisher throughput: qsl's publisher against raw send loops, side by side in each trial
--
-- Each trial runs the chosen publishers one after another, each into a fresh
-- subscriber: `raw` (the same messages, made beforehand, one send() each: the
-- original's floor), `raw_mmsg` (the same, sent by sendmmsg with the
-- publisher's batch: the floor of its own sends), `single` (qsl's publisher:
-- flow + engine + encode + sendmmsg, one message per datagram), `packed`
-- (MoldUDP64 framing, many messages per datagram) and `gso` (packed datagrams,
-- many per send via UDP_SEGMENT). Rates are the publisher's (first send to
-- last); loss is what the subscriber did not get. Ratios are taken within a
-- trial, so load on the machine affects both sides of each ratio alike.
local qsl = require "qsl"
local scenario = qsl.scenario
local roles = qsl.roles
local feed = qsl.feed

local s = scenario.new{
  name = "feed_throughput",
  quick = "orders=2000 trials=1 variants=raw,raw_mmsg,single",
  params = {
    roles.params("publish", "seed", "flow", "orders", { default = 200000, min = 1000 }),
    { "trials", "integer", 5, "trials", min = 1, max = 100 },
    roles.param("subscribe", "rcvbuf", { default = 8388608 }),
    { "variants", "enum_list", { "raw", "raw_mmsg", "single", "packed", "gso" },
      "publishers to run, in order", values = { "raw", "raw_mmsg", "single", "packed", "gso" } },
  },
}
local p = s:parse(arg)
local art = s:artifact{ title = "Feed publisher throughput against raw send loops (loopback)" }
local VARIANTS = { raw = { raw = 1 }, raw_mmsg = { raw = 2 }, single = {}, packed = { packed = 1 },
                   gso = { packed = 1, gso = 1 } }
-- the floors each run is measured against, within its trial: each row's vs_<floor>
local FLOORS = { "raw", "raw_mmsg" }
local expected = feed.messages{ seed = p.seed, orders = p.orders, symbols = 3, flow = p.flow }

local rows = {}
local ran = {}
for _, v in ipairs(p.variants) do ran[v] = true end

s:trials(p.trials, function(t)
  local rate, trial = {}, {}
  for _, v in ipairs(p.variants) do
    local pub = { seed = p.seed, orders = p.orders, flow = p.flow }
    for k, x in pairs(VARIANTS[v]) do pub[k] = x end
    local r = feed.run{ sub = { rcvbuf = p.rcvbuf, expected = expected, idle_ms = 300,
                                deadline_ms = 120000 }, pub = pub }
    assert(r.pub.messages == expected, v .. ": the publisher sent a different flow")
    rate[v] = r.pub.msgs_per_s
    trial[#trial + 1] = { trial = t, variant = v, msgs_per_s = r.pub.msgs_per_s,
      dgrams_per_s = r.pub.dgrams_per_s, datagrams = r.pub.datagrams,
      send_calls = r.pub.send_calls, loss = r.pub.messages - r.sub.received,
      kernel_drops = r.sub.kernel_drops, send_failures = r.pub.send_failures }
  end
  -- against every floor of the trial, whichever order the variants ran in
  for _, row in ipairs(trial) do
    for _, f in ipairs(FLOORS) do
      if rate[f] then row["vs_" .. f] = row.msgs_per_s / rate[f] end
    end
    rows[#rows + 1] = row
  end
end)

local columns = { "trial", "variant", "msgs_per_s %.0f", "dgrams_per_s %.0f", "datagrams",
                  "send_calls" }
local fields = { "msgs_per_s %.0f", "loss", "dgrams_per_s %.0f" }
for _, f in ipairs(FLOORS) do
  if ran[f] then
    columns[#columns + 1] = "vs_" .. f .. " %.2f"
    fields[#fields + 1] = "vs_" .. f .. " %.2f"
  end
end
for _, c in ipairs{ "loss", "kernel_drops", "send_failures" } do columns[#columns + 1] = c end
art:table{ title = ("Per run: %d orders -> %d messages"):format(p.orders, expected), rows = rows,
           columns = columns }
art:set{ runs = rows, expected_messages = expected, summary = art:spread{ rows = rows,
  title = "Over trials: messages/s, and the ratio to each raw floor measured within each trial",
  by = "variant", fields = fields, main = true } }
art:caveat(("loopback; publisher and subscriber share %d CPUs"):format(art.cpus_online()))
art:caveat("raw and raw_mmsg make their messages before their clock starts; the others run " ..
  "flow + engine in it")
art:caveat("raw sends one message a send(), as the original's floor did; raw_mmsg sends them " ..
  "by sendmmsg in the publisher's batches (64), as single does: single's own floor, and the " ..
  "one to read where a system call is dear (make bench's syscall row)")
art:caveat("a rate is the publisher's own (first send to last); loss > 0: the receiver lagged")
art:write()
