/*
 * flow.h - deterministic synthetic order flow (the original's feed workload).
 *
 * Each step picks a symbol, lets its mid drift by -1/0/+1 tick within
 * 80..140, then draws: 58% limit (18% of them priced through the mid by 1-4
 * ticks, the rest resting 1-3 ticks away; quantity 1-12; IOC for 35% of the
 * crossing ones and 8% of the others), 12% market (quantity 1-12), 16% cancel
 * of a random order it sent earlier (10% of them an id never sent), 14% modify
 * of a random order it sent earlier (new price 1-3 ticks away on its side,
 * quantity 1-12). Given the engine the flow feeds, "an order it sent earlier"
 * is one still resting there (the flow forgets filled ones as it meets them);
 * without one, any GTC order it sent. Either way the stream is a pure
 * function of (seed, symbols) and the engine's deterministic state, so the
 * same seed gives the same requests on every run and machine.
 * The generator is xoshiro256** seeded through splitmix64.
 */
#ifndef QSL_FLOW_H
#define QSL_FLOW_H

#include <stdint.h>

#include "engine.h"

#define QSL_FLOW_MAX_SYMBOLS 64u
#define QSL_FLOW_LIVE 4096u     /* ids remembered for cancel/modify targets */
#define QSL_FLOW_MID_MIN 80
#define QSL_FLOW_MID_MAX 140

enum qsl_flow_kind { QSL_FLOW_NEW, QSL_FLOW_CANCEL, QSL_FLOW_MODIFY };

struct qsl_flow_item {
    uint8_t kind;               /* enum qsl_flow_kind */
    struct qsl_order_req req;   /* cancel: order_id + symbol; modify: + price, qty */
};

struct qsl_flow {
    uint64_t s[4];
    uint32_t symbols;
    qsl_price mid[QSL_FLOW_MAX_SYMBOLS];
    uint64_t next_id;
    uint32_t live_n;
    struct { qsl_order_id id; qsl_symbol symbol; uint8_t side; } live[QSL_FLOW_LIVE];
};

/* -EINVAL when symbols is 0 or above QSL_FLOW_MAX_SYMBOLS. */
int qsl_flow_init(struct qsl_flow *f, uint64_t seed, uint32_t symbols);
/* Next request; eng (may be NULL) is the engine the stream is applied to. */
void qsl_flow_next(struct qsl_flow *f, const struct qsl_engine *eng, struct qsl_flow_item *it);

/* Apply one item to an engine (submit, cancel or modify). */
enum qsl_reject qsl_flow_apply(struct qsl_engine *e, const struct qsl_flow_item *it,
                               qsl_event_fn fn, void *ctx);

/* Uniform draw in [0, n) from the flow's generator (n > 0). */
uint64_t qsl_flow_below(struct qsl_flow *f, uint64_t n);

#endif
