-- qsl.scenario: declare a scenario's parameters once; parse key=value
-- overrides (unknown keys and bad values are errors naming the key); print
-- them for --help; run trials with progress on stderr.
local M = {}
M.__index = M

local TYPES = {
  integer = true, number = true, string = true, boolean = true, enum = true,
  integer_list = true, number_list = true, enum_list = true,
}

-- Parameters every scenario has.
local COMMON = {
  { name = "out", type = "string", default = "results/runs",
    help = "directory the artifact is written to (results/ itself holds the reference artifacts)" },
  { name = "progress", type = "boolean", default = false,
    help = "print 'trial i/N' on stderr even when it is not a terminal" },
  { name = "quiet", type = "boolean", default = false,
    help = "print no summary on stdout (also --quiet)" },
  { name = "json", type = "boolean", default = false,
    help = "print the JSON artifact on stdout instead of the summary (also --json)" },
}
local FLAGS = { ["--quiet"] = "quiet", ["--json"] = "json" }

-- { "name", "type", default, "help", min=, max=, values= } is short for the named form.
local function expand(p)
  if type(p) == "table" and type(p[1]) == "string" then
    local d = { name = p[1], type = p[2], default = p[3], help = p[4] }
    for k, v in pairs(p) do if type(k) == "string" then d[k] = v end end
    return d
  end
  return p
end

local function check_decl(p, where)
  if type(p) ~= "table" or type(p.name) ~= "string" or not p.name:match("^[%a_][%w_]*$") then
    error(where .. ": each parameter needs a name made of letters, digits and _", 3)
  end
  if not TYPES[p.type] then
    error(("%s: parameter '%s' has unknown type '%s'"):format(where, p.name, tostring(p.type)), 3)
  end
  if (p.type == "enum" or p.type == "enum_list") and type(p.values) ~= "table" then
    error(("%s: enum parameter '%s' needs values"):format(where, p.name), 3)
  end
  if type(p.help) ~= "string" then
    error(("%s: parameter '%s' needs a help text"):format(where, p.name), 3)
  end
  -- every number is bounded by what can run: a value past it is refused before trial 1,
  -- never found out hours later (or as exit 3 at the end)
  local numeric = p.type == "integer" or p.type == "number" or p.type == "integer_list" or
                  p.type == "number_list"
  if numeric and (type(p.min) ~= "number" or type(p.max) ~= "number") then
    error(("%s: parameter '%s' needs min= and max= (what can run)"):format(where, p.name), 3)
  end
  if p.max_items ~= nil and math.type(p.max_items) ~= "integer" then
    error(("%s: parameter '%s': max_items must be an integer"):format(where, p.name), 3)
  end
end

-- A list has at most this many items unless it declares max_items: each is a trial's worth.
M.LIST_MAX_ITEMS = 32

-- The script's first comment line (past a shebang), as `qsl-run --list` reads it.
local function first_comment(path)
  local f = path and io.open(path)
  if not f then return nil end
  local line = f:read("l")
  if line and line:match("^#") then line = f:read("l") end
  f:close()
  return line and line:match("^%-%-+%s*(.-)%s*$")
end

-- scenario.new{name=, description=, params={...}}: description defaults to the script's
-- first comment line, the one `qsl-run --list` shows: one text, said once.
function M.new(spec)
  if type(spec) == "table" and spec.description == nil then
    spec.description = first_comment(arg and arg[0])
  end
  if type(spec) ~= "table" or type(spec.name) ~= "string" or type(spec.description) ~= "string"
     or spec.description == "" then
    error("scenario.new: a name, and a description (or a first comment line in the script: " ..
          "-- what it measures) are required", 2)
  end
  if spec.quick ~= nil and type(spec.quick) ~= "string" then
    error("scenario.new: quick must be a string of key=value words (the quick run's parameters)", 2)
  end
  local self = setmetatable({ name = spec.name, description = spec.description,
                              quick = spec.quick, params = {}, by_name = {} }, M)
  local function add(p)
    p = expand(p)
    check_decl(p, "scenario " .. spec.name)
    if self.by_name[p.name] then
      error(("scenario %s: parameter '%s' declared twice"):format(spec.name, p.name), 3)
    end
    self.params[#self.params + 1] = p
    self.by_name[p.name] = p
  end
  for _, p in ipairs(spec.params or {}) do
    if type(p) == "table" and p[1] ~= nil and type(p[1]) == "table" then
      for _, q in ipairs(p) do add(q) end   -- a list of declarations (roles.params)
    else
      add(p)
    end
  end
  for _, p in ipairs(COMMON) do add(p) end
  return self
end

local function bad(p, raw, why)
  error({ param = p.name, message = ("parameter %s=%s: %s"):format(p.name, raw, why) }, 0)
end

-- One value of type ty; a list element is reported within its whole list (shown).
local function convert_one(p, raw, ty, shown)
  local function bad_value(why)
    bad(p, shown or raw, shown and ("element '%s': %s"):format(raw, why) or why)
  end
  if ty == "integer" then
    local v = math.tointeger(tonumber(raw))
    if not v then bad_value("expected an integer") end
    if p.min and v < p.min then bad_value("must be at least " .. p.min) end
    if p.max and v > p.max then bad_value("must be at most " .. p.max) end
    return v
  elseif ty == "number" then
    local v = tonumber(raw)
    if not v or v ~= v or v == math.huge or v == -math.huge then bad_value("expected a number") end
    if p.min and v < p.min then bad_value("must be at least " .. p.min) end
    if p.max and v > p.max then bad_value("must be at most " .. p.max) end
    return v
  elseif ty == "boolean" then
    if raw == "true" or raw == "1" or raw == "yes" then return true end
    if raw == "false" or raw == "0" or raw == "no" then return false end
    bad_value("expected true or false")
  elseif ty == "enum" then
    for _, v in ipairs(p.values) do
      if v == raw then return v end
    end
    bad_value("expected one of " .. table.concat(p.values, ", "))
  end
  if raw == "" and not p.allow_empty then bad_value("empty; give a value") end
  return raw
end

-- Convert the text of a key=value override to the parameter's type.
function M.convert(p, raw)
  if p.type == "integer_list" or p.type == "number_list" or p.type == "enum_list" then
    local elem = p.type == "integer_list" and "integer" or p.type == "number_list" and "number" or "enum"
    local out = {}
    for item in (raw .. ","):gmatch("([^,]*),") do
      if item == "" and raw ~= "" then bad(p, raw, "empty element in the list") end
      if item == "" then
        if p.allow_empty then break end
        bad(p, raw, "empty list; give at least one element")
      end
      local v = convert_one(p, item, elem, raw)
      for _, seen in ipairs(out) do
        if seen == v then bad(p, raw, ("'%s' given twice"):format(item)) end
      end
      out[#out + 1] = v
      local most = p.max_items or M.LIST_MAX_ITEMS
      if #out > most then bad(p, raw, ("more than %d items"):format(most)) end
    end
    if #out == 0 and not p.allow_empty then bad(p, raw, "expected a comma-separated list") end
    return out
  end
  return convert_one(p, raw, p.type)
end

-- A value as a parameter is written (lists comma-separated); an integral float, as
-- JSON gives every number back, shows as the integer it was.
local function plain(v)
  if math.type(v) == "float" and v == math.floor(v) and math.abs(v) < 2 ^ 53 then
    return ("%d"):format(v)
  end
  return tostring(v)
end

local function show(v)
  if type(v) == "table" then
    local t = {}
    for i, x in ipairs(v) do t[i] = plain(x) end
    return table.concat(t, ",")
  end
  return plain(v)
end
M.show = show

function M:help()
  local lines = { ("%s - %s"):format(self.name, self.description), "", "parameters (key=value):" }
  local w = 0
  for _, p in ipairs(self.params) do w = math.max(w, #p.name) end
  for _, p in ipairs(self.params) do
    local ty = p.type == "enum" and table.concat(p.values, "|")
               or p.type == "enum_list" and ("list of " .. table.concat(p.values, ","))
               or p.type
    lines[#lines + 1] = ("  %-" .. w .. "s  %s (%s, default %s)"):format(p.name, p.help, ty, show(p.default))
  end
  return table.concat(lines, "\n")
end

-- Parse an argument list (the global arg). Returns the parameter table;
-- --help prints the parameters and ends the run with exit 0; a bad argument
-- ends it with exit 1 and a message that names the parameter.
function M:parse(argv)
  local qsl = require "qsl"
  local values, given = {}, {}
  for _, p in ipairs(self.params) do
    local d = p.default
    if type(d) == "table" then
      local c = {}
      for i, x in ipairs(d) do c[i] = x end
      d = c
    end
    values[p.name] = d
  end
  -- --quick: the scenario's own quick run (its declared `quick` words) first; what the
  -- command line says after them may override them
  local args, quick = {}, {}
  for i = 1, #(argv or {}) do
    if argv[i] == "--quick" then
      if not self.quick then qsl.fail(self.name .. " declares no quick run (scenario.new{quick=})") end
      for w in self.quick:gmatch("%S+") do args[#args + 1], quick[#args + 1] = w, true end
    end
  end
  for i = 1, #(argv or {}) do
    if argv[i] ~= "--quick" then args[#args + 1] = argv[i] end
  end
  for i = 1, #args do
    local a = args[i]
    if a == "--help" or a == "-h" then
      io.stdout:write(self:help(), "\n")
      qsl.exit(0, "help")
    end
    if a == "--params" then   -- the declarations as JSON: what the bounds test walks
      local list = {}
      for _, q in ipairs(self.params) do
        list[#list + 1] = { name = q.name, type = q.type, min = q.min, max = q.max,
                            values = q.values, max_items = q.max_items or
                              (q.type:find("_list$") and M.LIST_MAX_ITEMS or nil) }
      end
      io.stdout:write(require("cjson").encode(list), "\n")
      qsl.exit(0, "params")
    end
    local k, raw = a:match("^([^=]+)=(.*)$")
    if FLAGS[a] then k, raw = FLAGS[a], "true" end
    if not k then qsl.fail(("argument '%s' is not key=value (try --help)"):format(a)) end
    local p = self.by_name[k]
    if not p then
      local names = {}
      for _, q in ipairs(self.params) do names[#names + 1] = q.name end
      local near = qsl.suggest(k, names)
      qsl.fail(("unknown parameter '%s'%s; %s takes: %s"):format(k,
        near and (" (did you mean '" .. near .. "'?)") or "", self.name, table.concat(names, ", ")))
    end
    if given[k] then qsl.fail(("parameter '%s' given twice"):format(k)) end
    local ok, v = pcall(M.convert, p, raw)
    if not ok then qsl.fail(type(v) == "table" and v.message or tostring(v)) end
    values[k], given[k] = v, not quick[i] or nil
  end
  if values.out then M.prepare_out(values.out) end
  self.values, self.argv = values, argv
  return values
end

-- The output directory is created (with its parents) and checked writable before the
-- first trial: a run must not be lost at its end for want of a directory.
function M.prepare_out(dir)
  local qsl = require "qsl"
  local path = dir:sub(1, 1) == "/" and "" or "."
  for part in dir:gmatch("[^/]+") do
    path = path .. "/" .. part
    local ok, err = qsl.fs.mkdir(path)
    if not ok then qsl.fail(("parameter out=%s: cannot create it: %s"):format(dir, err)) end
  end
  local ok, err = qsl.fs.writable(dir)
  if not ok then qsl.fail(("parameter out=%s: not writable: %s"):format(dir, err)) end
end

-- Progress goes to stderr when it is a terminal, or when progress=true: on a
-- terminal one line redrawn in place, otherwise (a log) one line per call.
-- M.line_open says a redrawn line awaits its newline (qsl-run ends it before an error).
M.line_open = false

function M:progress(fmt, ...)
  if self.show_progress == nil then
    self.tty = require("qsl").isatty(2)
    self.show_progress = (self.values and self.values.progress) or self.tty
  end
  if not self.show_progress then return end
  local line = ("[%s] "):format(self.name) .. fmt:format(...)
  if self.tty then
    io.stderr:write("\r\27[K", line)
    M.line_open = true
  else
    io.stderr:write(line, "\n")
  end
end

-- Ends a line redrawn in place, so that what follows starts on its own line.
function M.end_progress()
  if M.line_open then
    io.stderr:write("\n")
    M.line_open = false
  end
end

-- The scenario's artifact (qsl.artifact, named after the scenario): where trials
-- record their rows and their refusals.
function M:artifact(opts)
  opts = opts or {}
  self.art = require("qsl.artifact").new{ name = opts.name or self.name, scenario = self,
                                          title = opts.title or self.description }
  return self.art
end

local function is_exit(err)
  return type(err) == "table" and err.exit ~= nil
end

local function clock_s()
  return require("qsl").clock.now_ns() / 1e9
end

-- Run one trial: fn(...) returns its row (a table) or nothing. An error - a role
-- that failed, a count that does not add up (error("...")) - becomes a refusal
-- reason in the artifact, named by label; an interruption or qsl.fail goes on up.
-- Returns the row (true when fn returned none), or nil, why after recording the refusal.
function M:trial(label, fn, ...)
  local ok, row = pcall(fn, ...)
  if not ok then
    if is_exit(row) then error(row, 0) end
    local why = tostring(row)
    if self.art then self.art:invalid(("%s: %s"):format(label, why)) end
    return nil, why
  end
  if row == nil then return true end
  return row
end

-- Add a trial's row - or each of its rows, when it returned a list of them (one per
-- subscriber, say) - to rows, each with `trial = i`.
local function add_rows(rows, row, i)
  for _, r in ipairs(type(row[1]) == "table" and row or { row }) do
    if r.trial == nil then r.trial = i end
    rows[#rows + 1] = r
  end
end

-- s:trials(n, fn, {label=, keep_going=}) runs fn(i) n times with progress and an
-- estimate of the time left; each row (or each of a list of rows) gets `trial = i` and is
-- returned in a list.
-- The first trial that fails stops the run (its reason is in the artifact) unless
-- keep_going. label: a string, or a function(i) naming trial i ("rcvbuf 2 KiB").
-- Without fn, s:trials(n) is an iterator: for i, n in s:trials(n) do ... end.
function M:trials(n, fn, opts)
  if type(fn) ~= "function" then
    local label, i = fn, 0
    return function()
      i = i + 1
      if i > n then
        M.end_progress()
        return nil
      end
      self:progress("%s %d/%d", label or "trial", i, n)
      return i, n
    end
  end
  opts = opts or {}
  local rows, t0 = {}, clock_s()
  for i = 1, n do
    local what = type(opts.label) == "function" and opts.label(i) or opts.label
    local left = i > 1 and (clock_s() - t0) / (i - 1) * (n - i + 1) or nil
    self:progress("trial %d/%d%s%s", i, n, what and (" (" .. what .. ")") or "",
                  left and ("  ~%.0f s left"):format(left) or "")
    local row = self:trial(("trial %d/%d%s"):format(i, n, what and (" (" .. what .. ")") or ""),
                           function() return fn(i) end)
    if type(row) == "table" then
      add_rows(rows, row, i)
    elseif not row and not opts.keep_going then
      break
    end
  end
  M.end_progress()
  return rows
end

-- s:grid(n, list1, list2, ..., fn) runs fn(v1, v2, ...) for every combination of the
-- lists' values (the first list outermost), n rounds of all of them: round i runs trial i
-- of each combination, so conditions that drift during a run (a noisy machine) fall on
-- every combination alike and side-by-side ratios stay fair. Rows, progress and refusals
-- as s:trials, labelled "trial i/n (v1, v2)"; the first failure stops the run.
-- -> every row (each with its `trial`), in the order run.
function M:grid(n, ...)
  local lists = table.pack(...)
  local fn = lists[lists.n]
  if type(fn) ~= "function" then error("s:grid(n, lists..., fn): the last argument is fn", 2) end
  local combos, args = {}, table.move(lists, 1, lists.n - 1, 1, {})
  args[lists.n] = function(...) combos[#combos + 1] = table.pack(...) end
  require("qsl.sweep").grid(table.unpack(args, 1, lists.n))
  local rows, done, total, t0 = {}, 0, n * #combos, clock_s()
  for i = 1, n do
    for _, v in ipairs(combos) do
      local label = {}
      for j = 1, v.n do label[j] = tostring(v[j]) end
      local what = ("trial %d/%d (%s)"):format(i, n, table.concat(label, ", "))
      local left = done > 0 and (clock_s() - t0) / done * (total - done) or nil
      self:progress("%s%s", what, left and ("  ~%.0f s left"):format(left) or "")
      local row = self:trial(what, fn, table.unpack(v, 1, v.n))
      done = done + 1
      if not row then
        M.end_progress()
        return rows
      end
      if type(row) == "table" then add_rows(rows, row, i) end
    end
  end
  M.end_progress()
  return rows
end

return M
