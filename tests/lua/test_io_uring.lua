-- The io_uring modes from qsl-run: the gateway serves the load driver's verified
-- requests, the subscriber's books balance under a burst into a small buffer, and where
-- io_uring is refused (kernel.io_uring_disabled = 2, set for the test and restored) both
-- roles and qsl.io_uring() say why instead of failing.
local qsl = require "qsl"
local roles = require "qsl.roles"

test("mode=io_uring serves verified load, and counts its ring work", function()
  local ok, why = qsl.io_uring()
  if not ok then return skip("io_uring is not available here: " .. why) end
  local gw <close>, ready = roles.start("gateway", { mode = "io_uring" })
  assert(ready.mode == "io_uring")
  local lr = roles.run("load", { port = ready.port, connections = 8, depth = 8, requests = 20000 })
  local gr = roles.finish(gw, { stop = true })
  assert(lr.completed == 20000 and lr.errors == 0)
  assert(gr.frames_in == 20000 + 8, "every request and each connection's final Heartbeat")
  assert(gr.ring_enters > 0 and gr.ring_completions >= gr.connections,
         ("%d enters, %d completions"):format(gr.ring_enters, gr.ring_completions))
  assert(gr.closed == gr.connections)
end)

test("subscribe mode=io_uring: every datagram received or counted as a kernel drop", function()
  if not qsl.io_uring() then return skip("io_uring is not available here") end
  local feed = require "qsl.feed"
  local expected = feed.messages{ seed = 42, orders = 20000, symbols = 3, flow = "original" }
  for _, rcvbuf in ipairs{ 2048, 8 << 20 } do
    local r = feed.run{ sub = { mode = "io_uring", rcvbuf = rcvbuf, expected = expected },
                        pub = { seed = 42, orders = 20000, symbols = 3 } }
    assert(r.ready.mode == "io_uring")
    assert(feed.books(r) == nil, feed.books(r))
    assert(r.sub.malformed == 0 and r.sub.datagrams + r.sub.kernel_drops == r.pub.datagrams)
  end
end)

test("refused by the kernel: the role exits 2 naming the reason", function()
  local knob = "/proc/sys/kernel/io_uring_disabled"
  local was = qsl.procfs.read(knob)
  if not was or not qsl.io_uring() then return skip("no " .. knob .. " or no io_uring to refuse") end
  local function set(v)
    local f = assert(io.open(knob, "w"))
    f:write(v)
    f:close()
  end
  if not pcall(set, "2") then return skip("cannot write " .. knob .. " (not root)") end
  local ok, err = pcall(function()
    local avail, why = qsl.io_uring()
    assert(avail == false and why:find("kernel.io_uring_disabled = 2", 1, true), tostring(why))
    for _, role in ipairs{ "gateway", "subscribe" } do
      local p <close> = assert(qsl.proc.spawn{ role = role, args = { "mode=io_uring" } })
      local st = assert(p:wait(5000))
      assert(st.code == 2, role .. ": exit " .. tostring(st.code))
      assert(p:errors():find("mode=io_uring is not available here", 1, true), p:errors())
    end
    local art = require("qsl.artifact").new{ name = "modes" }
    local modes = roles.modes(art, { "epoll", "io_uring", "blocking" })
    assert(table.concat(modes, ",") == "epoll,blocking", table.concat(modes, ","))
    assert(art.caveats[1]:find("mode io_uring left out: io_uring set-up failed", 1, true))
    local msg = error_of(roles.modes, art, { "io_uring" })
    assert(msg:find("exit=2", 1, true) and msg:find("io_uring left out", 1, true), msg)
  end)
  set(was)
  assert(ok, err)
  assert(qsl.io_uring(), "restored")
end)
