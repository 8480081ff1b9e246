-- qsl.net: two hosts of their own on one machine, joined by a link whose queue can be
-- shaped and read.
--
-- A host is a network namespace held by a process of its own (roles.netns). The link is
-- a veth pair made inside the first host with its peer created directly in the second:
-- no end ever exists in this machine's namespace, there is no route out of either host,
-- and when the holders end (close, an error, Ctrl-C, a kill of qsl-run: they die with
-- it) the namespaces and the link go with them. Nothing is left behind and two runs never
-- collide, whatever names and addresses they use. Without the privilege for namespaces
-- the run is skipped (exit 2) with the reason.
--   pair{ ipv6 = true } -> a to-be-closed pair with .a and .b, each a host:
--       { pid, ifname, mac, addr (IPv4), addr6 (when ipv6), at = { netns_of = pid } }
--       (roles.start(role, params, host.at) runs a role on that host). The IPv4
--       neighbours are static, and without ipv6 IPv6 is off on the link: its queue then
--       carries the experiment's packets alone (with ipv6, its neighbour discovery and
--       listener reports share the queue).
--   pair:qdisc(host, kind, params) -> sets the root queueing discipline of host's end:
--       "tbf" {rate=, burst=, limit=} (bytes/s, bytes, bytes), "pfifo" {limit=} (packets),
--       "bfifo" {limit=} (bytes); raises naming what the kernel refused (a missing module)
--   pair:stats(host) -> { kind, bytes, packets, drops, overlimits, requeues, backlog, qlen }
--   pair:loss(host, fraction) -> drops that fraction (0..1, in steps of 1/10000) of the UDP
--       datagrams arriving at host, at random, before any socket sees them (an nftables
--       rule on the input hook: silent, as loss on a wire is; the sender sees nothing)
--   pair:lost(host) -> datagrams the loss rule has dropped (its counter)
--   parse_stats(json) -> the same, from `tc -s -j qdisc show dev X` output
--   run(host, argv) -> runs a command inside host; raises with its stderr when it fails
local qsl = require "qsl"
local M = {}
local Pair = {}
Pair.__index = Pair

function M.run(host, argv)
  local p <close>, err = qsl.proc.spawn{ argv = argv, netns_of = host.pid }
  if not p then error(("net: %s: %s"):format(argv[1], err), 2) end
  local st = assert(p:wait(10000))
  if st.code ~= 0 then
    error(("net: %s failed (exit %s): %s"):format(table.concat(argv, " "), tostring(st.code),
                                                  p:errors()), 2)
  end
  return p:output()
end

-- The root qdisc's counters from tc's JSON; numbers only, a missing field an error.
function M.parse_stats(json)
  local ok, list = pcall(require("cjson").decode, json)
  if not ok or type(list) ~= "table" then error("net: tc printed no JSON: " .. json, 2) end
  for _, q in ipairs(list) do
    if q.root then
      local out = { kind = q.kind }
      for _, k in ipairs{ "bytes", "packets", "drops", "overlimits", "requeues", "backlog",
                          "qlen" } do
        local v = type(q[k]) == "number" and math.tointeger(q[k])    -- cjson gives floats
        if not v or v < 0 then
          error(("net: tc's %s qdisc has no count %s: %s"):format(q.kind, k, json), 2)
        end
        out[k] = v
      end
      return out
    end
  end
  error("net: no root qdisc in tc's output: " .. json, 2)
end

local function close_pair(self)
  for _, h in ipairs{ self.b, self.a } do
    if h.holder and h.holder:running() then h.holder:stop(1000) end
  end
end
Pair.__close, Pair.__gc = close_pair, close_pair

function M.pair(opts)
  opts = opts or {}
  local roles = require "qsl.roles"
  if not roles.isolated() then qsl.skip("net.pair: no privilege for network namespaces") end
  local self = setmetatable({}, Pair)
  local ok, err = pcall(function()
    for _, side in ipairs{ "a", "b" } do
      local holder = roles.netns()
      self[side] = { holder = holder, pid = holder.pid, at = { netns_of = holder.pid },
                     ifname = "q" .. side, addr = side == "a" and "10.77.0.1" or "10.77.0.2",
                     addr6 = opts.ipv6 and (side == "a" and "fd77::1" or "fd77::2") or nil }
    end
    M.run(self.a, { "ip", "link", "add", "qa", "type", "veth", "peer", "name", "qb", "netns",
                    tostring(self.b.pid) })
    for _, h in ipairs{ self.a, self.b } do
      if not h.addr6 then   -- no IPv6 at all: no neighbour or listener reports on the link
        M.run(h, { "sysctl", "-qw", ("net.ipv6.conf.%s.disable_ipv6=1"):format(h.ifname) })
      end
      M.run(h, { "ip", "addr", "add", h.addr .. "/30", "dev", h.ifname })
      if h.addr6 then   -- nodad: usable at once, no duplicate-address wait
        M.run(h, { "ip", "-6", "addr", "add", h.addr6 .. "/64", "dev", h.ifname, "nodad" })
      end
      M.run(h, { "ip", "link", "set", h.ifname, "up" })
      local link = require("cjson").decode(M.run(h, { "ip", "-j", "link", "show", h.ifname }))
      h.mac = link[1].address
    end
    -- each end knows the other's address: no ARP on the link, so with IPv6 off the
    -- queue carries the experiment's packets and nothing else
    for _, h in ipairs{ { self.a, self.b }, { self.b, self.a } } do
      for _, addr in ipairs{ h[2].addr, h[2].addr6 } do   -- IPv6 too: no datagram waits
        M.run(h[1], { "ip", "neigh", "replace", addr, "lladdr", h[2].mac, "dev",  -- for ND
                      h[1].ifname, "nud", "permanent" })
      end
    end
  end)
  if not ok then
    close_pair(self)
    error(err, 2)
  end
  return self
end

function Pair:qdisc(host, kind, params)
  params = params or {}
  local argv = { "tc", "qdisc", "replace", "dev", host.ifname, "root", kind }
  local allowed = { tbf = { "rate", "burst", "limit" }, pfifo = { "limit" },
                    bfifo = { "limit" } }
  if not allowed[kind] then error("net: qdisc kind must be tbf, pfifo or bfifo", 2) end
  for _, k in ipairs(allowed[kind]) do
    local v = params[k]
    if math.type(v) ~= "integer" or v <= 0 then
      error(("net: %s needs %s, a positive integer"):format(kind, k), 2)
    end
    argv[#argv + 1] = k
    argv[#argv + 1] = k == "rate" and (v .. "bps") or tostring(v)   -- tc: bps = bytes/s
  end
  M.run(host, argv)
end

function Pair:loss(host, fraction)
  if type(fraction) ~= "number" or fraction < 0 or fraction > 1 then
    error("net: loss must be a fraction from 0 to 1", 2)
  end
  M.run(host, { "nft", "add", "table", "inet", "qsl" })
  M.run(host, { "nft", "add", "chain", "inet", "qsl", "input",
                "{ type filter hook input priority 0 ; }" })
  M.run(host, { "nft", "add", "rule", "inet", "qsl", "input", "meta", "l4proto", "udp",
                "numgen", "random", "mod", "10000", "lt",
                tostring(math.floor(fraction * 10000 + 0.5)), "counter", "drop" })
end

-- The loss rule's counter from `nft -j list chain inet qsl input`.
function M.parse_lost(json)
  local ok, doc = pcall(require("cjson").decode, json)
  for _, item in ipairs(ok and type(doc) == "table" and doc.nftables or {}) do
    for _, e in ipairs(item.rule and item.rule.expr or {}) do
      local n = e.counter and math.tointeger(e.counter.packets)
      if n then return n end
    end
  end
  error("net: no loss rule counter in nft's output: " .. json, 2)
end

function Pair:lost(host)
  return M.parse_lost(M.run(host, { "nft", "-j", "list", "chain", "inet", "qsl", "input" }))
end

function Pair:stats(host)
  return M.parse_stats(M.run(host, { "tc", "-s", "-j", "qdisc", "show", "dev", host.ifname }))
end

return M
