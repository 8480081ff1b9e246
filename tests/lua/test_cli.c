/*
 * test_cli.c - qsl-run itself: exit codes, messages, interruption.
 */
#include <string.h>

#include "lua_test.h"

/* Lua helper: run qsl-run on a script body; returns status, stdout, stderr. */
#define RUNNER                                                                          \
    "local qsl = require 'qsl'\n"                                                       \
    "local function run(body, ...)\n"                                                   \
    "  local path = os.tmpname() .. '.lua'\n"                                          \
    "  local f = assert(io.open(path, 'w')); f:write(body); f:close()\n"               \
    "  local p <close> = assert(qsl.proc.spawn{argv = {QSL_RUN, path, ...}})\n"         \
    "  local st = assert(p:wait(20000))\n"                                             \
    "  os.remove(path)\n"                                                               \
    "  return st, p:output(), p:errors(), path\n"                                       \
    "end\n"

START_TEST(test_exit_codes)
{
    run_ok(RUNNER
           "assert(run('print(1)').code == 0)\n"
           "assert(run('require(\"qsl\").skip(\"strace is not installed\")').code == 2)\n"
           "assert(run('require(\"qsl\").refuse(\"no valid trial\")').code == 3)\n"
           "local st, out, err = run('require(\"qsl\").refuse(\"no valid trial\")')\n"
           "assert(err:find('refused, no artifact written: no valid trial', 1, true), err)\n"
           "st, out, err = run('require(\"qsl\").skip(\"strace is not installed\")')\n"
           "assert(err:find('skipped: strace is not installed', 1, true), err)\n");
}
END_TEST

START_TEST(test_lua_error_has_a_traceback_naming_file_and_line)
{
    run_ok(RUNNER
           "local st, out, err, path = run('local x = 1\\nlocal y = nil + x\\n')\n"
           "assert(st.code == 1)\n"
           "assert(err:find(path:match('[^/]+$') .. ':2:', 1, true), err)\n"
           "assert(err:find('stack traceback', 1, true), err)\n");
}
END_TEST

START_TEST(test_scenario_parameters_from_the_command_line)
{
    run_ok(RUNNER
           "local body = [[local s = require('qsl.scenario').new{name='x', description='d',\n"
           "  params={{name='n', type='integer', default=1, help='how many'}}}\n"
           "local p = s:parse(arg) print('n=' .. p.n)]]\n"
           "local st, out = run(body, 'n=5')\n"
           "assert(st.code == 0 and out == 'n=5\\n', out)\n"
           "local st2, _, err = run(body, 'm=5')\n"
           "assert(st2.code == 1 and err:find(\"unknown parameter 'm'\", 1, true), err)\n"
           "local st3, out3 = run(body, '--help')\n"
           "assert(st3.code == 0 and out3:find('how many', 1, true), out3)\n");
}
END_TEST

/* _i: 0 sends SIGINT (exit 130), 1 sends SIGTERM (exit 143) */
START_TEST(test_interrupt_exits_128_plus_signal_and_leaves_no_child)
{
    static const char *const sig[] = {"INT", "TERM"};
    lua_pushstring(L, sig[_i]);
    lua_setglobal(L, "SIG");
    lua_pushinteger(L, _i == 0 ? 130 : 143);
    lua_setglobal(L, "CODE");
    run_ok("local qsl = require 'qsl'\n"
           "local path = os.tmpname() .. '.lua'\n"
           "local f = assert(io.open(path, 'w'))\n"
           "f:write([[local qsl = require 'qsl'\n"
           "local c <close> = assert(qsl.proc.spawn{argv = {'sleep', '60'}})\n"
           "print('ready pid=' .. c.pid); io.stdout:flush()\n"
           "qsl.clock.sleep_ms(30000)]]); f:close()\n"
           "local p <close> = assert(qsl.proc.spawn{argv = {QSL_RUN, path}})\n"
           "local r = assert(p:ready(5000))\n"
           "local t0 = qsl.clock.now_ns()\n"
           "assert(p:signal(SIG))\n"
           "local st = assert(p:wait(5000))\n"
           "os.remove(path)\n"
           "assert(st.code == CODE, 'exit ' .. tostring(st.code))\n"
           "assert(qsl.clock.now_ns() - t0 < 1.5e9, 'took more than a second to stop')\n"
           "local cs = qsl.procfs.stat(r.pid)\n"
           "assert(not cs or cs.state == 'Z', 'the scenario child survived')\n"
           "assert(p:errors():find('interrupted by SIG' .. SIG, 1, true))\n");
}
END_TEST

START_TEST(test_version_list_and_unknown)
{
    run_ok("local qsl = require 'qsl'\n"
           "local function cli(...)\n"
           "  local p <close> = assert(qsl.proc.spawn{argv = {QSL_RUN, ...}})\n"
           "  local st = p:wait(10000); return st.code, p:output(), p:errors() end\n"
           "local c, out = cli('--version')\n"
           "assert(c == 0 and out:find('Lua 5.4', 1, true), out)\n"
           "c, out = cli('--list')\n"
           "assert(c == 0 and out:find('engine_flow.lua', 1, true), out)\n"
           "local c2, _, err = cli('nonsense')\n"
           "assert(c2 == 1 and err:find('neither a scenario', 1, true), err)\n"
           "local c3, _, err3 = cli('/nonexistent.lua')\n"
           "assert(c3 == 1 and err3:find('cannot open', 1, true), err3)\n");
}
END_TEST

/* A fake strace in PATH for each refusal case: _i picks the case. */
START_TEST(test_profile_gateway_refusals)
{
    static const struct { const char *strace, *path_extra, *want; int code; } cases[] = {
        /* no strace at all: skipped */
        {NULL, "", "skipped: strace is not installed", 2},
        /* strace cannot trace (ptrace denied): refused */
        {"echo 'strace: ptrace(PTRACE_TRACEME, ...): Operation not permitted' >&2; exit 1", ":/usr/bin:/bin",
         "refused, no artifact written", 3},
        /* strace runs the program but writes no summary: refused */
        {"while [ \"$1\" != -o ]; do shift; done; shift 2; exec \"$@\"", ":/usr/bin:/bin",
         "no usable summary", 3},
        /* the traced gateway dies under load: refused */
        {"while [ \"$1\" != -o ]; do shift; done; shift 2; \"$@\" & sleep 0.3; kill -9 $!; wait; exit 0",
         ":/usr/bin:/bin", "refused, no artifact written", 3},
    };
    lua_pushstring(L, cases[_i].strace ? cases[_i].strace : "");
    lua_setglobal(L, "FAKE");
    lua_pushstring(L, cases[_i].path_extra);
    lua_setglobal(L, "PATH_EXTRA");
    lua_pushstring(L, cases[_i].want);
    lua_setglobal(L, "WANT");
    lua_pushinteger(L, cases[_i].code);
    lua_setglobal(L, "CODE");
    run_ok("local qsl = require 'qsl'\n"
           "local dir = os.tmpname(); os.remove(dir); assert(os.execute('mkdir ' .. dir))\n"
           "if FAKE ~= '' then\n"
           "  local f = assert(io.open(dir .. '/strace', 'w')); f:write('#!/bin/sh\\n' .. FAKE .. '\\n'); f:close()\n"
           "  assert(os.execute('chmod +x ' .. dir .. '/strace'))\n"
           "end\n"
           "local p <close> = assert(qsl.proc.spawn{argv = {QSL_RUN, 'scenarios/profile_gateway.lua',\n"
           "  'out=' .. dir, 'requests=3000', 'strace_requests=200000', 'trials=1'},\n"
           "  env = {PATH = dir .. PATH_EXTRA}})\n"
           "local st = assert(p:wait(60000))\n"
           "local h = io.popen('ls -A ' .. dir); local files = h:read('a'); h:close()\n"
           "os.execute('rm -rf ' .. dir)\n"
           "assert(st.code == CODE, 'exit ' .. tostring(st.code) .. ': ' .. p:errors())\n"
           "assert(p:errors():find(WANT, 1, true), p:errors())\n"
           "assert(not files:find('profile_gateway', 1, true), 'an artifact was written: ' .. files)\n");
}
END_TEST

Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_add_checked_fixture(tc, lua_setup, lua_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_exit_codes);
    tcase_add_test(tc, test_lua_error_has_a_traceback_naming_file_and_line);
    tcase_add_test(tc, test_scenario_parameters_from_the_command_line);
    tcase_add_loop_test(tc, test_interrupt_exits_128_plus_signal_and_leaves_no_child, 0, 2);
    tcase_add_test(tc, test_version_list_and_unknown);
    tcase_add_loop_test(tc, test_profile_gateway_refusals, 0, 4);
    suite_add_tcase(s, tc);
    return s;
}
