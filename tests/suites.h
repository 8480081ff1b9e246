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

/* Whether the gateway's io_uring mode runs here; when not, says why on stderr for the
 * named test, which then checks nothing (tests/check_main.c). */
int qsl_test_io_uring_runs(const char *test);

#endif
