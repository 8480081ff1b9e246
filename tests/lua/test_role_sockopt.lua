-- Socket options on roles: sockopt= is applied, checked and echoed as granted; a bad
-- option is refused naming it; the load driver can split each request in two writes.
local qsl = require "qsl"
local roles = require "qsl.roles"

test("gateway and load take sockopt=, echo what was granted, and still trade", function()
  local gw <close>, ready = roles.start("gateway", { sockopt = "nodelay:0,sndbuf:65536" })
  assert(ready.sockopt:find("nodelay:0", 1, true) and ready.sockopt:find("sndbuf:131072", 1, true),
         ready.sockopt)           -- Linux doubles a buffer request: the granted value is shown
  local ld <close>, lready = roles.start("load", { port = ready.port, connections = 2, depth = 1,
    requests = 400, split = true, sockopt = "nodelay:0" })
  assert(lready.sockopt == "nodelay:0", lready.sockopt)
  local lr = roles.finish(ld, { timeout = 60000 })
  assert(lr.completed == 400 and lr.errors == 0)
  local gr = roles.finish(gw, { stop = true })
  assert(gr.frames_in >= 400)
end)

test("publish and subscribe take sockopt= on their UDP sockets", function()
  local sub <close>, ready = roles.start("subscribe", { sockopt = "rcvbuf:65536", expected = 807 })
  assert(ready.sockopt == "rcvbuf:131072", ready.sockopt)
  local pub <close>, pready = roles.start("publish", { port = ready.port, orders = 1000,
                                                       rate = 20000, sockopt = "priority:1" })
  assert(pready.sockopt == "priority:1", pready.sockopt)
  local pr, sr = roles.finish(pub), roles.finish(sub)
  -- a busy machine may deschedule the subscriber past its 128 KiB: every datagram is still
  -- accounted for, received or dropped by the kernel (loss itself is not under test here)
  assert(pr.messages == 807 and sr.received > 0, ("%d published, %d received"):format(pr.messages,
                                                                                     sr.received))
  assert(sr.datagrams + sr.kernel_drops == pr.datagrams - pr.send_failures,
         ("%d sent, %d received, %d dropped"):format(pr.datagrams, sr.datagrams, sr.kernel_drops))
end)

test("a bad sockopt= is refused, naming it", function()
  for _, case in ipairs{ { "subscribe", "nodelay:1", "applies to TCP sockets only" },
                         { "gateway", "bogus:1", "'bogus': not a settable socket option" },
                         { "gateway", "nodelay", "expected name:value" },
                         { "gateway", "rcvbuf:-5", "must be an integer" } } do
    must_fail_with(case[3], roles.start, case[1], { sockopt = case[2] })
  end
end)
