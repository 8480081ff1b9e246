/*
 * strace.h - parse the summary `strace -c` writes (any 5.x-7.x layout).
 *
 * Columns are found from the dashed rule under the header, not by counting
 * words: strace leaves a cell blank (errors when there were none; usecs/call
 * on the total row before 6.0), so word counts are ambiguous while column
 * extents are not. The header names each column; unknown columns are
 * skipped, so a layout chosen with -U still parses. A decimal comma (strace
 * under a locale such as de_DE) is accepted.
 */
#ifndef QSL_STRACE_H
#define QSL_STRACE_H

#include <stddef.h>
#include <stdint.h>

#define QSL_STRACE_NAME_MAX 64

struct qsl_strace_row {
    char syscall[QSL_STRACE_NAME_MAX];
    double percent;             /* % time; -1 when the layout has no such column */
    double seconds;             /* -1 when absent */
    int64_t usecs_per_call;     /* -1 when absent or blank (total row, older strace) */
    uint64_t calls;
    uint64_t errors;            /* blank cell = 0 */
};

enum qsl_strace_err {
    QSL_STRACE_OK = 0,
    QSL_STRACE_NO_HEADER,       /* no "calls" / "syscall" header with its dashed rule */
    QSL_STRACE_BAD_ROW,         /* a row whose cells are not numbers where numbers belong */
    QSL_STRACE_NO_TOTAL,        /* the table never reached its "total" row */
    QSL_STRACE_TOO_MANY         /* more rows than the caller's array holds */
};

struct qsl_strace_summary {
    struct qsl_strace_row *rows;        /* caller's array */
    size_t cap, n;
    struct qsl_strace_row total;
    unsigned bad_line;                  /* 1-based line of the first problem */
};

enum qsl_strace_err qsl_strace_parse(const char *text, size_t len, struct qsl_strace_summary *s);
const char *qsl_strace_err_name(enum qsl_strace_err e);

#endif
