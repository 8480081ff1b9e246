-- UDP burst loss against SO_RCVBUF: published = received + kernel drops + send failures, per trial
--
-- The burst / receive-buffer experiment of the original change, done right:
-- for each SO_RCVBUF request, several trials; each starts a subscriber
-- (`qsl-run subscribe`), waits for its ready line (no fixed sleep), bursts the
-- seeded flow's market data at it (`qsl-run publish`), and records what the
-- publisher sent, what arrived, and what the kernel says it dropped on the
-- socket (SO_MEMINFO) - tail drops included, which a sequence-gap counter
-- cannot see. `mode=sweep` finds, per buffer size, the highest paced rate
-- with zero loss.
local qsl = require "qsl"
local scenario = require "qsl.scenario"
local stats = require "qsl.stats"
local artifact = require "qsl.artifact"
local roles = require "qsl.roles"

local s = scenario.new{
  name = "rcvbuf_burst",
  description = "UDP burst loss against SO_RCVBUF, reconciled with the kernel's drop count",
  params = {
    { name = "seed", type = "integer", default = 42, min = 0, help = "flow seed" },
    { name = "orders", type = "integer", default = 20000, min = 1, max = 10000000, help = "orders of the flow per trial" },
    { name = "symbols", type = "integer", default = 3, min = 1, max = 64, help = "symbols" },
    { name = "flow", type = "enum", values = { "original", "drift" }, default = "original",
      help = "order flow: the original's generator (its exact datagrams) or qsl's drifting mid" },
    { name = "sizes", type = "integer_list", default = { 2048, 0, 8388608 }, min = 0, max = 1 << 30,
      help = "SO_RCVBUF requests in bytes (0: the OS default)" },
    { name = "trials", type = "integer", default = 4, min = 1, max = 1000, help = "trials per size (burst mode)" },
    { name = "mode", type = "enum", values = { "burst", "sweep" }, default = "burst",
      help = "burst: unpaced; sweep: highest zero-loss paced rate per size" },
    { name = "packed", type = "boolean", default = false, help = "many messages per datagram (MoldUDP64 framing)" },
    { name = "gso", type = "boolean", default = false, help = "packed datagrams sent with UDP GSO" },
    { name = "datagram_bytes", type = "integer", default = 1472, min = 80, max = 65507, help = "packed: bytes per datagram" },
    { name = "batch", type = "integer", default = 64, min = 1, max = 1024, help = "datagrams per sendmmsg" },
    { name = "force", type = "boolean", default = false, help = "SO_RCVBUFFORCE (root): past net.core.rmem_max" },
    { name = "idle_ms", type = "integer", default = 200, min = 1, max = 60000, help = "subscriber ends this long after the last datagram" },
    { name = "rate_min", type = "integer", default = 1000, min = 1, help = "sweep: lowest rate tried (messages/s); a probe lasts messages/rate seconds" },
    { name = "rate_max", type = "integer", default = 2000000, min = 1, help = "sweep: highest rate tried (messages/s)" },
    { name = "sweep_orders", type = "integer", default = 3000, min = 100, max = 10000000, help = "sweep: orders of the flow per probe" },
    { name = "sweep_steps", type = "integer", default = 6, min = 1, max = 30, help = "sweep: bisection steps per size" },
  },
}
local p = s:parse(arg)
if p.gso and not p.packed then qsl.fail("parameter gso=true needs packed=true") end
if p.rate_min >= p.rate_max then qsl.fail("parameter rate_min must be below rate_max") end
if p.force then
  -- SO_RCVBUFFORCE needs CAP_NET_ADMIN: without it there is nothing to measure, so skip (exit 2)
  local probe <close> = assert(qsl.sock.udp())
  local ok, err, code = probe:setopt("rcvbufforce", 4096)
  if not ok then
    if code == 1 then qsl.skip("force=true needs CAP_NET_ADMIN (SO_RCVBUFFORCE: " .. err .. ")") end
    qsl.fail("force=true: " .. err)
  end
end
local art = artifact.new{ name = p.mode == "sweep" and "rcvbuf_sweep" or "rcvbuf_burst", scenario = s,
                          title = p.mode == "sweep" and "Highest zero-loss paced UDP rate per SO_RCVBUF (loopback)"
                                  or "UDP burst loss against SO_RCVBUF (loopback)" }

-- A sweep runs many paced probes: a shorter flow keeps each to seconds.
local orders = p.mode == "sweep" and p.sweep_orders or p.orders

-- What the flow publishes: the same engine and flow the publisher runs, in-process.
local expected
do
  local e <close> = qsl.engine.new{ symbols = p.symbols }
  local st = e:run_flow{ seed = p.seed, orders = orders, flow = p.flow }
  expected = st.trades + st.top_of_book
end

local function udp_counters()
  local snmp, err = qsl.procfs.snmp()
  if not snmp then return nil, err end
  return { rcvbuf_errors = snmp.Udp.RcvbufErrors, in_errors = snmp.Udp.InErrors }
end

-- Packets dropped before any socket: the per-CPU backlog (softnet_stat column 2, hex).
local function backlog_drops()
  local text = qsl.procfs.read("/proc/net/softnet_stat")
  if not text then return nil end
  local sum = 0
  for line in text:gmatch("[^\n]+") do
    local dropped = line:match("^%x+%s+(%x+)")
    if not dropped then return nil end
    sum = sum + tonumber(dropped, 16)
  end
  return sum
end

-- One trial: subscriber, then publisher at `rate` (0 = burst). -> row | nil, why
local function trial(size, rate)
  local before, cerr = udp_counters()
  if not before then return nil, cerr end
  local backlog0 = backlog_drops()
  local sub <close>, ready = roles.start("subscribe", {
    rcvbuf = size, force = p.force, expected = expected, idle_ms = p.idle_ms, deadline_ms = 120000,
  })
  if not sub then return nil, ready end
  local pub <close>, perr = roles.start("publish", {
    port = ready.port, seed = p.seed, orders = orders, symbols = p.symbols, flow = p.flow, rate = rate,
    packed = p.packed, gso = p.gso, datagram_bytes = p.datagram_bytes, batch = p.batch,
  })
  if not pub then return nil, perr end
  local pr, perr2 = roles.finish(pub, "publish", { timeout = 120000 })
  if not pr then return nil, perr2 end
  local sr, serr = roles.finish(sub, "subscribe", { timeout = 120000 })
  if not sr then return nil, serr end
  local after, aerr = udp_counters()
  if not after then return nil, aerr end
  local backlog1 = backlog_drops()
  if pr.messages ~= expected then
    return nil, ("the publisher sent %d messages, the flow makes %d"):format(pr.messages, expected)
  end
  local row = {
    requested_rcvbuf = size, granted_rcvbuf = ready.granted_rcvbuf,
    published = pr.messages, published_datagrams = pr.datagrams,
    received = sr.received, loss = pr.messages - sr.received,
    interior_gaps = sr.interior_gaps, tail_loss = sr.tail_loss, duplicates = sr.duplicates,
    reordered = sr.reordered, malformed = sr.malformed, received_datagrams = sr.datagrams,
    kernel_drops = sr.kernel_drops, rxq_ovfl = sr.rxq_ovfl, send_failures = pr.send_failures,
    rcvbuf_errors_delta = after.rcvbuf_errors - before.rcvbuf_errors,
    backlog_drops_delta = (backlog0 and backlog1) and (backlog1 - backlog0) or nil,
    burst_ms = pr.duration_ns / 1e6, rate = pr.msgs_per_s, target_rate = rate,
  }
  -- every datagram sent is received, dropped by the kernel on the socket, or refused at send
  row.reconciled = row.published_datagrams ==
                   row.received_datagrams + row.kernel_drops + row.send_failures
                   and row.malformed == 0 and row.duplicates == 0
                   and row.received + row.interior_gaps + row.tail_loss == row.published
  return row
end

local function size_label(n)
  if n == 0 then return "OS default" end
  if n >= 1 << 20 and n % (1 << 20) == 0 then return ("%d MiB"):format(n >> 20) end
  if n >= 1024 and n % 1024 == 0 then return ("%d KiB"):format(n >> 10) end
  return tostring(n) .. " B"
end

local COLUMNS = {
  { key = "size", label = "rcvbuf" }, { key = "granted_rcvbuf", label = "granted" },
  { key = "trial" }, { key = "published" }, { key = "received" }, { key = "loss" },
  { key = "interior_gaps", label = "gaps" }, { key = "tail_loss", label = "tail" },
  { key = "kernel_drops", label = "kdrops" }, { key = "rxq_ovfl" },
  { key = "send_failures", label = "sendfail" }, { key = "rcvbuf_errors_delta", label = "RcvbufErr+" },
  { key = "burst_ms", format = "%.1f" }, { key = "rate", label = "msg/s", format = "%.0f" },
  { key = "ok" },
}

local rows, unreconciled = {}, {}
local function record(row, size, label)
  row.size = size_label(size)
  row.trial = label
  row.ok = row.reconciled and "yes" or "NO"
  rows[#rows + 1] = row
  if not row.reconciled then unreconciled[#unreconciled + 1] = ("%s trial %s"):format(row.size, label) end
end

if p.mode == "burst" then
  local total = #p.sizes * p.trials
  local k = 0
  for _, size in ipairs(p.sizes) do
    for t = 1, p.trials do
      k = k + 1
      s:progress("trial %d/%d (rcvbuf %s)", k, total, size_label(size))
      local row, err = trial(size, 0)
      if not row then
        art:invalid(("trial %d/%d (rcvbuf %s): %s"):format(k, total, size_label(size), err))
        break
      end
      record(row, size, t)
    end
  end
  art:table{ title = ("Per trial: %d orders (seed %d, %d symbols, flow %s) -> %d messages, unpaced, %s"):format(
               p.orders, p.seed, p.symbols, p.flow, expected,
               p.packed and (p.gso and "packed + GSO" or "packed") or "one message per datagram"),
             columns = COLUMNS, rows = rows,
             note = "loss = published - received (tail drops included); gaps = missing below the highest " ..
                    "sequence seen; tail = missing above it; ok = datagrams sent = received + kdrops + sendfail" }
  local summary, points = {}, { min = {}, median = {}, max = {} }
  for _, size in ipairs(p.sizes) do
    local mine = {}
    for _, r in ipairs(rows) do if r.requested_rcvbuf == size then mine[#mine + 1] = r end end
    if #mine > 0 then
      local sm = stats.summary(stats.column(mine, "loss"))
      local rate = stats.summary(stats.column(mine, "rate"))
      summary[#summary + 1] = { size = size_label(size), requested_rcvbuf = size,
        granted_rcvbuf = mine[1].granted_rcvbuf, trials = #mine,
        loss_min = sm.min, loss_median = sm.median, loss_max = sm.max,
        rate_min = rate.min, rate_median = rate.median, rate_max = rate.max }
      local x = mine[1].granted_rcvbuf
      points.min[#points.min + 1] = { x, sm.min }
      points.median[#points.median + 1] = { x, sm.median }
      points.max[#points.max + 1] = { x, sm.max }
    end
  end
  art:table{ title = "Loss per buffer size over trials (messages)", rows = summary, columns = {
    { key = "size", label = "rcvbuf" }, { key = "granted_rcvbuf", label = "granted" }, { key = "trials" },
    { key = "loss_min", label = "min" }, { key = "loss_median", label = "median", format = "%.1f" }, { key = "loss_max", label = "max" },
    { key = "rate_median", label = "median msg/s", format = "%.0f" } } }
  art:set("summary", summary)
  for _, series in ipairs{ "max", "median", "min" } do table.sort(points[series], function(a, b) return a[1] < b[1] end) end
  art:plot{ title = ("Burst of %d messages: loss against the granted receive buffer"):format(expected),
            xlabel = "granted SO_RCVBUF (bytes)", ylabel = "messages lost", logx = true,
            series = { { name = "max", points = points.max }, { name = "median", points = points.median },
                       { name = "min", points = points.min } } }
else
  -- sweep: bisection (geometric) over the paced rate, per size
  local best = {}
  local series = {}
  for _, size in ipairs(p.sizes) do
    local pts, lo, hi = {}, nil, nil        -- lo: highest rate seen lossless; hi: lowest lossy
    local function probe(rate)
      s:progress("sweep rcvbuf %s: %d msg/s", size_label(size), rate)
      local row, err = trial(size, rate)
      if not row then
        art:invalid(("sweep rcvbuf %s at %d msg/s: %s"):format(size_label(size), rate, err))
        return nil
      end
      record(row, size, ("@%d"):format(rate))
      pts[#pts + 1] = { row.rate, row.loss }
      if row.loss == 0 then lo = math.max(lo or 0, rate) else hi = math.min(hi or math.huge, rate) end
      return row
    end
    if probe(p.rate_max) and (hi ~= nil) and probe(p.rate_min) and lo ~= nil then
      for _ = 1, p.sweep_steps do
        local mid = math.floor(math.sqrt(lo * hi) + 0.5)
        if mid <= lo or mid >= hi then break end
        if not probe(mid) then break end
      end
    end
    table.sort(pts, function(a, b) return a[1] < b[1] end)
    series[#series + 1] = { name = size_label(size), points = pts }
    best[#best + 1] = { size = size_label(size), requested_rcvbuf = size,
      highest_zero_loss_rate = lo, lowest_lossy_rate = hi,
      note = (hi == nil and "no loss even at rate_max") or (lo == nil and "loss even at rate_min") or "" }
  end
  art:table{ title = ("Per probe: %d orders (seed %d) -> %d messages, paced"):format(orders, p.seed, expected),
             columns = COLUMNS, rows = rows,
             note = "target_rate is the paced rate asked for; msg/s what the publisher achieved" }
  art:table{ title = "Highest paced rate with zero loss (messages/s)", rows = best, columns = {
    { key = "size", label = "rcvbuf" }, { key = "highest_zero_loss_rate", label = "zero loss up to" },
    { key = "lowest_lossy_rate", label = "loss from" }, { key = "note" } } }
  art:set("sweep", best)
  art:plot{ title = "Loss against paced rate, per receive buffer", xlabel = "achieved rate (messages/s)",
            ylabel = "messages lost", logx = true, series = series }
end

art:set("expected_messages", expected)
art:set("trials", rows)
art:set("unreconciled", unreconciled)
if #unreconciled > 0 then
  art:text("RECONCILIATION FAILED for: " .. table.concat(unreconciled, ", ") ..
           ". Datagrams sent != received + kernel drops + send failures: something dropped them " ..
           "where SO_MEMINFO cannot see (see backlog_drops_delta in the JSON), or the counts are wrong.")
end
art:caveat(("loopback only: no NIC, driver, ring buffer or wire; the publisher and subscriber share this " ..
           "machine's %d CPUs"):format(artifact.cpus_online()))
art:caveat("kernel_drops is the socket's SO_MEMINFO drop count: exact, tail drops included; rxq_ovfl " ..
           "(SO_RXQ_OVFL) only counts drops before a datagram that was later received, so it misses tail drops")
art:caveat("RcvbufErr+ is /proc/net/snmp Udp RcvbufErrors over the trial: system-wide, a cross-check only")
art:caveat(("a request is doubled by Linux and clamped to net.core.rmem_max (%s) unless force=true"):format(
  tostring(qsl.procfs.sysctl("net.core.rmem_max"))))
art:caveat("loss depends on scheduling: how often the subscriber runs during the burst; report ranges, not a point")
local paths = art:write()
print("wrote " .. table.concat(paths, ", "))
if #unreconciled > 0 then
  qsl.fail(("%d trial(s) do not reconcile (%s): see %s"):format(#unreconciled,
    table.concat(unreconciled, ", "), paths[1]))
end
