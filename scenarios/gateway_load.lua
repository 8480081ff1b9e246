-- Gateway throughput and latency against client count, epoll against blocking, and ping-pong against a raw echo
--
-- For each client count and gateway mode, several trials: a fresh gateway
-- (`qsl-run gateway`) and the load driver (`qsl-run load`) with that many
-- persistent connections, pipelined, a fixed number of requests in all,
-- every reply verified. Then one connection in ping-pong (depth 1) against
-- the gateway and against a trivial echo server answering 32 bytes to 43
-- (the same sizes), so the gateway's cost over the kernel's round trip is a
-- ratio measured in the same trial.
local qsl = require "qsl"
local scenario = require "qsl.scenario"
local stats = require "qsl.stats"
local artifact = require "qsl.artifact"
local roles = require "qsl.roles"

local s = scenario.new{
  name = "gateway_load",
  description = "gateway throughput and p99 against client count, epoll against blocking",
  params = {
    { name = "clients", type = "integer_list", default = { 1, 4, 16, 64 }, min = 1, max = 10000, help = "client counts" },
    { name = "modes", type = "enum_list", values = { "epoll", "blocking" }, default = { "epoll", "blocking" },
      help = "gateway modes to compare" },
    { name = "depth", type = "integer", default = 8, min = 1, max = 4096, help = "requests in flight per connection" },
    { name = "requests", type = "integer", default = 100000, min = 100, max = 100000000, help = "requests per cell" },
    { name = "trials", type = "integer", default = 3, min = 1, max = 100, help = "trials per cell" },
    { name = "pingpong", type = "integer", default = 20000, min = 0, max = 10000000,
      help = "round trips of the ping-pong comparison (0: skip it)" },
    { name = "pin", type = "boolean", default = false, help = "pin the server to CPU 0 and the load driver to CPU 1" },
  },
}
local p = s:parse(arg)
local modes = p.modes
local art = artifact.new{ name = "gateway_load", scenario = s,
                          title = "Gateway load: throughput and latency against clients (loopback)" }

-- One run of the load driver against a fresh server role. -> load result | nil, why
local function run(server, server_params, load_params)
  local srv <close>, ready = roles.start(server, server_params,
    { cpu = p.pin and 0 or nil })
  if not srv then return nil, ready end
  load_params.port = ready.port
  local ld <close>, lerr = roles.start("load", load_params, { cpu = p.pin and 1 or nil })
  if not ld then return nil, lerr end
  local lr, err = roles.finish(ld, "load", { timeout = 600000 })
  if not lr then return nil, err end
  local sr, serr = roles.finish(srv, server, { stop = true })
  if not sr then return nil, serr end
  if lr.completed ~= load_params.requests then
    return nil, ("%d of %d requests answered"):format(lr.completed, load_params.requests)
  end
  return lr
end

local cells, rows = {}, {}
local total = #p.clients * #modes * p.trials
local k = 0
local function sweep()
 for _, n in ipairs(p.clients) do
  for _, mode in ipairs(modes) do
    local runs = {}
    for t = 1, p.trials do
      k = k + 1
      s:progress("run %d/%d: %s, %d client(s)", k, total, mode, n)
      -- blocking mode answers one connection at a time: the others wait, so silence is expected
      local lr, err = run("gateway", { mode = mode, max_conns = math.max(n, 16) },
        { connections = n, depth = p.depth, requests = p.requests, timeout_ms = 600000 })
      if not lr then art:invalid(("%s, %d clients, trial %d: %s"):format(mode, n, t, err)); return false end
      local row = { mode = mode, clients = n, trial = t, throughput = lr.throughput,
                    p50_us = lr.p50_ns / 1e3, p90_us = lr.p90_ns / 1e3, p99_us = lr.p99_ns / 1e3,
                    p999_us = lr.p999_ns / 1e3, max_us = lr.max_ns / 1e3, fills = lr.fills }
      rows[#rows + 1] = row
      runs[#runs + 1] = row
    end
    local tp = stats.summary(stats.column(runs, "throughput"))
    local p99 = stats.summary(stats.column(runs, "p99_us"))
    cells[#cells + 1] = { mode = mode, clients = n, throughput_min = tp.min, throughput_median = tp.median,
                          throughput_max = tp.max, p99_min = p99.min, p99_median = p99.median, p99_max = p99.max }
  end
 end
 return true
end

local pingpong = {}
if sweep() and p.pingpong > 0 then
  for t in s:trials(p.trials, "ping-pong trial") do
    local params = { connections = 1, depth = 1, requests = p.pingpong, timeout_ms = 30000 }
    local echo, e1 = run("echo", { request = 43, reply = 32 },
      { connections = 1, depth = 1, requests = p.pingpong, pattern = "echo", timeout_ms = 30000 })
    if not echo then art:invalid(("ping-pong trial %d, echo: %s"):format(t, e1)); break end
    local gw, e2 = run("gateway", {}, params)
    if not gw then art:invalid(("ping-pong trial %d, gateway: %s"):format(t, e2)); break end
    pingpong[#pingpong + 1] = { trial = t, echo_rtt_per_s = echo.throughput, gateway_rtt_per_s = gw.throughput,
      ratio = gw.throughput / echo.throughput, echo_p50_us = echo.p50_ns / 1e3, gateway_p50_us = gw.p50_ns / 1e3,
      echo_p99_us = echo.p99_ns / 1e3, gateway_p99_us = gw.p99_ns / 1e3 }
  end
end

art:table{ title = ("Per cell: %d requests, %d in flight per connection, over %d trials"):format(
    p.requests, p.depth, p.trials), rows = cells, columns = {
  { key = "mode" }, { key = "clients" },
  { key = "throughput_min", label = "req/s min", format = "%.0f" },
  { key = "throughput_median", label = "req/s median", format = "%.0f" },
  { key = "throughput_max", label = "req/s max", format = "%.0f" },
  { key = "p99_min", label = "p99 us min", format = "%.1f" },
  { key = "p99_median", label = "p99 us median", format = "%.1f" },
  { key = "p99_max", label = "p99 us max", format = "%.1f" } } }
-- epoll against blocking, per client count, median against median
local ratios = {}
for _, n in ipairs(p.clients) do
  local e, b
  for _, c in ipairs(cells) do
    if c.clients == n and c.mode == "epoll" then e = c end
    if c.clients == n and c.mode == "blocking" then b = c end
  end
  if e and b then
    ratios[#ratios + 1] = { clients = n, epoll_over_blocking = e.throughput_median / b.throughput_median }
  end
end
if #ratios > 0 then
  art:table{ title = "epoll / blocking, median throughput", rows = ratios,
             columns = { { key = "clients" }, { key = "epoll_over_blocking", label = "ratio", format = "%.2f" } } }
end
if #pingpong > 0 then
  art:table{ title = ("One connection, ping-pong (%d round trips): gateway against a raw echo server, same trial"):format(p.pingpong),
    rows = pingpong, columns = { { key = "trial" },
      { key = "echo_rtt_per_s", label = "echo rt/s", format = "%.0f" },
      { key = "gateway_rtt_per_s", label = "gateway rt/s", format = "%.0f" }, { key = "ratio", format = "%.3f" },
      { key = "echo_p50_us", label = "echo p50 us", format = "%.1f" },
      { key = "gateway_p50_us", label = "gw p50 us", format = "%.1f" },
      { key = "echo_p99_us", label = "echo p99 us", format = "%.1f" },
      { key = "gateway_p99_us", label = "gw p99 us", format = "%.1f" } } }
end
if #pingpong > 0 then
  local r = stats.summary(stats.column(pingpong, "ratio"))
  art:text(("ping-pong gateway / echo over trials: min %.3f, median %.3f, max %.3f"):format(r.min, r.median, r.max))
  art:set("pingpong_ratio", { min = r.min, median = r.median, max = r.max })
end
art:table{ title = "Every run", rows = rows, columns = {
  { key = "mode" }, { key = "clients" }, { key = "trial" }, { key = "throughput", label = "req/s", format = "%.0f" },
  { key = "p50_us", format = "%.1f" }, { key = "p90_us", format = "%.1f" }, { key = "p99_us", format = "%.1f" },
  { key = "p999_us", format = "%.1f" }, { key = "max_us", format = "%.1f" }, { key = "fills" } } }

local tp_series, p99_series = {}, {}
for _, mode in ipairs(modes) do
  local tp, lat = {}, {}
  for _, c in ipairs(cells) do
    if c.mode == mode then
      tp[#tp + 1] = { c.clients, c.throughput_median }
      lat[#lat + 1] = { c.clients, c.p99_median }
    end
  end
  tp_series[#tp_series + 1] = { name = mode, points = tp }
  p99_series[#p99_series + 1] = { name = mode, points = lat }
end
art:plot{ title = "Throughput against clients (median of trials)", xlabel = "clients", ylabel = "requests/s",
          logx = true, series = tp_series }
art:plot{ title = "p99 latency against clients (median of trials)", xlabel = "clients", ylabel = "p99 (us)",
          logx = true, logy = true, series = p99_series }
art:set("cells", cells)
art:set("runs", rows)
art:set("epoll_over_blocking", ratios)
art:set("pingpong", pingpong)
art:caveat(("loopback only; the load driver and the gateway share this machine's %d CPUs, so more clients " ..
           "mostly means more queueing"):format(artifact.cpus_online()))
art:caveat("latency is from a request's send (closed loop) to its reply, every reply verified; blocking mode " ..
           "answers one connection at a time, so the others' latency includes waiting their turn")
art:caveat("the echo server answers 32 bytes to every 43, with no protocol: the kernel's round trip floor")
print("wrote " .. table.concat(art:write(), ", "))
