-- qsl.measure: what /proc says around a workload, as tables of numbers, and
-- the difference between two of them.
--   sample(pid)      -> one process: CPU (schedstat ns, stat ticks), faults,
--                       context switches, memory, descriptors
--   net([pid])       -> the network stack's counters, of pid's namespace
--                       (default: ours): snmp (Ip, Tcp, Udp...), netstat
--                       (TcpExt, IpExt), softnet (per-CPU backlog drops)
--   delta(a, b)      -> b - a, field by field (nested tables too)
-- Each raises an error naming what could not be read (a process that died).
local qsl = require "qsl"
local M = {}

function M.sample(pid)
  local st = assert(qsl.procfs.stat(pid))
  local ss = assert(qsl.procfs.schedstat(pid))
  local status = assert(qsl.procfs.status(pid))
  local fds = assert(qsl.procfs.fd_count(pid))
  return {
    utime_ticks = st.utime_ticks, stime_ticks = st.stime_ticks, minflt = st.minflt,
    majflt = st.majflt, cpu_ns = ss.cpu_ns, wait_ns = ss.wait_ns,
    nvcsw = status.voluntary_ctxt_switches, nivcsw = status.nonvoluntary_ctxt_switches,
    vmhwm_kb = status.VmHWM, vmrss_kb = status.VmRSS, fds = fds,
  }
end

-- Packets dropped before any socket: the per-CPU backlog (softnet_stat column 2, hex).
local function softnet(path)
  local text = assert(qsl.procfs.read(path))
  local dropped = 0
  for line in text:gmatch("[^\n]+") do
    local d = line:match("^%x+%s+(%x+)")
    if not d then error(path .. ": unparsable line: " .. line, 0) end
    dropped = dropped + tonumber(d, 16)
  end
  return { dropped = dropped }
end

function M.net(pid)
  local base = pid and ("/proc/" .. pid .. "/net/") or "/proc/net/"
  local out = assert(qsl.procfs.snmp(base .. "snmp"))
  for proto, t in pairs(assert(qsl.procfs.snmp(base .. "netstat"))) do out[proto] = t end
  out.softnet = softnet(base .. "softnet_stat")
  return out
end

function M.delta(a, b)
  local d = {}
  for k, v in pairs(b) do
    local was = a[k]
    if type(v) == "number" and type(was) == "number" then
      d[k] = v - was
    elseif type(v) == "table" and type(was) == "table" then
      d[k] = M.delta(was, v)
    end
  end
  return d
end

return M
