/*
 * check_main.c - runs every core suite; `check_core SUITE` runs one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "suites.h"

static const struct { const char *name; Suite *(*make)(void); } suites[] = {
    {"wire", wire_suite},     {"book", book_suite},       {"engine", engine_suite},
    {"risk", risk_suite},     {"session", session_suite}, {"flow", flow_suite},
    {"strace", strace_suite}, {"procfs", procfs_suite},   {"hist", hist_suite},
    {"sockopt", sockopt_suite}, {"feed", feed_suite},     {"gateway", gateway_suite},
    {"replay", replay_suite},   {"proc", proc_suite},       {"roles", roles_suite},
    {"uring", uring_suite},   {"net", net_suite},         {"echo", echo_suite},
};

int main(int argc, char **argv)
{
    SRunner *sr = NULL;
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        if (argc > 1 && strcmp(argv[1], suites[i].name) != 0)
            continue;
        if (!sr)
            sr = srunner_create(suites[i].make());
        else
            srunner_add_suite(sr, suites[i].make());
    }
    if (!sr)
        return 2;
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int qsl_test_io_uring_runs(const char *test)
{
    char why[200];
    if (qsl_gateway_mode_available(QSL_GATEWAY_IO_URING, why, sizeof why) == 0)
        return 1;
    fprintf(stderr, "%s: the io_uring pass is skipped: %s\n", test, why);
    return 0;
}
