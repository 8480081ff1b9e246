-- Feed publisher throughput: qsl's publisher against a raw send() loop, side by side in each trial
--
-- Each trial runs four publishers, one after another, each into a fresh
-- 8 MiB subscriber: `raw` (the same messages, made beforehand, one send()
-- each: the kernel's floor), `single` (qsl's publisher: flow + engine +
-- encode + sendmmsg, one message per datagram), `packed` (MoldUDP64 framing,
-- many messages per datagram) and `gso` (packed datagrams, many per send via
-- UDP_SEGMENT). Rates are the publisher's (first send to last); loss is what
-- the subscriber did not get. Ratios are taken within a trial, so load on
-- the machine affects both sides of each ratio alike.
local qsl = require "qsl"
local scenario = require "qsl.scenario"
local stats = require "qsl.stats"
local artifact = require "qsl.artifact"
local roles = require "qsl.roles"

local s = scenario.new{
  name = "feed_throughput",
  description = "publisher messages/s against a raw send() loop, in the same run",
  params = {
    { name = "seed", type = "integer", default = 42, min = 0, help = "flow seed" },
    { name = "flow", type = "enum", values = { "original", "drift" }, default = "original",
      help = "order flow: the original's generator (its exact datagrams) or qsl's drifting mid" },
    { name = "orders", type = "integer", default = 200000, min = 1000, max = 10000000, help = "orders per run" },
    { name = "trials", type = "integer", default = 5, min = 1, max = 100, help = "trials" },
    { name = "rcvbuf", type = "integer", default = 8388608, min = 0, help = "subscriber SO_RCVBUF request" },
    { name = "variants", type = "enum_list", values = { "raw", "single", "packed", "gso" },
      default = { "raw", "single", "packed", "gso" }, help = "publishers to run, in this order" },
  },
}
local p = s:parse(arg)
local art = artifact.new{ name = "feed_throughput", scenario = s,
                          title = "Feed publisher throughput against a raw send() loop (loopback)" }

local VARIANTS = {
  raw = { raw = 1 }, single = {}, packed = { packed = 1 }, gso = { packed = 1, gso = 1 },
}
local chosen = p.variants

local expected
do
  local e <close> = qsl.engine.new{ symbols = 3 }
  local st = e:run_flow{ seed = p.seed, orders = p.orders, flow = p.flow }
  expected = st.trades + st.top_of_book
end

local function run(variant)
  local sub <close>, ready = roles.start("subscribe", { rcvbuf = p.rcvbuf, expected = expected,
    idle_ms = 300, deadline_ms = 120000 })
  if not sub then return nil, ready end
  local args = { port = ready.port, seed = p.seed, orders = p.orders, flow = p.flow }
  for k, v in pairs(VARIANTS[variant]) do args[k] = v end
  local pub <close>, perr = roles.start("publish", args)
  if not pub then return nil, perr end
  local pr, e1 = roles.finish(pub, "publish " .. variant, { timeout = 120000 })
  if not pr then return nil, e1 end
  local sr, e2 = roles.finish(sub, "subscribe", { timeout = 120000 })
  if not sr then return nil, e2 end
  if pr.messages ~= expected then return nil, ("published %d messages, expected %d"):format(pr.messages, expected) end
  return { variant = variant, msgs_per_s = pr.msgs_per_s, dgrams_per_s = pr.dgrams_per_s,
           datagrams = pr.datagrams, send_failures = pr.send_failures,
           loss = pr.messages - sr.received, kernel_drops = sr.kernel_drops,
           granted_rcvbuf = ready.granted_rcvbuf }
end

local rows, by = {}, {}
for i, n in s:trials(p.trials) do
  local raw_rate
  for _, v in ipairs(chosen) do
    local row, err = run(v)
    if not row then art:invalid(("trial %d/%d, %s: %s"):format(i, n, v, err)); break end
    row.trial = i
    if v == "raw" then raw_rate = row.msgs_per_s end
    row.vs_raw = raw_rate and row.msgs_per_s / raw_rate or nil
    rows[#rows + 1] = row
    by[v] = by[v] or {}
    table.insert(by[v], row)
  end
end

local summary = {}
for _, v in ipairs(chosen) do
  local r = by[v] or {}
  if #r > 0 then
    local m = stats.summary(stats.column(r, "msgs_per_s"))
    local d = stats.summary(stats.column(r, "dgrams_per_s"))
    local loss = stats.summary(stats.column(r, "loss"))
    local ratio = r[1].vs_raw and stats.summary(stats.column(r, "vs_raw")) or {}
    summary[#summary + 1] = { variant = v, msgs_min = m.min, msgs_median = m.median, msgs_max = m.max,
      dgrams_median = d.median, vs_raw_min = ratio.min, vs_raw_median = ratio.median,
      vs_raw_max = ratio.max, loss_max = loss.max }
  end
end
art:table{ title = ("Per run: %d orders -> %d messages"):format(p.orders, expected), rows = rows, columns = {
  { key = "trial" }, { key = "variant" }, { key = "msgs_per_s", label = "msg/s", format = "%.0f" },
  { key = "dgrams_per_s", label = "datagram/s", format = "%.0f" }, { key = "datagrams" },
  { key = "vs_raw", format = "%.2f" }, { key = "loss" }, { key = "kernel_drops", label = "kdrops" },
  { key = "send_failures", label = "sendfail" }, { key = "granted_rcvbuf", label = "rcvbuf" } } }
art:table{ title = "Over trials: messages/s, and the ratio to raw measured within each trial", rows = summary,
  columns = { { key = "variant" }, { key = "msgs_min", label = "min", format = "%.0f" },
    { key = "msgs_median", label = "median", format = "%.0f" }, { key = "msgs_max", label = "max", format = "%.0f" },
    { key = "dgrams_median", label = "datagram/s", format = "%.0f" },
    { key = "vs_raw_min", label = "x raw min", format = "%.2f" },
    { key = "vs_raw_median", label = "x raw median", format = "%.2f" },
    { key = "vs_raw_max", label = "x raw max", format = "%.2f" }, { key = "loss_max", label = "max loss" } } }
art:set("runs", rows)
art:set("summary", summary)
art:set("expected_messages", expected)
art:caveat(("loopback only; publisher and subscriber share this machine's %d CPUs, so the receiver competes " ..
           "with the sender"):format(artifact.cpus_online()))
art:caveat("raw makes its messages before the clock starts; single/packed/gso run the flow and the engine inside it")
art:caveat("a rate is the publisher's own (first send to last send); loss > 0 means the receiver did not keep up")
print("wrote " .. table.concat(art:write(), ", "))
