-- The gateway's modes side by side: epoll, io_uring and blocking, pipelined and ping-pong
--
-- For each mode (io_uring where the kernel allows it), depth (8 pipelined, 1
-- ping-pong) and connection count, several trials of a fresh gateway under
-- the load driver, every reply verified: throughput, latency percentiles, the
-- gateway's on-CPU time per order (schedstat) and its io_uring_enter calls and
-- completions per order (0 outside io_uring mode). Then one run per cell under
-- `strace -f -c`: system calls per order, where io_uring's receives and sends
-- are not system calls at all (io_uring_enter carries them).
local qsl = require "qsl"
local roles = qsl.roles

local s = qsl.scenario.new{
  name = "gateway_modes",
  quick = "modes=epoll,io_uring,blocking connections=2 depths=4 requests=2000 trials=1 " ..
          "strace_requests=500",
  params = {
    { "modes", "enum_list", { "epoll", "io_uring", "blocking" }, "gateway modes",
      values = { "epoll", "io_uring", "blocking" } },
    { "depths", "integer_list", { 8, 1 }, "requests in flight per connection", min = 1,
      max = 4096 },
    { "connections", "integer_list", { 1, 16, 64 }, "connection counts", min = 1, max = 4096 },
    roles.params("load", "requests", { default = 50000 }),
    { "trials", "integer", 5, "trials per cell", min = 1, max = 100 },
    { "strace_requests", "integer", 5000, "requests under strace per cell (0: none)", min = 0,
      max = 1000000 },
  },
}
local p = s:parse(arg)
if p.strace_requests > 0 and not qsl.have("strace") then
  qsl.skip("strace is not installed (apt-get install strace); strace_requests=0 runs without")
end
local art = s:artifact{ title = "Gateway modes side by side (loopback)" }
local modes = roles.modes(art, p.modes)

-- A fresh gateway (wrapped: under strace) serving the load -> load result, gateway result,
-- the gateway's /proc delta over the load.
local function serve(mode, depth, n, requests, wrap)
  local gw <close>, ready = roles.start("gateway", { mode = mode, max_conns = n + 16 },
                                        { wrap = wrap, ready_timeout = 10000 })
  local before = gw:sample()
  local lr = roles.run("load", { port = ready.port, connections = n, depth = depth,
                                 requests = requests, timeout_ms = 60000 }, { timeout = 600000 })
  local d = qsl.measure.delta(before, gw:sample())
  return lr, roles.finish(gw, { stop = true, grace = 5000 }), d
end

-- the modes of a cell run one after another, in every round: their ratios are side by side
local rows = s:grid(p.trials, p.depths, p.connections, modes, function(depth, n, mode)
  local lr, gr, d = serve(mode, depth, n, p.requests)
  local k = lr.completed
  return { mode = mode, depth = depth, connections = n, throughput = lr.throughput,
           p50_us = lr.p50_ns / 1e3, p99_us = lr.p99_ns / 1e3, p999_us = lr.p999_ns / 1e3,
           cpu_ns_per_order = d.cpu_ns / k, enters_per_order = gr.ring_enters / k,
           completions_per_order = gr.ring_completions / k }
end)
local traced = s:grid(1, p.depths, p.connections, p.strace_requests > 0 and modes or {},
                      function(depth, n, mode)
  local out <close> = qsl.temp()
  local lr = serve(mode, depth, n, p.strace_requests, { "strace", "-f", "-c", "-o", out.path })
  local sum = assert(qsl.strace.parse_file(out.path))
  return { mode = mode, depth = depth, connections = n, requests = lr.completed,
           syscalls_per_order = sum.total.calls / lr.completed,
           io_uring_enter_per_order = (sum.calls.io_uring_enter or 0) / lr.completed }
end)

local cells = art:spread{ title = "Per cell over trials", rows = rows, format = "%.1f",
  by = { "depth", "connections", "mode" }, fields = { "throughput %.0f", "p50_us", "p99_us",
  "p999_us", "cpu_ns_per_order %.0f", "enters_per_order %.3f", "completions_per_order %.3f" } }
local epoll = {}
for _, c in ipairs(cells) do
  if c.mode == "epoll" then epoll[c.depth .. "x" .. c.connections] = c end
end
for _, c in ipairs(cells) do
  local e = epoll[c.depth .. "x" .. c.connections]
  c.throughput_vs_epoll = e and c.throughput_median / e.throughput_median
  c.cpu_vs_epoll = e and c.cpu_ns_per_order_median / e.cpu_ns_per_order_median
end
art:table{ title = ("Medians of %d trials, %d requests each"):format(p.trials, p.requests),
  rows = cells, main = true, key = { "depth", "connections", "mode" },
  columns = { "depth", "connections", "mode", "throughput_median %.0f",
  "throughput_vs_epoll %.2f", "p99_us_median %.1f", "p999_us_median %.1f",
  "cpu_ns_per_order_median %.0f", "cpu_vs_epoll %.2f", "enters_per_order_median %.3f" } }
art:table{ title = ("Under strace -f -c, %d requests per cell"):format(p.strace_requests),
  rows = traced, main = true, key = { "depth", "connections", "mode" },
  columns = { "depth", "connections", "mode", "syscalls_per_order %.3f",
              "io_uring_enter_per_order %.3f" } }
art:plot_rows{ title = "Throughput (median of trials) against connections, per mode and depth",
  rows = cells, by = { "mode", "depth" }, x = "connections", y = "throughput_median",
  ylabel = "requests/s", logx = true }
art:set{ cells = cells, runs = rows, strace = traced }
art:caveat(("loopback; load driver and gateway share %d CPUs"):format(art.cpus_online()))
art:caveat("blocking mode serves one connection at a time: the others wait their turn")
art:caveat("per order = per request answered; strace slows every syscall, so pass 2 keeps counts")
art:write()
