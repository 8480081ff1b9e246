-- Gateway throughput and latency against client count, in each mode, and a raw echo
--
-- For each client count and gateway mode (epoll, io_uring where the kernel
-- allows it, blocking), several trials: a fresh gateway
-- (`qsl-run gateway`) and the load driver (`qsl-run load`) with that many
-- persistent connections, pipelined, a fixed number of requests in all,
-- every reply verified. Then one connection in ping-pong (depth 1) against
-- the gateway in each mode and against a trivial echo server answering 32
-- bytes to 43 (the same sizes), so the gateway's cost over the kernel's round
-- trip is a ratio measured in the same trial.
local qsl = require "qsl"
local roles = qsl.roles

local s = qsl.scenario.new{
  name = "gateway_load",
  description = "gateway throughput and p99 against client count, in each mode",
  params = {
    { "clients", "integer_list", { 1, 4, 16, 64 }, "client counts", min = 1, max = 10000 },
    { "modes", "enum_list", { "epoll", "io_uring", "blocking" }, "gateway modes to compare",
      values = { "epoll", "io_uring", "blocking" } },
    roles.params("load", "depth", { default = 8 }, "requests", { default = 100000 }),
    { "trials", "integer", 3, "trials per cell", min = 1, max = 100 },
    { "pingpong", "integer", 20000, "ping-pong round trips (0: skip it)", min = 0 },
    { "pin", "boolean", false, "pin the server to CPU 0 and the load driver to CPU 1" },
  },
}
local p = s:parse(arg)
local art = s:artifact{ title = "Gateway load: throughput and latency against clients (loopback)" }
local modes = roles.modes(art, p.modes)

-- One run of the load driver against a fresh server role -> the load's result, with the
-- server's on-CPU ns per request (schedstat over the load) as cpu_ns.
local function run(server, server_params, load)
  local srv <close>, ready = roles.start(server, server_params, { cpu = p.pin and 0 or nil })
  load.port, load.timeout_ms = ready.port, 600000
  local before = srv:sample()
  local lr = roles.run("load", load, { cpu = p.pin and 1 or nil, timeout = 600000 })
  lr.cpu_ns = (srv:sample().cpu_ns - before.cpu_ns) / lr.completed
  roles.finish(srv, { stop = true })
  assert(lr.completed == load.requests, ("%d of %d answered"):format(lr.completed, load.requests))
  return lr
end

-- blocking mode answers one connection at a time: the others wait, so silence is expected
local rows = s:grid(p.trials, p.clients, modes, function(n, mode)
  local lr = run("gateway", { mode = mode, max_conns = math.max(n, 16) },
                 { connections = n, depth = p.depth, requests = p.requests })
  return { mode = mode, clients = n, throughput = lr.throughput, p50_us = lr.p50_ns / 1e3,
           p99_us = lr.p99_ns / 1e3, p999_us = lr.p999_ns / 1e3, fills = lr.fills }
end)
local pingpong = s:grid(p.trials, p.pingpong > 0 and modes or {}, function(mode)
  local echo = run("echo", { request = 43, reply = 32 },
                   { connections = 1, depth = 1, requests = p.pingpong, pattern = "echo" })
  local gw = run("gateway", { mode = mode }, { connections = 1, depth = 1, requests = p.pingpong })
  return { mode = mode, echo_rt_per_s = echo.throughput, gateway_rt_per_s = gw.throughput,
           ratio = gw.throughput / echo.throughput, gateway_p99_us = gw.p99_ns / 1e3,
           echo_cpu_ns = echo.cpu_ns, gateway_cpu_ns = gw.cpu_ns,
           cpu_ratio = gw.cpu_ns / echo.cpu_ns }
end)

local cells = art:spread{ rows = rows, by = { "mode", "clients" }, format = "%.1f", main = true,
  title = ("Per cell: %d requests, %d in flight per connection"):format(p.requests, p.depth),
  fields = { "throughput %.0f", "p99_us" } }
local ratios, median = {}, {}
for _, c in ipairs(cells) do median[c.mode .. c.clients] = c.throughput_median end
for _, c in ipairs(cells) do
  local base = c.mode ~= "epoll" and median["epoll" .. c.clients]
  ratios[#ratios + 1] = base and { mode = c.mode, clients = c.clients,
                                   ratio = c.throughput_median / base } or nil
end
art:table{ title = "Median throughput against epoll's", rows = ratios, main = true,
           columns = { "mode", "clients", "ratio %.2f" } }
art:table{ title = ("One connection, ping-pong (%d round trips): gateway against a raw echo")
             :format(p.pingpong), rows = pingpong, columns = { "trial", "mode",
             "echo_rt_per_s %.0f", "gateway_rt_per_s %.0f", "ratio %.3f", "gateway_p99_us %.1f",
             "echo_cpu_ns %.0f", "gateway_cpu_ns %.0f", "cpu_ratio %.3f" } }
art:spread{ title = "ping-pong gateway / echo over trials: round trips/s, and CPU per round trip",
            rows = pingpong, by = "mode", fields = { "ratio", "cpu_ratio" }, format = "%.3f",
            main = true }
art:table{ title = "Every run", rows = rows, columns = { "mode", "clients", "trial",
             "throughput %.0f", "p50_us %.1f", "p99_us %.1f", "p999_us %.1f", "fills" } }
art:plot_rows{ title = "Throughput against clients (median of trials)", rows = cells, by = "mode",
               x = "clients", y = "throughput_median", ylabel = "requests/s", logx = true }
art:plot_rows{ title = "p99 latency against clients (median of trials)", rows = cells, by = "mode",
               x = "clients", y = "p99_us_median", ylabel = "p99 (us)", logx = true, logy = true }
art:set{ cells = cells, runs = rows, over_epoll = ratios, pingpong = pingpong }
art:caveat(("loopback; load driver and gateway share %d CPUs: more clients mostly queue")
           :format(art.cpus_online()))
art:caveat("latency: send to verified reply (closed loop); blocking mode serves one connection " ..
           "at a time, so the others' latency includes waiting their turn")
art:caveat("the echo server answers 32 bytes to every 43, no protocol: the kernel's floor")
art:write()
