-- Every qsl.* function and method called with an empty table, and with the
-- wrong types where a value is expected: each must raise an error (or
-- return nil, message) naming what is wrong - never crash the host.
local qsl = require "qsl"

local function must_fail(what, f, ...)
  local ok, err = pcall(f, ...)
  if ok then return end         -- some calls accept {}; they must simply not crash
  assert(type(err) == "string" or type(err) == "table", what .. ": a non-message error")
end

local function sweep(what, t, self)
  local names = {}
  assert(type(t) == "table", what .. ": methods are not a table")
  for name, f in pairs(t) do
    if type(f) == "function" and name ~= "close" and name ~= "sleep_ms" then names[#names + 1] = name end
  end
  table.sort(names)
  for _, name in ipairs(names) do
    local f = t[name]
    if self then
      must_fail(what .. ":" .. name .. "{}", f, self, {})
      -- recv() and accept() with no timeout wait for ever, as documented
      if name ~= "recv" and name ~= "accept" then must_fail(what .. ":" .. name .. "()", f, self) end
    else
      must_fail(what .. "." .. name .. "{}", f, {})
      must_fail(what .. "." .. name .. "()", f)
    end
  end
  return #names
end

-- the module functions (fail/skip/refuse raise exit errors: pcall catches those too)
local n = 0
for _, m in ipairs{ "wire", "engine", "proc", "procfs", "strace", "sock", "clock", "hist" } do
  n = n + sweep("qsl." .. m, qsl[m])
end
assert(n >= 20, "swept " .. n .. " functions")

-- methods of each kind of handle
local e <close> = qsl.engine.new{ symbols = 2, max_orders = 64 }
sweep("engine", getmetatable(e).__index, e)
local h = qsl.hist.new()
sweep("hist", getmetatable(h).__index, h)
local u <close> = assert(qsl.sock.udp())
sweep("sock", getmetatable(u).__index, u)
local p <close> = assert(qsl.proc.spawn{ argv = { "true" } })
sweep("proc", getmetatable(p).methods, p)

-- the three that crashed qsl-run (SIGSEGV) now name the missing field
local function err_of(f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error")
  return tostring(err)
end
local msg = err_of(e.submit, e, { order_id = 1, symbol = 0, price = 100, quantity = 1 })
assert(msg:find("field 'side': required", 1, true), msg)
msg = err_of(qsl.wire.encode, {})
assert(msg:find("field 'type': required", 1, true), msg)
msg = err_of(qsl.wire.encode, { type = "Reject", order_id = 1 })
assert(msg:find("field 'reason': required", 1, true), msg)
msg = err_of(qsl.wire.encode, { type = "NewOrder", side = "buy", symbol = 0, price = 1, quantity = 1 })
assert(msg:find("field 'order_id': required", 1, true), msg)
msg = err_of(qsl.wire.encode, { type = "Heartbeat", token = "x" })
assert(msg:find("field 'token': expected an integer", 1, true), msg)
msg = err_of(e.submit, e, { order_id = 1, symbol = 0, side = "up", price = 1, quantity = 1 })
assert(msg:find("invalid value 'up' (expected buy|sell)", 1, true), msg)
msg = err_of(e.submit, e, { order_id = 1, symbol = 0, side = "buy", quantity = 1 })
assert(msg:find("field 'price': required", 1, true), msg)
-- a market order needs no price
assert(e:submit{ order_id = 1, symbol = 0, side = "buy", order_type = "market", quantity = 1 })
msg = err_of(e.run_flow, e, { flow = "nope" })
assert(msg:find("invalid value 'nope' (expected original|drift)", 1, true), msg)

-- out-of-range values are argument errors, not silent truncation
msg = err_of(u.setopt, u, "rcvbuf", 1 << 40)
assert(msg:find("out of range", 1, true), msg)
msg = err_of(u.setopt, u, "rcvbuf", -1)
assert(msg:find("out of range", 1, true), msg)
assert(u:setopt("rcvbuf", 4096) >= 4096)
local t <close> = assert(qsl.sock.tcp())
assert(t:bind("127.0.0.1", 0))
msg = err_of(t.listen, t, 1 << 40)
assert(msg:find("out of range", 1, true), msg)
msg = err_of(t.listen, t, 0)
assert(msg:find("out of range", 1, true), msg)
msg = err_of(qsl.proc.spawn, { argv = { "true" }, cpu = 1 << 40 })
assert(msg:find("cpu", 1, true), msg)
msg = err_of(qsl.proc.spawn, { argv = { "true" }, cpu = -2 })
assert(msg:find("cpu", 1, true), msg)
msg = err_of(qsl.proc.spawn, { argv = { "true" }, nofile = 1 << 40 })
assert(msg:find("nofile", 1, true), msg)

-- issue 23: every option table of the Lua library is checked: an unknown key is an error
-- naming it (with did-you-mean), before anything starts
test("an unknown option key to a library function is an error naming it", function()
  local roles, gateway = require "qsl.roles", require "qsl.gateway"
  local feed, net = require "qsl.feed", require "qsl.net"
  local cases = {
    { "roles.start: unknown option ready_timout (did you mean 'ready_timeout'?)",
      roles.start, "flow", {}, { ready_timout = 1 } },
    { "roles.finish: unknown option timout (did you mean 'timeout'?)", roles.finish, {}, { timout = 1 } },
    { "roles.run: unknown option greace (did you mean 'grace'?)", roles.run, "flow", {}, { greace = 1 } },
    { "roles.result: unknown option stop", roles.result, {}, { stop = true } },
    { "gateway.run: unknown option cpu_srever", gateway.run, "gateway", {}, {}, { cpu_srever = 0 } },
    { "gateway.versus_echo: unknown option conections", gateway.versus_echo, { conections = 1 } },
    { "feed.run: unknown option subs (did you mean 'sub'?)", feed.run, { subs = {} } },
    { "feed.fanout: unknown option subscribers", feed.fanout, { subscribers = {} } },
    { "net.pair: unknown option ipv4", net.pair, { ipv4 = true } },
    { "net.star: unknown option ipv4", net.star, 2, { ipv4 = true } },
    { "roles.start: options must be a table, not string", roles.start, "flow", {}, "fast" },
  }
  for _, c in ipairs(cases) do
    local e = error_of(c[2], table.unpack(c, 3))
    assert(e:find(c[1], 1, true), c[1] .. "\n got: " .. e)
  end
end)
