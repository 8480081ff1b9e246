/*
 * roles.c - role dispatch, argument checking and the ready/result lines.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <signal.h>
#include <unistd.h>

#include "roles.h"

int qsl_role_flow(const uint64_t *v);
extern const struct qsl_role_param qsl_role_flow_params[];

static const struct qsl_role roles[] = {
    {"flow", "run the seeded synthetic order flow through the engine (CPU only, no sockets)",
     qsl_role_flow_params, qsl_role_flow},
};

const struct qsl_role *qsl_role_find(const char *name)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(roles[i].name, name) == 0)
            return &roles[i];
    return NULL;
}

static void role_usage(FILE *f, const struct qsl_role *r)
{
    fprintf(f, "  qsl-run %-10s %s\n", r->name, r->help);
    for (const struct qsl_role_param *p = r->params; p->name; p++)
        fprintf(f, "      %s=N  %s (default %" PRIu64 ", %" PRIu64 "..%" PRIu64 ")\n", p->name,
                p->help, p->def, p->min, p->max);
}

void qsl_roles_usage(FILE *f)
{
    fprintf(f, "roles (each prints 'ready pid=...' then 'result ...' on stdout):\n");
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        role_usage(f, &roles[i]);
}

int qsl_role_parse(const struct qsl_role_param *params, int argc, char **argv,
                   uint64_t *values, char *err, size_t cap)
{
    size_t n = 0;
    for (; params[n].name; n++)
        values[n] = params[n].def;
    for (int i = 0; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i]) {
            snprintf(err, cap, "argument '%s' is not key=value", argv[i]);
            return -1;
        }
        size_t klen = (size_t)(eq - argv[i]), k = 0;
        while (k < n && (strlen(params[k].name) != klen || strncmp(params[k].name, argv[i], klen)))
            k++;
        if (k == n) {
            snprintf(err, cap, "unknown parameter '%.*s'", (int)klen, argv[i]);
            return -1;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(eq + 1, &end, 10);
        if (!eq[1] || *end || errno || eq[1] == '-' || v < params[k].min || v > params[k].max) {
            snprintf(err, cap, "%s=%s: expected an integer in %" PRIu64 "..%" PRIu64,
                     params[k].name, eq + 1, params[k].min, params[k].max);
            return -1;
        }
        values[k] = v;
    }
    return 0;
}

void qsl_role_line(const char *word, const char *fmt, ...)
{
    printf("%s pid=%d ", word, (int)getpid());
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

int qsl_role_main(const struct qsl_role *r, int argc, char **argv)
{
    uint64_t values[32];
    char err[256];
    if (argc == 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
        role_usage(stdout, r);
        return 0;
    }
    if (qsl_role_parse(r->params, argc, argv, values, err, sizeof err) != 0) {
        fprintf(stderr, "qsl-run %s: %s\n", r->name, err);
        role_usage(stderr, r);
        return 1;
    }
    /* a role started by a scenario dies with it, even when run under a wrapper */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    return r->run(values);
}
