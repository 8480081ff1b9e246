-- qsl.gateway: the echo floor's sizes and load from a gateway run, and one real
-- comparison whose bytes match.
local qsl = require "qsl"
local gateway = require "qsl.gateway"

test("echo sizes are the gateway's mean bytes per request, rounded, never 0", function()
  local rq, rp = gateway.echo_sizes({ bytes_in = 3700, bytes_out = 4851 }, 100)
  assert(rq == 37 and rp == 49, rq .. "/" .. rp)
  rq, rp = gateway.echo_sizes({ bytes_in = 1, bytes_out = 1 }, 100)
  assert(rq == 1 and rp == 1)
  assert(not pcall(gateway.echo_sizes, { bytes_in = 0, bytes_out = 5 }, 10))
  local load = { host = "::1", port = 9, connections = 4, depth = 8, requests = 10 }
  local e = gateway.echo_load(load, 37, 49)
  assert(e.pattern == "echo" and e.echo_request == 37 and e.echo_reply == 49 and e.port == nil)
  assert(e.connections == 4 and e.depth == 8 and e.requests == 10 and e.host == "::1")
  assert(load.pattern == nil and load.port == 9, "the gateway's load is left as it was")
end)

test("versus_echo: the echo moves the gateway's bytes, give or take the rounding", function()
  local v = gateway.versus_echo{ mode = "epoll", connections = 4, depth = 4, requests = 4000 }
  assert(v.gateway.completed == 4000 and v.echo.completed == 4000)
  assert(v.ratio > 0 and v.cpu_ratio > 0 and v.gateway.cpu_ns > 0 and v.echo.cpu_ns > 0)
  assert(v.request_bytes >= 16 and v.reply_bytes >= 16, "at least a header each way")
end)

-- issue 23: idle_ms means the same in the role as in the core: 0 is never, in every mode
-- (blocking mode's 5 s bound can be turned off); left out, each mode's own default
test("the gateway role's idle_ms=0 is never, blocking mode included", function()
  local roles = require "qsl.roles"
  for mode, default in pairs{ blocking = 5000, epoll = 0 } do
    local off <close>, r0 = roles.start("gateway", { mode = mode, idle_ms = 0 })
    assert(r0.idle_ms == 0, mode .. ": idle_ms=0 became " .. r0.idle_ms)
    roles.finish(off, { stop = true })
    local def <close>, r1 = roles.start("gateway", { mode = mode })
    assert(r1.idle_ms == default, mode .. ": default " .. r1.idle_ms)
    roles.finish(def, { stop = true })
  end
end)

-- qsl-run client, the original's qsl-client: each reply decoded, the exit by outcome.
test("qsl-run client: Ack and HeartbeatAck printed; a Reject by name, exit 4; no server, 1",
  function()
    local roles = require "qsl.roles"
    local gw <close>, ready = roles.start("gateway", {})
    local function client(...)
      local p <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, "client", ... } })
      local st = assert(p:wait(20000))
      return st.code, p:output(), p:errors()
    end
    local code, out, err = client("port=" .. ready.port)
    assert(code == 0, err)
    assert(out:find("> NewOrder(oid=1,sym=0,buy,px=100,qty=10,limit,gtc)\n< Ack(oid=1,seq=1)\n" ..
                    "> Heartbeat(token=42)\n< HeartbeatAck(token=42)\n", 1, true), out)
    assert(out:find("result pid=%d+ requests=2 answered=2 acks=1 rejects=0"), out)
    code, out, err = client("port=" .. ready.port, "send=new 2 0 sell 100 4; cancel 2 0; cancel 77 5")
    assert(code == 4, err)
    assert(out:find("< Fill(taker=2,maker=1,px=100,qty=4,seq=3)", 1, true), out)
    assert(out:find("< Reject(oid=2,reason=UnknownOrder)", 1, true), out)
    assert(out:find("< Reject(oid=77,reason=UnknownSymbol)", 1, true), out)
    code, _, err = client("port=" .. ready.port, "send=new 1 0 up 100 1")
    assert(code == 1 and err:find("not understood: up", 1, true), err)
    roles.finish(gw, { stop = true })
    code, _, err = client("port=" .. ready.port, "timeout_ms=2000")
    assert(code == 1 and err:find("Connection refused", 1, true), err)
  end)
