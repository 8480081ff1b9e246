-- qsl.target: a server qsl did not write, measured from the outside as qsl's gateway is.
--   params: the scenario parameters that name one (target=, connect=, pid=, serial=)
--   start(p, host, server_at, client_at) -> t or nil (p names none): target="COMMAND ...
--       {port} ..." is started (its words split on spaces, no shell; {port} a free port,
--       {host} host; in server_at's placement: a host's namespace, a CPU, netns=true for
--       one of its own), watched and stopped like a role, its output kept;
--       connect="HOST:PORT" (with pid=N to measure its CPU) is one already running. Either
--       way, before anything is measured, qsl-run client sends it one NewOrder and one
--       Heartbeat and reads both answers: a server that does not answer the protocol is
--       refused (exit 3) with the client's reason.
--   t.port, t.host, t.pid (nil: connect= without pid=), t.serial, t.label
--   t:sample() -> measure.sample of its process (an error without a pid)
--   t:finish() -> {} (a target prints no result line: what only qsl's gateway counts is
--       absent), its exit status (started ones, stopped then; nil for connect=)
--   t:state() -> running, or how it ended, and the end of its stderr, in words
--   report(art, t) -> ends a started target and puts t:state() in art's caveats
--   t.serial: declared (serial=true) or detected: from here, with one connection held
--       open and idle, a second one's check goes unanswered (t.serial_detected)
--   t:restart(wrap) -> the same command again under a wrapper (strace -f -c -o FILE),
--       checked as at the start; nil for connect= (strace attaches to its pid instead)
local qsl = require "qsl"
local roles = require "qsl.roles"
local M = {}

M.params = {
  { "target", "string", "", "a server to measure instead of qsl's gateway: its command line, " ..
    "{port} where its port goes and {host} its address (no shell: words split on spaces)" },
  { "connect", "string", "", "a server already running, HOST:PORT (pid= to measure its CPU)" },
  { "pid", "integer", 0, "with connect=: the server's process, for its CPU, faults and strace",
    min = 0, max = 4194304 },
  { "serial", "boolean", false, "the target serves one connection at a time: the load then " ..
    "uses one connection" },
}

local Target = {}
Target.__index = Target

-- A port nothing listens on here now (the kernel's pick for a socket closed again); in a
-- host of the trial's own, a fresh namespace, every port is free.
local function free_port(host)
  local v6 = host:find(":") ~= nil
  local s <close> = assert(qsl.sock.tcp(v6 and "inet6" or "inet"))
  assert(s:bind(v6 and "::1" or "127.0.0.1", 0))
  return select(2, assert(s:local_address()))
end

local function split(command)
  local words = {}
  for w in command:gmatch("%S+") do words[#words + 1] = w end
  return words
end

-- The protocol check: qsl-run client from `at` (where the load runs); true, or nil, why
-- and whether the connection was refused (not listening yet). Its exit 4 (a Reject) is an
-- answer too.
-- The check's NewOrder is IOC at a price of 1 with an id no load uses: on a fresh book it is
-- Acked and does not rest, so the measured load meets the book it would have met.
M.CHECK = "new 18446744073709551615 0 buy 1 1 limit ioc; heartbeat 1"

local function answers(t, at)
  local ok, res = pcall(roles.run, "client", { host = t.host, port = t.port,
    timeout_ms = 2000, send = M.CHECK }, roles.merge(at, { timeout = 10000 }))
  if ok and res.answered == res.requests then return true end
  local why = tostring(res)
  if why:find("(exit 4)", 1, true) then return true end
  return nil, why, why:find("Connection refused", 1, true) ~= nil
end

-- Whether it serves one connection at a time: with one connection held open and idle, the
-- check on a second goes unanswered. Only where the target is reachable from here.
local function serves_one_at_a_time(t)
  local held <close> = qsl.sock.tcp(t.host:find(":") and "inet6" or "inet")
  if not held or not held:connect(t.host, t.port) then return false end
  local ok = pcall(roles.run, "client", { host = t.host, port = t.port, timeout_ms = 1000,
                                          send = "heartbeat 2" }, { timeout = 10000 })
  return not ok
end

-- Waits (up to 10 s) for the target to listen and answer; refuses it otherwise. `at`: where
-- the client runs (the load's placement); from here, it is also tested for serving one
-- connection at a time.
local function check(t, at)
  local deadline = qsl.clock.now_ns() + 10e9
  while true do
    local ok, why, refused = answers(t, at)
    if ok then
      if not t.serial and not next(at) and serves_one_at_a_time(t) then
        t.serial, t.serial_detected = true, true
      end
      return t
    end
    local gone = t.proc and not t.proc:running()
    if not refused or gone or qsl.clock.now_ns() > deadline then
      local tail = t.proc and t.proc:errors() or ""
      qsl.refuse(("%s does not answer the protocol (one NewOrder, one Heartbeat): %s%s"):format(
        t.label, gone and "it exited" or why, #tail > 0 and ("; its stderr: " .. tail:sub(-400))
        or ""))
    end
    qsl.clock.sleep_ms(50)
  end
end

-- Its command in the server's placement, under wrap (strace) when given: a stop signals
-- the target, not the wrapper.
local function spawn(t, wrap)
  local argv = {}
  for _, w in ipairs(t.words) do
    argv[#argv + 1] = w:gsub("{port}", tostring(t.port)):gsub("{host}", t.host)
  end
  local at = t.server_at or {}
  local proc, err = qsl.proc.spawn{ argv = argv, wrap = wrap, netns = at.netns,
                                    netns_of = at.netns_of, cpu = at.cpu,
                                    cpus = not at.cpu and at.cpus or nil }
  if not proc then qsl.fail(("%s: %s"):format(t.label, err)) end
  if wrap then
    -- no ready line names the wrapped server: the wrapper's child is it, once started
    local pid = require("qsl.measure").poll(5000, function() return proc:adopt_child() end)
    if not pid then
      proc:stop(500)
      qsl.refuse(("%s under %s: the wrapper started nothing"):format(t.label, wrap[1]))
    end
  end
  return proc
end

function M.start(p, host, server_at, client_at)
  if p.target == "" and p.connect == "" then return nil end
  if p.target ~= "" and p.connect ~= "" then qsl.fail("target= and connect= name two servers") end
  if p.pid ~= 0 and p.connect == "" then qsl.fail("pid= goes with connect=") end
  if p.connect ~= "" and p.pid == 0 then
    qsl.fail("connect= needs pid=: CPU per request is read from the server's /proc")
  end
  local t = setmetatable({ serial = p.serial, host = host }, Target)
  if p.connect ~= "" then
    local h, port = p.connect:match("^%[?([^%]]+)%]?:(%d+)$")
    port = tonumber(port)
    if not h or not port or port < 1 or port > 65535 then
      qsl.fail(("connect=%s: HOST:PORT with a numeric address, [::1]:PORT for IPv6"):format(
        p.connect))
    end
    t.host, t.port, t.pid = h, port, p.pid ~= 0 and p.pid or nil
    if t.pid and not qsl.procfs.stat(t.pid) then
      qsl.fail(("pid=%d: no such process"):format(t.pid))
    end
    t.label = "the server at " .. p.connect
  else
    t.words = split(p.target)
    if not p.target:find("{port}", 1, true) then
      qsl.fail("target= needs {port} where the server's port goes")
    end
    if not qsl.have(t.words[1]) then qsl.fail(("target=: %s: not found"):format(t.words[1])) end
    t.port = free_port(host)
    t.label = ("the target (%s)"):format(p.target)
    t.server_at = server_at
    t.proc = spawn(t)
    t.pid = t.proc.pid
  end
  -- in a namespace of its own (server_at.netns), the client and the load go into it
  t.client_at = client_at or (server_at and server_at.netns and t.proc and
                              { netns_of = t.pid }) or {}
  return check(t, t.client_at)
end

-- The same target again, under wrap (strace -f -c -o FILE), checked as at the start. A
-- connect= target cannot be restarted: nil (attach to its pid instead).
function Target:restart(wrap)
  if not self.words then return nil end
  local t = setmetatable({}, Target)
  for k, v in pairs(self) do t[k] = v end
  t.status = nil              -- the first's end, not this one's
  t.port = free_port(t.host)  -- the first may still hold its old port (TIME_WAIT)
  t.proc = spawn(t, wrap)
  return check(t, t.client_at)
end

-- traced(t, file, own) -> closable, port, done(): a server under `strace -f -c -o file`
-- for pass 2 of a profile. t nil: own(wrap) starts qsl's gateway so and returns the same
-- three. A target= command: stopped, started again under strace (a port of its own) and
-- checked; done() stops it, and strace, seeing its tracee go, writes the summary. A
-- connect= server: strace attaches to its pid (-p) until done() interrupts strace, which
-- detaches and writes; the server runs on.
function M.traced(t, file, own)
  local wrap = { "strace", "-f", "-c", "-o", file }
  if not t then return own(wrap) end
  if t.words then
    t:close()
    local again = t:restart(wrap)
    return again, again.port, function() again:finish() end
  end
  table.move({ "-p", tostring(t.pid) }, 1, 2, #wrap + 1, wrap)
  local st = assert(qsl.proc.spawn{ argv = wrap })
  local attached = require("qsl.measure").poll(10000, function()
    return st:errors():find("attached") ~= nil or not st:running() end)
  if not attached or not st:running() then
    qsl.refuse(("strace could not attach to pid %d: %s"):format(t.pid, st:errors()))
  end
  return st, t.port, function()
    st:signal("INT")
    st:wait(10000)
  end
end

-- The caveat of a serial target: declared or detected, and what the load did about it.
function M.serial_text(t)
  return ("%s serves one connection at a time (%s): the load used one connection"):format(
    t.label, t.serial_detected and "detected: with one connection open, a second went " ..
    "unanswered for a second" or "serial=true")
end

function Target:sample()
  if not self.pid then error(self.label .. ": no pid= to sample its CPU", 2) end
  if self.proc then return self.proc:sample() end
  return require("qsl.measure").sample(self.pid)
end

function Target:finish()
  if not self.proc then return {}, nil end
  if not self.status then self.status = self.proc:stop(2000) end
  return {}, self.status
end

-- How it is now, in words: running, or how it ended, and the end of its stderr.
function Target:state()
  if not self.proc then return self.label .. " (connect=): left running" end
  local running = not self.status and self.proc:running()
  local st = self.status or (not running and self.proc:wait(100)) or nil
  local tail = self.proc:errors():sub(-400)
  return ("%s %s%s"):format(self.label, running and "is running" or st and (st.signal_name and
    ("ended by SIG" .. st.signal_name) or ("exited " .. tostring(st.code))) or "ended",
    #tail > 0 and ("; its stderr ends: " .. tail:gsub("%s+$", "")) or "")
end

-- Ends a started target and says in art how it ended (its exit status, its stderr's end);
-- a connect= one is said to be left running.
function M.report(art, t)
  if not t then return end
  if t.proc then t:finish() end
  art:caveat(t:state())
end

function Target:close()
  if self.proc then self:finish() end
end
Target.__close = Target.close

return M
