-- qsl.sweep: the search loops experiments share.
--   bisect{lo=, hi=, steps=, probe=function(x) -> ok} -> {best=, first_bad=, probes={...}}
--     The highest x in [lo, hi] for which probe says ok, by geometric bisection
--     (rates and sizes span decades): hi is tried first, then lo, then the
--     geometric midpoint of the highest ok and the lowest bad, `steps` times.
--     best is nil when even lo fails; first_bad is nil when even hi passes.
--   grid(values..., fn) -> calls fn for every combination, in order
local M = {}

function M.bisect(o)
  assert(type(o.probe) == "function", "sweep.bisect: probe must be a function")
  assert(o.lo and o.hi and o.lo > 0 and o.lo < o.hi, "sweep.bisect: needs 0 < lo < hi")
  local good, bad, probes = nil, nil, {}
  local function try(x)
    local ok = o.probe(x)
    probes[#probes + 1] = { x = x, ok = ok }
    if ok then good = math.max(good or x, x) else bad = math.min(bad or x, x) end
    return ok
  end
  if try(o.hi) then return { best = o.hi, probes = probes } end
  if not try(o.lo) then return { first_bad = o.lo, probes = probes } end
  for _ = 1, o.steps or 6 do
    local mid = math.floor(math.sqrt(good * bad) + 0.5)
    if mid <= good or mid >= bad then break end
    try(mid)
  end
  return { best = good, first_bad = bad, probes = probes }
end

function M.grid(...)
  local lists = table.pack(...)
  local fn = table.remove(lists, lists.n)
  local n = lists.n - 1
  local function walk(i, chosen)
    if i > n then return fn(table.unpack(chosen, 1, n)) end
    for _, v in ipairs(lists[i]) do
      chosen[i] = v
      walk(i + 1, chosen)
    end
  end
  walk(1, {})
end

return M
