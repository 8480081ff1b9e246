-- qsl.roles: start a role of qsl-run as a child and collect its lines, with
-- the checks every scenario needs: a child that dies, a line that never
-- comes, a field that is missing or not a number are errors with a message
-- naming the role and the field - never a silent nil in an artifact.
local qsl = require "qsl"
local M = {}

-- which role each process started here runs (weak: a collected process is forgotten)
local started = setmetatable({}, { __mode = "k" })

local function args_of(t)
  local out = {}
  local keys = {}
  for k in pairs(t or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = t[k]
    if type(v) == "boolean" then v = v and 1 or 0 end
    out[#out + 1] = ("%s=%s"):format(k, tostring(v))
  end
  return out
end

-- A line's fields against the role's declaration: every declared field present and of
-- its type (integer, number, text), so a scenario never needs its own list of fields.
-- `numbers` (a list of names) serves programs that are not declared roles.
local function check_fields(role, word, fields, numbers)
  local decl = qsl.role.describe(role)
  for _, f in ipairs(decl and decl[word] or {}) do
    local v = fields[f.name]
    local ok = (f.type == "integer" and math.type(v) == "integer")
               or (f.type == "number" and type(v) == "number")
               or (f.type == "text" and v ~= nil)
    if not ok then
      return nil, ("%s printed a %s line without %s %s %s (got %s)"):format(role, word,
        f.type == "integer" and "an" or "a", f.type, f.name, tostring(v))
    end
    if f.type == "text" then fields[f.name] = tostring(v) end
  end
  for _, k in ipairs(numbers or {}) do
    if type(fields[k]) ~= "number" then
      return nil, ("%s printed a %s line without a numeric %s (got %s)"):format(
        role, word, k, tostring(fields[k]))
    end
  end
  return fields
end

-- The declaration of a role (qsl.role.describe), or an error naming it.
function M.describe(role)
  local d, err = qsl.role.describe(role)
  if not d then error(err, 2) end
  return d
end

-- start(role, {key=value...}, {wrap=, netns=, cpu=, ready_timeout=, numbers={...}})
-- -> proc, ready fields | nil, message. The proc is to-be-closed by the caller.
function M.start(role, params, opts)
  opts = opts or {}
  local p, err = qsl.proc.spawn{ role = role, args = args_of(params), wrap = opts.wrap,
                                 netns = opts.netns, cpu = opts.cpu, nofile = opts.nofile }
  if not p then return nil, err end
  local ready, rerr = p:ready(opts.ready_timeout or 5000)
  if not ready then
    p:stop(500)
    return nil, ("%s: %s"):format(role, rerr)
  end
  started[p] = role
  local ok, cerr = check_fields(role, "ready", ready, opts.numbers)
  if not ok then
    p:stop(500)
    return nil, cerr
  end
  return p, ready
end

-- finish(proc, role, {timeout=, numbers={...}, stop=true})
-- A role that ends by itself: waits for its result line, then its exit.
-- stop=true, for a server that serves until told: stops it (TERM, grace,
-- KILL), then reads the result line it printed on the way out.
-- -> result fields, status | nil, message
function M.finish(p, role, opts)
  opts = opts or {}
  local res, err, st
  if opts.stop then
    st = p:stop(opts.grace or 2000)
    res, err = p:result()
  else
    res, err = p:line("result", opts.timeout or 30000)
    st = p:wait(opts.exit_timeout or 5000) or p:stop(500)
  end
  if not res then return nil, ("%s: %s"):format(role, err) end
  if not st.exited or st.code ~= 0 then
    return nil, ("%s ended badly (%s): %s"):format(role,
      st.signal_name and ("SIG" .. st.signal_name) or ("exit " .. tostring(st.code)), p:errors())
  end
  local ok, cerr = check_fields(started[p] or role, "result", res, opts.numbers)
  if not ok then return nil, cerr end
  return res, st
end

return M
