-- Every scenario in scenarios/ reads as an experiment and cannot be forgotten: found from
-- the directory (a new file is covered with no edit here), each has lines under 100
-- characters, no `return nil, err` plumbing, no lists of result fields (the roles'
-- declarations check those), a `--help` that works, a quick run of its own (`--quick`:
-- run here, it must write its artifact, or skip with a reason), a section in
-- docs/scenarios.md and its detailed checks in tests/smoke.sh.
local qsl = require "qsl"

local docs = read("docs/scenarios.md")
local smoke = read("tests/smoke.sh")
local names = {}
for file in ls("scenarios"):gmatch("[^\n]+") do
  if file:match("%.lua$") then names[#names + 1] = file:gsub("%.lua$", "") end
end
assert(#names >= 13, "scenarios/ holds " .. #names .. " scenarios")

for _, name in ipairs(names) do
  test(name, function()
    local path = "scenarios/" .. name .. ".lua"
    local ln = 0
    for line in io.lines(path) do
      ln = ln + 1
      assert(#line < 100, ("%s:%d: %d characters"):format(path, ln, #line))
      assert(not line:find("return nil, ", 1, true), ("%s:%d: nil, err plumbing"):format(path, ln))
      assert(not line:find("numbers = {", 1, true), ("%s:%d: a list of result fields"):format(path, ln))
    end
    local p <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, path, "--help" } })
    local st = assert(p:wait(10000))
    assert(st.code == 0 and p:output():find("parameters (key=value):", 1, true),
           path .. " --help: " .. p:errors())
    local out = scratch()
    local q <close> = assert(qsl.proc.spawn{ argv = { QSL_RUN, path, "--quick", "--quiet",
                                                      "out=" .. out } })
    local qs = assert(q:wait(300000), path .. " --quick ran for 5 minutes")
    assert(qs.code == 0 or qs.code == 2, ("%s --quick: exit %s: %s"):format(path,
           tostring(qs.code), q:errors()))
    assert(qs.code == 2 or ls(out):find("%.json"), path .. " --quick wrote no artifact")
    assert(docs:find("\n## " .. name .. ".lua", 1, true), path .. " has no section in docs/scenarios.md")
    assert(smoke:find("\ncheck " .. name .. " ", 1, true) or smoke:find("\n    check " .. name .. " ", 1, true),
           path .. " has no smoke run in tests/smoke.sh")
  end)
end
