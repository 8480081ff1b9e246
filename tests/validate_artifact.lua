-- validate_artifact.lua: run by qsl-run in the smoke tests.
--   qsl-run tests/validate_artifact.lua path=results/x.json [expect=lua-expression]
-- Checks what every artifact must hold, then an optional expression over the
-- decoded document `doc` (for example: expect="#doc.results.trials == 2").
local cjson = require "cjson"
local s = require("qsl.scenario").new{
  name = "validate_artifact", description = "check an artifact's JSON",
  params = {
    { name = "path", type = "string", default = "", help = "the .json artifact" },
    { name = "expect", type = "string", default = "true", help = "a Lua expression over doc" },
  },
}
local p = s:parse(arg)
local f = assert(io.open(p.path, "r"))
local doc = cjson.decode(f:read("a"))
f:close()
local function need(cond, what)
  if not cond then error(p.path .. ": " .. what, 0) end
end
need(type(doc.name) == "string", "no name")
need(type(doc.parameters) == "table", "no parameters")
local pv = doc.provenance
need(type(pv) == "table", "no provenance")
for _, k in ipairs{ "command", "date_utc", "kernel", "cpu", "compiler", "cflags", "lua", "strace" } do
  need(type(pv[k]) == "string" and pv[k] ~= "", "provenance lacks " .. k)
end
need(pv.date_utc:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$"), "date_utc is not UTC ISO 8601")
need(type(pv.git) == "table" and type(pv.git.commit) == "string", "provenance lacks git")
need(type(pv.sysctls) == "table", "provenance lacks sysctls")
need(type(doc.results) == "table" and next(doc.results) ~= nil, "no results")
need(type(doc.caveats) == "table" and #doc.caveats > 0, "no caveats")
local chunk = assert(load("return " .. p.expect, "expect", "t", { doc = doc, math = math, ipairs = ipairs, type = type }))
need(chunk(), "expectation failed: " .. p.expect)
