/*
 * check_main.c - runs every core suite; `check_core SUITE` runs one.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uring.h"
#include "suites.h"

static const struct { const char *name; Suite *(*make)(void); } suites[] = {
    {"wire", wire_suite},     {"book", book_suite},       {"engine", engine_suite},
    {"risk", risk_suite},     {"session", session_suite}, {"flow", flow_suite},
    {"strace", strace_suite}, {"procfs", procfs_suite},   {"hist", hist_suite},
    {"sockopt", sockopt_suite}, {"feed", feed_suite},     {"gateway", gateway_suite},
    {"replay", replay_suite},   {"proc", proc_suite},       {"roles", roles_suite},
    {"uring", uring_suite},   {"net", net_suite},         {"echo", echo_suite},
    {"kernel", kernel_suite},
    {"tcpinfo", tcpinfo_suite},
    {"oneshot", oneshot_suite},
    {"hugemem", hugemem_suite},
};

/* Checks not registered because they cannot run here: reported as skipped, never as passed. */
static int skipped, skipped_uring;
static char skip_why[200];

void qsl_test_skip(const char *test, const char *why)
{
    skipped++;
    fprintf(stderr, "skipped: %s (1 check): %s\n", test, why);
}

int qsl_test_netns_runs(void)
{
    static int runs = -1;
    if (runs < 0) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(unshare(CLONE_NEWNET) == 0 ? 0 : 1);
        int st = 1;
        runs = pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    return runs;
}

static int uring_runs(void)
{
    return qsl_uring_available(skip_why, sizeof skip_why) == 0;
}

int qsl_test_uring_loop(const char *test, int end, int uring)
{
    if (uring_runs())
        return end;
    skipped += uring;
    skipped_uring += uring;
    fprintf(stderr, "skipped: %s in io_uring mode (%d check%s)\n", test, uring, uring > 1 ? "s" : "");
    return end - uring;
}

void qsl_test_add_uring(TCase *tc, const TTest *t, const char *test)
{
    if (uring_runs()) {
        tcase_add_test(tc, t);
        return;
    }
    skipped++;
    skipped_uring++;
    fprintf(stderr, "skipped: %s (1 check)\n", test);
}

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
    if (skipped)
        printf("%d check%s skipped, not run and not counted above (each named on stderr)%s%s\n",
               skipped, skipped > 1 ? "s" : "", skipped_uring ? "; io_uring cannot run here: " : "",
               skipped_uring ? skip_why : "");
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int qsl_test_io_uring_runs(const char *test)
{
    char why[200];
    if (qsl_uring_available(why, sizeof why) == 0)
        return 1;
    fprintf(stderr, "%s: the io_uring pass is skipped: %s\n", test, why);
    return 0;
}
