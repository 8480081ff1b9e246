-- Roles on another machine over OpenSSH, tested for real on this one: an sshd made for the
-- test in host b of a pair (its own host key, client key and known_hosts), reached from
-- host a over the pair's management link. Skipped with the reason where namespaces, sshd
-- or ssh are missing.
local qsl = require "qsl"
local net, roles, feed = qsl.net, qsl.roles, qsl.feed

local function netns_of(pid)
  local h = io.popen("readlink /proc/" .. pid .. "/ns/net 2>/dev/null")
  local ns = h:read("l")
  h:close()
  return ns
end

local function gone(pid)
  return qsl.measure.poll(5000, function() return qsl.procfs.stat(pid) == nil end)
end

-- Every test gets a pair with a management link and an sshd on b, or is skipped.
local function with_sshd(fn)
  return function()
    if not roles.isolated() then return skip("no privilege for network namespaces") end
    local ok, err = pcall(function()
      local pair <close> = net.pair{ management = true }
      local d <close> = net.sshd(pair)
      fn(pair, d)
    end)
    if not ok and type(err) == "table" and err.exit == 2 then return skip(tostring(err.reason)) end
    if not ok then error(err, 0) end
  end
end

test("a subscriber on host b over ssh: its lines come back, its pid and port are b's",
  with_sshd(function(pair, d)
    local expected = feed.messages{ seed = 42, orders = 2000, symbols = 3 }
    local sub <close>, ready = roles.start("subscribe", { bind = pair.b.addr, idle_ms = 300,
      rcvbuf = 8 << 20, expected = expected }, d.at)
    assert(ready.pid ~= sub.pid, "the ready line's pid is the remote role's, not ssh's")
    assert(netns_of(ready.pid) == netns_of(pair.b.pid), "the role runs on host b")
    local pr = roles.run("publish", { host = pair.b.addr, port = ready.port, orders = 2000 },
                         pair.a.at)
    local sr = roles.finish(sub)
    assert(feed.books{ pub = pr, sub = sr } == nil, feed.books{ pub = pr, sub = sr })
    assert(sr.datagrams > 0 and sr.datagrams + sr.kernel_drops == pr.datagrams)
    assert(gone(ready.pid), "the remote role outlived its result")
    local ok, err = pcall(sub.sample, sub)
    assert(not ok and err:find("cannot be sampled here", 1, true), err)
  end))

test("a remote server is stopped by closing its input, and reports on the way out",
  with_sshd(function(pair, d)
    local gw <close>, ready = roles.start("gateway", { bind = pair.b.addr }, d.at)
    local res = roles.finish(gw, { stop = true })
    assert(res.connections == 0 and res.closed == 0)
    assert(gone(ready.pid), "the remote gateway outlived its stop")
  end))

test("a dropped connection never leaves the remote role running",
  with_sshd(function(pair, d)
    local gw <close>, ready = roles.start("gateway", { bind = pair.b.addr }, d.at)
    assert(qsl.procfs.stat(ready.pid), "the remote gateway runs")
    gw:signal("KILL")               -- the ssh client dies: sshd closes the session
    assert(gone(ready.pid), "the remote gateway " .. ready.pid .. " outlived its connection")
  end))

test("a remote qsl-run of another build, or none, is refused before anything starts",
  with_sshd(function(pair, d)
    local fake = scratch() .. "/qsl-run"
    local f = assert(io.open(fake, "w"))
    f:write("#!/bin/sh\necho 'qsl-run 0.0.1 (commit 0123456789ab; Lua 5.4; C compiler x; flags -O2)'\n")
    f:close()
    os.execute("chmod 755 " .. fake)
    local at = setmetatable({ qsl_run = fake }, { __index = d.at })
    local ok, err = pcall(roles.start, "subscribe", { bind = pair.b.addr }, at)
    assert(not ok and err:find("has qsl-run 0.0.1 (commit 0123456789ab)", 1, true), err)
    assert(err:find("install the same build there", 1, true), err)
    at.qsl_run = "/nonexistent/qsl-run"
    ok, err = pcall(roles.start, "subscribe", { bind = pair.b.addr }, at)
    assert(not ok and err:find("gave no version (exit 127)", 1, true), err)
  end))

test("parameters reach the remote role as words, never as shell",
  with_sshd(function(pair, d)
    local witness = scratch() .. "/ran"
    local ok, err = pcall(roles.start, "subscribe", { bind = pair.b.addr,
      sockopt = "x'; touch " .. witness .. "; echo '$(touch " .. witness .. ")" }, d.at)
    assert(not ok and err:find("sockopt", 1, true), err)
    assert(not io.open(witness), "a parameter was run by the remote shell")
  end))

test("ssh placement refuses local-only options, and a target that is not one", function()
  local ok, err = pcall(roles.start, "subscribe", {}, { ssh = "nobody@127.0.0.1", cpu = 0 })
  assert(not ok and err:find("are local; not with ssh", 1, true), err)
  for _, bad in ipairs{ "-oProxyCommand=touch /tmp/x", "a b@c", "", "x\n@y" } do
    ok, err = pcall(roles.start, "subscribe", {}, { ssh = bad })
    assert(not ok and err:find("ssh= must be user@machine", 1, true), err)
  end
end)

test("a role told QSL_STOP_ON_EOF=1 ends, with its result, when its input ends", function()
  local p <close> = assert(qsl.proc.spawn{ role = "subscribe", args = { "idle_ms=600000" },
                                           env = { QSL_STOP_ON_EOF = "1" }, stdin = "pipe" })
  assert(p:ready(5000))
  p:close_stdin()
  local res = assert(p:line("result", 5000))
  assert(res.ended_by == "stop", res.ended_by)
  local st = assert(p:wait(5000))
  assert(st.exited and st.code == 0)
  local ok, err = pcall(qsl.proc.spawn, { argv = { "true" }, stdin = "tty" })
  assert(not ok and err:find('stdin must be "pipe"', 1, true), err)
end)

-- A run that is interrupted (Ctrl-C) or fails with hosts, an sshd and a remote role up:
-- nothing of them is left on this machine afterwards.
local LEFT_UP = [[
local qsl = require "qsl"
local pair <close> = qsl.net.pair{ management = true }
local d <close> = qsl.net.sshd(pair)
local gw <close>, ready = qsl.roles.start("gateway", { bind = pair.b.addr }, d.at)
io.write(("ready a=%d b=%d sshd=%d gw=%d dir=%s\n"):format(pair.a.pid, pair.b.pid,
  d.proc.pid, ready.pid, d.dir))
io.flush()
if arg[1] == "fail" then error("a trial failed") end
qsl.clock.sleep_ms(60000)
]]

-- issue 21.13: a SIGKILL (nothing runs in qsl-run then) leaves no key either: the keys
-- live in the run's directory, which a watcher removes when qsl-run is gone
for how, label in pairs{ interrupt = "an interrupted", fail = "a failed", kill = "a killed" } do
  test(label .. " run leaves no host, link, sshd, key or remote role behind", function()
    if not roles.isolated() then return end
    local script = scratch() .. "/left_up.lua"
    local f = assert(io.open(script, "w"))
    f:write(LEFT_UP)
    f:close()
    local p <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, script, how } })
    local up, err = p:ready(20000)
    if not up then
      local st = p:wait(5000)
      if st and st.code == 2 then return end       -- skipped: no sshd here
      error("the script never came up: " .. tostring(err))
    end
    if how == "interrupt" then p:signal("INT") end
    if how == "kill" then p:signal("KILL") end
    local st = assert(p:wait(20000))
    assert(st.signal_name == "KILL" or (st.exited and st.code ~= 0), "the run ended badly, as it should")
    for _, k in ipairs{ "a", "b", "sshd", "gw" } do
      assert(gone(up[k]), ("%s (pid %d) outlived the run"):format(k, up[k]))
    end
    assert(qsl.measure.poll(5000, function() return not io.open(up.dir) end),
           "the key directory " .. up.dir .. " was left")
    local dev = assert(io.open("/proc/net/dev")):read("a")
    assert(not dev:find("q[m]?[ab]:"), "a link end appeared in this namespace")
  end)
end
