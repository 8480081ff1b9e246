-- Gateway throughput and latency against client count, in each mode, and a raw echo
--
-- For each client count and gateway mode (epoll, io_uring where the kernel
-- allows it, blocking), several trials: a fresh gateway
-- (`qsl-run gateway`) and the load driver (`qsl-run load`) with that many
-- persistent connections, pipelined, a fixed number of requests in all,
-- every reply verified. Then, against the kernel's floor: one connection in
-- ping-pong (depth 1) and `echo_clients` pipelined ones, each against the gateway
-- in each mode and then an epoll echo server answering the gateway's mean bytes
-- per request (qsl.gateway.versus_echo), so the gateway's cost over the kernel's
-- is a ratio of round trips/s and of CPU per request measured in the same round.
local qsl = require "qsl"
local roles = qsl.roles

local s = qsl.scenario.new{
  name = "gateway_load",
  quick = "clients=1,4 requests=2000 trials=1 pingpong=500 echo_clients=4",
  params = {
    { "clients", "integer_list", { 1, 4, 16, 64 }, "client counts", min = 1, max = 10000 },
    { "modes", "enum_list", { "epoll", "io_uring", "blocking" }, "gateway modes to compare",
      values = { "epoll", "io_uring", "blocking" } },
    roles.params("load", "depth", { default = 8 }, "requests", { default = 100000 }),
    { "trials", "integer", 3, "trials per cell", min = 1, max = 100 },
    { "pingpong", "integer", 20000, "ping-pong round trips (0: skip it)", min = 0, max = 1000000 },
    { "echo_clients", "integer", 16, "pipelined connections against the echo (0: skip)",
      min = 0, max = 10000 },
    { "pin", "boolean", false, "pin the server to CPU 0 and the load driver to CPU 1" },
    qsl.net.params.ipv6, qsl.target.params,
  },
}
local p = s:parse(arg)
local host = qsl.net.addr(qsl.net.LOOPBACK, p.ipv6)
local art = s:artifact{ title = ("Gateway load: throughput and latency against clients " ..
  "(loopback%s)"):format(p.ipv6 and ", IPv6" or "") }
local modes = roles.modes(art, p.modes)
-- target= or connect=: a server qsl did not write, one more column beside the modes
-- (checked first to answer the protocol, exit 3 if not)
local target <close> = qsl.target.start(p, host, { cpu = p.pin and 0 or nil })
local servers = table.move(modes, 1, #modes, 1, {})
if target then servers[#servers + 1] = "target" end

-- blocking mode answers one connection at a time: the others wait, so silence is expected
local rows = s:grid(p.trials, p.clients, servers, function(n, mode)
  if mode == "target" and target.serial and n > 1 then return end   -- one connection at a time
  local lr, gr = qsl.gateway.run(mode == "target" and target or "gateway",
    mode ~= "target" and { mode = mode, max_conns = math.max(n, 16), bind = host } or {},
    { connections = n, depth = p.depth, requests = p.requests, host = host },
    { cpu_server = p.pin and 0 or nil, cpu_load = p.pin and 1 or nil, tcp_info = true })
  return roles.merge({ mode = mode, clients = n, throughput = lr.throughput,
    p50_us = lr.p50_ns / 1e3, p99_us = lr.p99_ns / 1e3, p999_us = lr.p999_ns / 1e3,
    fills = lr.fills, tcp_info = lr.tcp_info, server_tcp_info = gr.tcp_info },
    qsl.gateway.tcp(lr, gr))
end)
local shapes = {}
if p.pingpong > 0 then shapes[1] = "ping-pong" end
if p.echo_clients > 0 then shapes[#shapes + 1] = "pipelined" end
local pingpong = s:grid(p.trials, shapes, modes, function(shape, mode)
  local pp = shape == "ping-pong"
  local v = qsl.gateway.versus_echo{ mode = mode, connections = pp and 1 or p.echo_clients,
    depth = pp and 1 or p.depth, requests = pp and p.pingpong or p.requests, pin = p.pin,
    host = host }
  return { shape = shape, mode = mode, echo_rt_per_s = v.echo.throughput,
           gateway_rt_per_s = v.gateway.throughput, ratio = v.ratio,
           gateway_p99_us = v.gateway.p99_ns / 1e3, echo_cpu_ns = v.echo.cpu_ns,
           gateway_cpu_ns = v.gateway.cpu_ns, cpu_ratio = v.cpu_ratio,
           bytes = ("%d/%d"):format(v.request_bytes, v.reply_bytes) }
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
           key = { "mode", "clients" }, columns = { "mode", "clients", "ratio %.2f" } }
art:table{ title = ("Against an echo answering the same bytes: ping-pong (1 connection, %d " ..
  "round trips), pipelined (%d connections x depth %d, %d requests)"):format(p.pingpong,
  p.echo_clients, p.depth, p.requests), rows = pingpong, columns = { "shape", "trial", "mode",
  "bytes", "echo_rt_per_s %.0f", "gateway_rt_per_s %.0f", "ratio %.3f", "gateway_p99_us %.1f",
  "echo_cpu_ns %.0f", "gateway_cpu_ns %.0f", "cpu_ratio %.3f" },
  note = "bytes: request/reply bytes the echo answers, the gateway's means in that round" }
art:spread{ title = "gateway / echo over trials: requests/s, and CPU per request",
            rows = pingpong, by = { "shape", "mode" }, fields = { "ratio", "cpu_ratio" },
            format = "%.3f", main = true }
art:table{ title = "Every run", rows = rows, columns = { "mode", "clients", "trial",
             "throughput %.0f", "p50_us %.1f", "p99_us %.1f", "p999_us %.1f", "fills", "retrans",
             "tcp_rtt_p50_us", "tcp_rtt_max_us" },
  note = "retrans: segments TCP retransmitted, both ends; tcp_rtt: its smoothed rtt of the " ..
         "load's connections at close, median and largest (TCP_INFO)" }
art:plot_rows{ title = "Throughput against clients (median of trials)", rows = cells, by = "mode",
               x = "clients", y = "throughput_median", ylabel = "requests/s", logx = true }
art:plot_rows{ title = "p99 latency against clients (median of trials)", rows = cells, by = "mode",
               x = "clients", y = "p99_us_median", ylabel = "p99 (us)", logx = true, logy = true }
art:set{ cells = cells, runs = rows, over_epoll = ratios, pingpong = pingpong }
art:caveat(("loopback; load driver and gateway share %d CPUs: more clients mostly queue")
           :format(art.cpus_online()))
art:caveat("latency: send to verified reply (closed loop); blocking mode serves one connection " ..
           "at a time, so the others' latency includes waiting their turn")
art:caveat("the echo (epoll, no protocol) answers the gateway's mean request/reply bytes of " ..
  "the same round: equal in total, not per request (the gateway's replies vary with fills)")
if target then
  art:caveat(("target: %s, one process for every run%s; what only qsl's gateway counts (its " ..
    "side's TCP_INFO) is absent, so its retrans is the load's end alone; no echo comparison " ..
    "(its sizes come from the gateway's own byte counts)"):format(target.label,
    target.serial and "; " .. qsl.target.serial_text(target) or ""))
end
qsl.target.report(art, target)
art:write()
