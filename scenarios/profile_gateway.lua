-- Where the gateway's time goes: user against kernel CPU per order, and its syscall mix
--
-- The original's two passes, without their blind spots. Pass 1 (several
-- trials): the gateway serves a load of many orders over persistent
-- connections (or the original's 500 short connections); /proc is sampled
-- before and after the load and wait4's rusage read when it stops, so CPU per
-- order is in nanoseconds, not clock ticks. Pass 2: the gateway runs as the
-- child of `strace -f -c` under the same load and is stopped itself (never
-- strace), so strace writes its summary: the syscall table and syscalls per order.
-- path=veth: the gateway on a host of its own, the load driver on another, across a veth
-- link (the requests' queue shaped by link=, the replies' by link_back=).
local qsl = require "qsl"
local roles = qsl.roles

local s = qsl.scenario.new{
  name = "profile_gateway",
  quick = "requests=5000 strace_requests=2000 trials=1",
  params = {
    { "requests", "integer", 1000000, "pass 1 requests per trial", min = 100, max = 100000000 },
    { "strace_requests", "integer", 20000, "pass 2 requests (strace slows syscalls)", min = 100,
      max = 10000000 },
    { "round_trips", "integer", 500, "pattern=short: round trips (the original's 500)", min = 1,
      max = 1000000 },
    { "pattern", "enum", "persistent", "persistent connections, or one round trip each",
      values = { "persistent", "short" } },
    roles.params("load", "connections", { default = 4 }, "depth", { default = 8 }),
    roles.param("gateway", "mode"), qsl.net.params.path, qsl.net.params.link,
    qsl.net.params.link_back, qsl.net.params.mtu, qsl.net.params.offload, qsl.net.params.ipv6,
    { "trials", "integer", 3, "pass 1 trials", min = 1, max = 100 },
    { "strace", "boolean", true, "run pass 2 (the syscall mix under strace)" },
    { "port", "integer", 0, "gateway port; 0: the kernel picks one", min = 0, max = 65535 },
    { "pin", "boolean", false, "pin the gateway to CPU 0 and the load driver to CPU 1" },
    qsl.target.params,
  },
}
local p = s:parse(arg)
if p.pattern == "short" then p.connections, p.depth, p.requests = 1, 1, p.round_trips end
if p.strace and not qsl.have("strace") then
  qsl.skip("strace is not installed (apt-get install strace); strace=false skips pass 2")
end
local hosts <close> = qsl.net.hosts(p.path, qsl.net.link_param(p.link, p.path),
                                    qsl.net.link_param(p.link_back, p.path, "link_back"),
                                    qsl.net.link_opts(p))
local at_b = qsl.net.addr(hosts.b, p.ipv6)        -- the gateway's address
local art = s:artifact{ title = ("Where the gateway's time goes (%s%s)"):format(p.path,
  p.ipv6 and ", IPv6" or "") }
local function load(requests, port)
  return { host = at_b, port = port, pattern = p.pattern, connections = p.connections,
           depth = p.depth, requests = requests, timeout_ms = 30000 }
end
local place = { server_at = hosts.b.at, load_at = hosts.a.at, cpu_server = p.pin and 0 or nil,
                cpu_load = p.pin and 1 or nil }
-- target= or connect=: another server, measured from the outside (checked to answer the
-- protocol first, exit 3 if not); what only qsl's gateway counts is absent, not guessed
local target <close> = qsl.target.start(p, at_b,
  roles.merge(hosts.b.at, { cpu = place.cpu_server }), hosts.a.at)
if target and target.serial then p.connections = 1 end
local server = target or "gateway"

-- the unit every figure is per: a request answered, or (short) a round trip on a
-- connection of its own: connect, NewOrder, Heartbeat, both replies, close
local per = p.pattern == "short" and "round_trip" or "request"
local unit = per:gsub("_", " ")
local function per_(name) return name .. "_per_" .. per end
local rows = s:trials(p.trials, function()
  local ip = qsl.net.ip_book(hosts, hosts.b, p.ipv6)    -- on veth: the server's host's books
  local lr, gr, _, d, during = qsl.gateway.run(server, { mode = p.mode, port = p.port,
    bind = at_b }, load(p.requests), roles.merge(place, { tcp_info = true }))
  local unbalanced, ipc = nil, {}
  if ip then unbalanced, ipc = ip.check() end
  local n = lr.completed
  if not target then
    assert(gr.frames_in >= n, ("the gateway saw %d frames for %d answers"):format(gr.frames_in, n))
  end
  -- the kernel's floor in the same trial: an echo answering the gateway's mean bytes (its
  -- byte counts are qsl's gateway's own: none for a target)
  local echo = p.pattern == "persistent" and not target and qsl.gateway.floor(gr, load(n), place)
               or nil
  -- every figure over the load alone (/proc before and after it)
  local c = qsl.measure.cpu_split(d, n)
  return { requests = n, throughput = lr.throughput, p50_us = lr.p50_ns / 1e3,
    p99_us = lr.p99_ns / 1e3, [per_"cpu_ns"] = c.cpu_ns, user_ticks = c.user_ticks,
    kernel_ticks = c.kernel_ticks, user_s = c.user_s, kernel_s = c.kernel_s,
    user_share = c.user_share, [per_"user_ns"] = c.user_ns,
    [per_"kernel_ns"] = c.kernel_ns, [per_"vcsw"] = d.nvcsw / n,
    ivcsw = d.nivcsw, minflt = d.minflt, majflt = d.majflt, vmhwm_kb = during.vmhwm_kb,
    fds = during.fds, [per_"enters"] = gr.ring_enters and gr.ring_enters / n,
    [per_"completions"] = gr.ring_completions and gr.ring_completions / n,
    echo_cpu_ns = echo and echo.cpu_ns, cpu_vs_echo = echo and c.cpu_ns / echo.cpu_ns,
    retrans = lr.tcp_retrans + (gr.tcp_retrans or 0),
    tcp_info = lr.tcp_info, server_tcp_info = gr.tcp_info,
    tcp_rtt_p50_us = lr.tcp_rtt_p50_us, tcp_rtt_max_us = math.max(lr.tcp_rtt_max_us,
                                                                  gr.tcp_rtt_max_us or 0),
    ip_in = ipc.in_receives, ip_out = ipc.out_requests, unbalanced = unbalanced }
end, { label = "pass 1" })

local pass2
if p.strace then
  s:trial("pass 2 (under strace)", function()
    local out <close> = qsl.temp()
    local traced <close>, port, done = qsl.target.traced(target, out.path, function(wrap)
      local gw, ready = roles.start("gateway", { mode = p.mode, port = p.port,
        bind = at_b }, qsl.net.at(hosts.b, { wrap = wrap, ready_timeout = 10000 }))
      -- stop() signals the gateway (its ready line named it), not strace: strace then sees
      -- its tracee exit and writes the summary
      return gw, ready.port, function() roles.finish(gw, "gateway under strace",
                                                     { stop = true, grace = 5000 }) end
    end)
    local lr = roles.run("load", load(math.min(p.requests, p.strace_requests), port),
                         qsl.net.at(hosts.a, { timeout = 300000 }))
    done()
    local sum, err = qsl.strace.parse_file(out.path)
    assert(sum, "strace ran but wrote no usable summary: " .. tostring(err))
    local c = setmetatable(sum.calls, { __index = function() return 0 end })
    -- io_uring's accepts, reads and writes are not syscalls: io_uring_enter carries them
    assert(c.io_uring_enter > 0 or c.accept + c.accept4 > 0 and c.recvfrom + c.read + c.recvmsg > 0
           and c.sendto + c.write + c.sendmsg + c.writev > 0, "strace saw no serving syscall")
    for _, r in ipairs(sum.rows) do r["per_" .. per] = r.calls / lr.completed end
    table.sort(sum.rows, function(a, b) return a.calls > b.calls end)
    sum.total["per_" .. per] = sum.total.calls / lr.completed
    pass2 = { requests = lr.completed, syscalls = sum.rows, total = sum.total,
              [per_"syscalls"] = sum.total.calls / lr.completed }
  end)
end

art:table{ title = ("Pass 1: %d %ss, %s, %d connection(s) x depth %d, %s"):format(
             p.requests, unit, p.pattern, p.connections, p.depth,
             target and target.label or p.mode), rows = rows,
  columns = { "trial", "throughput %.0f", "p50_us %.1f", "p99_us %.1f", per_"cpu_ns" .. " %.0f",
    per_"user_ns" .. " %.0f", per_"kernel_ns" .. " %.0f", "user_ticks", "kernel_ticks",
    "user_s %.2f", "kernel_s %.2f",
    "user_share %.3f", per_"vcsw" .. " %.3f", "ivcsw", "minflt", "majflt", "vmhwm_kb", "fds",
    per_"enters" .. " %.3f", per_"completions" .. " %.3f", "echo_cpu_ns %.0f",
    "cpu_vs_echo %.3f", "retrans", "tcp_rtt_p50_us", "tcp_rtt_max_us", "ip_in", "ip_out" },
    note = ("all over the load alone: cpu from schedstat; user/kernel splits it by the ticks " ..
    "sampled then (none under %d); echo: an epoll echo answering the gateway's mean bytes, " ..
    "same load; retrans: segments TCP retransmitted, both ends; tcp_rtt: TCP's smoothed rtt " ..
    "of the load's connections at close (TCP_INFO); user_s, kernel_s: the ticks in seconds " ..
    "(CLK_TCK %d); ip_in, ip_out (path=veth): the gateway host's %s InReceives and " ..
    "OutRequests, each equal to its end's rx and tx packets, the other family's 0"):format(
    qsl.measure.SPLIT_TICKS, qsl.procfs.clock_ticks(), p.ipv6 and "Ip6 (snmp6)" or "Ip") }
for _, r in ipairs(rows) do art:unbalanced(("pass 1 trial %d"):format(r.trial), r.unbalanced) end
local split = true
for _, r in ipairs(rows) do split = split and r.user_share ~= nil end
local fields = { "throughput", per_"cpu_ns", "p99_us" }
if split then table.move({ per_"user_ns", per_"kernel_ns", "user_share" }, 1, 3, 4, fields) end
if p.pattern == "persistent" and not target then
  fields[#fields + 1], fields[#fields + 2] = "echo_cpu_ns", "cpu_vs_echo"
end
local spread = art:spread{ title = "Pass 1 over trials", rows = rows, format = "%.3f",
  fields = fields, main = true }
if pass2 then
  -- strace's own layout: % time, seconds, usecs/call, calls, errors, syscall, and its total
  local shown = table.move(pass2.syscalls, 1, #pass2.syscalls, 1, {})
  shown[#shown + 1] = setmetatable({ syscall = "total" }, { __index = pass2.total })
  art:table{ title = ("Pass 2: strace -f -c, %d %ss; %.2f syscalls per %s"):format(
    pass2.requests, unit, pass2[per_"syscalls"], unit), rows = shown, main = true,
    columns = { { key = "percent", label = "% time", format = "%.2f" },
      { key = "seconds", format = "%.6f" }, "usecs_per_call", "calls", "errors", "syscall",
      "per_" .. per .. " %.3f" },
    note = "strace's columns and its total row (its times are the traced gateway's, slowed " ..
           "by the tracing: read the calls, not the times)" }
end
art:set{ pass1 = rows, pass1_summary = spread, strace = pass2 }
art:caveat(("%s: load driver and gateway share %d CPUs"):format(p.path, art.cpus_online()))
art:caveat(("the kernel samples user/kernel at clock ticks: split only over %d or more ticks " ..
  "of the load (%s); the total is exact"):format(qsl.measure.SPLIT_TICKS,
  split and "every trial" or "not all: -"))
art:caveat(per == "request" and "per request = per request answered (NewOrder, CancelOrder " ..
  "or Heartbeat)" or "per round trip = a connection of its own: connect, NewOrder, " ..
  "Heartbeat, both replies, close (the original's unit)")
art:caveat("strace stops the gateway at every syscall: pass 2 keeps only its counts")
art:caveat("io_uring mode: its receives and sends are not syscalls; enters/completions count them")
if target then
  art:caveat(("measured from the outside: %s, one process for every pass-1 trial (pass 2 %s); " ..
    "what only qsl's gateway counts (frames, ring enters, its side's TCP_INFO) is absent, " ..
    "not guessed; no echo floor (its sizes come from the gateway's own byte counts); retrans " ..
    "is the load's end alone"):format(target.label, target.words and "a fresh one under strace"
    or "strace attached to its pid"))
  if target.serial then art:caveat(qsl.target.serial_text(target)) end
end
qsl.target.report(art, target)
art:write()
