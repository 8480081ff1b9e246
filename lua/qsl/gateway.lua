-- qsl.gateway: a server role under the load driver, measured; and the echo floor that
-- answers the same bytes, so a gateway's cost over the kernel's is a ratio from one round.
--   run(server, params, load, {cpu_server=, cpu_load=, server_at=, load_at=})
--       -> the load's result (every request answered, else an error) with cpu_ns = the
--          server's on-CPU ns per request (schedstat over the load alone), and the
--          server's own result line
--   echo_sizes(gr, requests) -> request, reply: the gateway's mean bytes in and out per
--       request from its result line (bytes_in, bytes_out), rounded to whole bytes
--   versus_echo{mode=, connections=, depth=, requests=, pin=} -> {gateway = load result,
--       echo = load result, request_bytes, reply_bytes, ratio (gateway/echo requests/s),
--       cpu_ratio (gateway/echo CPU per request)}: the gateway in that mode, then an epoll
--       echo server answering its mean bytes per request, under the same connections,
--       depth and number of requests
local roles = require "qsl.roles"
local M = {}

function M.run(server, params, load, opts)
  opts = opts or {}
  local place = function(at, cpu)
    local o = { cpu = cpu, timeout = 600000 }
    for k, v in pairs(at or {}) do o[k] = v end
    return o
  end
  local srv <close>, ready = roles.start(server, params, place(opts.server_at, opts.cpu_server))
  load.port, load.timeout_ms = ready.port, load.timeout_ms or 600000
  local before = srv:sample()
  local lr = roles.run("load", load, place(opts.load_at, opts.cpu_load))
  lr.cpu_ns = (srv:sample().cpu_ns - before.cpu_ns) / lr.completed
  local sr = roles.finish(srv, { stop = true })
  assert(lr.completed == load.requests, ("%d of %d answered"):format(lr.completed, load.requests))
  return lr, sr
end

function M.echo_sizes(gr, requests)
  assert(requests > 0 and gr.bytes_in > 0 and gr.bytes_out > 0, "the gateway moved no bytes")
  return math.max(1, math.floor(gr.bytes_in / requests + 0.5)),
         math.max(1, math.floor(gr.bytes_out / requests + 0.5))
end

function M.versus_echo(o)
  local cpu = o.pin and { cpu_server = 0, cpu_load = 1 } or {}
  local load = { connections = o.connections, depth = o.depth, requests = o.requests }
  local gw, gr = M.run("gateway", { mode = o.mode, max_conns = math.max(o.connections, 16) },
                       load, cpu)
  local request, reply = M.echo_sizes(gr, o.requests)
  local echo = M.run("echo", { mode = "epoll", request = request, reply = reply,
                               max_conns = math.max(o.connections, 16) },
                     { connections = o.connections, depth = o.depth, requests = o.requests,
                       pattern = "echo", echo_request = request, echo_reply = reply }, cpu)
  return { gateway = gw, echo = echo, request_bytes = request, reply_bytes = reply,
           ratio = gw.throughput / echo.throughput, cpu_ratio = gw.cpu_ns / echo.cpu_ns }
end

return M
