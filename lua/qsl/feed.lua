-- qsl.feed: the building blocks of the feed experiments (rcvbuf_burst,
-- rcvbuf_sweep, feed_throughput).
--   messages{seed=, orders=, symbols=, flow=} -> what the publisher will send:
--       the same flow through the same engine, run in-process
--   run{sub={subscribe params}, pub={publish params}, path=, timeout=}
--       -> {ready = the subscriber's ready line, pub = publish result, sub = subscribe result,
--           net = the network counters' delta over the trial (measure.net), isolated}
--       a subscriber started first (its ready line gives the port), then the publisher;
--       both finished, every field checked against the roles' declarations. Both run in a
--       network namespace of the trial's own where one can be made (isolated = true), so
--       net counts this trial's datagrams alone; else in ours, with the machine's traffic.
--       path = "veth": on two hosts of their own joined by a veth link (qsl.net.pair; net
--       is then the subscriber's host's)
--   books(r) -> nil when the counts balance, else what does not:
--       datagrams sent = received + kernel drops + send failures (SO_MEMINFO sees every
--       drop on the socket, tail drops included), received + interior gaps + tail loss =
--       published, nothing malformed or duplicated, and (isolated) the namespace's Udp
--       RcvbufErrors equal to the kernel drops
--   can_force() -> whether SO_RCVBUFFORCE works here (CAP_NET_ADMIN); false, why, errno
--   need_force() -> skips the run (exit 2) without CAP_NET_ADMIN, which SO_RCVBUFFORCE needs
--   size_label(bytes) -> "2 KiB", "8 MiB", "OS default" (0)
local qsl = require "qsl"
local roles = require "qsl.roles"
local measure = require "qsl.measure"
local M = {}

function M.messages(o)
  local e <close> = qsl.engine.new{ symbols = o.symbols }
  local st = e:run_flow{ seed = o.seed, orders = o.orders, flow = o.flow }
  return st.trades + st.top_of_book
end

function M.run(o)
  -- path = "veth": publisher and subscriber on two hosts of their own (qsl.net), the
  -- subscriber bound to its host's address; else one namespace of the trial's own
  local pair <close> = o.path == "veth" and require("qsl.net").pair() or nil
  local ns <close> = not pair and roles.netns() or nil
  local counted = pair and pair.b.pid or (ns and ns.pid)
  local sub_at = pair and pair.b.at or (ns and { netns_of = ns.pid })
  local sub_params, pub_params = {}, {}
  for k, v in pairs(o.sub) do sub_params[k] = v end
  for k, v in pairs(o.pub) do pub_params[k] = v end
  sub_params.bind, pub_params.host = pair and pair.b.addr, pair and pair.b.addr
  local before = measure.net(counted)
  local sub <close>, ready = roles.start("subscribe", sub_params, sub_at)
  pub_params.port = ready.port
  local pub <close> = roles.start("publish", pub_params, pair and pair.a.at or sub_at)
  local pr = roles.finish(pub, { timeout = o.timeout or 120000 })
  local sr = roles.finish(sub, { timeout = o.timeout or 120000 })
  local net = measure.delta(before, measure.net(counted))
  return { ready = ready, pub = pr, sub = sr, net = net, isolated = counted ~= nil }
end

function M.books(r)
  local pr, sr = r.pub, r.sub
  if pr.datagrams ~= sr.datagrams + sr.kernel_drops + pr.send_failures then
    return ("datagrams sent %d ~= received %d + kernel drops %d + send failures %d"):format(
      pr.datagrams, sr.datagrams, sr.kernel_drops, pr.send_failures)
  end
  if sr.received + sr.interior_gaps + sr.tail_loss ~= pr.messages then
    return ("received %d + gaps %d + tail %d ~= published %d"):format(sr.received,
      sr.interior_gaps, sr.tail_loss, pr.messages)
  end
  -- isolated, the namespace's UDP counters see this subscriber's socket alone (IPv4: an
  -- IPv6 trial counts in snmp6, not read here, and leaves Udp at zero)
  local udp = r.isolated and r.net and r.net.Udp
  if udp and udp.InDatagrams + udp.RcvbufErrors > 0 and udp.RcvbufErrors ~= sr.kernel_drops then
    return ("kernel drops %d (SO_MEMINFO) ~= the trial's Udp RcvbufErrors %d"):format(
      sr.kernel_drops, udp.RcvbufErrors)
  end
  if sr.malformed + sr.duplicates > 0 then
    return ("%d malformed datagrams, %d duplicates"):format(sr.malformed, sr.duplicates)
  end
  return nil
end

function M.can_force()
  local probe <close> = assert(qsl.sock.udp())
  local ok, err, code = probe:setopt("rcvbufforce", 4096)
  return ok ~= nil, err, code
end

function M.need_force()
  local ok, err, code = M.can_force()
  if ok then return end
  if code == 1 then qsl.skip("force=true needs CAP_NET_ADMIN (SO_RCVBUFFORCE: " .. err .. ")") end
  qsl.fail("force=true: " .. err)
end

function M.size_label(n)
  if n == 0 then return "OS default" end
  if n >= 1 << 20 and n % (1 << 20) == 0 then return ("%d MiB"):format(n >> 20) end
  if n >= 1024 and n % 1024 == 0 then return ("%d KiB"):format(n >> 10) end
  return tostring(n) .. " B"
end

return M
