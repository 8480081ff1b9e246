-- Where the gateway's time goes: user against kernel CPU per order, and its syscall mix under strace
--
-- The original's two passes, without their blind spots. Pass 1 (several
-- trials): the gateway serves a load of tens of thousands of orders over
-- persistent connections (or the original's 500 short connections); its
-- /proc/PID/stat, status and schedstat are read before and after the load,
-- and wait4's rusage when it is stopped, so CPU per order is measured in
-- nanoseconds, not clock ticks. Pass 2: the gateway runs as the child of
-- `strace -f -c` under the same load and is stopped itself (never strace),
-- so strace writes its summary; the artifact holds the parsed syscall table
-- and syscalls per order.
local qsl = require "qsl"
local scenario = require "qsl.scenario"
local stats = require "qsl.stats"
local artifact = require "qsl.artifact"
local roles = require "qsl.roles"

local s = scenario.new{
  name = "profile_gateway",
  description = "gateway CPU per order (user/kernel) and its syscall mix under strace",
  params = {
    { name = "requests", type = "integer", default = 1000000, min = 100, max = 100000000,
      help = "pass 1 requests per trial (persistent): enough that the load spans many clock ticks" },
    { name = "strace_requests", type = "integer", default = 20000, min = 100, max = 100000000,
      help = "pass 2 requests (strace slows every syscall)" },
    { name = "round_trips", type = "integer", default = 500, min = 1, max = 1000000,
      help = "pattern=short: round trips per pass (the original's 500)" },
    { name = "pattern", type = "enum", values = { "persistent", "short" }, default = "persistent",
      help = "persistent connections, or the original's one round trip per connection" },
    { name = "connections", type = "integer", default = 4, min = 1, max = 10000, help = "persistent connections" },
    { name = "depth", type = "integer", default = 8, min = 1, max = 4096, help = "requests in flight per connection" },
    { name = "mode", type = "enum", values = { "epoll", "blocking" }, default = "epoll", help = "gateway mode" },
    { name = "trials", type = "integer", default = 3, min = 1, max = 100, help = "pass 1 trials" },
    { name = "strace", type = "boolean", default = true, help = "run pass 2 (the syscall mix under strace)" },
    { name = "port", type = "integer", default = 0, min = 0, max = 65535,
      help = "gateway port; 0: the kernel picks one (no collisions)" },
    { name = "pin", type = "boolean", default = false, help = "pin the gateway to CPU 0 and the load driver to CPU 1" },
  },
}
local p = s:parse(arg)
if p.pattern == "short" then p.connections, p.depth, p.requests = 1, 1, p.round_trips end
local art = artifact.new{ name = "profile_gateway", scenario = s,
                          title = "Where the gateway's time goes (loopback)" }
local ticks = qsl.procfs.clock_ticks()
if p.strace then
  local h = io.popen("command -v strace")
  local found = h:read("l")
  h:close()
  if not found then
    qsl.skip("strace is not installed (apt-get install strace), so pass 2 cannot run; strace=false skips it")
  end
end

local function load_params(port, requests)
  return { port = port, pattern = p.pattern, connections = p.connections, depth = p.depth,
           requests = requests, timeout_ms = 30000 }
end

-- Everything /proc says about a process, as numbers.
local function snapshot(pid)
  local st, e1 = qsl.procfs.stat(pid)
  local ss, e2 = qsl.procfs.schedstat(pid)
  local status, e3 = qsl.procfs.status(pid)
  local fds, e4 = qsl.procfs.fd_count(pid)
  if not (st and ss and status and fds) then return nil, e1 or e2 or e3 or e4 end
  return { utime_ticks = st.utime_ticks, stime_ticks = st.stime_ticks, minflt = st.minflt,
           majflt = st.majflt, cpu_ns = ss.cpu_ns, wait_ns = ss.wait_ns,
           nvcsw = status.voluntary_ctxt_switches, nivcsw = status.nonvoluntary_ctxt_switches,
           vmhwm_kb = status.VmHWM, fds = fds }
end

-- Pass 1: one trial. -> row | nil, why
local function pass1()
  local gw <close>, ready = roles.start("gateway", { mode = p.mode, port = p.port },
    { cpu = p.pin and 0 or nil })
  if not gw then return nil, ready end
  local before, berr = snapshot(gw.pid)
  if not before then return nil, "gateway /proc before the load: " .. berr end
  local ld <close>, lerr = roles.start("load", load_params(ready.port, p.requests), { cpu = p.pin and 1 or nil })
  if not ld then return nil, lerr end
  local lr, lerr2 = roles.finish(ld, "load", { timeout = 120000 })
  if not lr then return nil, lerr2 end
  local after, aerr = snapshot(gw.pid)
  if not after then return nil, "gateway /proc after the load (did it die?): " .. aerr end
  local gr, gerr = roles.finish(gw, "gateway", { stop = true })
  if not gr then return nil, gerr end
  local st = gerr                       -- finish returns result, status
  local n = lr.completed
  if gr.frames_in < n then
    return nil, ("the gateway saw %d frames for %d answered requests"):format(gr.frames_in, n)
  end
  return {
    requests = n, throughput = lr.throughput, p50_us = lr.p50_ns / 1e3, p99_us = lr.p99_ns / 1e3,
    cpu_ns_per_order = (after.cpu_ns - before.cpu_ns) / n,
    user_ns_per_order = st.utime_us * 1e3 / n, kernel_ns_per_order = st.stime_us * 1e3 / n,
    user_ticks = after.utime_ticks - before.utime_ticks, kernel_ticks = after.stime_ticks - before.stime_ticks,
    user_share = st.utime_us / math.max(1, st.utime_us + st.stime_us),
    vcsw_per_order = (after.nvcsw - before.nvcsw) / n, ivcsw = after.nivcsw - before.nivcsw,
    minflt = after.minflt - before.minflt, majflt = after.majflt - before.majflt,
    vmhwm_kb = after.vmhwm_kb, maxrss_kb = st.maxrss_kb, fds_during = after.fds,
    connections = gr.connections,
  }
end

local rows = {}
for i, n in s:trials(p.trials, "pass 1 trial") do
  local row, err = pass1()
  if not row then art:invalid(("pass 1 trial %d/%d: %s"):format(i, n, err)); break end
  row.trial = i
  rows[#rows + 1] = row
end

-- Pass 2: under strace.
local syscalls, per_order, strace_row = {}, nil, nil
local function pass2()
  local out = os.tmpname()
  local gw <close>, ready = roles.start("gateway", { mode = p.mode, port = p.port },
    { wrap = { "strace", "-f", "-c", "-o", out }, ready_timeout = 10000 })
  if not gw then os.remove(out); return nil, ready end
  local ld <close>, lerr = roles.start("load", load_params(ready.port,
    p.pattern == "short" and p.requests or math.min(p.requests, p.strace_requests)))
  if not ld then os.remove(out); return nil, lerr end
  local lr, lerr2 = roles.finish(ld, "load", { timeout = 300000 })
  if not lr then os.remove(out); return nil, lerr2 end
  -- stop() signals the gateway (its ready line named it), not strace: strace then
  -- sees its tracee exit and writes the summary
  local gr, gerr = roles.finish(gw, "gateway under strace", { stop = true, grace = 5000 })
  local sum, serr = qsl.strace.parse_file(out)
  os.remove(out)
  if not gr then return nil, gerr end
  if not sum then return nil, "strace ran but wrote no usable summary: " .. serr end
  return sum, lr
end

if p.strace then
  local sum, lr = pass2()
  if not sum then
    art:invalid("pass 2: " .. tostring(lr))
  else
    local by = {}
    for _, r in ipairs(sum.rows) do by[r.syscall] = r.calls end
    local function any(names)
      for _, n in ipairs(names) do if (by[n] or 0) > 0 then return true end end
      return false
    end
    if not any{ "accept", "accept4" } then
      art:invalid("pass 2: strace's summary has no accept/accept4: it did not see the gateway serve")
    elseif not any{ "read", "recvfrom", "recvmsg", "recv" } or not any{ "write", "sendto", "sendmsg", "writev", "send" } then
      art:invalid("pass 2: strace's summary lacks the read/write family: it did not see the gateway serve")
    end
    per_order = sum.total.calls / lr.completed
    strace_row = { requests = lr.completed, throughput = lr.throughput, p99_us = lr.p99_ns / 1e3,
                   syscalls = sum.total.calls, errors = sum.total.errors, syscalls_per_order = per_order }
    for _, r in ipairs(sum.rows) do
      syscalls[#syscalls + 1] = { syscall = r.syscall, calls = r.calls, errors = r.errors,
        per_order = r.calls / lr.completed, seconds = r.seconds, usecs_per_call = r.usecs_per_call,
        percent = r.percent }
    end
  end
end

art:table{ title = ("Pass 1: %d requests, %s, %d connection(s) x depth %d, %s gateway"):format(
    p.requests, p.pattern, p.connections, p.depth, p.mode), rows = rows, columns = {
  { key = "trial" }, { key = "throughput", label = "req/s", format = "%.0f" },
  { key = "p50_us", format = "%.1f" }, { key = "p99_us", format = "%.1f" },
  { key = "cpu_ns_per_order", label = "cpu ns/order", format = "%.0f" },
  { key = "user_ns_per_order", label = "user ns/order", format = "%.0f" },
  { key = "kernel_ns_per_order", label = "kernel ns/order", format = "%.0f" },
  { key = "user_ticks" }, { key = "kernel_ticks" }, { key = "user_share", format = "%.3f" },
  { key = "vcsw_per_order", label = "vcsw/order", format = "%.3f" }, { key = "ivcsw" },
  { key = "minflt" }, { key = "vmhwm_kb", label = "VmHWM kB" }, { key = "fds_during", label = "fds" } },
  note = ("cpu ns/order: schedstat over the load alone; user/kernel: wait4 rusage over the gateway's life; " ..
          "ticks: /proc/PID/stat at %d per second"):format(ticks) }
local summary = {}
if #rows > 0 then
  for _, k in ipairs{ "throughput", "cpu_ns_per_order", "user_ns_per_order", "kernel_ns_per_order",
                      "user_share", "p99_us" } do
    local sm = stats.summary(stats.column(rows, k))
    summary[#summary + 1] = { what = k, min = sm.min, median = sm.median, max = sm.max }
  end
  art:table{ title = "Pass 1 over trials", rows = summary, columns = { { key = "what" },
    { key = "min", format = "%.3f" }, { key = "median", format = "%.3f" }, { key = "max", format = "%.3f" } } }
end
if strace_row then
  table.sort(syscalls, function(a, b) return a.calls > b.calls end)
  art:table{ title = ("Pass 2: under strace -f -c, %d requests at %.0f req/s (pass 1 median: %s); %.2f syscalls per order"):format(
      strace_row.requests, strace_row.throughput, summary[1] and ("%.0f"):format(summary[1].median) or "-",
      strace_row.syscalls_per_order), rows = syscalls, columns = {
    { key = "syscall" }, { key = "calls" }, { key = "per_order", label = "per order", format = "%.3f" },
    { key = "errors" }, { key = "usecs_per_call", label = "us/call" }, { key = "percent", label = "% time", format = "%.2f" } } }
end
art:set("pass1", rows)
art:set("pass1_summary", summary)
art:set("strace", strace_row)
art:set("syscalls", syscalls)
art:caveat(("loopback only; the load driver and the gateway share this machine's %d CPUs"):format(
  artifact.cpus_online()))
art:caveat("user/kernel split from rusage is sampled at clock ticks by the kernel: trust it over many ticks (see the tick columns); the schedstat total is exact")
art:caveat("strace stops the gateway at every syscall: pass 2's rate and latency are strace's, not the gateway's; only its counts are kept")
art:caveat("per order = per request answered (NewOrder, CancelOrder or Heartbeat in the load's mix)")
print("wrote " .. table.concat(art:write(), ", "))
