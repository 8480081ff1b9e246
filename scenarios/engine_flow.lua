-- Engine cost per order on the synthetic flow: the role's own clock against its CPU split
--
-- Runs the seeded synthetic order flow (the feed's workload) through the
-- matching engine in a child process (`qsl-run flow`), several trials, and
-- reads where its time went: the role's own clock (ns/order), on-CPU time
-- from /proc/PID/schedstat (nanoseconds, no tick rounding), and user/kernel
-- CPU from wait4's rusage (microseconds). A pure user-space workload: it is
-- the baseline a socket-path profile is compared against.
local qsl = require "qsl"
local scenario = qsl.scenario
local roles = qsl.roles

local s = scenario.new{
  name = "engine_flow",
  quick = "orders=20000 trials=2",
  params = {
    roles.param("flow", "seed"),
    -- the original flow's book grows without bound: past ~1.4 M orders it fills the pool
    roles.param("flow", "orders", { default = 200000 }),
    roles.param("flow", "symbols"),
    roles.param("flow", "flow"),
    { "trials", "integer", 5, "trials", min = 1, max = 100 },
  },
}
local p = s:parse(arg)
local art = s:artifact{ title = "Engine cost per order, synthetic flow" }

local rows = s:trials(p.trials, function()
  -- hold=1: the role waits after its result line, so its /proc entries can still be read
  local flow <close> = roles.start("flow", { seed = p.seed, orders = p.orders,
                                             symbols = p.symbols, flow = p.flow, hold = true })
  local res = roles.result(flow, { timeout = 120000 })
  local cpu_ns = flow:sample().cpu_ns
  local _, st = roles.finish(flow, { stop = true })
  return { ns_per_order = res.ns_per_order, cpu_ns_per_order = cpu_ns / p.orders,
           user_ns_per_order = st.utime_us * 1000 / p.orders,
           sys_ns_per_order = st.stime_us * 1000 / p.orders,
           datagrams = res.datagrams, trades = res.trades, rejects = res.rejects,
           maxrss_kb = st.maxrss_kb, nvcsw = st.nvcsw, nivcsw = st.nivcsw }
end)

art:table{ title = ("Per trial (%d orders, seed %d, %d symbols, flow %s)"):format(
             p.orders, p.seed, p.symbols, p.flow), rows = rows,
           columns = { "trial", "ns_per_order %.1f", "cpu_ns_per_order %.1f",
             "user_ns_per_order %.1f", "sys_ns_per_order %.1f", "datagrams", "trades",
             "rejects", "maxrss_kb", "nvcsw", "nivcsw" } }
art:set("summary", art:spread{ title = "Spread over trials (ns per order)", rows = rows,
  main = true, format = "%.1f", fields = { "ns_per_order", "cpu_ns_per_order", "user_ns_per_order",
                              "sys_ns_per_order" } })
art:set("trials", rows)
art:caveat("user-space only (no sockets: sys time is start-up and page faults); " ..
           "ns_per_order is the role's own clock, cpu_ns_per_order schedstat (start-up included)")
art:caveat("user/sys: wait4 rusage, sampled at clock ticks: coarse for short runs")
art:caveat(("a shared machine (%d CPUs): compare medians"):format(art.cpus_online()))
art:write()
