-- qsl.compare: read artifacts' JSON back; `qsl-run show A.json` prints one's
-- summary, `qsl-run compare A.json B.json [...]` puts the same tables side by side
-- with ratios to the first (B/A) and a warning for every provenance field that
-- differs, because a ratio between two machines or two kernels is not a change. A
-- median is marked a change only when the runs' per-trial ranges do not overlap.
local artifact = require "qsl.artifact"
local M = {}

-- The artifact at path, or nil and why it cannot be read.
function M.load(path)
  local f, err = io.open(path, "r")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  local ok, doc = pcall(require("cjson").decode, text)
  if not ok or type(doc) ~= "table" then
    return nil, ("%s: not a qsl artifact (not JSON: %s)"):format(path, tostring(doc))
  end
  if doc.schema == nil then
    return nil, ("%s: written by a qsl-run older than artifact schemas (no 'schema' field); "
                 .. "run the scenario again to compare it"):format(path)
  end
  if doc.schema ~= artifact.SCHEMA then
    return nil, ("%s: artifact schema %s, this qsl-run reads schema %d"):format(path,
                 tostring(math.tointeger(doc.schema) or doc.schema), artifact.SCHEMA)
  end
  if type(doc.name) ~= "string" or type(doc.tables) ~= "table" or type(doc.provenance) ~= "table" then
    return nil, ("%s: schema %d artifact without name, tables or provenance"):format(path, doc.schema)
  end
  -- JSON gives integers back as floats: 2 trials, not 2.000
  for _, t in ipairs(doc.tables) do
    for _, r in ipairs(type(t.rows) == "table" and t.rows or {}) do
      for k, v in pairs(r) do r[k] = math.tointeger(v) or v end
    end
  end
  doc.path = path
  return doc
end

local function main_tables(doc)
  local list, any = {}, false
  for _, t in ipairs(doc.tables) do any = any or t.main end
  for _, t in ipairs(doc.tables) do
    if t.main or not any then list[#list + 1] = t end
  end
  return list
end

-- parameters and provenance as qsl writes them (JSON gives 2 CPUs back as 2.0)
local flat = require("qsl.scenario").show

function M.show(doc)
  local out = { ("%s: %s"):format(doc.name, doc.title or "") , "" }
  for _, t in ipairs(main_tables(doc)) do out[#out + 1] = artifact.render_table(t) end
  for _, c in ipairs(doc.caveats or {}) do out[#out + 1] = "caveat: " .. c end
  local p, git = doc.provenance, doc.provenance.git or {}
  out[#out + 1] = ("measured %s, kernel %s, %s CPUs, commit %s%s"):format(tostring(p.date_utc),
    tostring(p.kernel), flat(p.cpus_online), tostring(git.commit), git.dirty and " (dirty)" or "")
  return table.concat(out, "\n") .. "\n"
end

-- One warning line for each provenance field or parameter that differs from the first file.
function M.differences(docs)
  local warn = {}
  local function check(what, get)
    local a = flat(get(docs[1]))
    for i = 2, #docs do
      local b = flat(get(docs[i]))
      if a ~= b then
        warn[#warn + 1] = ("warning: %s differs: %s in %s, %s in %s"):format(what, a, docs[1].path, b,
                                                                         docs[i].path)
      end
    end
  end
  for _, k in ipairs{ "kernel", "cpu", "cpus_online", "compiler", "cflags", "lua", "qsl_run",
                      "scenario_sha256" } do
    check(k, function(d) return d.provenance[k] end)
  end
  check("commit", function(d) return (d.provenance.git or {}).commit end)
  check("dirty tree", function(d) return (d.provenance.git or {}).dirty end)
  local names = {}
  for k in pairs(docs[1].provenance.sysctls or {}) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    check("sysctl " .. k, function(d) return (d.provenance.sysctls or {})[k] end)
  end
  local params = {}
  for _, d in ipairs(docs) do
    for k in pairs(d.parameters or {}) do params[k] = true end
  end
  local keys = {}
  for k in pairs(params) do
    if k ~= "out" and k ~= "progress" and k ~= "quiet" and k ~= "json" then keys[#keys + 1] = k end
  end
  table.sort(keys)
  for _, k in ipairs(keys) do
    check("parameter " .. k, function(d) return (d.parameters or {})[k] end)
  end
  return warn
end

-- Which columns name a row: the table's key, else its columns that are never
-- numbers, else its first column.
local function key_columns(t)
  if type(t.key) == "table" and #t.key > 0 then return t.key end
  local keys = {}
  for _, c in ipairs(t.columns) do
    local numeric = false
    for _, r in ipairs(t.rows) do numeric = numeric or type(r[c.key]) == "number" end
    if not numeric then keys[#keys + 1] = c.key end
  end
  if #keys == 0 and t.columns[1] then keys[1] = t.columns[1].key end
  return keys
end

local function row_id(r, keys)
  local parts = {}
  for j, k in ipairs(keys) do parts[j] = flat(r[k]) end
  return table.concat(parts, "\t")
end

-- The row ids of a table, or nil, why when its key does not name each row once:
-- pairing rows by a key that two rows share would compare the wrong numbers.
local function unique_ids(t, keys, path)
  local seen = {}
  for i, r in ipairs(t.rows) do
    local id = row_id(r, keys)
    if seen[id] then
      return nil, ("%s: table %q: key (%s) does not identify a row: rows %d and %d are both %q; "
                   .. "declare the table with key = {...} naming columns that tell its rows apart")
                  :format(path, t.title or "", table.concat(keys, ", "), seen[id], i,
                          (id:gsub("\t", " ")))
    end
    seen[id] = i
  end
  return seen
end

local function same_columns(a, b)
  if #a.columns ~= #b.columns then return false end
  for i, c in ipairs(a.columns) do
    if c.key ~= b.columns[i].key then return false end
  end
  return true
end

local function ratio(a, b)
  if type(a) ~= "number" or type(b) ~= "number" or a == 0 then return nil end
  return b / a
end

-- The range a median comes with in its row: spread's by-form names them FIELD_min and
-- FIELD_max beside FIELD_median, its one-line-per-field form min and max beside median.
local function range_keys(key)
  local field = key:match("^(.*)_median$")
  if field then return field .. "_min", field .. "_max" end
  if key == "median" then return "min", "max" end
end

-- Whether B's median moved out of noise: the per-trial ranges of A and B do not overlap
-- ("change"), or do ("noise"); nil for a value that is no median, or without its ranges.
local function noise_mark(key, ra, rb)
  local lo, hi = range_keys(key)
  if not lo or not ra or not rb then return nil end
  local alo, ahi, blo, bhi = ra[lo], ra[hi], rb[lo], rb[hi]
  if type(alo) ~= "number" or type(ahi) ~= "number" or type(blo) ~= "number" or
     type(bhi) ~= "number" then
    return nil              -- a median shown without its range: no verdict
  end
  return (bhi < alo or blo > ahi) and "change" or "noise"
end

-- What changed between two tables' columns: nil when nothing did, else a line naming the
-- columns only in A and only in B.
local function column_change(a, b, path)
  local in_a, in_b, only_a, only_b = {}, {}, {}, {}
  for _, c in ipairs(a.columns) do in_a[c.key] = true end
  for _, c in ipairs(b.columns) do
    in_b[c.key] = true
    if not in_a[c.key] then only_b[#only_b + 1] = c.key end
  end
  for _, c in ipairs(a.columns) do
    if not in_b[c.key] then only_a[#only_a + 1] = c.key end
  end
  if #only_a == 0 and #only_b == 0 then return nil end
  return ("table %q: its columns changed in %s: %s%s%s; the others are compared"):format(
    a.title or "", path, #only_a > 0 and ("only in A: " .. table.concat(only_a, ", ")) or "",
    #only_a > 0 and #only_b > 0 and "; " or "",
    #only_b > 0 and ("only in this run: " .. table.concat(only_b, ", ")) or "")
end

-- The i-th main table of every doc, side by side, one line per (row, value column):
-- {title, keys, lines = {{key = {cells}, column = label, values = {per doc}, ratios = {per
-- later doc}, marks = {per later doc: "change", "noise" or nil}, format = }}, changed =
-- {lines saying which columns changed}}, or nil, why (and true: refuse the comparison).
local function side_by_side(docs, ti)
  local base = main_tables(docs[1])[ti]
  local keys = key_columns(base)
  local ok, why = unique_ids(base, keys, docs[1].path)
  if not ok then return nil, why, true end
  local index, changed, present = {}, {}, {}
  for d = 2, #docs do
    local t = main_tables(docs[d])[ti]
    if not t or t.title ~= base.title and not same_columns(base, t) then
      return nil, ("table %d (%s) is not in %s: not compared"):format(ti, base.title or "",
                   docs[d].path)
    end
    changed[#changed + 1] = column_change(base, t, docs[d].path)
    present[d] = {}
    for _, c in ipairs(t.columns) do present[d][c.key] = true end
    local tkeys = key_columns(t)
    ok, why = unique_ids(t, tkeys, docs[d].path)
    if not ok then return nil, why, true end
    index[d] = {}
    for _, r in ipairs(t.rows) do index[d][row_id(r, tkeys)] = r end
  end
  local is_key = {}
  for _, k in ipairs(keys) do is_key[k] = true end
  local lines = {}
  for _, r in ipairs(base.rows) do
    local id, key = row_id(r, keys), {}
    for j, k in ipairs(keys) do key[j] = flat(r[k]) end
    for _, c in ipairs(base.columns) do
      if not is_key[c.key] then
        local values, ratios, marks = { r[c.key] }, {}, {}
        for d = 2, #docs do
          local o = index[d][id]
          local v = o and present[d][c.key] and o[c.key] or nil
          values[d], ratios[d] = v, ratio(r[c.key], v)
          marks[d] = v ~= nil and noise_mark(c.key, r, o) or nil
        end
        lines[#lines + 1] = { key = key, column = c.label or c.key, values = values,
                              ratios = ratios, marks = marks, format = c.format }
      end
    end
  end
  local labels = {}
  for j, k in ipairs(keys) do
    labels[j] = k
    for _, c in ipairs(base.columns) do
      if c.key == k and c.label then labels[j] = c.label end
    end
  end
  return { title = base.title, keys = labels, lines = lines, changed = changed }
end

local function cell(v, format)
  if v == nil then return "-" end
  if format and type(v) == "number" then return format:format(v) end
  if math.type(v) == "float" then
    return v == math.floor(v) and math.abs(v) < 2 ^ 53 and ("%d"):format(v) or ("%.3f"):format(v)
  end
  return tostring(v)
end

local function as_table(sbs, ndocs, letters)
  local columns, rows = {}, {}
  for j, k in ipairs(sbs.keys) do columns[#columns + 1] = { key = "k" .. j, label = k } end
  columns[#columns + 1] = { key = "column", label = "value" }
  for d = 1, ndocs do columns[#columns + 1] = { key = "v" .. d, label = letters[d] } end
  for d = 2, ndocs do
    columns[#columns + 1] = { key = "r" .. d, label = letters[d] .. "/A" }
    columns[#columns + 1] = { key = "m" .. d, label = letters[d] .. " vs noise" }
  end
  for _, l in ipairs(sbs.lines) do
    local row = { column = l.column }
    for j, k in ipairs(l.key) do row["k" .. j] = k end
    for d = 1, ndocs do row["v" .. d] = cell(l.values[d], l.format) end
    for d = 2, ndocs do
      row["r" .. d] = l.ratios[d] and ("%.3f"):format(l.ratios[d]) or "-"
      row["m" .. d] = l.marks[d] or ""
    end
    rows[#rows + 1] = row
  end
  return { title = sbs.title, columns = columns, rows = rows,
           note = "change: the per-trial ranges (min-max) do not overlap; noise: they do, " ..
                  "whatever the ratio says" }
end

local function csv_cell(v)
  if v == nil then return "" end
  local s = math.type(v) == "float" and ("%.15g"):format(v) or tostring(v)
  if s:find('[,"\n]') then s = '"' .. s:gsub('"', '""') .. '"' end
  return s
end

local function as_csv(sbs, ndocs, out)
  for _, l in ipairs(sbs.lines) do
    local line = { csv_cell(sbs.title), csv_cell(table.concat(l.key, " ")), csv_cell(l.column) }
    for d = 1, ndocs do line[#line + 1] = csv_cell(l.values[d]) end
    for d = 2, ndocs do line[#line + 1] = csv_cell(l.ratios[d]) end
    for d = 2, ndocs do line[#line + 1] = csv_cell(l.marks[d]) end
    out[#out + 1] = table.concat(line, ",")
  end
end

-- The comparison as text (or CSV with csv=true) and its warnings; nil, why when the
-- files are not runs of one scenario.
function M.compare(docs, opts)
  opts = opts or {}
  for d = 2, #docs do
    if docs[d].name ~= docs[1].name then
      return nil, ("%s is from scenario %s, %s from scenario %s: compare takes runs of one scenario")
                  :format(docs[1].path, docs[1].name, docs[d].path, docs[d].name)
    end
  end
  local letters = {}
  for d = 1, #docs do letters[d] = d <= 26 and string.char(64 + d) or ("F" .. d) end
  local out, warn = {}, M.differences(docs)
  if opts.csv then
    local head = { "table", "row", "column" }
    for d = 1, #docs do head[#head + 1] = csv_cell(docs[d].path) end
    for d = 2, #docs do head[#head + 1] = letters[d] .. "/A" end
    for d = 2, #docs do head[#head + 1] = letters[d] .. " mark" end
    out[#out + 1] = table.concat(head, ",")
  else
    for d, doc in ipairs(docs) do out[#out + 1] = ("%s = %s"):format(letters[d], doc.path) end
    out[#out + 1] = ""
  end
  for ti = 1, #main_tables(docs[1]) do
    local sbs, why, fatal = side_by_side(docs, ti)
    if fatal then
      return nil, why
    elseif not sbs then
      warn[#warn + 1] = "warning: " .. why
    else
      for _, c in ipairs(sbs.changed) do warn[#warn + 1] = "warning: " .. c end
      if opts.csv then
        as_csv(sbs, #docs, out)
      else
        for _, c in ipairs(sbs.changed) do out[#out + 1] = c end
        out[#out + 1] = artifact.render_table(as_table(sbs, #docs, letters))
      end
    end
  end
  return table.concat(out, "\n") .. "\n", warn
end

-- qsl-run show FILE... | qsl-run compare [--csv] A.json B.json [...]
function M.main(argv)
  local qsl = require "qsl"
  local cmd, files, csv = argv[1], {}, false
  for i = 2, #argv do
    if argv[i] == "--csv" and cmd == "compare" then csv = true else files[#files + 1] = argv[i] end
  end
  local need = cmd == "compare" and 2 or 1
  if #files < need then
    qsl.fail(cmd == "compare" and "usage: qsl-run compare [--csv] A.json B.json [C.json ...]"
             or "usage: qsl-run show A.json [...]")
  end
  local docs = {}
  for i, path in ipairs(files) do
    local doc, err = M.load(path)
    if not doc then qsl.fail(err) end
    docs[i] = doc
  end
  if cmd == "show" then
    for i, doc in ipairs(docs) do io.stdout:write(i > 1 and "\n" or "", M.show(doc)) end
    return
  end
  local text, warn = M.compare(docs, { csv = csv })
  if not text then qsl.fail(warn) end
  io.stdout:write(text)
  for _, w in ipairs(warn) do
    if csv then io.stderr:write(w, "\n") else io.stdout:write(w, "\n") end
  end
end

return M
