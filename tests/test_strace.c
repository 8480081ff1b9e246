/*
 * test_strace.c - the strace -c summary parser, across layouts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procfs.h"
#include "strace.h"
#include "suites.h"

static struct qsl_strace_row rows[256];
static struct qsl_strace_summary sum;

static enum qsl_strace_err parse(const char *text)
{
    sum = (struct qsl_strace_summary){.rows = rows, .cap = 256};
    return qsl_strace_parse(text, strlen(text), &sum);
}

static enum qsl_strace_err parse_file(const char *name)
{
    static char buf[65536];
    char path[256];
    snprintf(path, sizeof path, "tests/data/%s", name);
    long n = qsl_procfs_read(path, buf, sizeof buf);
    ck_assert_msg(n > 0, "cannot read %s (run from the repository root)", path);
    return parse(buf);
}

static const struct qsl_strace_row *row(const char *name)
{
    for (size_t i = 0; i < sum.n; i++)
        if (!strcmp(rows[i].syscall, name))
            return &rows[i];
    ck_abort_msg("no row %s", name);
    return NULL;
}

START_TEST(test_strace_61_capture)
{
    ck_assert_int_eq(parse_file("strace-6.1-f-c.txt"), QSL_STRACE_OK);
    ck_assert_uint_eq(sum.n, 36);
    ck_assert_uint_eq(row("wait4")->calls, 4);
    ck_assert_uint_eq(row("wait4")->errors, 2);
    ck_assert_int_eq(row("wait4")->usecs_per_call, 735);
    ck_assert_uint_eq(row("close")->errors, 0);         /* blank cell */
    ck_assert(row("openat")->seconds > 0.000485 && row("openat")->seconds < 0.000487);
    ck_assert_uint_eq(sum.total.calls, 356);
    ck_assert_uint_eq(sum.total.errors, 61);
    ck_assert_int_eq(sum.total.usecs_per_call, 12);
    uint64_t calls = 0;
    for (size_t i = 0; i < sum.n; i++)
        calls += rows[i].calls;
    ck_assert_uint_eq(calls, sum.total.calls);
}
END_TEST

START_TEST(test_strace_5_layout_blank_total_usecs)
{
    ck_assert_int_eq(parse_file("strace-5-layout-c.txt"), QSL_STRACE_OK);
    ck_assert_uint_eq(sum.n, 4);
    ck_assert_uint_eq(sum.total.calls, 20);
    ck_assert_uint_eq(sum.total.errors, 4);
    ck_assert_int_eq(sum.total.usecs_per_call, -1);
    ck_assert_uint_eq(row("read")->errors, 4);
    ck_assert_uint_eq(row("sendto")->errors, 0);
}
END_TEST

START_TEST(test_decimal_comma)
{
    ck_assert_int_eq(parse_file("strace-comma-locale-c.txt"), QSL_STRACE_OK);
    ck_assert(rows[0].percent > 66.74 && rows[0].percent < 66.76);
    ck_assert(sum.total.seconds > 0.005554 && sum.total.seconds < 0.005556);
}
END_TEST

START_TEST(test_no_total_row_is_refused)
{
    ck_assert_int_eq(parse("% time     seconds  usecs/call     calls    errors syscall\n"
                           "------ ----------- ----------- --------- --------- ----------------\n"
                           " 52.38    0.000110          27         4           accept\n"),
                     QSL_STRACE_NO_TOTAL);
}
END_TEST

START_TEST(test_no_header_is_refused)
{
    ck_assert_int_eq(parse(""), QSL_STRACE_NO_HEADER);
    ck_assert_int_eq(parse("strace: ptrace(PTRACE_TRACEME, ...): Operation not permitted\n"),
                     QSL_STRACE_NO_HEADER);
    ck_assert_int_eq(parse("------ -----\n"), QSL_STRACE_NO_HEADER);
}
END_TEST

START_TEST(test_garbage_row_names_its_line)
{
    ck_assert_int_eq(parse("% time     seconds  usecs/call     calls    errors syscall\n"
                           "------ ----------- ----------- --------- --------- ----------------\n"
                           " 52.38    0.000110          27         4           accept\n"
                           " 52.38    0.0x0110          27      four           read\n"
                           "100.00    0.000210                    20         4 total\n"),
                     QSL_STRACE_BAD_ROW);
    ck_assert_uint_eq(sum.bad_line, 4);
}
END_TEST

START_TEST(test_too_wide_number_falls_back_to_words)
{
    /* a seconds value wider than its rule pushes the row right */
    ck_assert_int_eq(parse("% time     seconds  usecs/call     calls    errors syscall\n"
                           "------ ----------- ----------- --------- --------- ----------------\n"
                           " 99.00 123456.123456          27         4         1 accept\n"
                           "------ ----------- ----------- --------- --------- ----------------\n"
                           "100.00 123456.123456          27         4         1 total\n"),
                     QSL_STRACE_OK);
    ck_assert_uint_eq(rows[0].calls, 4);
    ck_assert_uint_eq(rows[0].errors, 1);
}
END_TEST

START_TEST(test_too_many_rows)
{
    struct qsl_strace_row one[1];
    const char *t = "% time     seconds  usecs/call     calls    errors syscall\n"
                    "------ ----------- ----------- --------- --------- ----------------\n"
                    "  1.00    0.000110          27         4           accept\n"
                    "  1.00    0.000110          27         4           read\n"
                    "100.00    0.000210                    20         4 total\n";
    struct qsl_strace_summary s = {.rows = one, .cap = 1};
    ck_assert_int_eq(qsl_strace_parse(t, strlen(t), &s), QSL_STRACE_TOO_MANY);
}
END_TEST

Suite *strace_suite(void)
{
    Suite *s = suite_create("strace");
    TCase *tc = tcase_create("strace");
    tcase_add_test(tc, test_strace_61_capture);
    tcase_add_test(tc, test_strace_5_layout_blank_total_usecs);
    tcase_add_test(tc, test_decimal_comma);
    tcase_add_test(tc, test_no_total_row_is_refused);
    tcase_add_test(tc, test_no_header_is_refused);
    tcase_add_test(tc, test_garbage_row_names_its_line);
    tcase_add_test(tc, test_too_wide_number_falls_back_to_words);
    tcase_add_test(tc, test_too_many_rows);
    suite_add_tcase(s, tc);
    return s;
}
