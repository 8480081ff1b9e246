-- qsl.stats: summaries of repeated measurements. A figure is reported with
-- its spread (min / median / max over trials), never as one number.
local M = {}

local function sorted_copy(xs)
  local t = {}
  for i, v in ipairs(xs) do
    if type(v) ~= "number" or v ~= v then
      error(("stats: element %d is not a number (%s)"):format(i, tostring(v)), 3)
    end
    t[i] = v
  end
  table.sort(t)
  return t
end

-- Nearest-rank percentile (p in 0..100) of a list: always one of the values.
function M.percentile(xs, p)
  if type(p) ~= "number" or p < 0 or p > 100 then
    error("stats.percentile: p must be a number in 0..100", 2)
  end
  local t = sorted_copy(xs)
  if #t == 0 then return nil end
  local rank = math.max(1, math.ceil(p / 100 * #t))
  return t[rank]
end

-- Median: the middle value, or the mean of the two middle values. The median of
-- integers is an integer when it is whole (it prints as its values do: 12297, not
-- 12297.000), and a half otherwise.
function M.median(xs)
  local t = sorted_copy(xs)
  local n = #t
  if n == 0 then return nil end
  if n % 2 == 1 then return t[(n + 1) // 2] end
  local a, b = t[n // 2], t[n // 2 + 1]
  if math.type(a) == "integer" and math.type(b) == "integer" and (a + b) % 2 == 0 then
    return a // 2 + b // 2 + (a % 2 + b % 2) // 2
  end
  return (a + b) / 2
end

-- {n, min, median, max, mean, stdev (sample; nil for one value)} of a list. An empty
-- list is an error: a summary of nothing would be a table of nils that looks like one.
function M.summary(xs)
  local t = sorted_copy(xs)
  local n = #t
  if n == 0 then error("stats.summary: an empty list has no min, median or max", 2) end
  local s = { n = n }
  local sum = 0
  for _, v in ipairs(t) do sum = sum + v end
  s.min, s.max, s.mean = t[1], t[n], sum / n
  s.median = M.median(t)
  if n > 1 then
    local sq = 0
    for _, v in ipairs(t) do sq = sq + (v - s.mean) ^ 2 end
    s.stdev = math.sqrt(sq / (n - 1))
  end
  return s
end

-- The values of field k across a list of records. A record without it is an error
-- naming the field: a hole would silently cut the list short at that record.
function M.column(records, k)
  local out = {}
  for i, r in ipairs(records) do
    if r[k] == nil then error(("stats.column: record %d has no field '%s'"):format(i, tostring(k)), 2) end
    out[i] = r[k]
  end
  return out
end

-- Rows grouped by the value of field `by` (or of a list of fields), in order of first
-- appearance: {{value = v, rows = {...}}, ...}. Without `by`, one group of every row.
function M.group(rows, by)
  local groups, index = {}, {}
  for _, r in ipairs(rows) do
    local v = by and r[by] or true
    if type(by) == "table" then           -- several fields: their values joined
      local parts = {}
      for i, f in ipairs(by) do parts[i] = tostring(r[f]) end
      v = table.concat(parts, "\0")
    end
    local g = index[v]
    if not g then
      g = { value = v, rows = {} }
      index[v] = g
      groups[#groups + 1] = g
    end
    g.rows[#g.rows + 1] = r
  end
  return groups
end

-- Per group: n and min/median/max of each field, as one row
-- {[by] = value, n = , <field>_min = , <field>_median = , <field>_max = }.
function M.spread(rows, fields, by)
  local out = {}
  for _, g in ipairs(M.group(rows, by)) do
    local row = { n = #g.rows }
    for _, f in ipairs(type(by) == "table" and by or { by }) do row[f] = g.rows[1][f] end
    for _, f in ipairs(fields) do
      local sm = M.summary(M.column(g.rows, f))
      row[f .. "_min"], row[f .. "_median"], row[f .. "_max"] = sm.min, sm.median, sm.max
    end
    out[#out + 1] = row
  end
  return out
end

return M
