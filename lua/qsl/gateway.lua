-- qsl.gateway: a server role under the load driver, measured; and the echo floor that
-- answers the same bytes, so a gateway's cost over the kernel's is a ratio from one round.
--   run(server, params, load, {cpu_server=, cpu_load=, server_at=, load_at=, tcp_info=})
--       -> the load's result (every request answered, else an error) with cpu_ns = the
--          server's on-CPU ns per request (schedstat over the load alone); the server's
--          result line; its exit status (wait4's rusage); the delta of its /proc sample
--          over the load (measure.delta), and the sample at the load's end; tcp_info =
--          true or ms: every connection's TCP_INFO records in the load's result (tcp_info)
--          and, for qsl's gateway, in the server's result line's table too. server may be
--          a qsl.target (a server qsl did not write, running): sampled the same way, left
--          running; its result line is {} (its own counters are not ours to read)
--   parse_tcp_info(text), read_tcp_info(path) -> the records of a tcp_info= file (the load's
--       or the gateway's): {{conn=, t_ms=, closing=, rtt_us=, ...}, ...}
--   echo_load(load, request, reply) -> the same load in the echo pattern at those sizes
--   floor(gr, load, opts) -> run(...) of an epoll echo answering the mean bytes per request
--       of the gateway result gr, under the same load (its host, connections, depth,
--       requests) and placement opts: the kernel's floor for that gateway run
--   echo_sizes(gr, requests) -> request, reply: the gateway's mean bytes in and out per
--       request from its result line (bytes_in, bytes_out), rounded to whole bytes
--   versus_echo{mode=, connections=, depth=, requests=, pin=, host=} -> {gateway = load result,
--       echo = load result, request_bytes, reply_bytes, ratio (gateway/echo requests/s),
--       cpu_ratio (gateway/echo CPU per request)}: the gateway in that mode, then an epoll
--       echo server answering its mean bytes per request, under the same connections,
--       depth and number of requests, both at host (default 127.0.0.1; "::1" for IPv6)
local roles = require "qsl.roles"
local M = {}

local PLACE = { "cpu_server", "cpu_load", "server_at", "load_at", "tcp_info" }

-- The load role's tcp_info= file: a record per line, key=value, every value a number.
function M.parse_tcp_info(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do
    local r = {}
    for k, v in line:gmatch("(%S+)=(%S+)") do
      r[k] = math.tointeger(tonumber(v)) or tonumber(v)
      if r[k] == nil then error(("gateway: tcp_info line %d: %s=%s is not a number"):format(
        #out + 1, k, v), 2) end
    end
    if not (r.conn and r.t_ms and r.closing and r.rtt_us) then
      error(("gateway: tcp_info line %d is not a record: %s"):format(#out + 1, line), 2)
    end
    out[#out + 1] = r
  end
  return out
end

function M.read_tcp_info(path)
  local f = assert(io.open(path))
  local records = M.parse_tcp_info(f:read("a"))
  f:close()
  return records
end

function M.run(server, params, load, opts)
  opts = roles.options("gateway.run", opts, PLACE)
  local temp = require("qsl.temp")
  local log <close> = opts.tcp_info and temp() or nil
  -- qsl's gateway keeps its side's records too (an echo or another server has none)
  local slog <close> = opts.tcp_info and server == "gateway" and temp() or nil
  local ms = opts.tcp_info ~= true and opts.tcp_info or nil
  if log then load = roles.merge(load, { tcp_info = log.path, tcp_info_ms = ms }) end
  if slog then params = roles.merge(params, { tcp_info = slog.path, tcp_info_ms = ms }) end
  -- a target (qsl.target) is already running, and stays the caller's
  local target = type(server) == "table" and server or nil
  local function start()
    if target then return nil, { port = target.port, host = target.host } end
    return roles.start(server, params, roles.merge({ cpu = opts.cpu_server }, opts.server_at))
  end
  local srv <close>, ready = start()
  local proc = target or srv
  local before = proc:sample()
  local ok, lr = pcall(roles.run, "load", roles.merge({ timeout_ms = 600000 }, load,
    { port = ready.port, host = ready.host }), roles.merge({ cpu = opts.cpu_load, timeout = 600000 }, opts.load_at))
  if not ok then
    -- a target that died or stopped answering says why in its own output, not the load's
    error(target and ("%s; %s"):format(lr, target:state()) or lr, 0)
  end
  if log then lr.tcp_info = M.read_tcp_info(log.path) end
  local during = proc:sample()
  local d = require("qsl.measure").delta(before, during)
  lr.cpu_ns = d.cpu_ns / lr.completed
  local sr, st = {}, nil
  if srv then sr, st = roles.finish(srv, { stop = true }) end
  if slog then sr.tcp_info = M.read_tcp_info(slog.path) end
  assert(lr.completed == load.requests, ("%d of %d answered"):format(lr.completed, load.requests))
  return lr, sr, st, d, during
end

-- What TCP itself saw in a gateway trial (TCP_INFO of every connection as it closed): the
-- segments both ends retransmitted, and the smoothed rtt of the load's connections.
function M.tcp(lr, sr)
  -- a target's result line is {}: its side is absent, the load's is still there
  return { retrans = lr.tcp_retrans + (sr.tcp_retrans or 0), tcp_rtt_p50_us = lr.tcp_rtt_p50_us,
           tcp_rtt_max_us = math.max(lr.tcp_rtt_max_us, sr.tcp_rtt_max_us or 0) }
end

function M.echo_load(load, request, reply)
  local out = roles.merge(load, { pattern = "echo", echo_request = request, echo_reply = reply })
  out.port = nil
  return out
end

function M.echo_sizes(gr, requests)
  assert(requests > 0 and gr.bytes_in > 0 and gr.bytes_out > 0, "the gateway moved no bytes")
  return math.max(1, math.floor(gr.bytes_in / requests + 0.5)),
         math.max(1, math.floor(gr.bytes_out / requests + 0.5))
end

function M.floor(gr, load, opts)
  local request, reply = M.echo_sizes(gr, load.requests)
  local echo = { mode = "epoll", request = request, reply = reply, bind = load.host,
                 max_conns = math.max(load.connections or 1, 16) }
  local lr = M.run("echo", echo, M.echo_load(load, request, reply), opts)
  return lr, request, reply
end

function M.versus_echo(o)
  roles.options("gateway.versus_echo", o, { "mode", "connections", "depth", "requests", "pin",
                                            "host" })
  local cpu = o.pin and { cpu_server = 0, cpu_load = 1 } or {}
  local load = { connections = o.connections, depth = o.depth, requests = o.requests,
                 host = o.host }
  local gw, gr = M.run("gateway", { mode = o.mode, max_conns = math.max(o.connections, 16),
                                    bind = o.host }, load, cpu)
  local echo, request, reply = M.floor(gr, load, cpu)
  return { gateway = gw, echo = echo, request_bytes = request, reply_bytes = reply,
           ratio = gw.throughput / echo.throughput, cpu_ratio = gw.cpu_ns / echo.cpu_ns }
end

return M
