/*
 * test_scenario.c - parameter declarations and overrides; artifact refusal,
 * atomicity and provenance.
 */
#include <string.h>

#include "lua_test.h"

#define DECLARE                                                                            \
    "local scenario = require 'qsl.scenario'\n"                                            \
    "local s = scenario.new{name='t', description='test', params={\n"                      \
    "  {name='n', type='integer', default=4, min=1, max=10, help='count'},\n"              \
    "  {name='sizes', type='integer_list', default={2048,0}, help='sizes'},\n"             \
    "  {name='mode', type='enum', values={'burst','sweep'}, default='burst', help='m'},\n" \
    "  {name='rate', type='number', default=1.5, help='r'},\n"                             \
    "  {name='on', type='boolean', default=false, help='b'}}}\n"

START_TEST(test_defaults_and_overrides)
{
    run_ok(DECLARE
           "local p = s:parse{}\n"
           "assert(p.n == 4 and p.sizes[2] == 0 and p.mode == 'burst' and p.out == 'results')\n"
           "p = s:parse{'n=7', 'sizes=1,2,3', 'mode=sweep', 'rate=2e3', 'on=true'}\n"
           "assert(p.n == 7 and #p.sizes == 3 and p.mode == 'sweep' and p.rate == 2000 and p.on)\n"
           "assert(s:help():find('sizes', 1, true))\n");
}
END_TEST

START_TEST(test_bad_overrides_name_the_parameter)
{
    static const struct { const char *arg, *want; } cases[] = {
        {"nn=3", "unknown parameter 'nn'"},
        {"n=3.5", "parameter n=3.5: expected an integer"},
        {"n=11", "parameter n=11: must be at most 10"},
        {"n=0", "parameter n=0: must be at least 1"},
        {"sizes=1,,2", "parameter sizes=1,,2: empty element"},
        {"sizes=1,x", "parameter sizes=1,x: element 'x': expected an integer"},
        {"mode=fast", "parameter mode=fast: expected one of burst, sweep"},
        {"rate=nan", "parameter rate=nan: expected a number"},
        {"on=maybe", "parameter on=maybe: expected true or false"},
        {"justaword", "argument 'justaword' is not key=value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char code[2048];
        snprintf(code, sizeof code, DECLARE "s:parse{'%s'}\n", cases[i].arg);
        const char *e = run_err(code);
        ck_assert_msg(strstr(e, "exit=1") && strstr(e, cases[i].want), "%s -> %s", cases[i].arg, e);
    }
    const char *e = run_err(DECLARE "s:parse{'n=2', 'n=3'}");
    ck_assert_ptr_nonnull(strstr(e, "given twice"));
    e = run_err("require('qsl.scenario').new{name='x', description='y', params={{name='a', type='int', help='h'}}}");
    ck_assert_ptr_nonnull(strstr(e, "unknown type 'int'"));
}
END_TEST

START_TEST(test_stats_spread)
{
    run_ok("local st = require 'qsl.stats'\n"
           "local s = st.summary{5, 1, 3, 2, 4}\n"
           "assert(s.n == 5 and s.min == 1 and s.median == 3 and s.max == 5 and s.mean == 3)\n"
           "assert(st.median{1, 2, 3, 4} == 2.5)\n"
           "assert(st.percentile({1, 2, 3, 4}, 75) == 3 and st.percentile({1,2,3,4}, 100) == 4)\n"
           "assert(not pcall(st.summary, {1, 0/0}))\n");
}
END_TEST

/* A scratch results directory holding an old artifact. */
#define SCRATCH                                                                       \
    "local dir = os.tmpname(); os.remove(dir); assert(os.execute('mkdir ' .. dir))\n" \
    "local function read(p) local f = io.open(p); if not f then return nil end\n"    \
    "  local s = f:read('a'); f:close(); return s end\n"                              \
    "local function files() local h = io.popen('ls -A ' .. dir); local s = h:read('a'); h:close(); return s end\n" \
    "local artifact = require 'qsl.artifact'\n"

START_TEST(test_artifact_written_atomically_with_provenance)
{
    run_ok(SCRATCH
           "local a = artifact.new{name='demo'}\n"
           "a:table{title='T', columns={{key='x'}, {key='y', format='%.2f'}}, rows={{x=1, y=2.5}}}\n"
           "a:set('trials', {{x=1, y=2.5}})\n"
           "a:caveat('loopback only')\n"
           "a:plot{title='p', xlabel='x', ylabel='y', series={{name='s', points={{1,2},{2,3}}}}}\n"
           "local paths = a:write{dir=dir}\n"
           "local txt = read(dir .. '/demo.txt')\n"
           "assert(txt:find('loopback only', 1, true) and txt:find('2.50', 1, true))\n"
           "assert(txt:find('kernel', 1, true) and txt:find('git', 1, true))\n"
           "local doc = require('cjson').decode(read(dir .. '/demo.json'))\n"
           "assert(doc.results.trials[1].y == 2.5 and doc.provenance.kernel and doc.provenance.date_utc)\n"
           "if #paths == 3 then assert(read(dir .. '/demo.svg'):find('<svg', 1, true)) end\n"
           "assert(not files():find('tmp', 1, true), 'temporary files left: ' .. files())\n"
           "os.execute('rm -rf ' .. dir)\n");
}
END_TEST

START_TEST(test_invalid_measurement_refuses_and_keeps_the_old_artifact)
{
    const char *e = run_err(SCRATCH
           "DIR = dir\n"
           "local f = io.open(dir .. '/demo.txt', 'w'); f:write('old artifact\\n'); f:close()\n"
           "local a = artifact.new{name='demo'}\n"
           "a:set('x', 1)\n"
           "a:invalid('trial 3: subscriber printed no result line')\n"
           "a:write{dir=dir}\n");
    ck_assert_msg(strstr(e, "exit=3") && strstr(e, "trial 3: subscriber printed no result line"), "%s", e);
    run_ok("local f = io.open(DIR .. '/demo.txt'); assert(f:read('a') == 'old artifact\\n'); f:close()\n"
           "local h = io.popen('ls -A ' .. DIR); local s = h:read('a'); h:close()\n"
           "assert(s == 'demo.txt\\n', 'unexpected files: ' .. s)\n"
           "os.execute('rm -rf ' .. DIR)\n");
}
END_TEST

START_TEST(test_unwritable_directory_is_an_error_naming_the_path)
{
    const char *e = run_err("local a = require('qsl.artifact').new{name='demo'}\n"
                            "a:write{dir='/nonexistent/results'}\n");
    ck_assert_msg(strstr(e, "exit=1") && strstr(e, "/nonexistent/results/demo.txt"), "%s", e);
}
END_TEST

START_TEST(test_non_finite_result_is_not_written)
{
    const char *e = run_err("local a = require('qsl.artifact').new{name='demo'}\n"
                            "a:set('rate', 0/0)\n"
                            "a:write{dir='/tmp'}\n");
    ck_assert_msg(strstr(e, "exit=1") && strstr(e, "JSON"), "%s", e);
}
END_TEST

Suite *scenario_suite(void)
{
    Suite *s = suite_create("scenario");
    TCase *tc = tcase_create("scenario");
    tcase_add_checked_fixture(tc, lua_setup, lua_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_defaults_and_overrides);
    tcase_add_test(tc, test_bad_overrides_name_the_parameter);
    tcase_add_test(tc, test_stats_spread);
    tcase_add_test(tc, test_artifact_written_atomically_with_provenance);
    tcase_add_test(tc, test_invalid_measurement_refuses_and_keeps_the_old_artifact);
    tcase_add_test(tc, test_unwritable_directory_is_an_error_naming_the_path);
    tcase_add_test(tc, test_non_finite_result_is_not_written);
    suite_add_tcase(s, tc);
    return s;
}
