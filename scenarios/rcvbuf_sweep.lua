-- The highest paced UDP rate a receive buffer takes with zero loss, per SO_RCVBUF
--
-- For each buffer size, a geometric bisection over the publisher's paced rate
-- (qsl.sweep): every probe is one subscriber + publisher run of the seeded
-- flow (qsl.feed), kept only if the books balance (datagrams sent = received
-- + kernel drops + send failures). The result is the highest rate with no loss
-- and the lowest with loss, per size, and loss against rate as a plot.
local qsl = require "qsl"
local scenario = qsl.scenario
local roles = qsl.roles
local feed = qsl.feed
local sweep = qsl.sweep

local s = scenario.new{
  name = "rcvbuf_sweep",
  quick = "sizes=0 orders=2000 steps=2 rate_min=200000 modes=recvmmsg",
  params = {
    roles.params("publish", "seed", "symbols", "flow"),
    roles.param("publish", "orders", { default = 3000, help = "orders of the flow per probe" }),
    { "sizes", "integer_list", { 2048, 0, 8388608 },
      "SO_RCVBUF requests in bytes (0: the default)", min = 0, max = 1 << 30 },
    { "rate_min", "integer", 1000, "lowest rate tried (messages/s)", min = 1, max = 10000000 },
    { "rate_max", "integer", 2000000, "highest rate tried (messages/s)", min = 2, max = 10000000 },
    { "steps", "integer", 6, "bisection steps per size", min = 1, max = 30 },
    roles.params("subscribe", "force", "idle_ms"),
    { "modes", "enum_list", { "recvmmsg", "io_uring" }, "subscriber receive modes to compare",
      values = { "recvmmsg", "io_uring" } },
  },
}
local p = s:parse(arg)
if p.rate_min >= p.rate_max then qsl.fail("parameter rate_min must be below rate_max") end
if p.force then feed.need_force() end
local art = s:artifact{ title = "Highest zero-loss paced UDP rate per SO_RCVBUF (loopback)" }
local expected = feed.messages(p)

-- One probe: a paced run at `rate` into a buffer of `size`; true when nothing was lost.
local probes, best = {}, {}
local function probe(mode, size, rate)
  local r = feed.run{ sub = { rcvbuf = size, force = p.force, expected = expected,
                              idle_ms = p.idle_ms, mode = mode },
                      pub = { seed = p.seed, orders = p.orders, symbols = p.symbols,
                              flow = p.flow, rate = rate } }
  local unbalanced = feed.books(r)
  assert(not unbalanced, ("at %d msg/s: %s"):format(rate, unbalanced))
  probes[#probes + 1] = { mode = mode, size = feed.size_label(size), target_rate = rate,
                          rate = r.pub.msgs_per_s, loss = r.pub.messages - r.sub.received,
                          kernel_drops = r.sub.kernel_drops }
  return probes[#probes].loss == 0
end

sweep.grid(roles.modes(art, p.modes), p.sizes, function(mode, size)
  s:trial(mode .. ", rcvbuf " .. feed.size_label(size), function()
    local found = sweep.bisect{ lo = p.rate_min, hi = p.rate_max, steps = p.steps,
                                probe = function(rate) return probe(mode, size, rate) end }
    best[#best + 1] = { mode = mode, size = feed.size_label(size), zero_loss_up_to = found.best,
                        loss_from = found.first_bad }
  end)
end)

art:table{ title = ("Per probe: %d orders (seed %d) -> %d messages, paced"):format(
             p.orders, p.seed, expected), rows = probes,
           columns = { "mode", "size", "target_rate", "rate %.0f", "loss", "kernel_drops" } }
art:table{ title = "Highest paced rate with zero loss (messages/s)", rows = best, main = true,
           columns = { "mode", "size", "zero_loss_up_to", "loss_from" },
           note = "-: loss even at rate_min (zero_loss_up_to), none even at rate_max (loss_from)" }
art:plot_rows{ title = "Loss against paced rate, per receive buffer", rows = probes, x = "rate",
               y = "loss", by = { "mode", "size" }, logx = true,
               xlabel = "achieved rate (messages/s)" }
art:set{ sweep = best, trials = probes }
art:caveat(("loopback only; publisher and subscriber share %d CPUs"):format(art.cpus_online()))
art:caveat("a probe lasts orders/rate seconds: short probes see little scheduling noise")
art:write()
