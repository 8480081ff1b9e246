-- TEMPLATE: copy me. Datagrams into a small receive buffer: received + kernel drops = sent?
--
-- A complete scenario in one page: declare parameters, run trials, measure,
-- mark what cannot be trusted, write an artifact. Copy it to
-- scenarios/my_experiment.lua, change the name and the measurement, and run
--   qsl-run scenarios/my_experiment.lua --help
-- See docs/writing-scenarios.md and docs/lua-api.md.
local qsl = require "qsl"
local scenario = require "qsl.scenario"
local stats = require "qsl.stats"
local artifact = require "qsl.artifact"

-- 1. Parameters: declared once; `key=value` overrides are checked against these.
local s = scenario.new{
  name = "template",
  description = "datagrams into a small receive buffer: received + kernel drops = sent",
  params = {
    { name = "datagrams", type = "integer", default = 1000, min = 1, max = 1000000,
      help = "datagrams sent per trial" },
    { name = "size", type = "integer", default = 64, min = 1, max = 65000, help = "bytes each" },
    { name = "rcvbuf", type = "integer", default = 4096, min = 0, help = "SO_RCVBUF request (0: default)" },
    { name = "trials", type = "integer", default = 5, min = 1, max = 1000, help = "trials" },
  },
}
local p = s:parse(arg)
local art = artifact.new{ name = s.name, scenario = s, title = s.description }

-- 2. Trials. Sockets are closed by <close> even when a trial errors.
local rows = {}
for i in s:trials(p.trials) do
  local rx <close> = assert(qsl.sock.udp())
  assert(rx:bind("127.0.0.1", 0))
  local granted = p.rcvbuf > 0 and assert(rx:setopt("rcvbuf", p.rcvbuf)) or rx:getopt("rcvbuf")
  local _, port = rx:local_address()
  local tx <close> = assert(qsl.sock.udp())
  assert(tx:connect("127.0.0.1", port))
  local payload, sent, failed = string.rep("x", p.size), 0, 0
  for _ = 1, p.datagrams do
    if tx:send(payload) then sent = sent + 1 else failed = failed + 1 end
  end
  local received = 0
  while rx:recv(p.size + 1, 0) do received = received + 1 end
  local drops = assert(rx:drops())
  -- 3. The refusal rule: a trial whose numbers do not add up is not a measurement.
  if received + drops ~= sent then
    art:invalid(("trial %d: received %d + kernel drops %d ~= sent %d"):format(i, received, drops, sent))
  end
  rows[#rows + 1] = { trial = i, sent = sent, send_failures = failed, received = received,
                      kernel_drops = drops, requested_rcvbuf = p.rcvbuf, granted_rcvbuf = granted }
end

-- 4. The artifact: tables for people, data for programs, caveats beside the numbers.
art:table{ title = "Per trial", rows = rows, columns = {
  { key = "trial" }, { key = "sent" }, { key = "send_failures" }, { key = "received" },
  { key = "kernel_drops" }, { key = "requested_rcvbuf" }, { key = "granted_rcvbuf" } } }
local loss = stats.summary(stats.column(rows, "kernel_drops"))
art:text(("kernel drops per trial: min %d, median %g, max %d"):format(loss.min, loss.median, loss.max))
art:set("trials", rows)
art:caveat("loopback only: the sender runs in the same process, so the receiver never drains during the burst")
art:caveat("kernel_drops is SO_MEMINFO's per-socket count: it includes drops after the last datagram received")
print("wrote " .. table.concat(art:write(), ", "))
