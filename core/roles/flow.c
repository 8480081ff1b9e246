/*
 * flow.c - `qsl-run flow`: the synthetic flow through the engine, in a
 * process of its own, so a scenario can read its CPU split from procfs and
 * rusage with no socket in the way (the user-space baseline of a profile).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "engine.h"
#include "flow.h"
#include "role.h"

struct flow_args {
    uint64_t seed, orders;
    uint32_t symbols, max_orders;
    int hold, flow, huge_pages;
};

static const struct qsl_role_param params[] = {
    QSL_ROLE_U(struct flow_args, seed, 42, 0, UINT64_MAX, "", "flow seed"),
    QSL_ROLE_U(struct flow_args, orders, 20000, 1, 100000000, "orders", "requests to generate and apply"),
    QSL_ROLE_U(struct flow_args, symbols, 3, 1, QSL_FLOW_MAX_SYMBOLS, "", "symbols"),
    QSL_ROLE_ENGINE_MEMORY(struct flow_args),
    QSL_ROLE_U(struct flow_args, hold, 0, 0, 1, "",
               "1: after the result line, wait for SIGTERM (so /proc can be read)"),
    QSL_ROLE_WORD(struct flow_args, flow, QSL_FLOW_ORIGINAL, qsl_flow_gen_names,
                  "order flow generator: the original's, or qsl's drifting mid"),
    QSL_ROLE_END,
};

struct ready_line {
    uint64_t seed, orders, symbols;
    const char *flow;
};

static const struct qsl_role_field ready[] = {
    QSL_ROLE_F(struct ready_line, seed, "", "flow seed"),
    QSL_ROLE_F(struct ready_line, orders, "orders", "requests it will apply"),
    QSL_ROLE_F(struct ready_line, symbols, "", "symbols"),
    QSL_ROLE_F(struct ready_line, flow, "", "the generator"),
    QSL_ROLE_FIELDS_END,
};

struct result_line {
    uint64_t orders, accepted, rejects, trades, top_of_book, datagrams, resting;
    double ns_per_order;
};

#define R struct result_line
static const struct qsl_role_field result[] = {
    QSL_ROLE_F(R, orders, "orders", "requests applied"),
    QSL_ROLE_F(R, accepted, "orders", "new orders accepted"),
    QSL_ROLE_F(R, rejects, "requests", "requests rejected (stale cancels and modifies included)"),
    QSL_ROLE_F(R, trades, "trades", "fills"),
    QSL_ROLE_F(R, top_of_book, "events", "top-of-book changes"),
    QSL_ROLE_F(R, datagrams, "messages", "what the feed would publish: trades + top_of_book"),
    QSL_ROLE_F(R, resting, "orders", "orders resting at the end"),
    QSL_ROLE_F(R, ns_per_order, "ns", "the role's monotonic clock around the loop, per request"),
    QSL_ROLE_FIELDS_END,
};
#undef R

struct tally {
    uint64_t trades, top_of_book;
};

static void on_event(void *ctx, const struct qsl_event *ev)
{
    struct tally *t = ctx;
    t->trades += ev->kind == QSL_EV_TRADE;
    t->top_of_book += ev->kind == QSL_EV_TOP_OF_BOOK;
}

static int run(const void *args)
{
    const struct flow_args *a = args;
    struct qsl_engine_config c;
    qsl_engine_config_defaults(&c);
    c.symbols = a->symbols;
    c.max_orders = a->max_orders;
    c.huge_pages = (uint8_t)a->huge_pages;
    struct qsl_engine e;
    struct qsl_flow *f = malloc(sizeof *f);
    if (!f || qsl_engine_init(&e, &c) != 0 ||
        qsl_flow_init(f, (enum qsl_flow_gen)a->flow, a->seed, c.symbols) != 0) {
        fprintf(stderr, "qsl-run flow: out of memory\n");
        free(f);
        return 1;
    }
    struct ready_line rl = {a->seed, a->orders, c.symbols, qsl_flow_gen_names[a->flow]};
    if (qsl_role_print("ready", ready, &rl, sizeof rl) != 0)
        return 1;
    struct tally t = {0, 0};
    uint64_t t0 = qsl_clock_ns();
    for (uint64_t i = 0; i < a->orders; i++) {
        struct qsl_flow_item it;
        qsl_flow_next(f, &e, &it);
        qsl_flow_apply(&e, &it, on_event, &t);
    }
    double ns = (double)(qsl_clock_ns() - t0);
    uint64_t rejects = 0;
    for (int r = 0; r < QSL_REJECT_COUNT; r++)
        rejects += e.stats.rejects[r];
    /* blocked before the result line: a parent may send TERM the moment it reads it */
    sigset_t hold;
    sigemptyset(&hold);
    sigaddset(&hold, SIGTERM);
    sigaddset(&hold, SIGINT);
    if (a->hold)
        sigprocmask(SIG_BLOCK, &hold, NULL);
    struct result_line res = {a->orders, e.stats.accepted, rejects, t.trades, t.top_of_book,
                              t.trades + t.top_of_book, qsl_engine_resting(&e), ns / (double)a->orders};
    int rc = qsl_role_print("result", result, &res, sizeof res);
    qsl_engine_free(&e);
    free(f);
    if (a->hold && rc == 0) {
        int sig;
        sigwait(&hold, &sig);
    }
    return rc == 0 ? 0 : 1;
}

const struct qsl_role qsl_role_flow = {
    "flow", "run the seeded synthetic order flow through the engine (CPU only, no sockets)",
    "no sockets",
    params, sizeof(struct flow_args), ready, result, sizeof(struct ready_line),
    sizeof(struct result_line), run,
};
