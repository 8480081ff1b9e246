-- Issue 10.10-10.12: empty strings and lists are parameter errors; caveats
-- state the CPUs this machine has; force=true without CAP_NET_ADMIN skips.
local qsl = require "qsl"

local function run(args, wrap)
  local argv = { QSL_RUN }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local p <close> = assert(qsl.proc.spawn{ argv = argv, wrap = wrap })
  local st = assert(p:wait(60000))
  return st.code, p:output(), p:errors()
end

for _, case in ipairs{
  { "scenarios/engine_flow.lua", "out=", "parameter out=: empty; give a value" },
  { "scenarios/gateway_load.lua", "modes=", "parameter modes=: empty list" },
  { "scenarios/feed_throughput.lua", "variants=", "parameter variants=: empty list" },
  { "scenarios/rcvbuf_burst.lua", "sizes=", "parameter sizes=: empty list" },
  { "scenarios/gateway_load.lua", "modes=epoll,", "empty element in the list" },
  { "scenarios/feed_throughput.lua", "variants=raw,nope", "element 'nope': expected one of raw, raw_mmsg, single, packed, gso" },
} do
  local code, _, err = run{ case[1], case[2] }
  assert(code == 1, case[2] .. ": exit " .. tostring(code))
  assert(err:find(case[3], 1, true), case[2] .. ": " .. err)
end

-- the caveat names this machine's CPU count, not "2 cores"
local out = scratch()
local code, _, err = run{ "scenarios/engine_flow.lua", "out=" .. out, "orders=2000", "trials=1" }
assert(code == 0, err)
local f = assert(io.open(out .. "/engine_flow.txt")); local txt = f:read("a"); f:close()
local n = require("qsl.artifact").cpus_online()
assert(n > 0)
assert(txt:find(("(%d CPUs)"):format(n), 1, true), txt)
assert(not txt:find("2-core", 1, true))

-- force=true without CAP_NET_ADMIN: skipped (exit 2) with the reason, not refused
local h = io.popen("command -v setpriv"); local setpriv = h:read("l"); h:close()
if setpriv then
  local skip_out = scratch()
  code, _, err = run({ "scenarios/rcvbuf_burst.lua", "force=true", "trials=1", "sizes=4096",
                       "out=" .. skip_out },
                     { setpriv, "--bounding-set", "-net_admin", "--inh-caps", "-net_admin" })
  assert(code == 2, "exit " .. tostring(code) .. " " .. err)
  assert(err:find("force=true needs CAP_NET_ADMIN", 1, true), err)
  assert(not io.open(skip_out .. "/rcvbuf_burst.json"), "a skipped run wrote an artifact")
else
  io.stderr:write("parameter_faults: setpriv not installed, force=true skip not exercised\n")
end
