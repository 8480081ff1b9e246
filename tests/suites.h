/* The Check suites of the core, one per module; tests/check_main.c runs them all. */
#ifndef QSL_TEST_SUITES_H
#define QSL_TEST_SUITES_H

#include <check.h>

Suite *wire_suite(void);
Suite *book_suite(void);
Suite *engine_suite(void);
Suite *risk_suite(void);
Suite *session_suite(void);
Suite *flow_suite(void);
Suite *strace_suite(void);
Suite *procfs_suite(void);
Suite *hist_suite(void);
Suite *sockopt_suite(void);
Suite *feed_suite(void);
Suite *gateway_suite(void);
Suite *replay_suite(void);
Suite *proc_suite(void);
Suite *roles_suite(void);
Suite *uring_suite(void);
Suite *net_suite(void);
Suite *echo_suite(void);
Suite *kernel_suite(void);
Suite *tcpinfo_suite(void);
Suite *oneshot_suite(void);
Suite *hugemem_suite(void);

/* A check not registered because it cannot run here: counted and reported as skipped with
 * why (never as passed). Call while building a suite, not inside a test (a forked child). */
void qsl_test_skip(const char *test, const char *why);
/* Whether a network namespace can be made here (probed once, in a child). */
int qsl_test_netns_runs(void);

/* Whether io_uring runs here; when not, says why on stderr for the named test (for a
 * check with an io_uring part among others: tests/check_main.c). */
int qsl_test_io_uring_runs(const char *test);

/* A loop test's end, its last `uring` iterations being the io_uring passes: where io_uring
 * cannot run, those are not registered and are reported as skipped (never as passed). */
int qsl_test_uring_loop(const char *test, int end, int uring);
#define QSL_URING_LOOP(tc, t, end, uring) \
    tcase_add_loop_test(tc, t, 0, qsl_test_uring_loop(#t, end, uring))
/* A test of io_uring alone: registered where io_uring runs, else reported as skipped. */
void qsl_test_add_uring(TCase *tc, const TTest *t, const char *test);

#endif
