-- How the gateway's cost per order changes with connections and pipelining depth
--
-- For every connection count and depth, several trials of a fresh gateway
-- under the load driver. Per order: the gateway's on-CPU time (schedstat),
-- its voluntary context switches, and the TCP segments the kernel moved
-- (both directions, /proc/net/snmp). Each trial runs in a network namespace
-- of its own where the privilege exists, so the segments are the trial's own.
local qsl = require "qsl"
local roles, measure = qsl.roles, qsl.measure

local s = qsl.scenario.new{
  name = "gateway_scaling",
  quick = "connections=1,2 depths=4 requests=2000 trials=1",
  params = {
    { "connections", "integer_list", { 1, 4, 16, 64 }, "connection counts", min = 1, max = 10000 },
    { "depths", "integer_list", { 1, 8 }, "requests in flight per connection", min = 1,
      max = 4096 },
    roles.params("load", "requests", { default = 50000 }),
    roles.param("gateway", "mode"),
    { "trials", "integer", 3, "trials per cell", min = 1, max = 100 },
    qsl.net.params.ipv6, qsl.target.params,
  },
}
local p = s:parse(arg)
local host = qsl.net.addr(qsl.net.LOOPBACK, p.ipv6)
local art = s:artifact{ title = ("Gateway cost per order against connections and depth " ..
  "(loopback%s)"):format(p.ipv6 and ", IPv6" or "") }
local iso = roles.isolated()
-- target= or connect=: a server qsl did not write instead of qsl's gateway, one process for
-- the whole run (a target= command in a namespace of its own where the privilege exists)
local target <close> = qsl.target.start(p, host, { netns = iso or nil })
if target and target.serial then p.connections = { 1 } end

-- One cell against the target: its /proc and its namespace's TCP counters over the load.
local function target_cell(depth, n, log)
  local at = target.proc and iso and { netns_of = target.pid } or {}
  local before, net0 = target:sample(), measure.net(target.pid)
  local lr = roles.run("load", { host = target.host, port = target.port, connections = n,
    depth = depth, requests = p.requests, tcp_info = log.path }, at)
  lr.tcp_info = qsl.gateway.read_tcp_info(log.path)
  return lr, measure.delta(before, target:sample()), measure.delta(net0, measure.net(target.pid)),
         {}
end

local rows = s:grid(p.trials, p.depths, p.connections, function(depth, n)
  local log <close> = require("qsl.temp")()
  local lr, d, net, gr
  if target then
    lr, d, net, gr = target_cell(depth, n, log)
  else
    local slog <close> = require("qsl.temp")()
    local gw <close>, ready = roles.start("gateway", { mode = p.mode, max_conns = n + 16,
                                                       tcp_info = slog.path, bind = host },
                                          { netns = iso })
    local before, net0 = gw:sample(), measure.net(gw.pid)
    lr = roles.run("load", { host = host, port = ready.port, connections = n, depth = depth,
      requests = p.requests, tcp_info = log.path }, { netns_of = iso and gw.pid or nil })
    lr.tcp_info = qsl.gateway.read_tcp_info(log.path)
    d, net = measure.delta(before, gw:sample()), measure.delta(net0, measure.net(gw.pid))
    gr = roles.finish(gw, { stop = true })
    gr.tcp_info = qsl.gateway.read_tcp_info(slog.path)
  end
  -- isolated, the namespace's IP packets are the trial's: all of its family (Ip6 from snmp6)
  local fam, stray = qsl.net.ip_family(net, p.ipv6)
  return roles.merge({ depth = depth, connections = n, throughput = lr.throughput,
           ip_in = fam.InReceives, unbalanced = iso and stray or nil,
           cpu_ns_per_order = d.cpu_ns / lr.completed, vcsw_per_order = d.nvcsw / lr.completed,
           segments_per_order = (net.Tcp.InSegs + net.Tcp.OutSegs) / lr.completed,
           tcp_info = lr.tcp_info, server_tcp_info = gr.tcp_info },
           qsl.gateway.tcp(lr, gr))
end)

local cells = art:spread{ title = ("Per cell: %d requests, %s"):format(p.requests,
    target and target.label or p.mode .. " gateway"),
  rows = rows, by = { "depth", "connections" }, format = "%.2f",
  fields = { "cpu_ns_per_order %.0f", "vcsw_per_order", "segments_per_order", "throughput %.0f" } }
for _, y in ipairs{ "cpu_ns_per_order", "vcsw_per_order", "segments_per_order" } do
  art:plot_rows{ title = y .. " against connections (median of trials), per depth", rows = cells,
                 by = "depth", x = "connections", y = y .. "_median", ylabel = y, logx = true }
end
art:table{ title = "Every trial: what TCP saw (TCP_INFO of every connection as it closed)",
  rows = rows, key = { "depth", "connections", "trial" }, columns = { "depth", "connections",
  "trial", "retrans", "tcp_rtt_p50_us", "tcp_rtt_max_us", "ip_in" },
  note = "retrans: segments retransmitted, both ends; tcp_rtt: TCP's " ..
  "smoothed rtt of the load's connections, median and largest (us); ip_in: the " ..
  ("namespace's %s InReceives (the other family's must be 0)"):format(p.ipv6 and
  "Ip6 (snmp6)" or "Ip") }
for _, r in ipairs(rows) do
  art:unbalanced(("depth %d, %d connections, trial %d"):format(r.depth, r.connections, r.trial),
                 r.unbalanced)
end
art:set{ cells = cells, runs = rows, isolated = iso }
art:caveat(iso and "each trial in a network namespace of its own: its TCP counters are its own"
           or "no privilege for network namespaces: TCP segments are the whole machine's")
art:caveat(("loopback; load driver and gateway share %d CPUs"):format(art.cpus_online()))
art:caveat("a segment counts each way once; per order = per request answered")
if target then
  art:caveat(("measured from the outside: %s, one process for every cell; its side's " ..
    "TCP_INFO is absent, so retrans is the load's end alone%s"):format(target.label,
    target.proc and iso and "" or "; its namespace's TCP counters are the machine's"))
  if target.serial then art:caveat(qsl.target.serial_text(target)) end
end
qsl.target.report(art, target)
art:write()
