-- run.lua: the Lua test runner, run by qsl-run itself.
--   qsl-run tests/lua/run.lua [FILE.lua ...]     (default: every tests/lua/test_*.lua)
-- A test file calls test(name, fn) for each test, and has the helpers below
-- (error_of, must_fail_with, scratch, read, ls, skip); a file that declares none is one
-- test, its whole body. Each test runs under pcall with a traceback, so a failure
-- names its file and line; an exit error (qsl.fail, qsl.refuse...) is a failure
-- too, shown as "exit=N reason". Ends with "N passed, M failed" and exit 1 on any
-- failure.
local qsl = require "qsl"

local files = {}
for i = 1, #arg do files[#files + 1] = arg[i] end
if #files == 0 then
  local h = assert(io.popen("ls tests/lua/test_*.lua"))
  for f in h:lines() do files[#files + 1] = f end
  h:close()
end

local function describe(err)
  if type(err) == "table" and err.exit then
    return ("exit=%s %s"):format(tostring(err.exit), tostring(err.reason))
  end
  return tostring(err)
end

-- The helpers every test file sees, besides the globals.
local env = setmetatable({ QSL_RUN = qsl.exe() }, { __index = _G })

-- error_of(fn, ...) -> the error fn raised, as text ("exit=N reason" for exit errors).
function env.error_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error")
  return describe(err)
end

-- scratch() -> a new empty directory, removed when every test has run.
local scratches = {}
function env.scratch()
  local d = os.tmpname()
  os.remove(d)
  assert(qsl.fs.mkdir(d))
  scratches[#scratches + 1] = d
  return d
end

-- read(path) -> the file's content, or nil when it cannot be opened.
function env.read(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- ls(dir) -> `ls -A dir`: the names in it, one per line.
function env.ls(dir)
  local h = assert(io.popen("ls -A '" .. dir .. "'"))
  local s = h:read("a")
  h:close()
  return s
end

-- must_fail_with(text, fn, ...): fn raises an error containing text.
function env.must_fail_with(text, fn, ...)
  local msg = env.error_of(fn, ...)
  if not msg:find(text, 1, true) then
    error(("expected an error containing %q, got: %s"):format(text, msg), 2)
  end
  return msg
end

-- skip(why): the test cannot run here; it ends now and is counted as skipped, never as
-- passed.
local SKIP = {}
function env.skip(why)
  error(setmetatable({ why = why }, SKIP), 0)
end

local passed, failed, skipped = 0, 0, 0
local function run_one(name, fn)
  local ok, err = xpcall(fn, function(e)
    if getmetatable(e) == SKIP then return e end
    if type(e) == "table" then return describe(e) end
    return debug.traceback(tostring(e), 2)
  end)
  if getmetatable(err) == SKIP then
    skipped = skipped + 1
    io.stdout:write("SKIP ", name, ": ", tostring(err.why), "\n")
  elseif ok then
    passed = passed + 1
    io.stdout:write("ok   ", name, "\n")
  else
    failed = failed + 1
    io.stdout:write("FAIL ", name, "\n", (tostring(err):gsub("\n", "\n     ")), "\n")
  end
  io.stdout:flush()
  collectgarbage()              -- close what the test left to the collector (processes, sockets)
end

for _, file in ipairs(files) do
  local tests = {}
  env.test = function(name, fn) tests[#tests + 1] = { name = name, fn = fn } end
  local chunk, err = loadfile(file, "t", env)
  if not chunk then
    failed = failed + 1
    io.stdout:write("FAIL ", file, "\n     ", err, "\n")
  else
    local short = file:match("([^/]+)%.lua$")
    local ok, berr = pcall(chunk)   -- the body: declares tests, or is the test
    if not ok or #tests == 0 then
      run_one(short, function() if not ok then error(berr, 0) end end)
    end
    for _, t in ipairs(tests) do run_one(short .. ": " .. t.name, t.fn) end
  end
end
for _, d in ipairs(scratches) do os.execute("rm -rf '" .. d .. "'") end
io.stdout:write(("lua: %d passed, %d failed, %d skipped (not run, not counted as passed)\n")
                :format(passed, failed, skipped))
if failed > 0 then qsl.exit(1, ("%d Lua test(s) failed"):format(failed)) end
