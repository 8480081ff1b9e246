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
-- link (its queue shaped by link=).
local qsl = require "qsl"
local roles = qsl.roles

local s = qsl.scenario.new{
  name = "profile_gateway",
  description = "gateway CPU per order (user/kernel) and its syscall mix under strace",
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
    { "trials", "integer", 3, "pass 1 trials", min = 1, max = 100 },
    { "strace", "boolean", true, "run pass 2 (the syscall mix under strace)" },
    { "port", "integer", 0, "gateway port; 0: the kernel picks one", min = 0, max = 65535 },
    { "pin", "boolean", false, "pin the gateway to CPU 0 and the load driver to CPU 1" },
  },
}
local p = s:parse(arg)
if p.pattern == "short" then p.connections, p.depth, p.requests = 1, 1, p.round_trips end
if p.strace and not os.execute("command -v strace >/dev/null") then
  qsl.skip("strace is not installed (apt-get install strace); strace=false skips pass 2")
end
local hosts <close> = qsl.net.hosts(p.path, qsl.net.link_param(p.link, p.path))
local art = s:artifact{ title = ("Where the gateway's time goes (%s)"):format(p.path) }
local function load(requests, port)
  return { host = hosts.b.addr, port = port, pattern = p.pattern, connections = p.connections,
           depth = p.depth, requests = requests, timeout_ms = 30000 }
end
local place = { server_at = hosts.b.at, load_at = hosts.a.at, cpu_server = p.pin and 0 or nil,
                cpu_load = p.pin and 1 or nil }

local rows = s:trials(p.trials, function()
  local lr, gr, st, d, during = qsl.gateway.run("gateway", { mode = p.mode, port = p.port,
    bind = hosts.b.addr }, load(p.requests), place)
  local n = lr.completed
  assert(gr.frames_in >= n, ("the gateway saw %d frames for %d answers"):format(gr.frames_in, n))
  -- the kernel's floor in the same trial: an echo answering the gateway's mean bytes
  local echo = p.pattern == "persistent" and qsl.gateway.floor(gr, load(n), place) or nil
  return { requests = n, throughput = lr.throughput, p50_us = lr.p50_ns / 1e3,
    p99_us = lr.p99_ns / 1e3, cpu_ns_per_order = d.cpu_ns / n, user_ticks = d.utime_ticks,
    user_ns_per_order = st.utime_us * 1e3 / n, kernel_ns_per_order = st.stime_us * 1e3 / n,
    kernel_ticks = d.stime_ticks, user_share = st.utime_us / (st.utime_us + st.stime_us + 1),
    vcsw_per_order = d.nvcsw / n, ivcsw = d.nivcsw, minflt = d.minflt, vmhwm_kb = during.vmhwm_kb,
    fds = during.fds, enters_per_order = gr.ring_enters / n,
    completions_per_order = gr.ring_completions / n, echo_cpu_ns = echo and echo.cpu_ns,
    cpu_vs_echo = echo and d.cpu_ns / n / echo.cpu_ns }
end, { label = "pass 1" })

local pass2
if p.strace then
  s:trial("pass 2 (under strace)", function()
    local out <close> = qsl.temp()
    local gw <close>, ready = roles.start("gateway", { mode = p.mode, port = p.port,
      bind = hosts.b.addr }, qsl.net.at(hosts.b, { wrap = { "strace", "-f", "-c", "-o", out.path },
      ready_timeout = 10000 }))
    local lr = roles.run("load", load(math.min(p.requests, p.strace_requests), ready.port),
                         qsl.net.at(hosts.a, { timeout = 300000 }))
    -- stop() signals the gateway (its ready line named it), not strace: strace then sees
    -- its tracee exit and writes the summary
    roles.finish(gw, "gateway under strace", { stop = true, grace = 5000 })
    local sum, err = qsl.strace.parse_file(out.path)
    assert(sum, "strace ran but wrote no usable summary: " .. tostring(err))
    local c = setmetatable(sum.calls, { __index = function() return 0 end })
    -- io_uring's accepts, reads and writes are not syscalls: io_uring_enter carries them
    assert(c.io_uring_enter > 0 or c.accept + c.accept4 > 0 and c.recvfrom + c.read + c.recvmsg > 0
           and c.sendto + c.write + c.sendmsg + c.writev > 0, "strace saw no serving syscall")
    for _, r in ipairs(sum.rows) do r.per_order = r.calls / lr.completed end
    table.sort(sum.rows, function(a, b) return a.calls > b.calls end)
    pass2 = { requests = lr.completed, syscalls = sum.rows,
              syscalls_per_order = sum.total.calls / lr.completed }
  end)
end

art:table{ title = ("Pass 1: %d requests, %s, %d connection(s) x depth %d, %s"):format(
             p.requests, p.pattern, p.connections, p.depth, p.mode), rows = rows,
  columns = { "trial", "throughput %.0f", "p50_us %.1f", "p99_us %.1f", "cpu_ns_per_order %.0f",
    "user_ns_per_order %.0f", "kernel_ns_per_order %.0f", "user_ticks", "kernel_ticks",
    "user_share %.3f", "vcsw_per_order %.3f", "ivcsw", "minflt", "vmhwm_kb", "fds",
    "enters_per_order %.3f", "completions_per_order %.3f", "echo_cpu_ns %.0f",
    "cpu_vs_echo %.3f" }, note = "cpu: schedstat over the load alone; user/kernel: wait4 " ..
    "rusage over its life; echo: an epoll echo answering the gateway's mean bytes, same load" }
local floor = p.pattern == "persistent" and { "echo_cpu_ns", "cpu_vs_echo" } or {}
local spread = art:spread{ title = "Pass 1 over trials", rows = rows, format = "%.3f",
  fields = { "throughput", "cpu_ns_per_order", "user_ns_per_order", "kernel_ns_per_order",
             "user_share", "p99_us", table.unpack(floor) }, main = true }
if pass2 then
  art:table{ title = ("Pass 2: strace -f -c, %d requests; %.2f syscalls per order"):format(
               pass2.requests, pass2.syscalls_per_order), rows = pass2.syscalls, main = true,
             columns = { "syscall", "calls", "per_order %.3f", "errors", "usecs_per_call" } }
end
art:set{ pass1 = rows, pass1_summary = spread, strace = pass2 }
art:caveat(("%s: load driver and gateway share %d CPUs"):format(p.path, art.cpus_online()))
art:caveat("the kernel samples user/kernel at clock ticks: trust it over many (the tick columns)")
art:caveat("strace stops the gateway at every syscall: pass 2 keeps only its counts; " ..
           "per order = per request answered (NewOrder, CancelOrder or Heartbeat)")
art:caveat("io_uring mode: its receives and sends are not syscalls; enters/completions count them")
art:write()
