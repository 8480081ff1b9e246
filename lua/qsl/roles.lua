-- qsl.roles: start a role of qsl-run as a child and collect its lines, with
-- the checks every scenario needs: a child that dies, a line that never
-- comes, a field that is missing or not a number are errors with a message
-- naming the role and the field - never a silent nil in an artifact.
local qsl = require "qsl"
local M = {}

-- which role each process started here runs (weak: a collected process is forgotten)
local started = setmetatable({}, { __mode = "k" })


-- options(where, opts, known...) -> opts (or {} for nil): every key of an option table
-- must be one the function takes, or it is an error naming the key, with "did you mean"
-- (a misspelt `ready_timout=` would otherwise pass, silently ignored). known: lists of
-- names, merged.
function M.options(where, opts, ...)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(("%s: options must be a table, not %s"):format(where, type(opts)), 3)
  end
  local known, names = {}, {}
  for _, list in ipairs{ ... } do
    for _, k in ipairs(list) do
      if not known[k] then known[k] = true; names[#names + 1] = k end
    end
  end
  for k in pairs(opts) do
    if not known[k] then
      table.sort(names)
      local near = type(k) == "string" and qsl.suggest(k, names)
      error(("%s: unknown option %s%s; it takes %s"):format(where, tostring(k),
        near and (" (did you mean '" .. near .. "'?)") or "", table.concat(names, ", ")), 3)
    end
  end
  return opts
end

M.START_OPTIONS = { "ready_timeout", "wrap", "netns", "netns_of", "cpu", "cpus", "nofile", "ssh",
                    "ssh_args", "qsl_run", "numbers" }
M.FINISH_OPTIONS = { "timeout", "exit_timeout", "numbers", "stop", "grace" }

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

-- merge(t1, t2, ...) -> a new table with the fields of each in turn, later ones winning:
-- a role's parameters or placement with some set or added (the tables are left as they are).
function M.merge(...)
  local out = {}
  for i = 1, select("#", ...) do
    for k, v in pairs(select(i, ...) or {}) do out[k] = v end
  end
  return out
end

-- The tail of a process's stderr, for an error message.
local function tail(p)
  local e = p:errors()
  return e ~= "" and ("; its stderr: " .. e) or ""
end

-- A word for a POSIX shell, quoted: the remote command line passes through one.
local function shell_quote(w)
  return "'" .. w:gsub("'", "'\\''") .. "'"
end

-- ssh's command line for opts.ssh ("user@machine"), with opts.ssh_args before it, ending
-- in the remote command (quoted word by word).
local function ssh_argv(opts, words)
  local argv = { "ssh" }
  for _, a in ipairs(opts.ssh_args or {}) do argv[#argv + 1] = a end
  for _, a in ipairs{ "-T", "-o", "BatchMode=yes", opts.ssh } do argv[#argv + 1] = a end
  local cmd = {}
  for i, w in ipairs(words) do cmd[i] = shell_quote(w) end
  argv[#argv + 1] = table.concat(cmd, " ")
  return argv
end

-- "qsl-run VERSION (commit C" of a --version line: what must match across machines.
local function version_key(line)
  return line and line:match("^(qsl%-run %S+ %(commit [^;]+)")
end

local checked = {}   -- remote qsl-run versions already found to match, by ssh target
function M.check_remote(opts)
  local key = opts.ssh .. " " .. (opts.qsl_run or "qsl-run")
  if checked[key] then return end
  local function version(spec)
    local p <close>, err = qsl.proc.spawn(spec)
    if not p then error("remote: " .. err, 3) end
    local st = p:wait(15000) or p:stop(500)
    return version_key(p:output()), st, tail(p)
  end
  local mine = version{ argv = { qsl.exe(), "--version" } }
  local theirs, st, errs = version{ argv = ssh_argv(opts, { opts.qsl_run or "qsl-run",
                                                            "--version" }),
                                    netns_of = opts.netns_of }
  if not theirs then
    error(("remote: %s on %s gave no version (exit %s)%s: install qsl there (make install)")
          :format(opts.qsl_run or "qsl-run", opts.ssh, tostring(st.code), errs), 3)
  end
  if theirs ~= mine then
    error(("remote: %s has %s, this is %s: install the same build there (make install)")
          :format(opts.ssh, theirs .. ")", mine .. ")"), 3)
  end
  checked[key] = true
end

-- start(role, {key=value...}, {wrap=, netns=, netns_of=, cpu=, cpus=, nofile=, ready_timeout=,
-- numbers={...}, ssh=, ssh_args=, qsl_run=}): cpu=n pins the role to a CPU, cpus={n,...} to a
-- set (a host's placement carries its cpus; a cpu given with them must be one of them);
-- netns=true gives the role a network namespace
-- of its own; netns_of=pid puts it in that process's (two roles of one trial, counted apart
-- from the machine). ssh="user@machine" runs it there instead, through OpenSSH (ssh_args
-- before the target; qsl_run: the remote's qsl-run, default "qsl-run" on its PATH; the
-- ssh client runs in netns_of's namespace when given): the remote's version is checked
-- once against this one's, its lines come back over the channel (addresses and pid in the
-- ready line are the remote's), and it ends when its stdin closes - on stop, on close, and
-- when the connection drops - so it never outlives the run.
-- -> proc, ready fields. Raises an error naming the role and the step ("gateway: start:
-- ...", with the child's stderr) when the role cannot start or its ready line is wrong.
-- The proc is to-be-closed by the caller.
local function start(role, params, opts)
  local p, err
  if opts.ssh then
    -- a target is user@machine or machine, never an option ssh would take ("-oProxy...")
    if type(opts.ssh) ~= "string" or opts.ssh == "" or opts.ssh:find("^%-") or
       opts.ssh:find("[%s%c]") then
      error(("%s: start: ssh= must be user@machine, got %q"):format(role, tostring(opts.ssh)), 3)
    end
    if opts.wrap or opts.netns or opts.cpu or opts.cpus or opts.nofile then
      error(("%s: start: wrap, netns, cpu, cpus and nofile are local; not with ssh"):format(role),
            3)
    end
    M.check_remote(opts)
    local words = { "env", "QSL_STOP_ON_EOF=1", opts.qsl_run or "qsl-run", role }
    for _, a in ipairs(args_of(params)) do words[#words + 1] = a end
    p, err = qsl.proc.spawn{ argv = ssh_argv(opts, words), netns_of = opts.netns_of,
                             stdin = "pipe" }
    if p then p:runs_on(opts.ssh) end    -- its sample() would be the local ssh client's: refused
  else
    local cpus = opts.cpus
    if cpus and opts.cpu then       -- a role's own CPU within its host's
      local among = false
      for _, c in ipairs(cpus) do among = among or c == opts.cpu end
      if not among then
        error(("%s: start: cpu=%d is not one of its host's cpus (%s)"):format(role, opts.cpu,
              table.concat(cpus, ",")), 3)
      end
      cpus = nil
    end
    p, err = qsl.proc.spawn{ role = role, args = args_of(params), wrap = opts.wrap,
                             netns = opts.netns, netns_of = opts.netns_of, cpu = opts.cpu,
                             cpus = cpus, nofile = opts.nofile }
  end
  if not p then error(("%s: start: %s"):format(role, err), 3) end
  local ready, rerr = p:ready(opts.ready_timeout or 5000)
  if not ready then
    p:stop(500)
    error(("%s: start: %s"):format(role, rerr), 3)
  end
  started[p] = role
  local ok, cerr = check_fields(role, "ready", ready, opts.numbers)
  if not ok then
    p:stop(500)
    error(("%s: start: %s"):format(role, cerr), 3)
  end
  return p, ready
end

function M.start(role, params, opts)
  return start(role, params, M.options("roles.start", opts, M.START_OPTIONS))
end

-- finish(proc, [label], {timeout=, numbers={...}, stop=true, grace=})
-- A role that ends by itself: waits for its result line, then its exit.
-- stop=true, for a server that serves until told: stops it (TERM, grace,
-- KILL), then reads the result line it printed on the way out.
-- -> result fields (typed by the role's declaration), status. Raises an error naming
-- the role and what went wrong, with its stderr.
local function finish(p, label, opts)
  local role = started[p] or label
  label = label or role or "process"
  local res, err, st
  if opts.stop then
    st = p:stop(opts.grace or 2000)
    res, err = p:result()
  else
    res, err = p:line("result", opts.timeout or 30000)
    st = p:wait(opts.exit_timeout or 5000) or p:stop(500)
  end
  if not res then error(("%s: finish: %s%s"):format(label, err, tail(p)), 3) end
  if not st.exited or st.code ~= 0 then
    error(("%s ended badly (%s)%s"):format(label,
      st.signal_name and ("SIG" .. st.signal_name) or ("exit " .. tostring(st.code)), tail(p)), 3)
  end
  local ok, cerr = check_fields(role or label, "result", res, opts.numbers)
  if not ok then error(cerr, 3) end
  return res, st
end

function M.finish(p, label, opts)
  if type(label) == "table" then label, opts = nil, label end
  return finish(p, label, M.options("roles.finish", opts, M.FINISH_OPTIONS))
end

-- pause(proc, [ms]) -> proc, stopped (SIGSTOP) and seen stopped (state T in /proc) within
-- ms (default 2000), else an error naming it: a signal is asynchronous, and a measurement
-- that assumes the stop took before it did times the wrong thing. proc:signal("CONT") ends it.
function M.pause(p, ms)
  local role = started[p] or "process"
  local ok, err = p:signal("STOP")
  if not ok then error(("%s: SIGSTOP: %s"):format(role, err), 2) end
  local stopped = require("qsl.measure").poll(ms or 2000, function()
    local st = require("qsl").procfs.stat(p.pid)
    return st and st.state == "T" end)
  if not stopped then error(("%s (pid %d) did not stop within %d ms"):format(role, p.pid,
                                                                             ms or 2000), 2) end
  return p
end

-- result(proc, {timeout=}) -> the result line's fields (checked against the role's
-- declaration), without waiting for the exit: for a role that holds after it (flow hold=1).
function M.result(p, opts)
  opts = M.options("roles.result", opts, { "timeout", "numbers" })
  local role = started[p] or "process"
  local res, err = p:line("result", opts.timeout or 30000)
  if not res then error(("%s: result: %s%s"):format(role, err, tail(p)), 2) end
  local ok, cerr = check_fields(role, "result", res, opts.numbers)
  if not ok then error(cerr, 2) end
  return res
end

-- param(role, name, {overrides}) -> a scenario parameter declared as the role declares
-- its own (type, default, range, help), so the two cannot drift apart.
function M.param(role, name, over)
  for _, d in ipairs(M.describe(role).params) do
    if d.name == name then
      local decl = { name = name, help = d.help .. (d.unit ~= "" and (" (" .. d.unit .. ")") or "") }
      if d.kind == "word" then
        decl.type, decl.values, decl.default = "enum", d.words, d.default
      elseif d.kind == "integer" and d.min == 0 and d.max == 1 then
        decl.type, decl.default = "boolean", d.default == 1
      elseif d.kind == "integer" then
        decl.type, decl.default, decl.min, decl.max = "integer", d.default, d.min, d.max
      else
        decl.type, decl.default, decl.allow_empty = "string", d.default, d.kind == "text"
      end
      for k, v in pairs(over or {}) do decl[k] = v end
      return decl
    end
  end
  error(("role %s has no parameter %s"):format(role, name), 2)
end

-- params(role, name, [overrides], name, ...) -> a list of param(role, name) declarations
-- (scenario.new takes such a list among its params).
function M.params(role, ...)
  local out, args = {}, table.pack(...)
  for i = 1, args.n do
    if type(args[i]) == "string" then
      local over = type(args[i + 1]) == "table" and args[i + 1] or nil
      out[#out + 1] = M.param(role, args[i], over)
    end
  end
  return out
end

-- isolated() -> true when this process may create network namespaces (one per trial, so
-- /proc/net counters count the trial's traffic alone); probed once.
local can_isolate
function M.isolated()
  if can_isolate == nil then
    local p <close> = qsl.proc.spawn{ argv = { "true" }, netns = true }
    can_isolate = p ~= nil and p:wait(5000) ~= nil
  end
  return can_isolate
end

-- netns() -> a network namespace for one trial, held by a process of its own (a proc,
-- to-be-closed: closing it ends the namespace once its roles are gone), or nil where
-- namespaces cannot be made (then the trial runs in ours). Roles join it with
-- netns_of = ns.pid; measure.net(ns.pid) reads its counters before and after the roles ran.
function M.netns()
  if not M.isolated() then return nil end
  local p, err = qsl.proc.spawn{ argv = { "sleep", "infinity" }, netns = true }
  if not p then error("netns: " .. err, 2) end
  return p
end

-- modes(art, list) -> the modes of list (a gateway's, a subscriber's) that can run here, in
-- order. One that cannot (io_uring refused by the kernel, or qsl built without liburing) is
-- left out with a caveat saying why; with none left the run is skipped (exit 2) for that.
function M.modes(art, list)
  local out, why = {}, {}
  for _, m in ipairs(list) do
    local ok, reason = qsl.mode_available(m)
    if ok then
      out[#out + 1] = m
    else
      why[#why + 1] = ("mode %s left out: %s"):format(m, reason)
      art:caveat(why[#why])
    end
  end
  if #out == 0 then qsl.skip(table.concat(why, "; ")) end
  return out
end

-- run(role, params, opts): start a role that ends by itself and finish it -> result, status.
function M.run(role, params, opts)
  opts = M.options("roles.run", opts, M.START_OPTIONS, M.FINISH_OPTIONS)
  local p <close> = start(role, params, opts)
  return finish(p, role, opts)
end

return M
