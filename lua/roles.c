/*
 * roles.c - role dispatch, argument checking and the ready/result lines.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <signal.h>
#include <unistd.h>

#include "roles.h"

int qsl_role_flow(const union qsl_role_value *v);
int qsl_role_publish(const union qsl_role_value *v);
int qsl_role_subscribe(const union qsl_role_value *v);
int qsl_role_gateway(const union qsl_role_value *v);
int qsl_role_load(const union qsl_role_value *v);
int qsl_role_echo(const union qsl_role_value *v);
extern const struct qsl_role_param qsl_role_flow_params[], qsl_role_publish_params[],
    qsl_role_subscribe_params[], qsl_role_gateway_params[], qsl_role_load_params[],
    qsl_role_echo_params[];

static const struct qsl_role roles[] = {
    {"flow", "run the seeded synthetic order flow through the engine (CPU only, no sockets)",
     qsl_role_flow_params, qsl_role_flow},
    {"publish", "publish the flow's market data over UDP (burst or paced; single, packed, GSO)",
     qsl_role_publish_params, qsl_role_publish},
    {"subscribe", "receive market data on UDP: sequence tracking and the kernel's drop count",
     qsl_role_subscribe_params, qsl_role_subscribe},
    {"gateway", "the TCP order gateway (epoll, or one connection at a time); SIGTERM ends it",
     qsl_role_gateway_params, qsl_role_gateway},
    {"load", "drive a gateway: N connections, pipelined, every reply verified, latency histogram",
     qsl_role_load_params, qsl_role_load},
    {"echo", "a trivial TCP server, one connection at a time: the raw round-trip baseline",
     qsl_role_echo_params, qsl_role_echo},
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
    for (const struct qsl_role_param *p = r->params; p->name; p++) {
        if (p->def_addr) {
            fprintf(f, "      %s=ADDR  %s (default %s)\n", p->name, p->help, p->def_addr);
        } else if (p->choices) {
            fprintf(f, "      %s=", p->name);
            for (int i = 0; p->choices[i]; i++)
                fprintf(f, "%s%s", i ? "|" : "", p->choices[i]);
            fprintf(f, "  %s (default %s)\n", p->help, p->choices[p->def]);
        } else
            fprintf(f, "      %s=N  %s (default %" PRIu64 ", %" PRIu64 "..%" PRIu64 ")\n", p->name,
                    p->help, p->def, p->min, p->max);
    }
}

void qsl_roles_usage(FILE *f)
{
    fprintf(f, "roles (each prints 'ready pid=...' then 'result ...' on stdout):\n");
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        role_usage(f, &roles[i]);
}

static int is_ip_literal(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int qsl_role_parse(const struct qsl_role_param *params, int argc, char **argv,
                   union qsl_role_value *values, char *err, size_t cap)
{
    size_t n = 0;
    for (; params[n].name; n++) {
        if (params[n].def_addr)
            values[n].s = params[n].def_addr;
        else
            values[n].u = params[n].def;
    }
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
        if (params[k].choices) {
            int w = 0;
            while (params[k].choices[w] && strcmp(params[k].choices[w], eq + 1) != 0)
                w++;
            if (!params[k].choices[w]) {
                snprintf(err, cap, "%s=%s: expected one of the words listed by --help",
                         params[k].name, eq + 1);
                return -1;
            }
            values[k].u = (uint64_t)w;
            continue;
        }
        if (params[k].def_addr) {
            /* numeric only: a role never resolves a name into an unintended target */
            if (!is_ip_literal(eq + 1)) {
                snprintf(err, cap, "%s=%s: expected a numeric IPv4 or IPv6 address",
                         params[k].name, eq + 1);
                return -1;
            }
            values[k].s = eq + 1;
            continue;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(eq + 1, &end, 10);
        if (!eq[1] || *end || errno || eq[1] == '-' || v < params[k].min || v > params[k].max) {
            snprintf(err, cap, "%s=%s: expected an integer in %" PRIu64 "..%" PRIu64,
                     params[k].name, eq + 1, params[k].min, params[k].max);
            return -1;
        }
        values[k].u = v;
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

static volatile int *stop_flag;

static void on_stop_signal(int sig)
{
    (void)sig;
    if (stop_flag)
        *stop_flag = 1;
}

void qsl_role_stop_on_signals(volatile int *flag)
{
    stop_flag = flag;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;         /* no SA_RESTART: blocking calls return EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

int qsl_role_main(const struct qsl_role *r, int argc, char **argv)
{
    union qsl_role_value values[32];
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
    /* A role started by a scenario dies with it, even when run under a wrapper;
     * one started from a shell (`qsl-run gateway &`) outlives the shell. */
    const char *pd = getenv("QSL_PDEATHSIG");
    if (pd && strcmp(pd, "1") == 0) {
        unsetenv("QSL_PDEATHSIG");
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1)
            return 1;           /* the parent is already gone */
    }
    return r->run(values);
}
