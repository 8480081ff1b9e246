/*
 * role_flow.c - `qsl-run flow`: the synthetic flow through the engine, in a
 * process of its own, so a scenario can read its CPU split from procfs and
 * rusage with no socket in the way (the user-space baseline of a profile).
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine.h"
#include "flow.h"
#include "roles.h"

const struct qsl_role_param qsl_role_flow_params[] = {
    {"seed", 42, 0, UINT64_MAX, "flow seed", NULL, NULL},
    {"orders", 20000, 1, 100000000, "requests to generate and apply", NULL, NULL},
    {"symbols", 3, 1, QSL_FLOW_MAX_SYMBOLS, "symbols", NULL, NULL},
    {"capacity", 1u << 16, 1, 1u << 26, "resting-order pool size", NULL, NULL},
    {"hold", 0, 0, 1, "1: after the result line, wait for SIGTERM (so /proc can be read)", NULL, NULL},
    {"flow", QSL_FLOW_ORIGINAL, 0, 0, "order flow generator: the original's, or qsl's drifting mid",
     NULL, qsl_flow_gen_names},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};

struct tally {
    uint64_t trades, top_of_book;
};

static void on_event(void *ctx, const struct qsl_event *ev)
{
    struct tally *t = ctx;
    t->trades += ev->kind == QSL_EV_TRADE;
    t->top_of_book += ev->kind == QSL_EV_TOP_OF_BOOK;
}

int qsl_role_flow(const union qsl_role_value *a);
int qsl_role_flow(const union qsl_role_value *a)
{
    uint64_t v[6];
    for (int i = 0; i < 6; i++)
        v[i] = a[i].u;
    struct qsl_engine_config c;
    qsl_engine_config_defaults(&c);
    c.symbols = (uint32_t)v[2];
    c.capacity = (uint32_t)v[3];
    struct qsl_engine e;
    struct qsl_flow *f = malloc(sizeof *f);
    if (!f || qsl_engine_init(&e, &c) != 0 || qsl_flow_init(f, (enum qsl_flow_gen)v[5], v[0], c.symbols) != 0) {
        fprintf(stderr, "qsl-run flow: out of memory\n");
        return 1;
    }
    qsl_role_line("ready", "seed=%" PRIu64 " orders=%" PRIu64 " symbols=%u flow=%s", v[0], v[1],
                  c.symbols, qsl_flow_gen_names[v[5]]);
    struct tally t = {0, 0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t i = 0; i < v[1]; i++) {
        struct qsl_flow_item it;
        qsl_flow_next(f, &e, &it);
        qsl_flow_apply(&e, &it, on_event, &t);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    uint64_t rejects = 0;
    for (int r = 0; r < QSL_REJECT_COUNT; r++)
        rejects += e.stats.rejects[r];
    /* blocked before the result line: a parent may send TERM the moment it reads it */
    sigset_t hold;
    sigemptyset(&hold);
    sigaddset(&hold, SIGTERM);
    sigaddset(&hold, SIGINT);
    if (v[4])
        sigprocmask(SIG_BLOCK, &hold, NULL);
    /* datagrams: what the feed would publish, one per trade and per top-of-book change */
    qsl_role_line("result",
                  "orders=%" PRIu64 " accepted=%" PRIu64 " rejects=%" PRIu64 " trades=%" PRIu64
                  " top_of_book=%" PRIu64 " datagrams=%" PRIu64 " resting=%u ns_per_order=%.1f",
                  v[1], e.stats.accepted, rejects, t.trades, t.top_of_book,
                  t.trades + t.top_of_book, qsl_engine_resting(&e), ns / (double)v[1]);
    qsl_engine_free(&e);
    free(f);
    if (v[4]) {
        int sig;
        sigwait(&hold, &sig);
    }
    return 0;
}
