/*
 * test_proc.c - what only C can check of qsl.proc: no orphan after a Lua error or
 * when the state closes, a role outlives the shell that started it, a wrapped role
 * dies with its wrapper. The rest of qsl.proc is tested in tests/lua/test_proc.lua.
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
    tcase_add_test(tc, test_no_orphan_after_lua_error);
    tcase_add_test(tc, test_no_orphan_when_the_state_closes);
    tcase_add_test(tc, test_role_started_from_a_shell_outlives_it);
    tcase_add_test(tc, test_wrapped_role_dies_with_its_wrapper);
    suite_add_tcase(s, tc);
    return s;
}
