-- Hostile clients against a live gateway while well-behaved ones trade: the gateway survives and forgets them
--
-- A gateway (`qsl-run gateway`) serves a well-behaved load (`qsl-run load`,
-- every reply verified) while this scenario throws bad clients at it: random
-- bytes, headers claiming 4097 and 2^32-1 body bytes, frames dribbled one
-- byte at a time, half a frame then a disconnect, hundreds of connections
-- that never send, resets in the middle of a response, a client that never
-- reads, a flood of connects and closes. Afterwards the gateway must be alive,
-- every good reply exact, its descriptor count back to where it started, its
-- memory bounded, and its counters must account for every connection.
local qsl = require "qsl"
local scenario = require "qsl.scenario"
local artifact = require "qsl.artifact"
local roles = require "qsl.roles"

local s = scenario.new{
  name = "gateway_abuse",
  description = "hostile clients against a live gateway; it survives and accounts for every one",
  params = {
    { name = "load_ms", type = "integer", default = 3000, min = 100, max = 600000, help = "how long the good clients trade" },
    { name = "idle", type = "integer", default = 300, min = 0, max = 5000, help = "connections that never send" },
    { name = "random", type = "integer", default = 50, min = 0, max = 10000, help = "clients sending random bytes" },
    { name = "dribble", type = "integer", default = 10, min = 0, max = 1000, help = "clients sending a frame a byte at a time" },
    { name = "half", type = "integer", default = 50, min = 0, max = 10000, help = "clients sending half a frame, then leaving" },
    { name = "reset", type = "integer", default = 20, min = 0, max = 10000, help = "clients resetting mid-response" },
    { name = "flood", type = "integer", default = 1000, min = 0, max = 100000, help = "connect+close cycles" },
    { name = "seed", type = "integer", default = 1, min = 0, help = "random bytes seed" },
    { name = "nofile", type = "integer", default = 32, min = 16, max = 4096,
      help = "descriptor exhaustion: RLIMIT_NOFILE of a second gateway" },
    { name = "over", type = "integer", default = 64, min = 1, max = 10000,
      help = "descriptor exhaustion: clients beyond its descriptors" },
  },
}
local p = s:parse(arg)
local art = artifact.new{ name = "gateway_abuse", scenario = s, title = "Hostile clients against a live gateway (loopback)" }
local wire = qsl.wire
math.randomseed(p.seed)

local OUT_BYTES, MAX_CONNS = 65536, 4096
local gw <close>, ready = roles.start("gateway", { max_conns = MAX_CONNS, out_bytes = OUT_BYTES })
if not gw then qsl.refuse("gateway: " .. tostring(ready)) end
local port = ready.port

local function proc_figures()
  local st, err = qsl.procfs.status(gw.pid)
  local fds, ferr = qsl.procfs.fd_count(gw.pid)
  if not st or not fds then return nil, err or ferr end
  return { fds = fds, rss_kb = st.VmRSS, hwm_kb = st.VmHWM }
end
local before = assert(proc_figures())

local good <close>, gerr = roles.start("load", { port = port, connections = 4, depth = 4,
  duration_ms = p.load_ms, timeout_ms = 30000 })
if not good then qsl.refuse("load: " .. tostring(gerr)) end

local function dial()
  local c = assert(qsl.sock.tcp())
  local ok, err = c:connect("127.0.0.1", port)
  if not ok then c:close(); return nil, err end
  return c
end

-- Did the server close this connection within ms? (EOF or reset)
local function closed_by_server(c, ms)
  local deadline = qsl.clock.now_ns() + ms * 1e6
  while qsl.clock.now_ns() < deadline do
    local data, err = c:recv(65536, 50)
    if data == "" or (data == nil and err ~= "timeout") then return true end
  end
  return false
end

local classes = {}
local function class(name, tried, ok, expected)
  classes[#classes + 1] = { class = name, connections = tried, as_expected = ok, expected = expected }
  if ok ~= tried then
    art:invalid(("%s: %d of %d connections behaved as expected (%s)"):format(name, ok, tried, expected))
  end
end
local hostile = 0

-- connections that never send, held open through everything else
local idle = {}
for i = 1, p.idle do
  local c = dial()
  if c then idle[#idle + 1] = c end
end
hostile = hostile + #idle
class("idle (never send)", p.idle, #idle, "accepted and held")

do
  local ok = 0
  for _ = 1, p.random do
    local c <close> = assert(dial())
    local junk = {}
    for i = 1, 4096 do junk[i] = string.char(math.random(0, 255)) end
    c:send(table.concat(junk))
    if closed_by_server(c, 2000) then ok = ok + 1 end
  end
  hostile = hostile + p.random
  class("random bytes", p.random, ok, "closed by the gateway")
end

do
  local ok = 0
  for _, len in ipairs{ 4097, 0xffffffff } do
    local c <close> = assert(dial())
    c:send(wire.header{ type = "NewOrder", body_len = len })
    if closed_by_server(c, 2000) then ok = ok + 1 end
  end
  hostile = hostile + 2
  class("body_len 4097 and 2^32-1", 2, ok, "closed at the 16th byte")
end

do
  local ok = 0
  for i = 1, p.dribble do
    local c <close> = assert(dial())
    local frame = wire.encode{ type = "Heartbeat", token = 1000 + i }
    for b = 1, #frame do
      c:send(frame:sub(b, b))
      qsl.clock.sleep_ms(1)
    end
    local reply = c:recv(24, 2000)
    local m = reply and #reply == 24 and wire.decode(reply)
    if m and m.type == "HeartbeatAck" and m.token == 1000 + i then ok = ok + 1 end
  end
  hostile = hostile + p.dribble
  class("one byte at a time", p.dribble, ok, "the right HeartbeatAck")
end

do
  local frame = wire.encode{ type = "NewOrder", order_id = 1, symbol = 0, price = 100, quantity = 1, side = "buy" }
  for _ = 1, p.half do
    local c <close> = assert(dial())
    c:send(frame:sub(1, 20))
  end
  hostile = hostile + p.half
  class("half a frame, then gone", p.half, p.half, "sent and closed")
end

do
  local many = {}
  for i = 1, 1000 do many[i] = wire.encode{ type = "Heartbeat", token = i } end
  many = table.concat(many)
  for _ = 1, p.reset do
    local c <close> = assert(dial())
    c:send(many)
    c:setopt("linger", 0)       -- close() now sends a reset, mid-response
  end
  hostile = hostile + p.reset
  class("reset mid-response", p.reset, p.reset, "reset while replies were in flight")
end

local parked
do
  -- never reads: its replies fill the kernel buffers and half the output bound,
  -- then the gateway stops reading it (backpressure) and serves everyone else
  local c <close> = assert(dial())
  c:setopt("rcvbuf", 4096)
  local hb = string.rep(wire.encode{ type = "Heartbeat", token = 7 }, 512)
  local sent, blocked = 0, false
  for _ = 1, 20000 do
    local n = c:send(hb, true)
    if not n then blocked = true; break end
    sent = sent + n
  end
  parked = { bytes_sent = sent, blocked = blocked }
  hostile = hostile + 1
  class("never reads", 1, blocked and 1 or 0, "the gateway stops reading it")
end

do
  local ok = 0
  for _ = 1, p.flood do
    local c = dial()
    if c then ok = ok + 1; c:close() end
  end
  hostile = hostile + ok
  class("connect and close flood", p.flood, ok, "accepted and forgotten")
end

for _, c in ipairs(idle) do c:close() end

-- the good clients: every reply verified by the load driver
local lr, lerr = roles.finish(good, "load", { timeout = p.load_ms + 60000 })
if not lr then art:invalid("well-behaved clients: " .. lerr) end

-- the gateway lets go of every descriptor it took
local after
local deadline = qsl.clock.now_ns() + 3e9
repeat
  after = proc_figures()
  if not after then art:invalid("the gateway died"); break end
  if after.fds == before.fds then break end
  qsl.clock.sleep_ms(20)
until qsl.clock.now_ns() > deadline
if after and after.fds ~= before.fds then
  local list = {}
  for fd, target in pairs(qsl.procfs.fds(gw.pid) or {}) do list[#list + 1] = fd .. "=" .. target end
  table.sort(list)
  art:invalid(("descriptors: %d before, %d after every client left (%s)"):format(
    before.fds, after.fds, table.concat(list, " ")))
end
-- memory: a bounded buffer per connection at most, whatever the clients did
local bound_kb = before.hwm_kb + (p.idle + 64) * OUT_BYTES // 1024 + 16384
if after and after.hwm_kb > bound_kb then
  art:invalid(("VmHWM %d kB above the bound %d kB"):format(after.hwm_kb, bound_kb))
end

local gr, gerr2 = roles.finish(gw, "gateway", { stop = true })
local counters = {}
if not gr then
  art:invalid("gateway: " .. gerr2)
else
  local closed = gr.closed_by_peer + gr.closed_malformed + gr.closed_unexpected + gr.closed_output_limit +
                 gr.closed_error + gr.closed_at_stop + gr.closed_idle
  local expected = 4 + hostile
  if gr.connections ~= expected then
    art:invalid(("the gateway counted %d connections, %d were made"):format(gr.connections, expected))
  end
  if closed ~= gr.connections then
    art:invalid(("%d connections, but closes account for %d"):format(gr.connections, closed))
  end
  if gr.closed_malformed < p.random + 2 then
    art:invalid(("closed_malformed %d, expected at least %d"):format(gr.closed_malformed, p.random + 2))
  end
  for _, k in ipairs{ "connections", "refused", "closed_by_peer", "closed_malformed", "closed_unexpected",
                      "closed_output_limit", "closed_error", "closed_at_stop", "closed_idle", "frames_in", "frames_out" } do
    counters[#counters + 1] = { counter = k, value = gr[k] }
  end
end

-- Descriptor exhaustion: a second gateway with few descriptors, more clients than it can hold.
-- It must shed the excess (accept and close on a reserved descriptor), keep serving those it
-- holds, and serve new clients once descriptors free up.
local exhaustion = {}
do
  local g2 <close>, r2 = roles.start("gateway", {}, { nofile = p.nofile })
  if not g2 then
    art:invalid("descriptor exhaustion: gateway: " .. tostring(r2))
  else
    local conns, served, shed = {}, 0, 0
    local hb = wire.encode{ type = "Heartbeat", token = 9 }
    for i = 1, p.nofile + p.over do
      local c = assert(qsl.sock.tcp())
      if c:connect("127.0.0.1", r2.port) then conns[#conns + 1] = c end
    end
    for _, c in ipairs(conns) do
      c:send(hb)
      local reply, err = c:recv(24, 1000)
      if reply and #reply == 24 then served = served + 1
      elseif reply == "" or (reply == nil and err ~= "timeout") then shed = shed + 1 end
    end
    local alive = g2:running()
    for _, c in ipairs(conns) do c:close() end
    qsl.clock.sleep_ms(100)
    local again <close>, aerr = roles.start("load", { port = r2.port, connections = 4, depth = 4, requests = 10000 })
    local ar = again and roles.finish(again, "load")
    local g2r = roles.finish(g2, "gateway", { stop = true })
    exhaustion = { nofile = p.nofile, clients = #conns, served = served, shed = shed,
                   alive = alive, served_after = ar and ar.completed or 0,
                   emfile = g2r and g2r.emfile, refused = g2r and g2r.refused }
    if not alive then art:invalid("descriptor exhaustion: the gateway died") end
    if served == 0 or shed == 0 or served + shed ~= #conns then
      art:invalid(("descriptor exhaustion: %d clients, %d served, %d shed"):format(#conns, served, shed))
    end
    if not ar or ar.completed ~= 10000 then
      art:invalid("descriptor exhaustion: no service after descriptors freed up: " .. tostring(aerr))
    end
    if not g2r or g2r.emfile == 0 then art:invalid("descriptor exhaustion: the gateway never hit EMFILE") end
  end
end

art:table{ title = "Bad clients, by class", rows = classes, columns = {
  { key = "class" }, { key = "connections" }, { key = "as_expected" }, { key = "expected" } } }
art:table{ title = "The gateway's process, before and after", rows = {
    { what = "descriptors (/proc/PID/fd)", before = before.fds, after = after and after.fds },
    { what = "VmRSS kB", before = before.rss_kb, after = after and after.rss_kb },
    { what = "VmHWM kB (peak)", before = before.hwm_kb, after = after and after.hwm_kb },
  }, columns = { { key = "what" }, { key = "before" }, { key = "after" } } }
if lr then
  art:text(("Well-behaved clients meanwhile: %d requests answered, every reply verified, %d errors, %.0f req/s, p99 %.1f us")
    :format(lr.completed, lr.errors, lr.throughput, lr.p99_ns / 1e3))
end
art:table{ title = "Gateway counters at the end", rows = counters, columns = { { key = "counter" }, { key = "value" } } }
if exhaustion.clients then
  art:text(("Descriptor exhaustion: a gateway with RLIMIT_NOFILE %d took %d clients: served %d, shed %d " ..
            "(EMFILE %s times), stayed up, and answered all %d requests of a new load once they left.")
    :format(exhaustion.nofile, exhaustion.clients, exhaustion.served, exhaustion.shed,
            tostring(exhaustion.emfile), exhaustion.served_after))
end
art:set("descriptor_exhaustion", exhaustion)
art:set("classes", classes)
art:set("process", { before = before, after = after })
art:set("good_clients", lr)
art:set("gateway", gr)
art:set("never_reads", parked)
art:caveat("loopback only; the bad clients run one class after another from one process, beside four good connections")
art:caveat("VmRSS after is allocator-held memory, not a leak: the bound checked is on VmHWM, one output buffer per live connection")
print("wrote " .. table.concat(art:write(), ", "))
