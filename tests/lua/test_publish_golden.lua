-- `qsl-run publish` with its defaults sends exactly the original's datagrams
-- (tests/data/md_seed42_orders20000_symbols3.bin), over real loopback UDP.
-- The receive buffer is forced large where the privilege exists; otherwise the
-- publisher is paced slower, so the granted buffer covers any reader stall.
local qsl = require "qsl"

local f = assert(io.open("tests/data/md_seed42_orders20000_symbols3.bin", "rb"))
local golden = f:read("a")
f:close()

local rx <close> = assert(qsl.sock.udp())
local rate = 20000
if not rx:setopt("rcvbufforce", 16 << 20) then
  rx:setopt("rcvbuf", 16 << 20)
  rate = 5000
end
assert(rx:bind("127.0.0.1", 0))
local _, port = assert(rx:local_address())

local pub <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, "publish", "port=" .. port, "rate=" .. rate } })
assert(pub:ready(5000))
local pos, n = 1, 0
while pos <= #golden do
  local len = string.unpack(">I4", golden, pos)
  local want = golden:sub(pos + 4, pos + 3 + len)
  pos = pos + 4 + len
  local got, err = rx:recv(65536, 5000)
  assert(got, ("datagram %d: %s (the kernel dropped %d on the socket)"):format(n + 1, tostring(err), rx:drops()))
  n = n + 1
  if got ~= want then
    local m = qsl.wire.decode(got)
    error(("datagram %d differs from the original's: got %s seq %s"):format(n, m and m.type or "?",
      m and tostring(m.seq) or "?"))
  end
end
assert(n == 16931, n)
local res = assert(pub:line("result", 20000))
assert(res.messages == 16931 and res.datagrams == 16931 and res.send_failures == 0)
assert(rx:recv(65536, 200) == nil, "a datagram past the original's last")
