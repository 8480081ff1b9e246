/*
 * test_proc.c - core/proc driven directly: ready lines, deadlines, stopping
 * a child that ignores TERM, grandchildren, interruption, spawn failures.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "procfs.h"
#include "suites.h"

static struct qsl_proc p;

static void setup(void) { qsl_proc_init(&p); }
static void teardown(void) { qsl_proc_close(&p); }

static void sh(const char *script)
{
    const char *argv[] = {"sh", "-c", script, NULL};
    struct qsl_proc_spec s = {.argv = argv, .cpu = -1};
    char err[64];
    ck_assert_int_eq(qsl_proc_spawn(&p, &s, err, sizeof err), 0);
}

static int alive(pid_t pid)
{
    struct qsl_proc_stat st;
    return qsl_procfs_stat(pid, &st) == 0 && st.state != 'Z' && st.state != 'X';
}

START_TEST(test_ready_then_result_lines)
{
    sh("echo ready pid=$$ port=7; echo noise; echo result n=3 ok=yes");
    ck_assert_int_eq(qsl_proc_wait(&p, 5000, "ready", NULL, NULL), QSL_PROC_LINE);
    size_t len;
    const char *line = qsl_proc_take_line(&p, "ready", &len);
    ck_assert_ptr_nonnull(line);
    struct qsl_proc_field f[8];
    ck_assert_int_eq(qsl_proc_fields(line, len, f, 8), 2);
    ck_assert_int_eq(f[1].klen, 4);
    ck_assert(strncmp(f[1].key, "port", 4) == 0 && f[1].vlen == 1 && f[1].val[0] == '7');
    ck_assert_int_eq(qsl_proc_wait(&p, 5000, NULL, NULL, NULL), QSL_PROC_EXITED);
    ck_assert_ptr_nonnull(qsl_proc_last_line(&p, "result", &len));
    ck_assert(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0);
}
END_TEST

START_TEST(test_child_that_dies_before_ready)
{
    sh("echo oops >&2; exit 4");
    ck_assert_int_eq(qsl_proc_wait(&p, 5000, "ready", NULL, NULL), QSL_PROC_EXITED);
    size_t len;
    ck_assert_ptr_null(qsl_proc_take_line(&p, "ready", &len));
    ck_assert_int_eq(WEXITSTATUS(p.status), 4);
    char tail[64];
    qsl_proc_err_tail(&p, tail, sizeof tail);
    ck_assert_str_eq(tail, "oops");
}
END_TEST

START_TEST(test_child_that_never_prints_times_out)
{
    sh("exec sleep 30");
    ck_assert_int_eq(qsl_proc_wait(&p, 100, "ready", NULL, NULL), QSL_PROC_TIMEOUT);
    ck_assert(!p.reaped);
    qsl_proc_stop(&p, 2000, NULL, NULL);
    ck_assert(p.reaped && WIFSIGNALED(p.status) && WTERMSIG(p.status) == SIGTERM);
}
END_TEST

/* A wrapped program that prints no ready line: its wrapper's exec'd child is adopted (not
 * the wrapper, nor a child still named as the wrapper), and stop reaches it, not the
 * wrapper, which then ends by itself. */
START_TEST(test_a_wrapped_program_is_adopted_and_stopped)
{
    const char *argv[] = {"sh", "-c", "\"$@\"; echo wrapper-saw-it-end", "sh", "sleep", "30", NULL};
    struct qsl_proc_spec s = {.argv = argv, .cpu = -1, .wrapped = 1};
    char err[64];
    ck_assert_int_eq(qsl_proc_spawn(&p, &s, err, sizeof err), 0);
    int child = 0;
    for (int i = 0; i < 500 && child == 0; i++) {
        child = qsl_proc_adopt_child(&p);
        if (child == 0) {
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
        }
    }
    ck_assert_int_gt(child, 0);
    ck_assert_int_eq(p.target, child);
    struct qsl_proc_stat st;
    ck_assert_int_eq(qsl_procfs_stat(child, &st), 0);
    ck_assert_str_eq(st.comm, "sleep");
    qsl_proc_stop(&p, 2000, NULL, NULL);
    ck_assert(p.reaped && !p.killed);       /* the wrapper ended when its child did */
    struct qsl_proc plain;
    qsl_proc_init(&plain);
    ck_assert_int_eq(qsl_proc_adopt_child(&plain), -EINVAL);
}
END_TEST

START_TEST(test_child_ignoring_term_is_killed_after_grace)
{
    sh("trap '' TERM; echo ready pid=$$; while :; do sleep 1; done");
    ck_assert_int_eq(qsl_proc_wait(&p, 5000, "ready", NULL, NULL), QSL_PROC_LINE);
    qsl_proc_stop(&p, 200, NULL, NULL);
    ck_assert(p.reaped && p.killed);
    ck_assert(WIFSIGNALED(p.status) && WTERMSIG(p.status) == SIGKILL);
}
END_TEST

/* A child that ignores TERM but ends with its input: stop closes the stdin pipe first, and
 * the child ends by itself within the grace (its exit status says no signal was needed). */
START_TEST(test_stdin_pipe_is_closed_first_on_stop)
{
    const char *argv[] = {"sh", "-c", "trap '' TERM; echo ready; cat >/dev/null; echo result eof=1",
                          NULL};
    struct qsl_proc_spec s = {.argv = argv, .cpu = -1, .stdin_pipe = 1};
    char err[64];
    ck_assert_int_eq(qsl_proc_spawn(&p, &s, err, sizeof err), 0);
    ck_assert_int_ge(p.in_fd, 0);
    ck_assert_int_eq(qsl_proc_wait(&p, 5000, "ready", NULL, NULL), QSL_PROC_LINE);
    qsl_proc_stop(&p, 5000, NULL, NULL);
    ck_assert(p.reaped);
    ck_assert_int_eq(p.in_fd, -1);
    ck_assert(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0);
    ck_assert_ptr_nonnull(qsl_proc_last_line(&p, "result", &(size_t){0}));
}
END_TEST

/* Without stdin_pipe the child reads /dev/null: at its end at once. */
START_TEST(test_stdin_is_dev_null_by_default)
{
    sh("cat; echo result done=1");
    ck_assert_int_eq(p.in_fd, -1);
    ck_assert_int_eq(qsl_proc_wait(&p, 5000, "result", NULL, NULL), QSL_PROC_LINE);
}
END_TEST

START_TEST(test_grandchild_dies_with_the_group)
{
    sh("sleep 30 & echo ready pid=$$ child=$!; wait");
    ck_assert_int_eq(qsl_proc_wait(&p, 5000, "ready", NULL, NULL), QSL_PROC_LINE);
    size_t len;
    const char *line = qsl_proc_take_line(&p, "ready", &len);
    struct qsl_proc_field f[4];
    ck_assert_int_eq(qsl_proc_fields(line, len, f, 4), 2);
    pid_t grandchild = (pid_t)atoi(f[1].val);
    ck_assert(alive(grandchild));
    qsl_proc_kill(&p);
    for (int i = 0; i < 1000 && alive(grandchild); i++)
        usleep(1000);           /* the reparented grandchild's end is asynchronous */
    ck_assert_msg(!alive(grandchild), "grandchild %d survived", (int)grandchild);
}
END_TEST

static int calls;
static int stop_after_three(void *ctx)
{
    (void)ctx;
    return ++calls >= 3;
}

START_TEST(test_a_stop_request_ends_the_wait)
{
    sh("exec sleep 30");
    calls = 0;
    ck_assert_int_eq(qsl_proc_wait(&p, 60000, "ready", stop_after_three, NULL), QSL_PROC_STOPPED);
    ck_assert(!p.reaped);       /* the caller decides what to do with the child */
}
END_TEST

static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig)
{
    (void)sig;
    got_usr1 = 1;
}
static int usr1_arrived(void *ctx)
{
    (void)ctx;
    return got_usr1;
}

/* A real signal during a wait: poll returns EINTR, the stop test sees the flag. */
START_TEST(test_a_signal_during_a_wait_ends_it)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;            /* no SA_RESTART, as qsl-run's own handlers */
    sigaction(SIGUSR1, &sa, &old);
    got_usr1 = 0;
    sh("kill -USR1 $PPID; exec sleep 30");
    ck_assert_int_eq(qsl_proc_wait(&p, 20000, "ready", usr1_arrived, NULL), QSL_PROC_STOPPED);
    ck_assert(got_usr1);
    ck_assert(!p.reaped);
    sigaction(SIGUSR1, &old, NULL);
}
END_TEST

START_TEST(test_spawn_failures_name_the_stage)
{
    const char *argv[] = {"/nonexistent/program", NULL};
    struct qsl_proc_spec s = {.argv = argv, .cpu = -1};
    char err[64];
    ck_assert_int_eq(qsl_proc_spawn(&p, &s, err, sizeof err), -ENOENT);
    ck_assert_str_eq(err, "exec");
    ck_assert(p.reaped);
    qsl_proc_close(&p);
    qsl_proc_init(&p);
    const char *ok[] = {"true", NULL};
    struct qsl_proc_spec big = {.argv = ok, .cpu = CPU_SETSIZE - 1};
    ck_assert_int_eq(qsl_proc_spawn(&p, &big, err, sizeof err), -EINVAL);
    ck_assert_str_eq(err, "CPU affinity");
    struct qsl_proc_spec none = {.argv = NULL};
    ck_assert_int_eq(qsl_proc_spawn(&p, &none, err, sizeof err), -EINVAL);
}
END_TEST

START_TEST(test_environment_and_marker_reach_the_child)
{
    const char *env[] = {"QSL_TEST_X=42", NULL};
    const char *argv[] = {"sh", "-c", "echo ready x=$QSL_TEST_X pd=$QSL_PDEATHSIG", NULL};
    struct qsl_proc_spec s = {.argv = argv, .cpu = -1, .env = env};
    char err[64];
    ck_assert_int_eq(qsl_proc_spawn(&p, &s, err, sizeof err), 0);
    ck_assert_int_eq(qsl_proc_wait(&p, 5000, "ready", NULL, NULL), QSL_PROC_LINE);
    size_t len;
    const char *line = qsl_proc_take_line(&p, "ready", &len);
    ck_assert(strncmp(line, "ready x=42 pd=1", len) == 0);
}
END_TEST

START_TEST(test_fields_refuse_bad_tokens)
{
    struct qsl_proc_field f[4];
    const char *l = "result a=1 B=2";
    ck_assert_int_eq(qsl_proc_fields(l, strlen(l), f, 4), -2);      /* the 2nd token */
    l = "result a=1 =2";
    ck_assert_int_eq(qsl_proc_fields(l, strlen(l), f, 4), -2);
    l = "result";
    ck_assert_int_eq(qsl_proc_fields(l, strlen(l), f, 4), 0);
    l = "result a=1 b=2 c=3";
    ck_assert_int_eq(qsl_proc_fields(l, strlen(l), f, 2), -3);      /* more than max */
}
END_TEST

START_TEST(test_output_is_capped_and_drained)
{
    /* 3 MiB of output: kept up to the cap, the rest read and dropped, the child never blocks */
    sh("head -c 3145728 /dev/zero | tr '\\0' x; echo; echo result done=1");
    ck_assert_int_eq(qsl_proc_wait(&p, 20000, NULL, NULL, NULL), QSL_PROC_EXITED);
    ck_assert_uint_le(p.out_len, QSL_PROC_OUT_MAX + 4096);
    ck_assert_uint_ge(p.out_len, QSL_PROC_OUT_MAX);
    ck_assert_int_eq(WEXITSTATUS(p.status), 0);
}
END_TEST

START_TEST(test_reap_all_leaves_nothing)
{
    static struct qsl_proc many[4];
    pid_t pids[4];
    for (int i = 0; i < 4; i++) {
        qsl_proc_init(&many[i]);
        const char *argv[] = {"sleep", "30", NULL};
        struct qsl_proc_spec s = {.argv = argv, .cpu = -1};
        char err[64];
        ck_assert_int_eq(qsl_proc_spawn(&many[i], &s, err, sizeof err), 0);
        pids[i] = many[i].pid;
    }
    qsl_proc_reap_all();
    for (int i = 0; i < 4; i++) {
        ck_assert(many[i].reaped && many[i].killed);
        ck_assert(!alive(pids[i]));
        qsl_proc_close(&many[i]);
    }
}
END_TEST

Suite *proc_suite(void)
{
    Suite *s = suite_create("proc");
    TCase *tc = tcase_create("proc");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_ready_then_result_lines);
    tcase_add_test(tc, test_child_that_dies_before_ready);
    tcase_add_test(tc, test_child_that_never_prints_times_out);
    tcase_add_test(tc, test_child_ignoring_term_is_killed_after_grace);
    tcase_add_test(tc, test_stdin_pipe_is_closed_first_on_stop);
    tcase_add_test(tc, test_stdin_is_dev_null_by_default);
    tcase_add_test(tc, test_grandchild_dies_with_the_group);
    tcase_add_test(tc, test_a_stop_request_ends_the_wait);
    tcase_add_test(tc, test_a_signal_during_a_wait_ends_it);
    tcase_add_test(tc, test_spawn_failures_name_the_stage);
    tcase_add_test(tc, test_environment_and_marker_reach_the_child);
    tcase_add_test(tc, test_fields_refuse_bad_tokens);
    tcase_add_test(tc, test_output_is_capped_and_drained);
    tcase_add_test(tc, test_reap_all_leaves_nothing);
    tcase_add_test(tc, test_a_wrapped_program_is_adopted_and_stopped);
    suite_add_tcase(s, tc);
    return s;
}
