-- qsl.measure: what /proc says around a workload, as tables of numbers, and
-- the difference between two of them.
--   sample(pid)      -> one process: CPU (schedstat ns, stat ticks), faults,
--                       context switches, memory, descriptors
--   net([pid])       -> the network stack's counters, of pid's namespace
--                       (default: ours): snmp (Ip, Tcp, Udp...), snmp6 (Ip6, Udp6,
--                       Icmp6...: absent where the namespace has IPv6 off), netstat
--                       (TcpExt, IpExt), softnet (per-CPU backlog drops)
--   delta(a, b)      -> b - a, field by field (nested tables too)
--   drops(pids)      -> the kernel's own account of what it drops, by reason (qsl.kernel),
--                       in the network namespaces of the processes pids lists (each
--                       namespace counted once) from now on: :read([ip_proto]) -> { total,
--                       reasons = {REASON = n}, hosts = {[i] = {REASON = n}}, others }
--                       of that IP protocol's packets ("udp", ...; absent: all), others
--                       the reasons of the rest, skipped = {REASON = n} (the audit: drops
--                       of that reason the kernel made, perf counted, and the program never
--                       ran for, in any namespace; nil and audit_na = why where perf
--                       cannot count); :close(). nil, why where BPF cannot run here: a
--                       caller shows n/a and why
--   drop_text(reasons) -> "SOCKET_RCVBUFF 13868, QDISC_DROP 12" (largest first; "none")
--   poll(ms, fn)     -> fn()'s results once its first is true, or its last call's after
--                       ms milliseconds: waiting for a state with a deadline, not a sleep
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
  local v6, why, code = qsl.procfs.snmp6(base .. "snmp6")
  if not v6 and code ~= 2 then error(why, 0) end        -- ENOENT: IPv6 off in that namespace
  for proto, t in pairs(v6 or {}) do out[proto] = t end
  out.softnet = softnet(base .. "softnet_stat")
  return out
end

-- The on-CPU time of a sample delta per unit (n units), exact (schedstat), and its split
-- into user and kernel by the clock ticks the kernel sampled over the same window - given
-- only over min_ticks or more (else nil: a split made of a few ticks says nothing).
-- -> { cpu_ns, user_ns, kernel_ns, user_share, user_ticks, kernel_ticks, user_s, kernel_s }
-- (user_s, kernel_s: the ticks as seconds, qsl.procfs.clock_ticks() to a second)
M.SPLIT_TICKS = 50
function M.cpu_split(d, n, min_ticks)
  local ticks = d.utime_ticks + d.stime_ticks
  local share = ticks >= (min_ticks or M.SPLIT_TICKS) and d.utime_ticks / ticks or nil
  local cpu, hz = d.cpu_ns / n, qsl.procfs.clock_ticks()
  return { cpu_ns = cpu, user_ns = share and cpu * share, kernel_ns = share and cpu * (1 - share),
           user_share = share, user_ticks = d.utime_ticks, kernel_ticks = d.stime_ticks,
           user_s = d.utime_ticks / hz, kernel_s = d.stime_ticks / hz }
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

local Drops = {}
Drops.__index = Drops

-- The reasons qsl's books name, audited where this kernel has them.
M.audited = { "SOCKET_RCVBUFF", "PROTO_MEM", "QDISC_DROP", "NETFILTER_DROP", "NOT_SPECIFIED",
              "IPV6DISABLED", "all" }

function M.drops(pids)
  local ok, why = qsl.kernel.available()
  if not ok then return nil, why end
  local self, by_netns = setmetatable({ counters = {}, of_host = {} }, Drops), {}
  for i, pid in ipairs(pids) do
    local c, err = qsl.kernel.drops{ pid = pid }
    if not c then
      self:close()
      return nil, err
    end
    local had = by_netns[c:netns()]
    if had then
      c:close()
    else
      had = #self.counters + 1
      self.counters[had], by_netns[c:netns()] = c, had
    end
    self.of_host[i] = had
  end
  local reasons = {}
  for _, name in ipairs(M.audited) do
    if name == "all" or qsl.kernel.reason(name) then reasons[#reasons + 1] = name end
  end
  self.audit, self.audit_na = qsl.kernel.audit{ reasons = reasons }
  return self
end

function Drops:read(ip_proto)
  local out, per_ns = { total = 0, reasons = {}, hosts = {}, others = {} }, {}
  for j, c in ipairs(self.counters) do
    per_ns[j] = assert(c:read(ip_proto))
    for reason, n in pairs(per_ns[j]) do
      out.reasons[reason] = (out.reasons[reason] or 0) + n
      out.total = out.total + n
    end
    for reason, n in pairs(assert(c:read())) do
      local rest = n - (per_ns[j][reason] or 0)
      if rest > 0 then out.others[reason] = (out.others[reason] or 0) + rest end
    end
  end
  for i, j in ipairs(self.of_host) do out.hosts[i] = per_ns[j] end
  if self.audit then
    out.skipped = {}
    for reason, a in pairs(assert(self.audit:read())) do out.skipped[reason] = a.skipped end
  else
    out.audit_na = self.audit_na
  end
  return out
end

function Drops:close()
  for _, c in ipairs(self.counters) do c:close() end
  if self.audit then self.audit:close() end
end
Drops.__close = Drops.close

function M.drop_text(reasons)
  local list = {}
  for reason, n in pairs(reasons) do list[#list + 1] = { reason, n } end
  table.sort(list, function(x, y) return x[2] > y[2] or x[2] == y[2] and x[1] < y[1] end)
  for i, e in ipairs(list) do list[i] = e[1] .. " " .. e[2] end
  return #list > 0 and table.concat(list, ", ") or "none"
end

-- Polls from 1 ms, doubling to 20 ms: a state reached quickly costs little waiting, a slow
-- one little CPU. fn is called once more at the deadline, so a late state still counts.
function M.poll(ms, fn)
  if type(ms) ~= "number" or ms < 0 or type(fn) ~= "function" then
    error("measure.poll(ms, fn): ms must be a number >= 0 and fn a function", 2)
  end
  local deadline, nap = qsl.clock.now_ns() + ms * 1e6, 1
  while true do
    local late = qsl.clock.now_ns() >= deadline
    local r = table.pack(fn())
    if r[1] or late then return table.unpack(r, 1, r.n) end
    qsl.clock.sleep_ms(nap)
    nap = math.min(nap * 2, 20)
  end
end

return M
