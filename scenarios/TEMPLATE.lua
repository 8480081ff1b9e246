-- TEMPLATE: copy me. Datagrams into a small receive buffer: received + kernel drops = sent?
--
-- A complete scenario in one page: declare parameters, run trials, measure,
-- refuse what cannot be trusted, write an artifact. Copy it to
-- scenarios/my_experiment.lua, change the name and the measurement, and run
--   qsl-run scenarios/my_experiment.lua --help
-- See docs/writing-scenarios.md and docs/lua-api.md.
local qsl = require "qsl"
local scenario = qsl.scenario

-- 1. Parameters, declared once: `key=value` overrides are checked against these.
local s = scenario.new{
  name = "template",
  quick = "datagrams=1000 trials=2",
  params = {
    { "datagrams", "integer", 1000, "datagrams sent per trial", min = 1, max = 1000000 },
    { "size", "integer", 64, "bytes each", min = 1, max = 65000 },
    { "rcvbuf", "integer", 4096, "SO_RCVBUF request (0: the default)", min = 0, max = 1 << 30 },
    { "trials", "integer", 5, "trials", min = 1, max = 1000 },
  },
}
local p = s:parse(arg)
local art = s:artifact()

-- 2. A trial is a function that returns its row. An error inside it (an assert, a
-- count that does not add up) refuses the artifact, naming the trial.
local rows = s:trials(p.trials, function()
  local rx <close> = assert(qsl.sock.udp())
  assert(rx:bind("127.0.0.1", 0))
  local granted = p.rcvbuf > 0 and assert(rx:setopt("rcvbuf", p.rcvbuf)) or rx:getopt("rcvbuf")
  local tx <close> = assert(qsl.sock.udp())
  assert(tx:connect("127.0.0.1", select(2, rx:local_address())))
  local sent, received = 0, 0
  for _ = 1, p.datagrams do
    if tx:send(string.rep("x", p.size)) then sent = sent + 1 end
  end
  while rx:recv(p.size + 1, 0) do
    received = received + 1
  end
  local drops = assert(rx:drops())
  -- 3. The refusal rule: a trial whose numbers do not add up is not a measurement.
  assert(received + drops == sent, ("received %d + drops %d ~= sent %d"):format(
    received, drops, sent))
  return { sent = sent, received = received, kernel_drops = drops, granted_rcvbuf = granted }
end)

-- 4. The artifact: tables for people, data for programs, caveats beside the numbers.
art:table{ title = "Per trial", rows = rows,
           columns = { "trial", "sent", "received", "kernel_drops", "granted_rcvbuf" } }
art:spread{ title = "Over trials", main = true, rows = rows,
            fields = { "kernel_drops", "received" } }
art:set("trials", rows)
art:caveat("loopback only, the sender in the same process: the receiver never drains mid-burst")
art:caveat("kernel_drops is SO_MEMINFO's per-socket count: drops after the last arrival included")
art:write()
