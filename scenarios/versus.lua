-- Servers side by side: qsl's gateway in its modes, any server that speaks the protocol
-- (targets=), and an echo answering the same bytes, under the same load in the same rounds
--
-- Every round runs every server once, in the same order, with the same load (connections,
-- depth, requests, every reply verified): throughput, latency percentiles and on-CPU ns per
-- request from the server's /proc over the load alone. A target is one process for the
-- whole run, checked before the first round to answer the protocol (refused, exit 3, if
-- not). The echo (an epoll echo answering the first gateway's mean request and reply bytes
-- in that round) is the kernel's floor for those bytes. Ratios are to the first server's
-- median.
local qsl = require "qsl"
local roles = qsl.roles

local s = qsl.scenario.new{
  name = "versus",
  quick = "modes=epoll,blocking requests=3000 trials=1 connections=1",
  params = {
    { "modes", "enum_list", { "epoll", "io_uring" }, "qsl's gateway in these modes (the " ..
      "first: the base of the ratios)", values = { "epoll", "io_uring", "blocking" } },
    { "targets", "string", "", "servers qsl did not write: command lines with {port} (and " ..
      "{host}), ';' between them" },
    { "echo", "boolean", true, "an epoll echo answering the first gateway's bytes: the floor" },
    roles.params("load", "connections", { default = 4 }, "depth", { default = 8 },
                 "requests", { default = 100000 }),
    { "trials", "integer", 3, "rounds, every server once in each", min = 1, max = 100 },
  },
}
local p = s:parse(arg)
local art = s:artifact{ title = "Servers side by side under the same load (loopback)" }
local modes = roles.modes(art, p.modes)

-- every server, in the order they run (and the first is the base)
local servers, targets = {}, {}
for _, m in ipairs(modes) do servers[#servers + 1] = { name = "gateway " .. m, mode = m } end
local n = 0
for command in p.targets:gmatch("[^;]+") do
  if command:find("%S") then
    n = n + 1
    local t = qsl.target.start({ target = command:match("^%s*(.-)%s*$"), connect = "", pid = 0,
                                 serial = false }, "127.0.0.1")
    targets[#targets + 1] = t
    servers[#servers + 1] = { name = ("target %d"):format(n), target = t, command = command }
  end
end
if p.echo then servers[#servers + 1] = { name = "echo", echo = true } end
local names, by_name = {}, {}
for i, sv in ipairs(servers) do names[i], by_name[sv.name] = sv.name, sv end

local load = { connections = p.connections, depth = p.depth, requests = p.requests }
local last_gateway = {}           -- per round: the first gateway's result, for the echo's bytes
local rows = s:grid(p.trials, names, function(name)
  local sv, lr, gr = by_name[name], nil, nil
  if sv.echo then
    lr = qsl.gateway.floor(assert(last_gateway.gr, "no gateway ran before the echo"), load)
  else
    lr, gr = qsl.gateway.run(sv.target or "gateway", sv.mode and { mode = sv.mode,
      max_conns = math.max(p.connections, 16) } or {}, load)
    if sv == servers[1] then last_gateway.gr = gr end
  end
  return { server = sv.name, throughput = lr.throughput, p50_us = lr.p50_ns / 1e3,
           p99_us = lr.p99_ns / 1e3, p999_us = lr.p999_ns / 1e3, cpu_ns = lr.cpu_ns }
end)

local cells = art:spread{ rows = rows, by = "server", format = "%.1f", main = true,
  title = ("Per server: %d requests, %d connection(s) x depth %d"):format(p.requests,
    p.connections, p.depth), fields = { "throughput %.0f", "p50_us", "p99_us", "cpu_ns %.0f" } }
local base = cells[1]
local ratios = {}
for _, c in ipairs(cells) do
  ratios[#ratios + 1] = { server = c.server,
    throughput_ratio = c.throughput_median / base.throughput_median,
    p99_ratio = c.p99_us_median / base.p99_us_median,
    cpu_ratio = c.cpu_ns_median / base.cpu_ns_median }
end
art:table{ title = ("Medians against %s's"):format(base.server), rows = ratios, main = true,
           key = "server", columns = { "server", "throughput_ratio %.3f", "p99_ratio %.3f",
                                       "cpu_ratio %.3f" } }
art:table{ title = "Every run", rows = rows, columns = { "server", "trial", "throughput %.0f",
  "p50_us %.1f", "p99_us %.1f", "p999_us %.1f", "cpu_ns %.0f" },
  note = "cpu_ns: the server's on-CPU ns per request over the load alone (schedstat)" }
local named = {}
for _, sv in ipairs(servers) do
  local what = sv.command or sv.mode and ("qsl-run gateway mode=" .. sv.mode) or
               "qsl-run echo mode=epoll (the first gateway's bytes)"
  named[#named + 1] = { server = sv.name, what = what }
end
art:table{ title = "The servers", rows = named, key = "server", columns = { "server", "what" } }
art:set{ servers = named, runs = rows, cells = cells, ratios = ratios }
art:caveat(("loopback: load driver and servers share %d CPUs"):format(art.cpus_online()))
art:caveat("every round runs every server once, in the same order: a drift of the machine " ..
           "falls on all of them alike")
if #targets > 0 then
  art:caveat("targets are one process each for the whole run, checked first to answer the " ..
             "protocol (qsl-run client); qsl's gateways are a fresh process each run")
end
for _, t in ipairs(targets) do qsl.target.report(art, t) end
art:write()
