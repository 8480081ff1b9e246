/*
 * test_faults.c - interruption of every shipped scenario, and the refusal
 * matrix: each case ends with the right exit code, a message that says what
 * happened, no process left behind and nothing half-written.
 */
#include <string.h>

#include "lua_test.h"

/* Lua helpers: a scratch directory, the processes that carry a tag in their
 * environment (every descendant of a qsl-run we start inherits it). */
#define HELPERS                                                                              \
    "local qsl = require 'qsl'\n"                                                            \
    "local function scratch()\n"                                                             \
    "  local d = os.tmpname(); os.remove(d); assert(os.execute('mkdir ' .. d)); return d end\n" \
    "local function ls(d) local h = io.popen('ls -A ' .. d); local s = h:read('a'); h:close(); return s end\n" \
    "local function tagged(tag)\n"                                                           \
    "  local out, h = {}, io.popen('ls /proc')\n"                                            \
    "  for pid in h:lines() do\n"                                                            \
    "    if pid:match('^%d+$') then\n"                                                       \
    "      local env = qsl.procfs.read('/proc/' .. pid .. '/environ')\n"                     \
    "      if env and env:find('QSL_TEST_TAG=' .. tag, 1, true) then out[#out + 1] = tonumber(pid) end\n" \
    "    end\n"                                                                              \
    "  end\n"                                                                                \
    "  h:close(); return out end\n"                                                          \
    "local function run(args, env)\n"                                                        \
    "  local argv = { QSL_RUN }\n"                                                           \
    "  for _, a in ipairs(args) do argv[#argv + 1] = a end\n"                                \
    "  return assert(qsl.proc.spawn{ argv = argv, env = env })\n"                            \
    "end\n"

/* children: processes the scenario runs at once besides itself (TEMPLATE measures in-process) */
static const struct { const char *script, *args; int children; } long_runs[] = {
    {"engine_flow", "orders=50000000 trials=3", 1},
    {"rcvbuf_burst", "orders=3000000 sizes=8388608 trials=3", 1},
    {"feed_throughput", "orders=5000000 trials=3", 1},
    {"profile_gateway", "requests=50000000 trials=2", 1},
    {"gateway_load", "requests=50000000 clients=4 modes=epoll trials=2 pingpong=0", 1},
    {"gateway_abuse", "load_ms=60000", 1},
    {"TEMPLATE", "datagrams=1000000 trials=1000", 0},
};
#define N_LONG (sizeof long_runs / sizeof long_runs[0])

/* _i: scenario (i / 2) and signal (i % 2: INT, TERM) */
START_TEST(test_interrupt_mid_scenario)
{
    size_t k = (size_t)_i / 2;
    lua_pushstring(L, long_runs[k].script);
    lua_setglobal(L, "SCRIPT");
    lua_pushstring(L, long_runs[k].args);
    lua_setglobal(L, "ARGS");
    lua_pushstring(L, _i % 2 ? "TERM" : "INT");
    lua_setglobal(L, "SIG");
    lua_pushinteger(L, 1 + long_runs[k].children);
    lua_setglobal(L, "PROCS");
    run_ok(HELPERS
           "local dir = scratch()\n"
           "local name = SCRIPT == 'TEMPLATE' and 'template' or SCRIPT\n"
           "local old = dir .. '/' .. name .. '.txt'\n"
           "local f = io.open(old, 'w'); f:write('previous artifact\\n'); f:close()\n"
           "local tag = tostring(math.random(1, 1 << 30))\n"
           "local args = { 'scenarios/' .. SCRIPT .. '.lua', 'out=' .. dir }\n"
           "for a in ARGS:gmatch('%S+') do args[#args + 1] = a end\n"
           "local p <close> = run(args, { QSL_TEST_TAG = tag })\n"
           /* mid-run: once it has a child of its own, and a little after */
           "local deadline = qsl.clock.now_ns() + 10e9\n"
           "while #tagged(tag) < PROCS and qsl.clock.now_ns() < deadline do qsl.clock.sleep_ms(20) end\n"
           "assert(#tagged(tag) >= PROCS, SCRIPT .. ' started no child within 10 s: ' .. p:errors())\n"
           /* ... and once its children have done real work (on-CPU time, polled) */
           "local function cpu(pids) local n = 0\n"
           "  for _, pid in ipairs(pids) do local s = qsl.procfs.schedstat(pid); n = n + (s and s.cpu_ns or 0) end\n"
           "  return n end\n"
           "while cpu(tagged(tag)) < 50e6 and qsl.clock.now_ns() < deadline do qsl.clock.sleep_ms(5) end\n"
           "assert(p:running(), SCRIPT .. ' ended before the signal: ' .. p:errors())\n"
           "local t0 = qsl.clock.now_ns()\n"
           "assert(p:signal(SIG))\n"
           "local st = assert(p:wait(5000))\n"
           "local took = (qsl.clock.now_ns() - t0) / 1e9\n"
           "local want = SIG == 'INT' and 130 or 143\n"
           "assert(st.code == want, SCRIPT .. ': exit ' .. tostring(st.code) .. ' ' .. p:errors())\n"
           "assert(took < 1.0, SCRIPT .. (': took %.2f s to stop'):format(took))\n"
           "assert(p:errors():find('interrupted by SIG' .. SIG, 1, true), p:errors())\n"
           "local left = tagged(tag)\n"
           "assert(#left == 0, SCRIPT .. ': processes left behind: ' .. table.concat(left, ' '))\n"
           "local g = io.open(old); local text = g:read('a'); g:close()\n"
           "assert(text == 'previous artifact\\n', SCRIPT .. ': the previous artifact changed')\n"
           "assert(ls(dir) == name .. '.txt\\n', SCRIPT .. ': files left: ' .. ls(dir))\n"
           "os.execute('rm -rf ' .. dir)\n");
}
END_TEST

START_TEST(test_fixed_port_already_taken)
{
    run_ok(HELPERS
           "local hold <close> = assert(qsl.sock.tcp())\n"
           "assert(hold:bind('127.0.0.1', 0)); assert(hold:listen())\n"
           "local _, port = hold:local_address()\n"
           "local dir = scratch()\n"
           "local p <close> = run{ 'scenarios/profile_gateway.lua', 'out=' .. dir, 'port=' .. port,\n"
           "  'strace=false', 'trials=1', 'requests=1000' }\n"
           "local st = assert(p:wait(30000))\n"
           "local files = ls(dir); os.execute('rm -rf ' .. dir)\n"
           "assert(st.code == 3, 'exit ' .. tostring(st.code))\n"
           "assert(p:errors():find('Address already in use', 1, true), p:errors())\n"
           "assert(files == '', 'files written: ' .. files)\n");
}
END_TEST

START_TEST(test_role_crashing_mid_run_refuses)
{
    run_ok(HELPERS
           "local dir = scratch()\n"
           "local tag = tostring(math.random(1, 1 << 30))\n"
           "local p <close> = run({ 'scenarios/engine_flow.lua', 'out=' .. dir, 'orders=50000000',\n"
           "  'trials=2' }, { QSL_TEST_TAG = tag })\n"
           "local victim\n"
           "local deadline = qsl.clock.now_ns() + 10e9\n"
           "while not victim and qsl.clock.now_ns() < deadline do\n"
           "  for _, pid in ipairs(tagged(tag)) do\n"
           "    local cmd = qsl.procfs.read('/proc/' .. pid .. '/cmdline') or ''\n"
           "    if cmd:find('flow', 1, true) and pid ~= p.pid then victim = pid end\n"
           "  end\n"
           "  qsl.clock.sleep_ms(20)\n"
           "end\n"
           "assert(victim, 'no flow role appeared')\n"
           "assert(os.execute('kill -SEGV ' .. victim))\n"
           "local st = assert(p:wait(60000))\n"
           "local files = ls(dir); os.execute('rm -rf ' .. dir)\n"
           "assert(st.code == 3, 'exit ' .. tostring(st.code) .. ': ' .. p:errors())\n"
           "assert(p:errors():find('trial 1:', 1, true) and p:errors():find('SEGV', 1, true), p:errors())\n"
           "assert(files == '', 'files written: ' .. files)\n");
}
END_TEST

START_TEST(test_unparsable_result_is_an_error_naming_the_field)
{
    run_ok("local roles = require 'qsl.roles'\n"
           "local qsl = require 'qsl'\n"
           "local p <close> = assert(qsl.proc.spawn{ argv = { 'sh', '-c',\n"
           "  'echo ready pid=$$; echo result datagrams=1 messages=1 received=12x kernel_drops=3' } })\n"
           "assert(p:ready())\n"
           /* no field list: the subscribe role's declaration says what its result line holds */
           "local r, err = roles.finish(p, 'subscribe')\n"
           "assert(r == nil and err:find('subscribe printed a result line without an integer received (got 12x)', 1, true), err)\n"
           "local q <close> = assert(qsl.proc.spawn{ argv = { 'sh', '-c', 'echo ready pid=$$; echo result' } })\n"
           "assert(q:ready())\n"
           "local r2, err2 = roles.finish(q, 'publish')\n"
           "assert(r2 == nil and err2:find('without an integer messages (got nil)', 1, true), err2)\n"
           /* a program that is no declared role: its numbers are named by the caller */
           "local w <close> = assert(qsl.proc.spawn{ argv = { 'sh', '-c', 'echo ready pid=$$; echo result n=x' } })\n"
           "assert(w:ready())\n"
           "local r3, err3 = roles.finish(w, 'helper', { numbers = { 'n' } })\n"
           "assert(r3 == nil and err3:find('helper printed a result line without a numeric n (got x)', 1, true), err3)\n");
}
END_TEST

START_TEST(test_unwritable_results_directory)
{
    run_ok(HELPERS
           "local p <close> = run{ 'scenarios/engine_flow.lua', 'out=/proc/qsl-results',\n"
           "  'orders=2000', 'trials=1' }\n"
           "local st = assert(p:wait(30000))\n"
           "assert(st.code == 1, 'exit ' .. tostring(st.code))\n"
           "assert(p:errors():find('cannot write /proc/qsl-results/engine_flow.txt', 1, true), p:errors())\n");
}
END_TEST

Suite *faults_suite(void)
{
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("faults");
    tcase_add_checked_fixture(tc, lua_setup, lua_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_interrupt_mid_scenario, 0, (int)(2 * N_LONG));
    tcase_add_test(tc, test_fixed_port_already_taken);
    tcase_add_test(tc, test_role_crashing_mid_run_refuses);
    tcase_add_test(tc, test_unparsable_result_is_an_error_naming_the_field);
    tcase_add_test(tc, test_unwritable_results_directory);
    suite_add_tcase(s, tc);
    return s;
}
