-- qsl.artifact: results/NAME.txt for people, NAME.json for programs and,
-- when gnuplot is installed, NAME.svg. Written only when every measurement
-- in it is valid (otherwise the run is refused: exit 3, nothing written),
-- and atomically: every file goes to a temporary name first and is renamed
-- into place only when all of them were written, so an old artifact is never
-- half-overwritten.
local qsl = require "qsl"
local M = {}
M.__index = M
-- The JSON's layout version: qsl-run show/compare read this one and refuse others.
M.SCHEMA = 1

local function read_file(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- What a program prints on stdout when it succeeds (run as a child, no shell), or nil.
local function output_of(argv)
  if not qsl.have(argv[1]) then return nil end
  local p <close> = qsl.proc.spawn{ argv = argv }
  local st = p and p:wait(10000)
  if not st or not st.exited or st.code ~= 0 then return nil end
  return p:output()
end

local function first_line_of(argv)
  return (output_of(argv) or ""):match("^([^\n]+)")
end

-- Where the scenario lives decides which git tree describes it.
local function git_state(script)
  local dir = (script or ""):match("^(.*)/[^/]*$") or "."
  local commit = first_line_of{ "git", "-C", dir, "rev-parse", "HEAD" }
  if not commit then return { commit = "unknown (not a git checkout)", dirty = nil } end
  local status = output_of{ "git", "-C", dir, "status", "--porcelain", "--untracked-files=no" }
  local dirty = false
  for line in (status or ""):gmatch("[^\n]+") do
    -- results/ holds artifacts, outputs rather than inputs: regenerating them one by one
    -- must not mark the later ones as built from a changed tree
    if not line:sub(4):match("^results/") then dirty = true end
  end
  return { commit = commit, dirty = dirty }
end

-- The scenario file's SHA-256 (sha256sum, run without a shell), or why there is none.
local function file_sha256(path)
  if not path or path == "" then return "none (no scenario file)" end
  return (output_of{ "sha256sum", "--", path } or ""):match("^(%x+)") or
         "unknown (sha256sum failed or missing)"
end

local DEFAULT_SYSCTLS = {
  "net.core.rmem_default", "net.core.rmem_max", "net.core.wmem_default", "net.core.wmem_max",
  "net.core.netdev_max_backlog", "net.core.busy_poll", "net.core.busy_read",
}

-- CPUs online on this machine: caveats say how many the measured processes share.
function M.cpus_online()
  return tonumber(first_line_of{ "nproc" }) or 0
end

-- The operating system's own name for itself (os-release's PRETTY_NAME), or "unknown".
local function os_name()
  local text = read_file("/etc/os-release") or read_file("/usr/lib/os-release") or ""
  local name = text:match('\nPRETTY_NAME="?([^"\n]*)') or text:match('^PRETTY_NAME="?([^"\n]*)')
  return name and #name > 0 and name or "unknown"
end

-- The facts that make a figure reproducible: what ran, where, built how.
function M.provenance(opts)
  opts = opts or {}
  local cpu = (read_file("/proc/cpuinfo") or ""):match("model name%s*:%s*([^\n]+)") or "unknown"
  local sysctls = {}
  for _, name in ipairs(opts.sysctls or DEFAULT_SYSCTLS) do
    local v = qsl.procfs.sysctl(name)
    sysctls[name] = v or "unavailable"
  end
  local cmd = {}
  local argv = opts.argv or arg or {}
  for i = 0, #argv do cmd[#cmd + 1] = argv[i] end
  local strace = first_line_of{ "strace", "-V" }
  return {
    command = "qsl-run " .. table.concat(cmd, " "),
    date_utc = os.date("!%Y-%m-%dT%H:%M:%SZ"),
    kernel = ((read_file("/proc/sys/kernel/osrelease") or "unknown"):gsub("%s+$", "")),
    machine = first_line_of{ "uname", "-m" } or "unknown",
    os = os_name(),
    -- the unit of /proc's utime and stime: a CPU split in ticks means nothing without it
    clk_tck = qsl.procfs.clock_ticks(),
    cpu = cpu,
    cpus_online = M.cpus_online() > 0 and M.cpus_online() or "unknown",
    compiler = qsl.build.compiler,
    cflags = qsl.build.cflags,
    lua = qsl.build.lua,
    strace = strace or "not installed",
    sysctls = sysctls,
    git = git_state(argv[0]),
    -- what ran, wherever the scenario lives: the binary's own commit, the file's digest
    qsl_run = ("%s (commit %s)"):format(qsl.build.version, qsl.build.commit),
    scenario_sha256 = file_sha256(argv[0]),
    -- every link qsl.net made in this run: each end's MTU and offloads, read back
    links = package.loaded["qsl.net"] and #package.loaded["qsl.net"].links_seen() > 0 and
            package.loaded["qsl.net"].links_seen() or nil,
  }
end

-- Artifacts of a scenario that are not written yet: qsl-run makes a run that ends
-- with one of them an error, since a forgotten art:write() would lose every trial.
-- Strong keys: an artifact the script dropped must still be found at its end.
local pending = {}

-- The names of the scenario artifacts created and never written.
function M.unwritten()
  local names = {}
  for a in pairs(pending) do names[#names + 1] = a.name end
  table.sort(names)
  return names
end

-- artifact.new{name=, scenario= (a qsl.scenario, parsed), title=}
function M.new(opts)
  if type(opts) ~= "table" or type(opts.name) ~= "string" or not opts.name:match("^[%w_%-]+$") then
    error("artifact.new: name must be letters, digits, _ or -", 2)
  end
  local self = setmetatable({
    name = opts.name, title = opts.title or opts.name, scenario = opts.scenario,
    sections = {}, caveats = {}, problems = {}, plots = {}, data = {}, unreconciled = {},
  }, M)
  if opts.scenario then pending[self] = true end
  return self
end

-- Every number in v must be finite: NaN or inf is an error naming where it is
-- (key.sub[3].field), raised where the value is recorded, not when the run ends.
local function check_finite(v, where, seen)
  if type(v) == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      local what = v ~= v and "NaN" or (v > 0 and "inf" or "-inf")
      error(("%s is %s: only finite numbers can be recorded"):format(where, what), 0)
    end
  elseif type(v) == "table" then
    seen = seen or {}
    if seen[v] then return end
    seen[v] = true
    for k, x in pairs(v) do
      local sub = math.type(k) == "integer" and ("%s[%d]"):format(where, k) or ("%s.%s"):format(where, tostring(k))
      check_finite(x, sub, seen)
    end
  end
end

local function finite(v, where, level)
  local ok, err = pcall(check_finite, v, where)
  if not ok then error(err, level + 1) end
end

-- A measurement that cannot be trusted: the artifact will be refused.
function M:invalid(reason)
  self.problems[#self.problems + 1] = tostring(reason)
end

-- A trial whose books do not balance (why: nil when they do): kept in the artifact, as a
-- RECONCILIATION FAILED line and results.unreconciled, and once it is written the run
-- fails (exit 1) - the evidence is kept, never passed as good.
function M:unbalanced(label, why)
  if why then self.unreconciled[#self.unreconciled + 1] = label .. ": " .. why end
end

function M:caveat(text)
  self.caveats[#self.caveats + 1] = text
end

-- Data for the JSON artifact (and nothing else): set(key, value), or set{key = value, ...}.
function M:set(key, value)
  if type(key) == "table" then
    for k, v in pairs(key) do
      finite(v, "artifact:set " .. tostring(k), 2)
      self.data[k] = v
    end
  else
    finite(value, "artifact:set " .. tostring(key), 2)
    self.data[key] = value
  end
end

-- A format a number can be printed with: one %d/%i/%u/%x/%X/%o/%c/%e/%E/%f/%g/%G/%a/%A
-- conversion (flags, width and precision allowed) and otherwise plain text.
local function check_format(fmt, where, level)
  if type(fmt) ~= "string" then
    error(("%s: format must be a string like \"%%.1f\", not a %s"):format(where, type(fmt)), level + 1)
  end
  local n = 0
  for conv in fmt:gmatch("%%[-+ #0]*%d*%.?%d*(.)") do
    if conv ~= "%" then n = n + 1 end
    if conv ~= "%" and not conv:match("[diuxXocaAeEfgG]") then n = 99 end
  end
  if n ~= 1 or not pcall(string.format, fmt, 1.5) then
    error(("%s: format %q must print one number (like \"%%.1f\" or \"%%d\")"):format(where, fmt),
          level + 1)
  end
end

-- A field or column: the short string "key" or "key %.1f" (with its format), or the
-- named table {key=, label=, format=}. Anything else - a positional table such as
-- {"b", "b_label", "%.1f"}, an unknown name, a bad format - is an error where it is
-- declared, naming it, never a failure at write time after the run.
local FIELD_NAMES = { key = true, label = true, format = true, hidden = true }
local function field(f, where, level)
  level = (level or 1) + 1
  if type(f) == "string" then
    local key, fmt = f:match("^([%w_]+)%s*(%S*)$")
    if not key then
      error(("%s: %q is not \"key\" or \"key %%.1f\""):format(where, f), level)
    end
    if fmt ~= "" then check_format(fmt, where, level) end
    return { key = key, format = fmt ~= "" and fmt or nil }
  end
  if type(f) ~= "table" then
    error(("%s: a %s; give \"key\", \"key %%.1f\" or {key=, label=, format=}"):format(where, type(f)),
          level)
  end
  if f[1] ~= nil then
    local parts = {}
    for _, v in ipairs(f) do parts[#parts + 1] = ("%q"):format(tostring(v)) end
    error(("%s: {%s} is a positional table; name its parts: {key = %s, label = ..., format = ...}, " ..
           "or write the short form \"key %%.1f\""):format(where, table.concat(parts, ", "), parts[1]),
          level)
  end
  for k in pairs(f) do
    if not FIELD_NAMES[k] then
      error(("%s: unknown name %q (a column has key, label and format)"):format(where, tostring(k)),
            level)
    end
  end
  if type(f.key) ~= "string" or f.key == "" then error(where .. ": key must be a non-empty string", level) end
  if f.label ~= nil and type(f.label) ~= "string" then error(where .. ": label must be a string", level) end
  if f.format ~= nil then check_format(f.format, where, level) end
  if f.hidden ~= nil and type(f.hidden) ~= "boolean" then error(where .. ": hidden must be a boolean", level) end
  return f
end

-- "median (min-max)", each as the field's format prints it (a whole number as one).
local function compact_cell(fmt, lo, mid, hi)
  if mid == nil then return nil end
  local function show(v)
    if fmt then return fmt:format(v) end
    return math.type(v) == "float" and v ~= math.floor(v) and ("%.3f"):format(v) or ("%d"):format(v)
  end
  return ("%s (%s-%s)"):format(show(mid), show(lo), show(hi))
end

-- A table: {title=, columns={{key=, label=, format=}, ...}, rows={{...}, ...}, note=}
-- A column may also be a string: "key", or "key %.1f" with its format.
-- main=true marks a table for the summary printed at the end of a run (with none
-- marked, every table is printed).
function M:table(t)
  if type(t.columns) ~= "table" or type(t.rows) ~= "table" then
    error("artifact:table needs columns and rows", 2)
  end
  finite(t.rows, ("table %q rows"):format(t.title or ""), 2)
  for i, c in ipairs(t.columns) do
    t.columns[i] = field(c, ("table %q, column %d"):format(t.title or "", i), 2)
  end
  self.sections[#self.sections + 1] = { kind = "table", t = t }
end

function M:text(s)
  self.sections[#self.sections + 1] = { kind = "text", s = s }
end

-- A plot: {title=, xlabel=, ylabel=, logx=, logy=, series={{name=, points={{x,y},...}}}}.
-- Every point must be two finite numbers: a bad one is an error here, naming the
-- series and the point, not at write time after the whole run.
function M:plot(p)
  if type(p) ~= "table" or (p.series ~= nil and type(p.series) ~= "table") then
    error("artifact:plot needs a table with series = {{name=, points={{x, y}, ...}}, ...}", 2)
  end
  for _, s in ipairs(p.series or {}) do
    for i, pt in ipairs(s.points or {}) do
      local x, y = pt[1], pt[2]
      if type(x) ~= "number" or type(y) ~= "number" or x ~= x or y ~= y or
         x == math.huge or x == -math.huge or y == math.huge or y == -math.huge then
        error(("plot %q, series %q, point %d: (%s, %s) is not two finite numbers"):format(
          p.title or "", s.name or "?", i, tostring(x), tostring(y)), 2)
      end
    end
  end
  self.plots[#self.plots + 1] = p
end

-- The spread of fields over rows, grouped by field `by` (optional): one table line per
-- group with n and min/median/max of each field; returns those lines (also for JSON).
-- {title=, rows=, by=, label=, format= (every field's), fields={"loss", "rate %.0f"}}
function M:spread(t)
  local stats = require "qsl.stats"
  if type(t.fields) ~= "table" or type(t.rows) ~= "table" then
    error("artifact:spread needs fields and rows", 2)
  end
  if t.format ~= nil then check_format(t.format, ("spread %q"):format(t.title or ""), 2) end
  local decl = {}
  for i, f in ipairs(t.fields) do
    decl[i] = field(f, ("spread %q, field %d"):format(t.title or "", i), 2)
  end
  local compact = t.compact or nil      -- one cell a field: "median (min-max)"
  if not t.by then            -- one line per field: what, min, median, max
    local rows = {}
    for _, f in ipairs(decl) do
      -- no rows (every trial failed): the line shows "-" and the run is refused for its reasons
      local sm = #t.rows > 0 and stats.summary(stats.column(t.rows, f.key)) or { n = 0 }
      rows[#rows + 1] = { what = f.label or f.key, n = sm.n, min = sm.min, median = sm.median,
                          max = sm.max, spread = compact and compact_cell(f.format or t.format,
                                                                          sm.min, sm.median, sm.max) }
    end
    local fmt = t.format
    local columns = { { key = "what" }, { key = "min", format = fmt, hidden = compact },
                      { key = "median", format = fmt, hidden = compact },
                      { key = "max", format = fmt, hidden = compact } }
    if compact then table.insert(columns, 2, { key = "spread", label = "median (min-max)" }) end
    self:table{ title = t.title, rows = rows, note = t.note, main = t.main, key = { "what" },
                columns = columns }
    return rows
  end
  local keys, columns = {}, {}
  for _, b in ipairs(type(t.by) == "table" and t.by or { t.by }) do
    columns[#columns + 1] = { key = b, label = type(t.by) == "string" and t.label or nil }
  end
  columns[#columns + 1] = { key = "n", label = "trials" }
  for _, f in ipairs(decl) do
    keys[#keys + 1] = f.key
    if compact then columns[#columns + 1] = { key = f.key .. "_spread", label = f.label or f.key } end
    for _, w in ipairs{ "min", "median", "max" } do
      columns[#columns + 1] = { key = f.key .. "_" .. w, label = (f.label or f.key) .. " " .. w,
                                format = f.format or t.format, hidden = compact }
    end
  end
  local rows = stats.spread(t.rows, keys, t.by)
  for _, r in ipairs(compact and rows or {}) do
    for _, f in ipairs(decl) do
      r[f.key .. "_spread"] = compact_cell(f.format or t.format, r[f.key .. "_min"],
                                           r[f.key .. "_median"], r[f.key .. "_max"])
    end
  end
  self:table{ title = t.title, columns = columns, rows = rows, note = t.note, main = t.main,
              key = type(t.by) == "table" and t.by or { t.by } }
  return rows
end

-- A plot of field y against field x from rows, one series per value of `by`
-- (optional). With spread=true the rows at one x are summarised as three
-- series: min, median and max. {title=, rows=, x=, y=, by=, spread=, xlabel=, ...}
function M:plot_rows(t)
  local stats = require "qsl.stats"
  local series = {}
  local function sorted(points)
    table.sort(points, function(a, b) return a[1] < b[1] end)
    return points
  end
  for _, g in ipairs(stats.group(t.rows, t.by)) do
    g.value = (tostring(g.value):gsub("%z", " "))     -- by a list of fields: "io_uring 8"
    if t.spread then
      local lo, mid, hi = {}, {}, {}
      for _, at in ipairs(stats.group(g.rows, t.x)) do
        local sm = stats.summary(stats.column(at.rows, t.y))
        lo[#lo + 1], mid[#mid + 1], hi[#hi + 1] = { at.value, sm.min }, { at.value, sm.median }, { at.value, sm.max }
      end
      local pre = t.by and (tostring(g.value) .. " ") or ""
      series[#series + 1] = { name = pre .. "max", points = sorted(hi) }
      series[#series + 1] = { name = pre .. "median", points = sorted(mid) }
      series[#series + 1] = { name = pre .. "min", points = sorted(lo) }
    else
      local pts = {}
      for _, r in ipairs(g.rows) do pts[#pts + 1] = { r[t.x], r[t.y] } end
      series[#series + 1] = { name = t.by and tostring(g.value) or t.y, points = sorted(pts) }
    end
  end
  self:plot{ title = t.title, xlabel = t.xlabel or t.x, ylabel = t.ylabel or t.y, logx = t.logx,
             logy = t.logy, series = series }
end

local function fmt_cell(col, v)
  if v == nil then return "-" end
  if col.format and type(v) == "number" then return col.format:format(v) end
  -- a half is the median of two integers: one decimal says it exactly
  if math.type(v) == "float" then return (v * 2 % 1 == 0 and "%.1f" or "%.3f"):format(v) end
  return tostring(v)
end

local function render_table(t, out)
  if t.title then out[#out + 1] = t.title end
  local shown = {}            -- a hidden column is data for the JSON (and compare), not text
  for _, c in ipairs(t.columns) do
    if not c.hidden then shown[#shown + 1] = c end
  end
  t = { columns = shown, rows = t.rows, note = t.note }
  local cells, widths, text = {}, {}, {}
  for j, c in ipairs(t.columns) do widths[j] = #(c.label or c.key) end
  for i, r in ipairs(t.rows) do
    cells[i] = {}
    for j, c in ipairs(t.columns) do
      local v = r[c.key]
      local s = fmt_cell(c, v)
      cells[i][j] = s
      widths[j] = math.max(widths[j], #s)
      -- words read from the left, numbers line up on the right
      if v ~= nil then text[j] = type(v) == "string" and text[j] ~= false end
    end
  end
  local function line(vals)
    local parts = {}
    for j, v in ipairs(vals) do
      parts[j] = (" %" .. (text[j] and "-" or "") .. widths[j] .. "s"):format(v)
    end
    out[#out + 1] = (table.concat(parts, " "):gsub("%s+$", ""))
  end
  local head = {}
  for j, c in ipairs(t.columns) do head[j] = c.label or c.key end
  line(head)
  local rule = {}
  for j = 1, #widths do rule[j] = string.rep("-", widths[j]) end
  line(rule)
  for i = 1, #cells do line(cells[i]) end
  if t.note then out[#out + 1] = "  " .. t.note end
  out[#out + 1] = ""
end

-- A table as aligned text lines (for qsl-run show and compare too).
function M.render_table(t)
  local out = {}
  render_table(t, out)
  return (table.concat(out, "\n"):gsub("\n+$", "")) .. "\n"
end

-- The tables as the JSON carries them: only the columns' cells, and which columns
-- name a row (key), so that qsl-run show and compare can print them again.
local function json_tables(self)
  local list = {}
  for _, sec in ipairs(self.sections) do
    if sec.kind == "table" then
      local t, rows = sec.t, {}
      for i, r in ipairs(t.rows) do
        rows[i] = {}
        for _, c in ipairs(t.columns) do rows[i][c.key] = r[c.key] end
      end
      list[#list + 1] = { title = t.title, main = t.main or false, key = t.key, note = t.note,
                          columns = t.columns, rows = rows }
    end
  end
  return list
end

local function render_text(self, prov, params)
  local out = { ("# %s"):format(self.title), "" }
  for _, sec in ipairs(self.sections) do
    if sec.kind == "table" then render_table(sec.t, out) else out[#out + 1] = sec.s; out[#out + 1] = "" end
  end
  if #self.caveats > 0 then
    out[#out + 1] = "Caveats:"
    for _, c in ipairs(self.caveats) do out[#out + 1] = "  - " .. c end
    out[#out + 1] = ""
  end
  out[#out + 1] = "Parameters:"
  local keys = {}
  for k in pairs(params) do keys[#keys + 1] = k end
  table.sort(keys)
  local scen = require "qsl.scenario"
  for _, k in ipairs(keys) do out[#out + 1] = ("  %s = %s"):format(k, scen.show(params[k])) end
  out[#out + 1] = ""
  out[#out + 1] = "Provenance:"
  for _, k in ipairs({ "command", "date_utc", "kernel", "machine", "os", "clk_tck", "cpu",
                       "cpus_online", "compiler", "cflags", "lua", "strace", "qsl_run",
                       "scenario_sha256" }) do
    if prov[k] ~= nil then out[#out + 1] = ("  %-12s %s"):format(k, tostring(prov[k])) end
  end
  out[#out + 1] = ("  %-12s %s%s"):format("git", prov.git.commit,
    prov.git.dirty == nil and "" or (prov.git.dirty and " (dirty tree)" or " (clean tree)"))
  local names = {}
  for k in pairs(prov.sysctls) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do out[#out + 1] = ("  %-12s %s = %s"):format("sysctl", k, tostring(prov.sysctls[k])) end
  for _, l in ipairs(prov.links or {}) do
    for _, side in ipairs{ "a", "b" } do
      local e, offs = l[side], {}
      if type(e.offloads) == "table" then
        for _, k in ipairs{ "gso", "gro", "tso" } do
          offs[#offs + 1] = k .. " " .. tostring(e.offloads[k])
        end
      end
      out[#out + 1] = ("  %-12s %s mtu %s, %s"):format("link", e.ifname, tostring(e.mtu),
        type(e.offloads) == "table" and table.concat(offs, ", ") or tostring(e.offloads))
    end
  end
  return table.concat(out, "\n") .. "\n"
end

-- What a run prints on stdout: the main tables (all when none is marked), any
-- text, where the caveats are, and the paths written.
local function summary(self, paths)
  local out, main = {}, false
  for _, sec in ipairs(self.sections) do
    if sec.kind == "table" and sec.t.main then main = true end
  end
  for _, sec in ipairs(self.sections) do
    if sec.kind == "table" and (sec.t.main or not main) then
      render_table(sec.t, out)
    elseif sec.kind == "text" then
      out[#out + 1] = sec.s
      out[#out + 1] = ""
    end
  end
  if #self.caveats > 0 then
    out[#out + 1] = ("%d caveat(s), parameters and provenance in %s"):format(#self.caveats, paths[1])
  end
  out[#out + 1] = "wrote " .. table.concat(paths, ", ")
  return table.concat(out, "\n") .. "\n"
end

local function write_file(path, content)
  local f, err = io.open(path, "w")
  if not f then return nil, err end
  local ok, werr = f:write(content)
  local cok, cerr = f:close()
  if not ok or not cok then return nil, (werr or cerr or ("cannot write " .. path)) end
  return true
end

local function gnuplot_available()
  return qsl.have("gnuplot") ~= nil
end

-- The temporary files of one write, removed on every way out: success, an
-- error, or an interrupt unwinding through the to-be-closed variable.
local function tempset()
  return setmetatable({}, { __close = function(t)
    for path in pairs(t) do os.remove(path) end
  end })
end

-- Render the plots into one SVG with gnuplot, run as a child like any other
-- (so an interrupt stops it and ends the run); returns the SVG text or nil, why.
local function render_svg(self, tmpbase, tmps)
  local svgpath = tmpbase .. ".svg"
  tmps[svgpath] = true
  local script = { "set terminal svg size 900," .. (420 * #self.plots) .. " dynamic noenhanced font 'sans,11'",
                   "set output '" .. svgpath .. "'", "set key outside right top", "set grid" }
  if #self.plots > 1 then script[#script + 1] = ("set multiplot layout %d,1"):format(#self.plots) end
  for pi, p in ipairs(self.plots) do
    script[#script + 1] = "set title " .. ("%q"):format(p.title or "")
    script[#script + 1] = "set xlabel " .. ("%q"):format(p.xlabel or "")
    script[#script + 1] = "set ylabel " .. ("%q"):format(p.ylabel or "")
    script[#script + 1] = p.logx and "set logscale x" or "unset logscale x"
    script[#script + 1] = p.logy and "set logscale y" or "unset logscale y"
    local plots = {}
    for si, s in ipairs(p.series) do
      local dpath = ("%s.p%d.s%d.dat"):format(tmpbase, pi, si)
      tmps[dpath] = true
      local rows = {}
      for _, pt in ipairs(s.points) do rows[#rows + 1] = ("%.17g %.17g"):format(pt[1], pt[2]) end
      local ok, err = write_file(dpath, table.concat(rows, "\n") .. "\n")
      if not ok then return nil, err end
      plots[#plots + 1] = ("'%s' using 1:2 with linespoints title %q"):format(dpath, s.name or ("series " .. si))
    end
    script[#script + 1] = "plot " .. table.concat(plots, ", ")
  end
  if #self.plots > 1 then script[#script + 1] = "unset multiplot" end
  local gp = tmpbase .. ".gp"
  tmps[gp] = true
  local ok, err = write_file(gp, table.concat(script, "\n") .. "\n")
  if not ok then return nil, err end
  local g <close>, serr = qsl.proc.spawn{ argv = { "gnuplot", gp } }
  if not g then return nil, "gnuplot: " .. tostring(serr) end
  local st, werr = g:wait(60000)
  if not st then return nil, "gnuplot: " .. werr end
  if not st.exited or st.code ~= 0 then
    return nil, ("gnuplot failed (%s): %s"):format(st.signal_name or ("exit " .. tostring(st.code)),
                                                   (g:errors():gsub("%s+$", "")))
  end
  local svg = read_file(svgpath)
  if not svg then return nil, "gnuplot wrote no SVG" end
  return svg
end

-- Write the artifact and print its summary on stdout (none with quiet=true, the
-- JSON with json=true; write{quiet=} overrides); returns the list of paths written. Refuses (exit 3)
-- when a measurement was marked invalid; exit 1 naming the path when a file
-- cannot be written. Every file is written under a temporary name unique to
-- this run (pid and a random part), then all are renamed into place under a
-- lock on the artifact's name, so two runs into one directory never mix
-- their files; temporary files are removed on every way out.
function M:write(opts)
  opts = opts or {}
  require("qsl.scenario").end_progress()
  if #self.problems > 0 then
    pending[self] = nil         -- decided: refused, not forgotten
    qsl.refuse(("%s: %d invalid measurement(s): %s"):format(self.name, #self.problems,
      table.concat(self.problems, "; ")))
  end
  local params = (self.scenario and self.scenario.values) or {}
  local bad = self.unreconciled
  if #bad > 0 then self:text("RECONCILIATION FAILED: " .. table.concat(bad, "; ")) end
  if #bad > 0 or self.data.unreconciled == nil then self.data.unreconciled = bad end
  local dir = opts.dir or params.out or "results/runs"
  if dir == "" then qsl.fail(self.name .. ": the output directory is empty") end
  local prov = M.provenance({ sysctls = opts.sysctls, argv = self.scenario and self.scenario.argv })
  local cjson = require "cjson"
  local doc = { schema = M.SCHEMA, name = self.name, title = self.title, parameters = params,
                provenance = prov, caveats = self.caveats, results = self.data,
                tables = json_tables(self) }
  local ok, json = pcall(cjson.encode, doc)
  if not ok then qsl.fail(self.name .. ": results cannot be written as JSON: " .. tostring(json)) end
  local tmps <close> = tempset()
  local tag = ("%d.%d"):format(qsl.fs.pid(), math.random(1, 1 << 30))
  local files = { { ext = "txt", content = render_text(self, prov, params) },
                  { ext = "json", content = json .. "\n" } }
  -- The data goes in whatever the plot does: a plot with no point is not drawn, and one
  -- gnuplot cannot draw leaves the text and JSON in place, its script kept and named.
  local drawable, empty = {}, {}
  for _, p in ipairs(self.plots) do
    local points = 0
    for _, sr in ipairs(p.series or {}) do points = points + #(sr.points or {}) end
    if points > 0 then drawable[#drawable + 1] = p else empty[#empty + 1] = ("%q"):format(p.title or "") end
  end
  if #empty > 0 then
    files[1].content = files[1].content .. ("(plot %s not drawn: no points)\n"):format(table.concat(empty, ", "))
  end
  local plot_failed
  if #drawable > 0 and not gnuplot_available() then
    files[1].content = files[1].content .. "(plot skipped: gnuplot is not installed)\n"
  elseif #drawable > 0 then
    local plots = self.plots
    self.plots = drawable
    local base = ("%s/.%s.plot.%s"):format(dir, self.name, tag)
    local svg, err = render_svg(self, base, tmps)
    self.plots = plots
    if svg then
      files[#files + 1] = { ext = "svg", content = svg }
    else
      local titles = {}
      for _, p in ipairs(drawable) do titles[#titles + 1] = ("%q"):format(p.title or "") end
      for path in pairs(tmps) do
        if path:sub(1, #base) == base and not path:match("%.svg$") then tmps[path] = nil end
      end
      plot_failed = ("plot %s: %s (its gnuplot script is kept: %s.gp)"):format(
        table.concat(titles, ", "), tostring(err), base)
      files[1].content = files[1].content .. ("(plot not drawn: %s)\n"):format(plot_failed)
    end
  end
  for _, f in ipairs(files) do
    f.path = ("%s/%s.%s"):format(dir, self.name, f.ext)
    f.tmp = ("%s/.%s.%s.tmp.%s"):format(dir, self.name, f.ext, tag)
    tmps[f.tmp] = true
    local wok, err = write_file(f.tmp, f.content)
    if not wok then qsl.fail(("cannot write %s: %s"):format(f.path, tostring(err))) end
  end
  local lock <close>, lerr = qsl.fs.lock(("%s/.%s.lock"):format(dir, self.name))
  if not lock then qsl.fail(("cannot lock %s: %s"):format(dir, tostring(lerr))) end
  local written = {}
  for _, f in ipairs(files) do
    local rok, err = os.rename(f.tmp, f.path)
    if not rok then qsl.fail(("cannot move %s into place: %s"):format(f.path, tostring(err))) end
    tmps[f.tmp] = nil
    written[#written + 1] = f.path
  end
  pending[self] = nil
  local quiet = opts.quiet
  if quiet == nil then quiet = params.quiet end
  if params.json and not quiet then
    io.stdout:write(json, "\n")
    io.stderr:write("wrote ", table.concat(written, ", "), "\n")
  elseif not quiet then
    io.stdout:write(summary(self, written))
  end
  io.stdout:flush()
  if plot_failed then
    qsl.fail(("%s: wrote %s, but the %s"):format(self.name, table.concat(written, ", "), plot_failed))
  end
  if #bad > 0 then qsl.fail(("%s: %d trial(s) do not reconcile"):format(self.name, #bad)) end
  return written
end

return M
