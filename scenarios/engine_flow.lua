-- Engine cost per order on the synthetic flow: in-process timing against a child's CPU split
--
-- Runs the seeded synthetic order flow (the feed's workload) through the
-- matching engine in a child process (`qsl-run flow`), several trials, and
-- reads where its time went: the role's own clock (ns/order), on-CPU time
-- from /proc/PID/schedstat (nanoseconds, no tick rounding), and user/kernel
-- CPU from wait4's rusage (microseconds). A pure user-space workload: it is
-- the baseline a socket-path profile is compared against.
local qsl = require "qsl"
local scenario = require "qsl.scenario"
local stats = require "qsl.stats"
local artifact = require "qsl.artifact"

local s = scenario.new{
  name = "engine_flow",
  description = "engine cost per order on the synthetic flow, with the child's CPU split",
  params = {
    { name = "seed", type = "integer", default = 42, min = 0, help = "flow seed" },
    { name = "orders", type = "integer", default = 200000, min = 1000, max = 100000000,
      help = "orders per trial (the original flow's book grows without bound: past ~1.4 M orders it fills the 65,536-order pool)" },
    { name = "symbols", type = "integer", default = 3, min = 1, max = 64, help = "symbols" },
    { name = "flow", type = "enum", values = { "original", "drift" }, default = "original",
      help = "order flow: the original's generator (its exact datagrams) or qsl's drifting mid" },
    { name = "trials", type = "integer", default = 5, min = 1, max = 100, help = "trials" },
  },
}
local p = s:parse(arg)
local art = artifact.new{ name = "engine_flow", scenario = s,
                          title = "Engine cost per order, synthetic flow" }

local rows = {}
for i, n in s:trials(p.trials) do
  -- hold=1: the role waits after its result line, so its /proc entries can be read
  local child <close> = assert(qsl.proc.spawn{ role = "flow", args = {
    "seed=" .. p.seed, "orders=" .. p.orders, "symbols=" .. p.symbols, "flow=" .. p.flow, "hold=1" } })
  local ready, err = child:ready(5000)
  if not ready then art:invalid(("trial %d: %s"):format(i, err)); break end
  local res, rerr = child:line("result", 120000)
  local sched, serr = qsl.procfs.schedstat(child.pid)
  local st = child:stop(2000)
  if not res or not sched or not st.exited or st.code ~= 0 then
    art:invalid(("trial %d: flow role failed: %s"):format(i,
      rerr or serr or st.signal_name or ("exit " .. tostring(st.code))))
    break
  end
  if res.orders ~= p.orders or type(res.ns_per_order) ~= "number" then
    art:invalid(("trial %d: result line has unexpected fields: orders=%s ns_per_order=%s"):format(
      i, tostring(res.orders), tostring(res.ns_per_order)))
    break
  end
  rows[#rows + 1] = {
    trial = i, ns_per_order = res.ns_per_order,
    cpu_ns_per_order = sched.cpu_ns / p.orders,
    user_ns_per_order = st.utime_us * 1000 / p.orders,
    sys_ns_per_order = st.stime_us * 1000 / p.orders,
    datagrams = res.datagrams, trades = res.trades, rejects = res.rejects,
    maxrss_kb = st.maxrss_kb, nvcsw = st.nvcsw, nivcsw = st.nivcsw,
  }
end

local function spread(key)
  local sm = stats.summary(stats.column(rows, key))
  return { what = key, min = sm.min, median = sm.median, max = sm.max }
end
art:table{
  title = ("Per trial (%d orders, seed %d, %d symbols, flow %s)"):format(p.orders, p.seed, p.symbols, p.flow),
  columns = {
    { key = "trial" }, { key = "ns_per_order", format = "%.1f" },
    { key = "cpu_ns_per_order", format = "%.1f" },
    { key = "user_ns_per_order", format = "%.1f" }, { key = "sys_ns_per_order", format = "%.1f" },
    { key = "datagrams" }, { key = "trades" }, { key = "rejects" },
    { key = "maxrss_kb" }, { key = "nvcsw" }, { key = "nivcsw" },
  },
  rows = rows,
}
local summary = {}
if #rows > 0 then
  summary = { spread("ns_per_order"), spread("cpu_ns_per_order"), spread("user_ns_per_order"),
              spread("sys_ns_per_order") }
  art:table{ title = "Spread over trials (ns per order)",
             columns = { { key = "what" }, { key = "min", format = "%.1f" },
                         { key = "median", format = "%.1f" }, { key = "max", format = "%.1f" } },
             rows = summary }
end
art:set("trials", rows)
art:set("summary", summary)
art:caveat("ns_per_order: the role's own monotonic clock around the loop (generation + matching); " ..
           "cpu_ns_per_order: /proc/PID/schedstat on-CPU nanoseconds of the whole process, start-up included")
art:caveat("user/sys: wait4 rusage; the kernel samples the user/kernel split at clock ticks, so the split " ..
           "of a short run is coarse while schedstat's total is exact")
art:caveat("a pure user-space workload: no sockets, so sys time is process start-up and page faults")
art:caveat(("a shared machine (%d CPUs online): compare medians, and ratios measured in the same run"):format(
  artifact.cpus_online()))
local paths = art:write()
print("wrote " .. table.concat(paths, ", "))
