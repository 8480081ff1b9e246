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
--   pair{ ipv6 = true, management = true, cpus = {a = {0}, b = {1}}, mtu = 1280,
--       offload = "gso:off,gro:off" } -> a to-be-closed pair with .a and .b, each a host:
--       { pid, ifname, mac, addr (IPv4), addr6 (when ipv6), at = { netns_of = pid, cpus },
--       cpus, maddr (with management) }; cpus pins every role started at the host to those
--       CPUs (each must exist here, else an error); mtu and offload (gso, gro, tso :on/:off,
--       via ethtool) apply to both ends; .state = {a, b}: each end's mtu and offloads read
--       back; links_seen() every distinct state of this run (artifacts' provenance.links)
--       management: a second link (10.77.1.1 - 10.77.1.2) for control traffic such as ssh,
--       so the experiment's link carries the experiment's packets alone, as a separate
--       management network does between real machines
--       (roles.start(role, params, host.at) runs a role on that host). The neighbours
--       are static, and the link carries the experiment's packets alone: without ipv6,
--       IPv6 is off on it; with ipv6 its ends are NOARP (no solicited-node group, so no
--       listener report; no duplicate address detection) and send no router
--       solicitation (a group a role joins is still reported, as it must be).
--   pair:qdisc(host, kind, params, [child]) -> sets the root queueing discipline of host's
--       end: "tbf" {rate=, burst=, limit=} (bytes/s, bytes, bytes), "htb" {rate=, ceil=}
--       (bytes/s: one class takes every packet), "pfifo" {limit=} (packets), "bfifo"
--       {limit=} (bytes); child {kind = "pfifo"|"bfifo", params} under a tbf or htb;
--       raises naming what the kernel refused (a missing module). pair:shape(host, link)
--       the same from a parsed spec
--   parse_link(spec) -> {kind, params, child} from a scenario's `link=` text, "none" -> nil:
--       "tbf:rate=2000000,burst=4000,limit=8000", "htb:rate=1000000,ceil=2000000",
--       "pfifo:limit=100", "bfifo:limit=65536", a tbf or htb with "/pfifo:limit=10" under
--       it; nil, why for anything else (netem, fq, codel: absent from this kernel, said so);
--       link_param(spec, path, [name]) fails the run (exit 1) saying why, or when a link is
--       given without path=veth; params.path, params.link and params.link_back declare
--       `path=`, `link=` (a to b) and `link_back=` (b to a)
--   hosts(path, link, [link_back], [pair options]) -> a to-be-closed {a, b}: 127.0.0.1 here
--       for "loopback", else a pair with link's queue on a's end and link_back's on b's;
--       params.mtu and params.offload declare `mtu=` and `offload=`, link_opts(p) the
--       pair options they give (and ipv6 with params.ipv6, `ipv6=`); addr(host, ipv6) the
--       address a role uses there (::1 on loopback, addr6 on a pair with ipv6);
--       at(host, opts) -> opts plus host's placement
--   pair:stats(host) -> { kind, bytes, packets, drops, overlimits, requeues, backlog, qlen }
--       of the root qdisc of host's end, with .qdiscs (every qdisc there, children too) and
--       .link (the device's stats64)
--   pair:loss(host, fraction) -> drops that fraction (0..1, in steps of 1/10000) of the UDP
--       datagrams arriving at host, at random, before any socket sees them (an nftables
--       rule on the input hook: silent, as loss on a wire is; the sender sees nothing)
--   pair:lost(host) -> datagrams the loss rule has dropped (its counter)
--   pair:dup(host, fraction) -> that fraction of the UDP datagrams host sends leave twice
--       (nft dup to the peer through the same device, chosen by numgen; the copy is
--       untracked and not copied again); pair:duplicated(host) -> the copies made
--   parse_stats(json) -> the same, from `tc -s -j qdisc show dev X` output; parse_qdiscs(json)
--       every qdisc of it, root first ({kind, handle, parent, root, counts});
--       parse_link_stats(json) a device's stats64 from `ip -s -j link show dev X`
--       (rx_/tx_ bytes, packets, errors, dropped); stats_delta(before, after): two
--       pair:stats samples as counts over the trial (backlog, qlen: at its end)
--   chain{hops = n, ipv6=, cpus=, mtu=, offload=} -> a and b through n routers (below, at
--       M.chain); chain:sample(), hops_delta(before, after): the routers' counters over a
--       trial; chain:control(): IPv6 routers' listener reports kept off the links
--   addr(host, ipv6) -> host's address of that family; udp_counts(delta) Udp + Udp6;
--   ip_book(pair, host, ipv6) -> a trial's IP counters against the device's (see there);
--   ip_family(delta, ipv6) -> the family's Ip/Ip6 counters, and why when the other's moved
--   hop_links_param(text, hops) -> path_loss's hop_link=, one {link, text} per router
--   star(n, {ipv6=}) -> a to-be-closed list of n hosts (2..16) on one switch (a bridge in a
--       namespace of its own that floods multicast to every port), each host as in a pair
--       ({pid, ifname = "e0", mac, addr = 10.77.2.i, addr6 = fd77:2::i, at}), every other
--       host a static neighbour
--   run(host, argv) -> runs a command inside host; raises with its stderr when it fails
--   sshd(pair) -> a to-be-closed OpenSSH server on host b's management address, with a host
--       key, a client key and a known_hosts made for it alone (in a directory removed on
--       close); .at = the placement that runs a role on b through it from a:
--       roles.start(role, params, d.at) (ssh, ssh_args, netns_of = a, and qsl_run = this
--       qsl-run: the "other machine" is this one). Skipped (exit 2)
--       where sshd, ssh or ssh-keygen is missing or sshd does not start.
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
local QDISC_COUNTS = { "bytes", "packets", "drops", "overlimits", "requeues", "backlog", "qlen" }

local function decode(json, what)
  local ok, list = pcall(require("cjson").decode, json)
  if not ok or type(list) ~= "table" then error(("net: %s printed no JSON: %s"):format(what,
                                                                                json), 3) end
  return list
end

local function counts(from, names, what, json)
  local out = {}
  for _, k in ipairs(names) do
    local v = type(from[k]) == "number" and math.tointeger(from[k])    -- cjson gives floats
    if not v or v < 0 then error(("net: %s has no count %s: %s"):format(what, k, json), 3) end
    out[k] = v
  end
  return out
end

-- Every qdisc of the device, root first then in tc's order: {kind, handle, parent, root,
-- and QDISC_COUNTS}.
function M.parse_qdiscs(json)
  local out, list, rooted = {}, decode(json, "tc"), false
  for _, q in ipairs(list) do rooted = rooted or q.root == true end
  if not rooted then error("net: no root qdisc in tc's output: " .. json, 2) end
  for _, q in ipairs(list) do
    local c = counts(q, QDISC_COUNTS, ("tc's %s qdisc"):format(tostring(q.kind)), json)
    c.kind, c.handle, c.parent, c.root = q.kind, q.handle, q.parent or "root", q.root == true
    table.insert(out, c.root and 1 or #out + 1, c)
  end
  return out
end

function M.parse_stats(json)
  local root = M.parse_qdiscs(json)[1]
  local out = { kind = root.kind }
  for _, k in ipairs(QDISC_COUNTS) do out[k] = root[k] end
  return out
end

-- A device's stats64 (`ip -s -j link show dev X`): rx_/tx_ bytes, packets, errors, dropped.
function M.parse_link_stats(json)
  local dev = decode(json, "ip")[1]
  local s = type(dev) == "table" and dev.stats64
  if type(s) ~= "table" or type(s.rx) ~= "table" or type(s.tx) ~= "table" then
    error("net: ip printed no stats64: " .. json, 2)
  end
  local out = {}
  for _, dir in ipairs{ "rx", "tx" } do
    local c = counts(s[dir], { "bytes", "packets", "errors", "dropped" }, "stats64 " .. dir, json)
    for k, v in pairs(c) do out[dir .. "_" .. k] = v end
  end
  return out
end

-- Counters over a trial from two pair:stats samples: counts as differences, backlog and
-- qlen (levels, not counts) as they were at the end.
function M.stats_delta(before, after)
  local function diff(a, b)
    local d = {}
    for k, v in pairs(b) do
      d[k] = (type(v) == "number" and k ~= "backlog" and k ~= "qlen") and v - (a[k] or 0) or v
    end
    return d
  end
  local out = diff(before, after)
  out.link = diff(before.link, after.link)
  out.qdiscs = {}
  for i, q in ipairs(after.qdiscs) do out.qdiscs[i] = diff(before.qdiscs[i] or {}, q) end
  return out
end

local function close_pair(self)
  for _, h in ipairs{ self.b, self.a } do
    if h.holder and h.holder:running() then h.holder:stop(1000) end
  end
end
Pair.__close, Pair.__gc = close_pair, close_pair

-- A host's end of a link: its addresses (nodad: usable at once, no duplicate-address
-- wait), up, and its MAC read back. Without addr6, IPv6 is off on it: no neighbour or
-- listener reports on the link. quiet6 (a pair's ends): NOARP before any address, so the
-- kernel joins no solicited-node group (nothing to report) and runs no DAD, and no router
-- solicitation: with static neighbours, IPv6 needs none of it on a two-host link.
local function address(h, len4, len6)
  if not h.addr6 then
    M.run(h, { "sysctl", "-qw", ("net.ipv6.conf.%s.disable_ipv6=1"):format(h.ifname) })
  end
  M.run(h, { "ip", "addr", "add", ("%s/%d"):format(h.addr, len4), "dev", h.ifname })
  if h.addr6 and h.quiet6 then
    M.run(h, { "sysctl", "-qw", ("net.ipv6.conf.%s.router_solicitations=0"):format(h.ifname) })
    M.run(h, { "ip", "link", "set", "dev", h.ifname, "arp", "off" })
  end
  if h.addr6 then
    M.run(h, { "ip", "-6", "addr", "add", ("%s/%d"):format(h.addr6, len6), "dev", h.ifname,
               "nodad" })
  end
  M.run(h, { "ip", "link", "set", h.ifname, "up" })
  h.mac = require("cjson").decode(M.run(h, { "ip", "-j", "link", "show", h.ifname }))[1].address
end

-- Wait until the kernel has a host's end of a link ready to carry a datagram: operstate
-- UP (both ends of a veth up, the carrier on, the qdisc active: before that a send is
-- dropped at the device and counted only in its tx dropped), its IPv6 addresses past
-- tentative and the ff00::/8 multicast route in place. Polled, 10 s deadline.
local function wait_ready(h)
  local cjson = require "cjson"
  local why = "never looked"
  local function ready()
    local link = cjson.decode(M.run(h, { "ip", "-j", "link", "show", "dev", h.ifname }))[1]
    if link.operstate ~= "UP" then
      why = ("operstate %s"):format(tostring(link.operstate))
      return false
    end
    if not h.addr6 then return true end
    local addrs = cjson.decode(M.run(h, { "ip", "-6", "-j", "addr", "show", "dev", h.ifname }))
    for _, a in ipairs(addrs[1].addr_info or {}) do
      if a.tentative then
        why = "IPv6 address " .. tostring(a["local"]) .. " tentative"
        return false
      end
    end
    local routes = M.run(h, { "ip", "-6", "-j", "route", "show", "table", "local" })
    for _, r in ipairs(cjson.decode(routes)) do
      if r.dst == "ff00::/8" and r.dev == h.ifname then return true end
    end
    why = "no ff00::/8 route yet"
    return false
  end
  if not qsl.measure.poll(10000, ready) then
    error(("net: %s in host %d not ready after 10 s: %s"):format(h.ifname, h.pid, why), 3)
  end
end
M.wait_ready = wait_ready

-- Static neighbours: h knows every other host's addresses (IPv6 too: no datagram waits
-- for neighbour discovery).
local function neighbours(h, others)
  for _, o in ipairs(others) do
    for _, addr in ipairs{ o.addr, o.addr6 } do
      M.run(h, { "ip", "neigh", "replace", addr, "lladdr", o.mac, "dev", h.ifname, "nud",
                 "permanent" })
    end
  end
end

-- Offloads by their short names, as ethtool -k names them.
local OFFLOADS = { gso = "generic-segmentation-offload", gro = "generic-receive-offload",
                   tso = "tcp-segmentation-offload" }
local OFFLOAD_ORDER = { "gso", "gro", "tso" }

-- "gso:off,gro:on" -> {gso = "off", gro = "on"}, or nil, why.
function M.parse_offload(spec)
  local out = {}
  for item in (tostring(spec) .. ","):gmatch("([^,]*),") do
    local k, v = item:match("^(%a+):(%a+)$")
    if not OFFLOADS[k] or (v ~= "on" and v ~= "off") or out[k] then
      return nil, ("%q: %q is not one of gso, gro, tso given once as :on or :off"):format(
        tostring(spec), item)
    end
    out[k] = v
  end
  return out
end

-- `ethtool -k DEV` output -> {gso = "on"|"off", gro = ..., tso = ...}
function M.parse_offloads(text)
  local out = {}
  for short, long in pairs(OFFLOADS) do
    out[short] = text:match("\n" .. long:gsub("%-", "%%-") .. ": (%a+)") or
                 text:match("^" .. long:gsub("%-", "%%-") .. ": (%a+)")
  end
  return out
end

-- What one end of a link is, read back from the kernel: its MTU and offloads.
local function end_state(h)
  local link = require("cjson").decode(M.run(h, { "ip", "-j", "link", "show", "dev",
                                                  h.ifname }))[1]
  local st = { ifname = h.ifname, mtu = math.tointeger(link.mtu) or link.mtu }
  if qsl.have("ethtool") then
    st.offloads = M.parse_offloads(M.run(h, { "ethtool", "-k", h.ifname }))
  else
    st.offloads = "unknown (ethtool not installed)"
  end
  return st
end

-- Links made in this run, as configured (MTU, offloads of each end), each distinct one once:
-- artifacts keep them in provenance, since gso= means something else with GRO on or off.
local seen, seen_keys = {}, {}
local function record(self)
  local state = { a = end_state(self.a), b = end_state(self.b) }
  local key = require("cjson").encode(state)
  if not seen_keys[key] then
    seen_keys[key] = true
    seen[#seen + 1] = state
  end
  self.state = state
end
function M.links_seen() return seen end

-- mtu= and offload= of a pair: on both ends, before addresses.
local function configure(self, opts)
  for _, h in ipairs{ self.a, self.b } do
    if opts.mtu then
      M.run(h, { "ip", "link", "set", "dev", h.ifname, "mtu", tostring(opts.mtu) })
    end
    if opts.offload then
      local argv = { "ethtool", "-K", h.ifname }
      for _, k in ipairs(OFFLOAD_ORDER) do
        if opts.offload[k] then argv[#argv + 1] = k; argv[#argv + 1] = opts.offload[k] end
      end
      M.run(h, argv)
    end
  end
end

local function check_link_opts(opts)
  if opts.mtu ~= nil and (math.type(opts.mtu) ~= "integer" or opts.mtu < 68 or
                          opts.mtu > 65535 or (opts.ipv6 and opts.mtu < 1280)) then
    error(("net.pair: mtu must be an integer in %d..65535%s"):format(opts.ipv6 and 1280 or 68,
          opts.ipv6 and " (IPv6 needs 1280)" or ""), 3)
  end
  if type(opts.offload) == "string" then
    local o, why = M.parse_offload(opts.offload)
    if not o then error("net.pair: offload=" .. why, 3) end
    opts.offload = o
  end
  if opts.offload and not qsl.have("ethtool") then
    error("net.pair: offload= needs ethtool (apt-get install ethtool)", 3)
  end
end

-- cpus = {a = {n, ...}, b = {...}}: every listed CPU one of this machine's, else an error
-- naming it (a scenario must not silently share CPUs it asked to keep apart).
function M.check_cpus(what, cpus)
  if cpus == nil then return nil end
  local online = require("qsl.artifact").cpus_online()
  if type(cpus) ~= "table" or #cpus == 0 then
    error(("%s: cpus must be a non-empty list of CPU numbers"):format(what), 3)
  end
  for _, c in ipairs(cpus) do
    if math.type(c) ~= "integer" or c < 0 or c >= online then
      error(("%s: CPU %s is not one of this machine's %d (0..%d)"):format(what, tostring(c),
            online, online - 1), 3)
    end
  end
  return cpus
end

-- The caveat that says where a pair's hosts ran: sharing every CPU, or pinned (apart or not).
function M.cpus_caveat(cpus, online)
  if not cpus.a and not cpus.b then
    return ("both hosts share this machine's %d CPUs"):format(online)
  end
  local function list(c) return c and ("CPUs " .. table.concat(c, ",")) or "any CPU" end
  local shared = not cpus.a or not cpus.b
  for _, x in ipairs(cpus.a or {}) do
    for _, y in ipairs(cpus.b or {}) do shared = shared or x == y end
  end
  return ("host a's roles ran on %s, host b's on %s (of this machine's %d)%s"):format(
    list(cpus.a), list(cpus.b), online, shared and "; they share some" or ": apart")
end

function M.pair(opts)
  local roles = require "qsl.roles"
  opts = roles.options("net.pair", opts, { "ipv6", "management", "cpus", "mtu", "offload" })
  check_link_opts(opts)
  local cpus = roles.options("net.pair cpus", opts.cpus or {}, { "a", "b" })
  for _, side in ipairs{ "a", "b" } do M.check_cpus("net.pair cpus." .. side, cpus[side]) end
  if not roles.isolated() then qsl.skip("net.pair: no privilege for network namespaces") end
  local self = setmetatable({}, Pair)
  local ok, err = pcall(function()
    for _, side in ipairs{ "a", "b" } do
      local holder = roles.netns()
      self[side] = { holder = holder, pid = holder.pid,
                     at = { netns_of = holder.pid, cpus = cpus[side] }, cpus = cpus[side],
                     ifname = "q" .. side, addr = side == "a" and "10.77.0.1" or "10.77.0.2",
                     addr6 = opts.ipv6 and (side == "a" and "fd77::1" or "fd77::2") or nil,
                     quiet6 = true }
    end
    M.run(self.a, { "ip", "link", "add", "qa", "type", "veth", "peer", "name", "qb", "netns",
                    tostring(self.b.pid) })
    configure(self, opts)
    if opts.management then M.link(self, "qma", "qmb", "10.77.1.") end
    for _, h in ipairs{ self.a, self.b } do address(h, 30, 64) end
    -- each end knows the other's address: no ARP on the link, so with IPv6 off the
    -- queue carries the experiment's packets and nothing else
    neighbours(self.a, { self.b })
    neighbours(self.b, { self.a })
    wait_ready(self.a)
    wait_ready(self.b)
    record(self)
  end)
  if not ok then
    close_pair(self)
    error(err, 2)
  end
  return self
end

-- A second link between the hosts, IPv4 only, static neighbours: prefix .. 1 and .. 2
-- (host.maddr), made as the first is.
function M.link(pair, name_a, name_b, prefix)
  M.run(pair.a, { "ip", "link", "add", "name", name_a, "type", "veth", "peer", "name", name_b,
                  "netns", tostring(pair.b.pid) })
  local a = { pid = pair.a.pid, ifname = name_a, addr = prefix .. "1" }
  local b = { pid = pair.b.pid, ifname = name_b, addr = prefix .. "2" }
  address(a, 30)
  address(b, 30)
  neighbours(a, { b })
  neighbours(b, { a })
  pair.a.maddr, pair.b.maddr = a.addr, b.addr
end

-- ------------------------------------------------------------------ chain

local Chain = setmetatable({}, { __index = Pair })   -- a chain's ends take a pair's calls
Chain.__index = Chain
local function close_chain(self)
  for _, h in ipairs{ self.b, self.a } do
    if h.holder and h.holder:running() then h.holder:stop(1000) end
  end
  for i = #(self.routers or {}), 1, -1 do
    local r = self.routers[i]
    if r.holder:running() then r.holder:stop(1000) end
  end
end
Chain.__close, Chain.__gc = close_chain, close_chain

-- chain{hops = n, ipv6=, cpus={a=, b=}, mtu=, offload=} -> hosts a and b joined through n
-- routers (namespaces of their own, forwarding on) by n + 1 links. links[i] joins node i-1
-- and node i (node 0 = a, n + 1 = b): .a its end at node i-1 (the queue toward b), .b its
-- end at node i (the queue toward a), each {pid, ifname, addr, addr6, mac, peer}. Link i is
-- 10.77.(10+i).0/30 (and fd77:(10+i)::/64); a is 10.77.11.1, b 10.77.(11+n).2; every node
-- routes a's and b's address to its neighbour that way; neighbours static and the links
-- quiet as a pair's. routers[k] = {pid, holder, at, west = links[k].b, east = links[k+1].a}.
function M.chain(opts)
  local roles = require "qsl.roles"
  opts = roles.options("net.chain", opts, { "hops", "ipv6", "cpus", "mtu", "offload" })
  if math.type(opts.hops) ~= "integer" or opts.hops < 1 or opts.hops > 8 then
    error("net.chain: hops must be an integer from 1 to 8", 2)
  end
  check_link_opts(opts)
  local cpus = roles.options("net.chain cpus", opts.cpus or {}, { "a", "b" })
  for _, side in ipairs{ "a", "b" } do M.check_cpus("net.chain cpus." .. side, cpus[side]) end
  if not roles.isolated() then qsl.skip("net.chain: no privilege for network namespaces") end
  local self = setmetatable({ routers = {}, links = {}, hops = opts.hops }, Chain)
  local ok, err = pcall(function()
    local nodes = {}
    for k = 0, opts.hops + 1 do
      local holder = roles.netns()
      local side = k == 0 and "a" or k == opts.hops + 1 and "b" or nil
      nodes[k] = { holder = holder, pid = holder.pid,
                   at = { netns_of = holder.pid, cpus = side and cpus[side] },
                   cpus = side and cpus[side] }
      if side then self[side] = nodes[k] else self.routers[k] = nodes[k] end
    end
    for i = 1, opts.hops + 1 do
      local west, east = nodes[i - 1], nodes[i]
      local wn = i == 1 and "qa" or "e0"
      local en = i == opts.hops + 1 and "qb" or "w0"
      local function end_at(node, ifname, host_part)
        return { pid = node.pid, ifname = ifname, quiet6 = true,
                 addr = ("10.77.%d.%d"):format(10 + i, host_part),
                 addr6 = opts.ipv6 and ("fd77:%d::%d"):format(10 + i, host_part) or nil }
      end
      local l = { a = end_at(west, wn, 1), b = end_at(east, en, 2) }
      l.a.peer, l.b.peer = l.b, l.a
      M.run(west, { "ip", "link", "add", wn, "type", "veth", "peer", "name", en, "netns",
                    tostring(east.pid) })
      configure(l, opts)
      for _, h in ipairs{ l.a, l.b } do address(h, 30, 64) end
      neighbours(l.a, { l.b })
      neighbours(l.b, { l.a })
      self.links[i] = l
    end
    -- a and b are their links' ends; routers forward, each way to its neighbour
    for _, side in ipairs{ "a", "b" } do
      local e = side == "a" and self.links[1].a or self.links[opts.hops + 1].b
      for k, v in pairs(e) do if k ~= "pid" then self[side][k] = v end end
    end
    for k, r in ipairs(self.routers) do
      r.west, r.east = self.links[k].b, self.links[k + 1].a
      M.run(r, { "sysctl", "-qw", "net.ipv4.ip_forward=1" })
      if opts.ipv6 then
        -- an IPv6 router joins all-routers (ff02::2) and reports it: kept off the links at
        -- its output hook, counted (self:control()), so they carry the experiment alone
        M.run(r, { "nft", "add", "table", "ip6", "qslquiet" })
        M.run(r, { "nft", "add", "chain", "ip6", "qslquiet", "out",
                   "{ type filter hook output priority 0 ; }" })
        M.run(r, { "nft", "add", "rule", "ip6", "qslquiet", "out", "icmpv6", "type",
                   "{ mld-listener-report, mld2-listener-report }", "counter", "drop" })
        M.run(r, { "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1" })
      end
    end
    for k = 0, opts.hops + 1 do
      local node = k == 0 and self.a or k == opts.hops + 1 and self.b or self.routers[k]
      local via_west = k > 0 and self.links[k].a
      local via_east = k <= opts.hops and self.links[k + 1].b
      for _, fam in ipairs{ { "addr", "-4", "/32" }, { "addr6", "-6", "/128" } } do
        local f, ver, len = table.unpack(fam)
        if self.a[f] and via_east then
          M.run(node, { "ip", ver, "route", "add", self.b[f] .. len, "via", via_east[f] })
        end
        if self.a[f] and via_west then
          M.run(node, { "ip", ver, "route", "add", self.a[f] .. len, "via", via_west[f] })
        end
      end
    end
    for _, l in ipairs(self.links) do
      wait_ready(l.a)
      wait_ready(l.b)
      record(l)
    end
  end)
  if not ok then
    close_chain(self)
    error(err, 2)
  end
  return self
end

-- The routers' own listener reports kept off the links (IPv6; 0 without).
function Chain:control()
  local n = 0
  for _, r in ipairs(self.a.addr6 and self.routers or {}) do
    n = n + M.parse_lost(M.run(r, { "nft", "-j", "list", "chain", "ip6", "qslquiet", "out" }))
  end
  return n
end

-- Each router's counters now, in order: {arrived (its west end's rx packets), forwarded
-- (Ip ForwDatagrams + Ip6 OutForwDatagrams), sent (its east end's tx packets), drops (the
-- east end's root qdisc drops: its children's included), queue (that end's pair:stats)}.
-- hops_delta(before, after) -> the same as counts over a trial.
function Chain:sample()
  local measure = require "qsl.measure"
  local out = {}
  for k, r in ipairs(self.routers) do
    local net, q = measure.net(r.pid), self:stats(r.east)
    out[k] = { arrived = self:stats(r.west).link.rx_packets, sent = q.link.tx_packets,
               forwarded = net.Ip.ForwDatagrams + (net.Ip6 and net.Ip6.OutForwDatagrams or 0),
               drops = q.drops, queue = q }
  end
  return out
end

function M.hops_delta(before, after)
  local out = {}
  for k, a in ipairs(after) do
    local b = before[k]
    out[k] = { arrived = a.arrived - b.arrived, forwarded = a.forwarded - b.forwarded,
               sent = a.sent - b.sent, drops = a.drops - b.drops,
               queue = M.stats_delta(b.queue, a.queue) }
  end
  return out
end

local qdisc_keys = { tbf = { "rate", "burst", "limit" }, pfifo = { "limit" },
                    bfifo = { "limit" }, htb = { "rate", "ceil" } }
-- what may sit under a root: a leaf queue in place of the default one (tbf's inner qdisc,
-- htb's one class)
local child_kinds = { pfifo = true, bfifo = true }
local parent_kinds = { tbf = true, htb = true }
-- asked for, and absent from this kernel (its tc says "Specified qdisc kind is unknown")
local absent = { netem = "no delay or jitter emulation here", fq = "no fair queueing",
                 codel = "no CoDel", fq_codel = "no fq_codel", cake = "no CAKE" }
-- What can run: a tbf burst or a byte queue smaller than one frame (1514 bytes: a 1500-byte
-- MTU and the Ethernet header) passes nothing, so every trial would sit out its deadline;
-- a rate under 1000 bytes/s sends a burst for hours. Counts (pfifo) at least 1.
local qdisc_bounds = {
  tbf = { rate = { 1000, 1 << 32 }, burst = { 1514, 1 << 30 }, limit = { 1514, 1 << 30 } },
  pfifo = { limit = { 1, 1 << 20 } },
  bfifo = { limit = { 1514, 1 << 30 } },
  htb = { rate = { 1000, 1 << 32 }, ceil = { 1000, 1 << 32 } },
}

local parse_qdisc
-- A link's queue: "none", or a root qdisc, optionally with a leaf under it:
-- "tbf:rate=2000000,burst=4000,limit=8000/pfifo:limit=10", "htb:rate=1000000,ceil=2000000".
function M.parse_link(spec)
  if spec == "none" then return nil end
  spec = tostring(spec)
  local root, child = spec:match("^([^/]*)/(.*)$")
  if not root then return parse_qdisc(spec, spec) end
  local r, why = parse_qdisc(spec, root)
  if not r then return nil, why end
  if not parent_kinds[r.kind] then
    return nil, ("%q: %s has no class to put a queue under (tbf or htb can)"):format(spec, r.kind)
  end
  local c
  c, why = parse_qdisc(spec, child)
  if not c then return nil, why end
  if not child_kinds[c.kind] then
    return nil, ("%q: under %s goes pfifo or bfifo, not %s"):format(spec, r.kind, c.kind)
  end
  r.child = c
  return r
end

parse_qdisc = function(spec, item)
  local kind, rest = item:match("^([%a_]+):(.+)$")
  kind = kind or item:match("^([%a_]+)$")
  if absent[kind] then
    return nil, ("%q: %s: this kernel has no %s qdisc (%s)"):format(spec, kind, kind,
                                                                     absent[kind])
  end
  if not qdisc_keys[kind] or not rest then
    return nil, ("%q: give none, or KIND:key=value,...[/pfifo:... or /bfifo:...] with KIND " ..
                 "tbf, htb, pfifo or bfifo"):format(spec)
  end
  local params, want = {}, {}
  for _, k in ipairs(qdisc_keys[kind]) do want[k] = true end
  for item in (rest .. ","):gmatch("([^,]*),") do
    local k, v = item:match("^(%a+)=(%d+)$")
    if not k or not want[k] or params[k] then
      return nil, ("%q: %q is not one of %s's %s=<positive integer>"):format(spec, item, kind,
        table.concat(qdisc_keys[kind], "=, "))
    end
    params[k] = math.tointeger(tonumber(v))
    local lo, hi = table.unpack(qdisc_bounds[kind][k])
    if not params[k] or params[k] < lo or params[k] > hi then
      return nil, ("%q: %s must be an integer in %d..%d%s"):format(spec, k, lo, hi,
        lo == 1514 and " (at least one 1514-byte frame, or nothing passes)" or "")
    end
  end
  for _, k in ipairs(qdisc_keys[kind]) do
    if not params[k] then return nil, ("%q: %s needs %s="):format(spec, kind, k) end
  end
  if kind == "htb" and params.ceil < params.rate then
    return nil, ("%q: htb's ceil (%d) is below its rate (%d)"):format(spec, params.ceil,
                                                                      params.rate)
  end
  return { kind = kind, params = params }
end

local Star = {}
Star.__index = Star
local function close_star(self)
  for i = #self, 1, -1 do
    if self[i].holder:running() then self[i].holder:stop(1000) end
  end
  if self.hub and self.hub:running() then self.hub:stop(1000) end
end
Star.__close, Star.__gc = close_star, close_star

-- star(n, {ipv6=}) -> n hosts (2..16) on one switch: a bridge in a namespace of its own
-- (no address; multicast snooping off, so it floods a group's datagrams to every port as a
-- switch without IGMP snooping does), each host's e0 a veth port of it. Host i is
-- 10.77.2.i (fd77:2::i with ipv6), with every other host as a static neighbour.
function M.star(n, opts)
  opts = require("qsl.roles").options("net.star", opts, { "ipv6" })
  if math.type(n) ~= "integer" or n < 2 or n > 16 then
    error("net.star: n must be an integer from 2 to 16", 2)
  end
  local roles = require "qsl.roles"
  if not roles.isolated() then qsl.skip("net.star: no privilege for network namespaces") end
  local self = setmetatable({}, Star)
  local ok, err = pcall(function()
    self.hub = roles.netns()
    local hub = { pid = self.hub.pid }
    M.run(hub, { "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1" })
    M.run(hub, { "ip", "link", "add", "name", "br0", "type", "bridge", "mcast_snooping", "0" })
    M.run(hub, { "ip", "link", "set", "br0", "up" })
    for i = 1, n do
      local holder = roles.netns()
      local h = { holder = holder, pid = holder.pid, at = { netns_of = holder.pid },
                  ifname = "e0", addr = "10.77.2." .. i,
                  addr6 = opts.ipv6 and ("fd77:2::" .. i) or nil }
      self[i] = h
      local port = "p" .. i
      M.run(hub, { "ip", "link", "add", "name", port, "type", "veth", "peer", "name", "e0",
                   "netns", tostring(h.pid) })
      M.run(hub, { "ip", "link", "set", port, "master", "br0" })
      M.run(hub, { "ip", "link", "set", port, "up" })
      address(h, 24, 64)
    end
    for i = 1, n do
      local others = {}
      for j = 1, n do if j ~= i then others[#others + 1] = self[j] end end
      neighbours(self[i], others)
    end
    for i = 1, n do wait_ready(self[i]) end
  end)
  if not ok then
    close_star(self)
    error(err, 2)
  end
  return self
end

-- The `path=` and `link=` parameters of a scenario that runs over either, declared once.
M.params = {
  path = { "path", "enum", "loopback", "loopback, or a veth link between two hosts of their own",
           values = { "loopback", "veth" } },
  link = { "link", "string", "none", "path=veth: the queue from host a to b (none, " ..
           "tbf:rate=,burst=,limit= in bytes/s and bytes, htb:rate=,ceil= bytes/s, " ..
           "pfifo:limit= packets, bfifo:limit= bytes; a tbf or htb may have /pfifo:... or " ..
           "/bfifo:... under it)" },
  link_back = { "link_back", "string", "none", "path=veth: the queue from host b back to a " ..
                "(as link=)" },
  mtu = { "mtu", "integer", 1500, "path=veth: the link's MTU (both ends)", min = 68,
          max = 65535 },
  offload = { "offload", "string", "", "path=veth: offloads of both ends, e.g. " ..
              "gso:off,gro:off,tso:off (ethtool; empty: as the kernel has them)",
              allow_empty = true },
  ipv6 = { "ipv6", "boolean", false, "over IPv6 (::1 on loopback, fd77::/64 on veth); " ..
           "the books cross-check /proc/net/snmp6 (Udp6, Ip6)" },
}

-- A trial's UDP counters of either family, from a measure.delta of measure.net: Udp's and
-- Udp6's fields added (a trial's datagrams count in one of them; the other stays 0).
function M.udp_counts(d)
  local out = {}
  for k, v in pairs(d.Udp or {}) do out[k] = v end
  for k, v in pairs(d.Udp6 or {}) do out[k] = (out[k] or 0) + v end
  return out
end

-- A pair's options from a scenario's mtu= and offload= (the defaults change nothing).
function M.link_opts(p)
  local o = { mtu = p.mtu ~= 1500 and p.mtu or nil, ipv6 = p.ipv6 or nil }
  if p.offload ~= "" then
    local off, why = M.parse_offload(p.offload)
    if not off then qsl.fail("parameter offload=" .. why) end
    o.offload = off
  end
  return o
end

-- hosts(path, link) -> a to-be-closed {a, b}, the client's and the server's host: on
-- loopback both are this machine's namespace at 127.0.0.1; on veth a pair (link shaping the
-- queue of a's end). at(host, opts) -> opts for roles.start with the host's placement.
-- A trial's IP counters (a measure.delta of measure.net) of its family -> Ip6's with ipv6,
-- else Ip's; and, when the other family received or sent a packet there, what says so.
function M.ip_family(d, ipv6)
  local other = d[ipv6 and "Ip" or "Ip6"] or {}
  local n = (other.InReceives or 0) + (other.OutRequests or 0)
  return d[ipv6 and "Ip6" or "Ip"], n > 0 and ("%d %s packets in an %s trial"):format(n,
    ipv6 and "IPv4" or "IPv6", ipv6 and "IPv6" or "IPv4") or nil
end

-- One host's IP counters over a trial against its end of the link: every packet the device
-- received went up to IP (InReceives), every packet IP sent left by it (OutRequests), all of
-- the trial's family (Ip6 with ipv6, else Ip; the other family's counters stay 0). On a
-- pair's host the namespace and the device are the trial's alone, so these are equalities.
-- ip_book(pair, host, ipv6) -> a book to :check() after the trial (nil, why; or the counts),
-- or nil off a pair (loopback shares the machine's counters).
function M.ip_book(pair, host, ipv6)
  if type(pair.stats) ~= "function" then return nil end
  local measure = require "qsl.measure"
  local net0, link0 = measure.net(host.pid), pair:stats(host).link
  return { check = function()
    local d = measure.delta(net0, measure.net(host.pid))
    local link1 = pair:stats(host).link
    local link = { rx_packets = link1.rx_packets - link0.rx_packets,
                   tx_packets = link1.tx_packets - link0.tx_packets }
    local fam, stray = M.ip_family(d, ipv6)
    local counts = { rx_packets = link.rx_packets, tx_packets = link.tx_packets,
                     in_receives = fam.InReceives, out_requests = fam.OutRequests }
    if stray then return stray, counts end
    if link.rx_packets ~= fam.InReceives or link.tx_packets ~= fam.OutRequests then
      return ("%s's end: rx %d, tx %d packets; %s InReceives %d, OutRequests %d"):format(
        host.ifname, link.rx_packets, link.tx_packets, ipv6 and "IPv6" or "IPv4",
        fam.InReceives, fam.OutRequests), counts
    end
    return nil, counts
  end }
end

-- This machine's loopback as a host ({addr, addr6, at}: no placement).
M.LOOPBACK = { addr = "127.0.0.1", addr6 = "::1", at = {} }

function M.hosts(path, link, link_back, opts)
  if path ~= "veth" then
    local here = { addr = M.LOOPBACK.addr, addr6 = M.LOOPBACK.addr6, at = {} }
    return setmetatable({ a = here, b = here }, { __close = function() end })
  end
  local pair = M.pair(opts)
  pair:shape(pair.a, link)
  pair:shape(pair.b, link_back)
  return pair
end

-- The address a role binds or sends to at host: its IPv6 one with ipv6, else its IPv4 one.
function M.addr(host, ipv6)
  return ipv6 and (host.addr6 or error("net: that host has no IPv6 address", 2)) or host.addr
end

function M.at(host, opts)
  return require("qsl.roles").merge(opts, host.at)
end

-- hop_links_param(text, hops) -> for each of hops routers {link = parse_link's, text}: a
-- scenario's `hop_link=`, one spec for every router or one per router separated by ';';
-- fails the run (exit 1) saying why.
function M.hop_links_param(text, hops)
  local specs, out = {}, {}
  for spec in (text .. ";"):gmatch("([^;]*);") do specs[#specs + 1] = spec end
  if text ~= "none" and hops == 0 then qsl.fail("hop_link= needs hops= above 0") end
  if #specs ~= 1 and #specs ~= hops then
    qsl.fail(("hop_link= gives %d queues for %d routers: give one, or one per router"):format(
      #specs, hops))
  end
  for k = 1, hops do
    local spec = specs[k] or specs[1]
    out[k] = { link = M.link_param(spec, "veth", "hop_link"), text = spec }
  end
  return out
end

function M.link_param(spec, path, name)
  name = name or "link"
  local link, why = M.parse_link(spec)
  if why then qsl.fail(("parameter %s=%s"):format(name, why)) end
  if link and path ~= "veth" then qsl.fail(("parameter %s= needs path=veth"):format(name)) end
  return link
end

-- tc's words for a qdisc's (or htb class's) parameters; rates in bytes/s ("bps" to tc)
local function tc_args(kind, params, argv, level)
  if not qdisc_keys[kind] then
    error("net: qdisc kind must be tbf, htb, pfifo or bfifo", level + 1)
  end
  for _, k in ipairs(qdisc_keys[kind]) do
    local v = params[k]
    if math.type(v) ~= "integer" or v <= 0 then
      error(("net: %s needs %s, a positive integer"):format(kind, k), level + 1)
    end
    argv[#argv + 1] = k
    argv[#argv + 1] = (k == "rate" or k == "ceil") and (v .. "bps") or tostring(v)
  end
  return argv
end

-- The root qdisc of host's end (handle 1:; a root there before is deleted first: tc
-- replaces a handle's qdisc only by one of its kind), and child, a leaf queue, under it
-- (handle 10:). tbf's child takes its inner slot 1:1. htb is a link class 1:1 at the ceil
-- and, under it, the class 1:10 every packet goes to, at rate and borrowing up to ceil
-- (a class with no parent class cannot borrow); its child goes under 1:10.
function Pair:qdisc(host, kind, params, child)
  params = params or {}
  if not qdisc_keys[kind] then error("net: qdisc kind must be tbf, htb, pfifo or bfifo", 2) end
  if child and (not parent_kinds[kind] or not child_kinds[child.kind]) then
    error("net: a pfifo or bfifo goes under a tbf or htb", 2)
  end
  local dev = host.ifname
  for _, q in ipairs(self:stats(host).qdiscs) do
    if q.root and q.handle == "1:" then
      M.run(host, { "tc", "qdisc", "del", "dev", dev, "root" })
    end
  end
  local leaf = "1:1"
  if kind == "htb" then
    M.run(host, { "tc", "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default",
                  "10" })
    M.run(host, tc_args("htb", { rate = params.ceil, ceil = params.ceil }, { "tc", "class",
                        "add", "dev", dev, "parent", "1:", "classid", "1:1", "htb" }, 2))
    M.run(host, tc_args("htb", params, { "tc", "class", "add", "dev", dev, "parent", "1:1",
                                         "classid", "1:10", "htb" }, 2))
    leaf = "1:10"
  else
    M.run(host, tc_args(kind, params, { "tc", "qdisc", "add", "dev", dev, "root", "handle",
                                        "1:", kind }, 2))
  end
  if child then
    M.run(host, tc_args(child.kind, child.params or {}, { "tc", "qdisc", "add", "dev", dev,
                        "parent", leaf, "handle", "10:", child.kind }, 2))
  end
end

-- The queue a parsed link spec describes (parse_link), on host's end.
function Pair:shape(host, link)
  if link then self:qdisc(host, link.kind, link.params, link.child) end
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

-- Duplication on host's way out: that fraction of its UDP datagrams leave twice (nft's dup
-- to the peer's address through the same device, chosen by numgen). The copy passes the
-- same hook again, untracked: the rule skips it, so its counter is the copies made.
function Pair:dup(host, fraction)
  if type(fraction) ~= "number" or fraction < 0 or fraction > 1 then
    error("net: dup must be a fraction from 0 to 1", 2)
  end
  local peer = host.peer or (host == self.a and self.b or self.a)
  local n = tostring(math.floor(fraction * 10000 + 0.5))
  for _, fam in ipairs{ { "ip", peer.addr }, { "ip6", peer.addr6 } } do
    if fam[2] then
      M.run(host, { "nft", "add", "table", fam[1], "qsldup" })
      M.run(host, { "nft", "add", "chain", fam[1], "qsldup", "out",
                    "{ type filter hook postrouting priority 0 ; }" })
      M.run(host, { "nft", "add", "rule", fam[1], "qsldup", "out", "oifname", host.ifname,
                    "meta", "l4proto", "udp", "ct", "state", "!=", "untracked", "numgen",
                    "random", "mod", "10000", "lt", n, "counter", "dup", "to", fam[2],
                    "device", host.ifname })
    end
  end
  host.dup_families = peer.addr6 and { "ip", "ip6" } or { "ip" }
end

-- The copies host's dup rule made (its counters, both families).
function Pair:duplicated(host)
  local n = 0
  for _, fam in ipairs(host.dup_families or error("net: no dup rule on that host", 2)) do
    n = n + M.parse_lost(M.run(host, { "nft", "-j", "list", "chain", fam, "qsldup", "out" }))
  end
  return n
end

function Pair:stats(host)
  local json = M.run(host, { "tc", "-s", "-j", "qdisc", "show", "dev", host.ifname })
  local out = M.parse_stats(json)
  out.qdiscs = M.parse_qdiscs(json)
  out.link = M.parse_link_stats(M.run(host, { "ip", "-s", "-j", "link", "show", "dev",
                                              host.ifname }))
  return out
end

-- ------------------------------------------------------------------ sshd

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

local Sshd = {}
Sshd.__index = Sshd
local function close_sshd(self)
  if self.proc and self.proc:running() then self.proc:stop(2000) end
  if self.dir then
    for _, f in ipairs{ "host_key", "host_key.pub", "id", "id.pub", "authorized_keys",
                        "known_hosts", "sshd_config" } do os.remove(self.dir .. "/" .. f) end
    os.remove(self.dir)
  end
  if self.made_run_sshd then os.remove("/run/sshd") end   -- only if empty, as made
  self.proc, self.dir, self.made_run_sshd = nil, nil, nil
end
Sshd.__close, Sshd.__gc = close_sshd, close_sshd

function M.sshd(pair)
  if not pair.b.maddr then error("net.sshd: the pair needs its management link", 2) end
  for _, exe in ipairs{ "/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/ssh-keygen" } do
    if not qsl.have(exe) then qsl.skip("net.sshd: no " .. exe .. " (openssh-server, -client)") end
  end
  local self = setmetatable({}, Sshd)
  local ok, err = pcall(function()
    -- keys and configuration in the run's directory: gone when qsl-run ends, SIGKILL too
    self.dir = ("%s/sshd.%d"):format(assert(qsl.fs.run_dir()), pair.b.pid)
    assert(qsl.fs.mkdir(self.dir))
    local uid = tonumber((assert(qsl.procfs.status()).Uid or ""):match("^(%d+)"))
    for line in io.lines("/etc/passwd") do
      local name, id = line:match("^([^:]*):[^:]*:(%d+):")
      if tonumber(id) == uid then self.user = name break end
    end
    assert(self.user, "net.sshd: no /etc/passwd entry for uid " .. tostring(uid))
    local d = self.dir
    for _, key in ipairs{ "host_key", "id" } do
      M.run(pair.a, { "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "qsl", "-f",
                      d .. "/" .. key })
    end
    local f = assert(io.open(d .. "/id.pub")); local id = f:read("l"); f:close()
    f = assert(io.open(d .. "/host_key.pub")); local hostkey = f:read("l"); f:close()
    write(d .. "/authorized_keys", "restrict " .. id .. "\n")     -- no pty, no forwarding
    write(d .. "/known_hosts", pair.b.maddr .. " " .. hostkey .. "\n")
    write(d .. "/sshd_config", table.concat({
      "ListenAddress " .. pair.b.maddr, "HostKey " .. d .. "/host_key",
      "AuthorizedKeysFile " .. d .. "/authorized_keys", "AllowUsers " .. self.user,
      "PubkeyAuthentication yes", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password", "UsePAM no", "StrictModes no", "PidFile none",
      "PrintMotd no", "" }, "\n"))
    -- sshd's privilege-separation directory: made if missing, and then removed at the end
    -- (close, or qsl-run's end however it ends), as long as it is still empty
    if not io.open("/run/sshd") then
      assert(qsl.fs.mkdir("/run/sshd"))
      self.made_run_sshd = true
      assert(qsl.fs.remove_at_exit("/run/sshd", { rmdir = true }))
    end
    self.proc = assert(qsl.proc.spawn{ argv = { "/usr/sbin/sshd", "-D", "-e", "-f",
                                                d .. "/sshd_config" }, netns_of = pair.b.pid })
    self.at = { ssh = self.user .. "@" .. pair.b.maddr, netns_of = pair.a.pid, qsl_run = qsl.exe(),
                ssh_args = { "-F", "/dev/null", "-i", d .. "/id", "-o", "IdentitiesOnly=yes",
                             "-o", "UserKnownHostsFile=" .. d .. "/known_hosts",
                             "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=5" } }
  end)
  if not ok then
    close_sshd(self)
    error(err, 2)
  end
  -- ready when a login works: polled, with a deadline
  local argv = { "ssh" }
  for _, a in ipairs(self.at.ssh_args) do argv[#argv + 1] = a end
  for _, a in ipairs{ "-T", "-o", "BatchMode=yes", self.at.ssh, "true" } do argv[#argv + 1] = a end
  local why = "no login within 10 s"
  local up = require("qsl.measure").poll(10000, function()
    if not self.proc:running() then return true end
    local p <close> = qsl.proc.spawn{ argv = argv, netns_of = pair.a.pid }
    local st = p and p:wait(5000)
    if st and st.code == 0 then return true end
    why = p and p:errors() or why
  end)
  if not self.proc:running() then     -- sshd could not run here: skipped, saying why
    local e = self.proc:errors()
    close_sshd(self)
    qsl.skip("net.sshd: sshd did not start: " .. e)
  end
  if not up then                      -- it runs, and refuses us: a fault, not a skip
    close_sshd(self)
    error("net.sshd: sshd runs but the test key cannot log in: " .. why, 2)
  end
  return self
end

return M
