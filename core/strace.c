/*
 * strace.c - `strace -c` summary parser.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "strace.h"

enum col { COL_PERCENT, COL_SECONDS, COL_USECS, COL_CALLS, COL_ERRORS, COL_SYSCALL, COL_OTHER };

#define MAX_COLS 16

struct layout {
    size_t start[MAX_COLS], end[MAX_COLS];      /* [start, end) of each dash run */
    enum col kind[MAX_COLS];
    int n;
};

struct line {
    const char *p;
    size_t len;
};

static int next_line(const char **p, const char *end, struct line *l)
{
    if (*p >= end)
        return 0;
    const char *e = memchr(*p, '\n', (size_t)(end - *p));
    l->p = *p;
    l->len = (size_t)((e ? e : end) - *p);
    *p = e ? e + 1 : end;
    return 1;
}

/* Cell text of column i, trimmed; the last column runs to the end of the line. */
static void cell(const struct layout *lay, int i, const struct line *l, char *out, size_t cap)
{
    size_t s = lay->start[i], e = i == lay->n - 1 ? l->len : lay->end[i];
    if (e > l->len)
        e = l->len;
    if (s > e)
        s = e;
    while (s < e && isspace((unsigned char)l->p[s]))
        s++;
    while (e > s && isspace((unsigned char)l->p[e - 1]))
        e--;
    size_t n = e - s < cap - 1 ? e - s : cap - 1;
    memcpy(out, l->p + s, n);
    out[n] = '\0';
}

static int is_rule(const struct line *l)
{
    if (l->len == 0 || l->p[0] != '-')
        return 0;
    for (size_t i = 0; i < l->len; i++)
        if (l->p[i] != '-' && l->p[i] != ' ' && l->p[i] != '\r')
            return 0;
    return 1;
}

static enum col col_kind(const char *name)
{
    static const struct { const char *name; enum col kind; } names[] = {
        {"% time", COL_PERCENT}, {"seconds", COL_SECONDS}, {"usecs/call", COL_USECS},
        {"calls", COL_CALLS},    {"errors", COL_ERRORS},   {"syscall", COL_SYSCALL},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0)
            return names[i].kind;
    return COL_OTHER;
}

static int read_layout(const struct line *header, const struct line *rule, struct layout *lay)
{
    lay->n = 0;
    for (size_t i = 0; i < rule->len;) {
        if (rule->p[i] != '-') {
            i++;
            continue;
        }
        if (lay->n == MAX_COLS)
            return -1;
        size_t s = i;
        while (i < rule->len && rule->p[i] == '-')
            i++;
        lay->start[lay->n] = s;
        lay->end[lay->n] = i;
        lay->n++;
    }
    int calls = 0, syscall = 0;
    for (int i = 0; i < lay->n; i++) {
        char name[32];
        /* a header word is right-aligned over its rule, and may start a little left of it */
        struct layout wide = *lay;
        if (i > 0)
            wide.start[i] = lay->end[i - 1];
        cell(&wide, i, header, name, sizeof name);
        lay->kind[i] = col_kind(name);
        calls += lay->kind[i] == COL_CALLS;
        syscall += lay->kind[i] == COL_SYSCALL;
    }
    return calls == 1 && syscall == 1 ? 0 : -1;
}

/* Parse a decimal number with '.' or ',' as the separator; the whole cell must be used. */
static int parse_num(const char *s, double *v)
{
    char buf[64];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof buf)
        return -1;
    for (size_t i = 0; i <= n; i++)
        buf[i] = s[i] == ',' ? '.' : s[i];
    if (!isdigit((unsigned char)buf[0]))
        return -1;
    char *end;
    *v = strtod(buf, &end);
    return *end == '\0' ? 0 : -1;
}

static int parse_uint(const char *s, uint64_t *v)
{
    if (!*s || !isdigit((unsigned char)*s))
        return -1;
    char *end;
    *v = strtoull(s, &end, 10);
    return *end == '\0' ? 0 : -1;
}

/* Store one cell; -1 when it is not what its column holds. */
static int put_cell(enum col kind, const char *c, struct qsl_strace_row *r, int *have_calls)
{
    uint64_t u;
    switch (kind) {
    case COL_PERCENT:
        return parse_num(c, &r->percent);
    case COL_SECONDS:
        return parse_num(c, &r->seconds);
    case COL_USECS:
        if (*c && parse_uint(c, &u))
            return -1;
        r->usecs_per_call = *c ? (int64_t)u : -1;
        return 0;
    case COL_CALLS:
        *have_calls = 1;
        return parse_uint(c, &r->calls);
    case COL_ERRORS:
        return *c && parse_uint(c, &r->errors) ? -1 : 0;
    case COL_SYSCALL:
        if (!*c || strchr(c, ' ') || strlen(c) >= sizeof r->syscall)
            return -1;
        strcpy(r->syscall, c);
        return 0;
    default:
        return 0;
    }
}

static void row_init(struct qsl_strace_row *r)
{
    memset(r, 0, sizeof *r);
    r->percent = r->seconds = -1;
    r->usecs_per_call = -1;
}

/*
 * A number too wide for its column pushes the rest of the row right; then
 * the row has one word per column (a blank cell would make it ambiguous,
 * and strace only blanks cells of small rows), so map words in order.
 */
static int parse_row_by_words(const struct layout *lay, const struct line *l,
                              struct qsl_strace_row *r)
{
    char words[MAX_COLS][QSL_STRACE_NAME_MAX];
    int n = 0;
    for (size_t i = 0; i < l->len;) {
        while (i < l->len && isspace((unsigned char)l->p[i]))
            i++;
        size_t s = i;
        while (i < l->len && !isspace((unsigned char)l->p[i]))
            i++;
        if (i == s)
            break;
        if (n == MAX_COLS || i - s >= QSL_STRACE_NAME_MAX)
            return -1;
        memcpy(words[n], l->p + s, i - s);
        words[n][i - s] = '\0';
        n++;
    }
    if (n != lay->n)
        return -1;
    row_init(r);
    int have_calls = 0;
    for (int i = 0; i < n; i++)
        if (put_cell(lay->kind[i], words[i], r, &have_calls))
            return -1;
    return have_calls && r->syscall[0] ? 0 : -1;
}

static int parse_row(const struct layout *lay, const struct line *l, struct qsl_strace_row *r)
{
    row_init(r);
    int have_calls = 0;
    for (int i = 0; i < lay->n; i++) {
        char c[QSL_STRACE_NAME_MAX];
        cell(lay, i, l, c, sizeof c);
        if (put_cell(lay->kind[i], c, r, &have_calls))
            return parse_row_by_words(lay, l, r);
    }
    return have_calls && r->syscall[0] ? 0 : parse_row_by_words(lay, l, r);
}


enum qsl_strace_err qsl_strace_parse(const char *text, size_t len, struct qsl_strace_summary *s)
{
    const char *p = text, *end = text + len;
    struct line prev = {0}, l;
    struct layout lay;
    unsigned lineno = 0;
    int in_table = 0, rules = 0;
    s->n = 0;
    s->bad_line = 0;
    while (next_line(&p, end, &l)) {
        lineno++;
        if (!in_table) {
            if (is_rule(&l) && prev.p && read_layout(&prev, &l, &lay) == 0)
                in_table = 1;
            prev = l;
            continue;
        }
        if (is_rule(&l)) {
            rules++;
            continue;
        }
        if (l.len == 0)
            continue;
        struct qsl_strace_row r;
        if (parse_row(&lay, &l, &r) != 0) {
            s->bad_line = lineno;
            return QSL_STRACE_BAD_ROW;
        }
        if (strcmp(r.syscall, "total") == 0) {
            s->total = r;
            return QSL_STRACE_OK;
        }
        if (rules > 0) {        /* after the closing rule only the total may come */
            s->bad_line = lineno;
            return QSL_STRACE_BAD_ROW;
        }
        if (s->n == s->cap) {
            s->bad_line = lineno;
            return QSL_STRACE_TOO_MANY;
        }
        s->rows[s->n++] = r;
    }
    s->bad_line = lineno;
    return in_table ? QSL_STRACE_NO_TOTAL : QSL_STRACE_NO_HEADER;
}

const char *qsl_strace_err_name(enum qsl_strace_err e)
{
    static const char *const names[] = {"ok", "no summary header", "unparsable row",
                                        "no total row", "too many rows"};
    return (unsigned)e < sizeof names / sizeof names[0] ? names[e] : "unknown";
}
