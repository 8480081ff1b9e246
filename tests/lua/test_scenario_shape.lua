-- The shipped scenarios read as experiments: within their line budgets (non-blank,
-- non-comment lines), lines under 100 characters, no `return nil, err` plumbing and
-- no lists of result fields (the roles' declarations check those).
local budget = {
  rcvbuf_burst = 80, rcvbuf_sweep = 60, profile_gateway = 108, TEMPLATE = 40,
  engine_flow = 41, feed_throughput = 48, gateway_load = 75, gateway_scaling = 61,
  gateway_abuse = 131, gateway_modes = 78, feed_drain = 66, path_loss = 75,
  multicast_fanout = 68,
}
for name, max in pairs(budget) do
  test(name, function()
    local path = "scenarios/" .. name .. ".lua"
    local n = 0
    local ln = 0
    for line in io.lines(path) do
      ln = ln + 1
      if not line:match("^%s*$") and not line:match("^%s*%-%-") then n = n + 1 end
      assert(#line < 100, ("%s:%d: %d characters"):format(path, ln, #line))
      assert(not line:find("return nil, ", 1, true), ("%s:%d: nil, err plumbing"):format(path, ln))
      assert(not line:find("numbers = {", 1, true), ("%s:%d: a list of result fields"):format(path, ln))
    end
    assert(n <= max, ("%s: %d lines, the budget is %d"):format(path, n, max))
  end)
end
