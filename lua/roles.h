/*
 * roles.h - `qsl-run ROLE key=value ...`: one measured thing, no Lua.
 *
 * The line protocol every role keeps, so a parent can drive it:
 *   ready pid=<pid> key=value ...     once, when it serves (flushed at once)
 *   result key=value ...              once, at the end
 * Keys are [a-z_][a-z0-9_]*, values have no spaces. Diagnostics go to
 * stderr; stdout carries only these lines.
 */
#ifndef QSL_ROLES_H
#define QSL_ROLES_H

#include <stdint.h>
#include <stdio.h>

/* A parameter is an integer in min..max, a numeric IP address (def_addr set),
 * or one of a list of words (choices set: the value is the word's index). */
struct qsl_role_param {
    const char *name;
    uint64_t def, min, max;
    const char *help;
    const char *def_addr;       /* non-NULL: an address parameter with this default */
    const char *const *choices; /* non-NULL: NULL-terminated words; def is an index */
};

union qsl_role_value {
    uint64_t u;
    const char *s;
};

struct qsl_role {
    const char *name;
    const char *help;
    const struct qsl_role_param *params;            /* NULL-name terminated */
    int (*run)(const union qsl_role_value *values); /* in params order */
};

const struct qsl_role *qsl_role_find(const char *name);
int qsl_role_main(const struct qsl_role *r, int argc, char **argv);
void qsl_roles_usage(FILE *f);

/*
 * Parse key=value arguments against params into values (defaults first).
 * 0, or -1 with a message naming the argument in err.
 */
int qsl_role_parse(const struct qsl_role_param *params, int argc, char **argv,
                   union qsl_role_value *values, char *err, size_t cap);

/* Make SIGTERM and SIGINT set *flag (and interrupt blocking calls) instead of killing. */
void qsl_role_stop_on_signals(volatile int *flag);

/* Print "<word> pid=<pid> <fields>" on stdout and flush. */
void qsl_role_line(const char *word, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
