-- Hostile clients against a live gateway while good ones trade: it survives and forgets them
--
-- A gateway (`qsl-run gateway`) serves a well-behaved load (`qsl-run load`,
-- every reply verified) while this scenario throws bad clients at it: random
-- bytes, headers claiming 4097 and 2^32-1 body bytes, frames dribbled one
-- byte at a time, half a frame then a disconnect, hundreds of connections
-- that never send, resets in the middle of a response, a client that never
-- reads, a flood of connects and closes. Afterwards the gateway must be alive,
-- every good reply exact, its descriptor count back to where it started, its
-- memory bounded, and its counters must account for every connection. Then a
-- second gateway with few descriptors meets more clients than it can hold.
local qsl = require "qsl"
local roles, wire = qsl.roles, qsl.wire

local s = qsl.scenario.new{
  name = "gateway_abuse",
  quick = "load_ms=500 idle=50 random=5 dribble=2 half=5 reset=3 flood=50 over=20",
  params = {
    { "load_ms", "integer", 3000, "how long the good clients trade", min = 100, max = 600000 },
    { "idle", "integer", 300, "connections that never send", min = 0, max = 5000 },
    { "random", "integer", 50, "clients sending random bytes", min = 0, max = 10000 },
    { "dribble", "integer", 10, "clients sending a frame a byte at a time", min = 0, max = 1000 },
    { "half", "integer", 50, "clients sending half a frame, then leaving", min = 0, max = 10000 },
    { "reset", "integer", 20, "clients resetting mid-response", min = 0, max = 10000 },
    { "flood", "integer", 1000, "connect+close cycles", min = 0, max = 100000 },
    { "seed", "integer", 1, "random bytes seed", min = 0, max = math.maxinteger },
    roles.param("gateway", "mode"),
    { "nofile", "integer", 32, "descriptor exhaustion: a second gateway's RLIMIT_NOFILE",
      min = 16, max = 4096 },
    { "over", "integer", 64, "descriptor exhaustion: clients beyond its descriptors", min = 1,
      max = 4096 },
  },
}
local p = s:parse(arg)
local art = s:artifact{ title = "Hostile clients against a live gateway (loopback)" }
math.randomseed(p.seed)

local gw <close>, ready = roles.start("gateway", { mode = p.mode, max_conns = 4096 })
local before = gw:sample()
local good <close> = roles.start("load", { port = ready.port, connections = 4, depth = 4,
                                           duration_ms = p.load_ms, timeout_ms = 30000 })

-- A class of bad client: n connections, fn(i) true when connection i met the expectation
-- as the client sees it. Then what the gateway did, from its own descriptors: it holds the
-- connections it should (holds: this class's, as the idle ones), every other one closed
-- (the good clients' 4 may still be open beside them).
local rows, hostile, held = {}, 0, 0
local function class(name, n, expected, fn, holds)
  s:trial(name, function()
    local ok = 0
    for i = 1, n do
      if fn(i) then ok = ok + 1 end
    end
    hostile, held = hostile + n, held + (holds and n or 0)
    local fds
    local settled = qsl.measure.poll(3000, function()
      fds = gw:sample().fds - before.fds
      return fds >= held and fds <= held + 4
    end)
    rows[#rows + 1] = { class = name, connections = n, as_expected = ok, expected = expected,
                        gateway_holds = fds }
    assert(ok == n, ("%d of %d connections: %s"):format(ok, n, expected))
    assert(settled, ("the gateway holds %d connections after it, not %d (+ up to 4 good ones)")
                    :format(fds, held))
  end)
end

local idle = {}                  -- connections that never send, held open through the rest
class("idle (never send)", p.idle, "accepted and held", function(i)
  idle[i] = assert(qsl.sock.dial("127.0.0.1", ready.port))
  return true
end, true)
class("random bytes", p.random, "closed by the gateway", function()
  local c <close> = assert(qsl.sock.dial("127.0.0.1", ready.port))
  local junk = ("x"):rep(4096):gsub(".", function() return string.char(math.random(0, 255)) end)
  return c:send(junk) == 4096 and c:closed(2000)
end)
class("body_len 4097 and 2^32-1", 2, "closed at the 16th byte", function(i)
  local c <close> = assert(qsl.sock.dial("127.0.0.1", ready.port))
  local header = wire.header{ type = "NewOrder", body_len = i == 1 and 4097 or 0xffffffff }
  return c:send(header) == 16 and c:closed(2000)
end)
class("one byte at a time", p.dribble, "the right HeartbeatAck", function(i)
  local c <close> = assert(qsl.sock.dial("127.0.0.1", ready.port))
  local frame = wire.encode{ type = "Heartbeat", token = 1000 + i }
  for b = 1, #frame do
    c:send(frame:sub(b, b))
    qsl.clock.sleep_ms(1)        -- the dribble itself, not a wait for a state
  end
  return c:recv(24, 2000) == wire.encode{ type = "HeartbeatAck", token = 1000 + i }
end)
class("half a frame, then gone", p.half, "sent and closed", function()
  local c <close> = assert(qsl.sock.dial("127.0.0.1", ready.port))
  return c:send(wire.encode{ type = "CancelOrder", order_id = 1, symbol = 0 }:sub(1, 20)) == 20
end)
local heartbeats = string.rep(wire.encode{ type = "Heartbeat", token = 7 }, 1000)
class("reset mid-response", p.reset, "reset while replies were in flight", function()
  local c <close> = assert(qsl.sock.dial("127.0.0.1", ready.port))
  -- with linger 0, close() sends a reset: mid-response
  return c:send(heartbeats) == #heartbeats and c:setopt("linger", 0) == 0
end)
class("never reads", 1, "the gateway stops reading it", function()
  -- its replies fill the buffers and half the output bound: then the gateway stops reading it
  local c <close> = assert(qsl.sock.dial("127.0.0.1", ready.port))
  c:setopt("rcvbuf", 4096)
  local sent = 0
  while sent < 20000 and c:send(heartbeats, true) do sent = sent + 1 end
  return sent < 20000
end)
class("connect and close flood", p.flood, "accepted and forgotten", function()
  assert(qsl.sock.dial("127.0.0.1", ready.port)):close()
  return true
end)
for _, c in ipairs(idle) do c:close() end
held = 0

local lr = s:trial("well-behaved clients", roles.finish, good, { timeout = p.load_ms + 60000 })
local after, gr = {}, nil
s:trial("the gateway lets go of everything", function()
  qsl.measure.poll(3000, function()
    after = gw:sample()
    return after.fds == before.fds
  end)
  assert(after.fds == before.fds, ("fds: %d before, %d after"):format(before.fds, after.fds))
  local bound_kb = before.vmhwm_kb + (p.idle + 64) * ready.out_bytes // 1024 + 16384
  assert(after.vmhwm_kb <= bound_kb, ("VmHWM %d kB above %d kB"):format(after.vmhwm_kb, bound_kb))
  gr = roles.finish(gw, { stop = true })
  assert(gr.connections == 4 + hostile and gr.closed == gr.connections,
         ("made %d, counted %d, closed %d"):format(4 + hostile, gr.connections, gr.closed))
  assert(gr.closed_malformed >= p.random + 2, "closed_malformed below the malformed clients")
end)

-- Descriptor exhaustion: shed the excess (accept and close on a reserved descriptor), serve
-- those it holds, and serve new clients once descriptors free up.
s:trial("descriptor exhaustion", function()
  local g2 <close>, r2 = roles.start("gateway", { mode = p.mode }, { nofile = p.nofile })
  local conns, served, shed = {}, 0, 0
  for i = 1, p.nofile + p.over do conns[i] = assert(qsl.sock.dial("127.0.0.1", r2.port)) end
  for _, c in ipairs(conns) do
    c:send(wire.encode{ type = "Heartbeat", token = 9 })
    local reply, err = c:recv(24, 1000)
    if reply and #reply == 24 then served = served + 1 end
    if reply == "" or (reply == nil and err ~= "timeout") then shed = shed + 1 end
  end
  for _, c in ipairs(conns) do c:close() end
  local ar = roles.run("load", { port = r2.port, connections = 4, depth = 4, requests = 10000 })
  local g2r = roles.finish(g2, { stop = true })
  rows[#rows + 1] = { class = ("beyond nofile=%d"):format(p.nofile), connections = #conns,
    as_expected = served + shed, expected = "served or shed", served = served, shed = shed,
    served_after = ar.completed, emfile = g2r.emfile, refused = g2r.refused }
  assert(served > 0 and shed > 0 and served + shed == #conns,
         ("%d clients, %d served, %d shed"):format(#conns, served, shed))
  assert(ar.completed == 10000 and g2r.emfile > 0, "no EMFILE, or no service after")
end)

art:table{ title = "Bad clients, by class", rows = rows,
           columns = { "class", "connections", "as_expected", "expected", "gateway_holds" } }
art:table{ title = "The gateway afterwards", columns = { "what", "before", "after" }, rows = {
  { what = "descriptors", before = before.fds, after = after.fds },
  { what = "VmHWM kB", before = before.vmhwm_kb, after = after.vmhwm_kb },
  { what = "good requests answered, all verified", after = lr and lr.completed } } }
art:set{ classes = rows, process = { before = before, after = after }, good_clients = lr,
         gateway = gr }
art:caveat("loopback; the bad clients run one class after another beside four good connections")
art:caveat("VmHWM is bounded by one output buffer per live connection, whatever the clients did")
art:write()
