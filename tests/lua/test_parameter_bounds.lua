-- Issue 21.16: every scenario parameter is bounded by what can run, and refused past its
-- bounds before trial 1. Generated from the declarations (`qsl-run SCENARIO --params`) of
-- every file in scenarios/, so a new scenario or parameter is covered with no edit here:
-- each number just past its min and max, each list with an element out of range, a
-- repeated element and one item too many, must end the run with exit 1 naming the
-- parameter, and with no trial started.
local qsl = require "qsl"
local cjson = require "cjson"

local function run(script, ...)
  local p <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, script, "out=" .. scratch(),
                                                    "progress=true", ... } })
  local st = assert(p:wait(20000), script .. ": still running after 20 s")
  return st.code, p:errors()
end

local function scenarios()
  local list = {}
  for name in ls("scenarios"):gmatch("[^\n]+") do
    if name:match("%.lua$") then list[#list + 1] = "scenarios/" .. name end
  end
  assert(#list >= 12, "scenarios/ holds " .. #list .. " files")
  return list
end

-- The values past a parameter's bounds, as key=value texts (none for text and booleans).
local EXACT = 2 ^ 53
local function past_bounds(d)
  local out = {}
  local function add(v) out[#out + 1] = d.name .. "=" .. v end
  local function num(x)
    return d.type:find("integer") and ("%d"):format(x) or ("%.17g"):format(x)
  end
  local list = d.type:find("_list$")
  if d.type == "integer" or d.type == "number" or d.type == "integer_list" or
     d.type == "number_list" then
    assert(type(d.min) == "number" and type(d.max) == "number", d.name .. ": unbounded")
    if d.max < EXACT then add(num(d.max + 1)) end
    if d.min > -EXACT then add(num(d.min - 1)) end
  end
  if list then
    local first = d.values and d.values[1] or num(d.min)
    add(first .. "," .. first)                              -- a repeated element
    if d.type ~= "enum_list" and d.max - d.min >= d.max_items then
      local items = {}
      for i = 0, d.max_items do items[#items + 1] = num(d.min + i) end
      add(table.concat(items, ","))                         -- one item too many
    end
  end
  return out
end

test("every scenario's parameters are refused past their bounds, before trial 1", function()
  local tried = 0
  for _, script in ipairs(scenarios()) do
    local p <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, script, "--params" } })
    local st = assert(p:wait(10000))
    assert(st.code == 0, script .. " --params: " .. p:errors())
    for _, d in ipairs(cjson.decode(p:output())) do
      for _, kv in ipairs(past_bounds(d)) do
        local code, err = run(script, kv)
        assert(code == 1, ("%s %s: exit %s, not 1: %s"):format(script, kv, tostring(code), err))
        assert(err:find("parameter " .. d.name .. "=", 1, true),
               ("%s %s: the error does not name the parameter: %s"):format(script, kv, err))
        assert(not err:find("%] trial "), ("%s %s: a trial started: %s"):format(script, kv, err))
        tried = tried + 1
      end
    end
  end
  assert(tried >= 100, "only " .. tried .. " values tried")
  io.stderr:write(("  %d values past their bounds, every one refused before trial 1\n"):format(tried))
end)

test("a scenario declaring a number without bounds does not load", function()
  local e = error_of(require("qsl.scenario").new, { name = "x", description = "d",
    params = { { "n", "integer", 1, "unbounded", min = 0 } } })
  assert(e:find("parameter 'n' needs min= and max=", 1, true), e)
end)
