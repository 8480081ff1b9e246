/*
 * test_proc.c - qsl.proc: spawn, ready, stop, reap; children never outlive us.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lua_test.h"
#include "procfs.h"

/* Running or sleeping; a zombie (killed, waiting for its new parent to reap it) is dead. */
static int alive(pid_t pid)
{
    struct qsl_proc_stat st;
    return qsl_procfs_stat(pid, &st) == 0 && st.state != 'Z' && st.state != 'X';
}

static lua_Integer global_int(const char *name)
{
    lua_getglobal(L, name);
    lua_Integer v = lua_tointeger(L, -1);
    lua_pop(L, 1);
    return v;
}

START_TEST(test_ready_result_and_rusage)
{
    run_ok("local qsl = require 'qsl'\n"
           "local p <close> = assert(qsl.proc.spawn{argv = {'sh', '-c',"
           "  'echo noise; echo ready pid=$$ port=40123 name=x; echo result ok=1 rate=2.5'}})\n"
           "local r = assert(p:ready(5000))\n"
           "assert(r.port == 40123 and r.name == 'x' and r.pid == p.pid, 'ready fields')\n"
           "local st = assert(p:wait(5000))\n"
           "assert(st.exited and st.code == 0)\n"
           "assert(math.type(st.utime_us) == 'integer' and st.maxrss_kb > 0 and st.nvcsw >= 0)\n"
           "local res = assert(p:result())\n"
           "assert(res.ok == 1 and res.rate == 2.5)\n"
           "assert(p:output():find('noise', 1, true))\n");
}
END_TEST

START_TEST(test_child_that_dies_before_ready_fails_at_once)
{
    run_ok("local qsl = require 'qsl'\n"
           "local p <close> = assert(qsl.proc.spawn{argv = {'sh', '-c', 'echo bind failed >&2; exit 3'}})\n"
           "local t0 = qsl.clock.now_ns()\n"
           "local r, err = p:ready(10000)\n"
           "assert(r == nil)\n"
           "assert(err:find('exit code 3', 1, true), err)\n"
           "assert(err:find('bind failed', 1, true), err)\n"
           "assert(qsl.clock.now_ns() - t0 < 5e9, 'waited for the timeout instead of the exit')\n");
}
END_TEST

START_TEST(test_child_never_ready_times_out)
{
    run_ok("local qsl = require 'qsl'\n"
           "local p <close> = assert(qsl.proc.spawn{argv = {'sleep', '30'}})\n"
           "local r, err = p:ready(200)\n"
           "assert(r == nil and err:find('no ready line within 200 ms', 1, true), err)\n"
           "local st = p:stop(1000)\n"
           "assert(st.signal_name == 'TERM' and not st.killed)\n");
}
END_TEST

START_TEST(test_child_ignoring_term_is_killed_after_grace)
{
    run_ok("local qsl = require 'qsl'\n"
           "local p <close> = assert(qsl.proc.spawn{argv = {'sh', '-c',"
           "  'trap \"\" TERM; echo ready; while :; do sleep 0.05; done'}})\n"
           "assert(p:ready(5000))\n"
           "local st = p:stop(300)\n"
           "assert(st.killed and st.signal_name == 'KILL', tostring(st.signal_name))\n"
           "assert(not p:running())\n");
}
END_TEST

START_TEST(test_wrapped_child_stops_its_target_not_the_wrapper)
{
    /* the wrapper must outlive its child and exit by itself, as strace does */
    run_ok("local qsl = require 'qsl'\n"
           "local p <close> = assert(qsl.proc.spawn{\n"
           "  wrap = {'sh', '-c', '\"$@\"; echo wrapper-done; exit 0', 'wrapper'},\n"
           "  argv = {'sh', '-c', 'echo ready pid=$$; exec sleep 30'}})\n"
           "local r = assert(p:ready(5000))\n"
           "assert(r.pid ~= p.pid and p.target == r.pid)\n"
           "local st = p:stop(3000)\n"
           "assert(st.exited and st.code == 0 and not st.killed, 'wrapper was killed')\n"
           "assert(p:output():find('wrapper-done', 1, true))\n");
}
END_TEST

START_TEST(test_no_orphan_after_lua_error)
{
    const char *err = run_err(
        "local qsl = require 'qsl'\n"
        "local p <close> = assert(qsl.proc.spawn{argv = {'sh', '-c',"
        "  'sleep 30 & echo ready pid=$$ child=$!; wait'}})\n"
        "local r = assert(p:ready(5000))\n"
        "PID, GRANDCHILD = p.pid, r.child\n"
        "error('scenario failed here')\n");
    ck_assert_ptr_nonnull(strstr(err, "scenario failed here"));
    pid_t pid = (pid_t)global_int("PID"), grandchild = (pid_t)global_int("GRANDCHILD");
    ck_assert_int_gt(pid, 0);
    ck_assert_int_gt(grandchild, 0);
    ck_assert(!alive(pid));
    for (int i = 0; i < 100 && alive(grandchild); i++)
        usleep(10000);          /* the grandchild is reparented; its death is asynchronous */
    ck_assert_msg(!alive(grandchild), "grandchild %d survived", (int)grandchild);
}
END_TEST

START_TEST(test_no_orphan_when_the_state_closes)
{
    run_ok("local qsl = require 'qsl'\n"
           "HELD = assert(qsl.proc.spawn{argv = {'sleep', '30'}})\n"
           "PID = HELD.pid\n");
    pid_t pid = (pid_t)global_int("PID");
    ck_assert(alive(pid));
    lua_close(L);
    L = qsl_host_newstate("lua");
    ck_assert(!alive(pid));
}
END_TEST

START_TEST(test_spawn_failures_are_nil_message)
{
    run_ok("local qsl = require 'qsl'\n"
           "local p, err, code = qsl.proc.spawn{argv = {'/nonexistent/prog'}}\n"
           "assert(p == nil and err:find('exec: No such file', 1, true) and code == 2, err)\n");
    const char *e = run_err("require('qsl').proc.spawn{}");
    ck_assert_ptr_nonnull(strstr(e, "exactly one of role"));
    e = run_err("require('qsl').proc.spawn{argv = {'x', {}}}");
    ck_assert_ptr_nonnull(strstr(e, "argv[2] is a table"));
}
END_TEST

START_TEST(test_flow_role_end_to_end)
{
    run_ok("local qsl = require 'qsl'\n"
           "local p <close> = assert(qsl.proc.spawn{argv = {QSL_RUN, 'flow', 'orders=5000', 'hold=1'}})\n"
           "local r = assert(p:ready(5000))\n"
           "local res = assert(p:line('result', 20000))\n"
           "assert(res.orders == 5000 and res.datagrams == res.trades + res.top_of_book)\n"
           "local s = assert(qsl.procfs.schedstat(p.pid))\n"
           "assert(s.cpu_ns > 0)\n"
           "local st = p:stop(2000)\n"
           "assert(st.exited and st.code == 0, 'hold=1 ends cleanly on TERM')\n");
}
END_TEST

START_TEST(test_role_rejects_bad_arguments)
{
    run_ok("local qsl = require 'qsl'\n"
           "local p <close> = assert(qsl.proc.spawn{argv = {QSL_RUN, 'flow', 'orderz=5'}})\n"
           "local r, err = p:ready(5000)\n"
           "assert(not r and err:find(\"unknown parameter 'orderz'\", 1, true), err)\n");
}
END_TEST

START_TEST(test_netns_has_its_own_loopback)
{
    if (geteuid() != 0)
        return;     /* without CAP_SYS_ADMIN the spawn returns nil, message (checked below) */
    run_ok("local qsl = require 'qsl'\n"
           "local p <close>, err = qsl.proc.spawn{netns = true, argv = {'sh', '-c',"
           "  'echo ready lines=$(wc -l < /proc/net/dev)'}}\n"
           "if not p then assert(err:find('network namespace'), err) return end\n"
           "local r = assert(p:ready(5000))\n"
           "assert(r.lines == 3, 'a new namespace holds only lo (2 header lines + lo)')\n");
}
END_TEST

static int wait_dead(pid_t pid, int ms)
{
    for (int i = 0; i < ms && alive(pid); i++)
        usleep(1000);           /* polled: a killed orphan's exit is asynchronous */
    return !alive(pid);
}

/*
 * Issue 10.5: a role started from a shell (`qsl-run gateway &`) outlives the
 * shell; PR_SET_PDEATHSIG is only for children qsl-run spawned itself. The
 * shell waits for the gateway's ready line, so the gateway is serving (and
 * past any prctl) when its parent exits.
 */
START_TEST(test_role_started_from_a_shell_outlives_it)
{
    const char *qsl_run = getenv("QSL_RUN");
    ck_assert_ptr_nonnull(qsl_run);
    char out[] = "/tmp/qsl-pdeath-XXXXXX";
    int ofd = mkstemp(out);
    ck_assert_int_ge(ofd, 0);
    close(ofd);
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    pid_t sh = fork();
    if (sh == 0) {
        dup2(pfd[1], 1);
        execl("/bin/sh", "sh", "-c",
              "\"$0\" gateway >\"$1\" 2>&1 & pid=$!; i=0;"
              "while ! grep -q '^ready' \"$1\" && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done;"
              "echo $pid", qsl_run, out, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    char buf[32] = {0};
    ssize_t n = read(pfd[0], buf, sizeof buf - 1);
    close(pfd[0]);
    int status;
    waitpid(sh, &status, 0);            /* the shell is gone now */
    pid_t gw = (pid_t)atoi(buf);
    ck_assert_msg(n > 0 && gw > 0, "no pid from the shell");
    for (int i = 0; i < 50 && alive(gw); i++)
        usleep(1000);           /* give a pending SIGKILL time to land */
    int survived = alive(gw);
    kill(gw, SIGTERM);
    ck_assert(wait_dead(gw, 5000));
    unlink(out);
    ck_assert_msg(survived, "the gateway died with the shell that started it");
}
END_TEST

/* ... while a role a scenario spawned, even under a wrapper, dies with the wrapper. */
START_TEST(test_wrapped_role_dies_with_its_wrapper)
{
    run_ok("local qsl = require 'qsl'\n"
           "HELD = assert(qsl.proc.spawn{\n"
           "  wrap = {'sh', '-c', '\"$@\"; exit 0', 'wrapper'},\n"
           "  argv = {QSL_RUN, 'gateway'}})\n"
           "local r = assert(HELD:ready(5000))\n"
           "WRAPPER, TARGET = HELD.pid, r.pid\n");
    pid_t wrapper = (pid_t)global_int("WRAPPER"), target = (pid_t)global_int("TARGET");
    ck_assert_int_ne(wrapper, target);
    ck_assert(alive(target));
    kill(wrapper, SIGKILL);
    ck_assert_msg(wait_dead(target, 5000), "the role outlived its wrapper");
}
END_TEST

Suite *proc_suite(void)
{
    Suite *s = suite_create("proc");
    TCase *tc = tcase_create("proc");
    tcase_add_checked_fixture(tc, lua_setup, lua_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_ready_result_and_rusage);
    tcase_add_test(tc, test_child_that_dies_before_ready_fails_at_once);
    tcase_add_test(tc, test_child_never_ready_times_out);
    tcase_add_test(tc, test_child_ignoring_term_is_killed_after_grace);
    tcase_add_test(tc, test_wrapped_child_stops_its_target_not_the_wrapper);
    tcase_add_test(tc, test_no_orphan_after_lua_error);
    tcase_add_test(tc, test_no_orphan_when_the_state_closes);
    tcase_add_test(tc, test_spawn_failures_are_nil_message);
    tcase_add_test(tc, test_flow_role_end_to_end);
    tcase_add_test(tc, test_role_rejects_bad_arguments);
    tcase_add_test(tc, test_netns_has_its_own_loopback);
    tcase_add_test(tc, test_role_started_from_a_shell_outlives_it);
    tcase_add_test(tc, test_wrapped_role_dies_with_its_wrapper);
    suite_add_tcase(s, tc);
    return s;
}
