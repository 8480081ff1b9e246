/*
 * flow.h - deterministic synthetic order flow: the feed's workload.
 *
 * Two generators, chosen by name. Both are pure functions of (seed, symbols)
 * (and, for drift, the engine's deterministic state), so a seed gives the
 * same requests on every run and machine.
 *
 * original (the default): the original's generate_flow(seed, symbols,
 * orders) exactly, so qsl and the original publish the same datagrams for
 * the same input. MT19937-64 seeded with seed, `rng() % n` drawn five times
 * per order, in this order: symbol (% symbols), side (% 2: 0 buy), price
 * (95 + % 11), quantity (1 + % 10), pick (% 10). pick 0-5: a GTC limit with
 * the next order id (ids start at 1); 6: a market order with the next id;
 * 7-8: cancel of id 1 + rng() % next_id on the drawn symbol; 9: modify of id
 * 1 + rng() % next_id on the drawn symbol to (price, quantity). Cancel and
 * modify may name an id that is not resting there (stale or never sent):
 * the engine rejects it and nothing is published.
 *
 * drift: qsl's own, richer flow. Each step picks a symbol, lets its mid drift by -1/0/+1 tick within
 * 80..140, then draws: 58% limit (18% of them priced through the mid by 1-4
 * ticks, the rest resting 1-3 ticks away; quantity 1-12; IOC for 35% of the
 * crossing ones and 8% of the others), 12% market (quantity 1-12), 16% cancel
 * of a random order it sent earlier (10% of them an id never sent), 14% modify
 * of a random order it sent earlier (new price 1-3 ticks away on its side,
 * quantity 1-12). Given the engine the flow feeds, "an order it sent earlier"
 * is one still resting there (the flow forgets filled ones as it meets them);
 * without one, any GTC order it sent. Either way the stream is a pure
 * function of (seed, symbols) and the engine's deterministic state. Its
 * generator is xoshiro256** seeded through splitmix64, with rejection
 * sampling so every stated odd is exact.
 */
#ifndef QSL_FLOW_H
#define QSL_FLOW_H

#include <stdint.h>

#include "engine.h"
#include "mt64.h"

#define QSL_FLOW_MAX_SYMBOLS 64u
#define QSL_FLOW_LIVE 4096u     /* ids remembered for cancel/modify targets */
#define QSL_FLOW_MID_MIN 80
#define QSL_FLOW_MID_MAX 140

enum qsl_flow_kind { QSL_FLOW_NEW, QSL_FLOW_CANCEL, QSL_FLOW_MODIFY };

/* The generators, by index into qsl_flow_gen_names. */
enum qsl_flow_gen { QSL_FLOW_ORIGINAL = 0, QSL_FLOW_DRIFT = 1 };
extern const char *const qsl_flow_gen_names[];  /* "original", "drift", NULL */

struct qsl_flow_item {
    uint8_t kind;               /* enum qsl_flow_kind */
    struct qsl_order_req req;   /* cancel: order_id + symbol; modify: + price, qty */
};

struct qsl_flow {
    enum qsl_flow_gen gen;
    struct qsl_mt64 mt;         /* original */
    uint64_t s[4];              /* drift */
    uint32_t symbols;
    qsl_price mid[QSL_FLOW_MAX_SYMBOLS];
    uint64_t next_id;
    uint32_t live_n;
    struct { qsl_order_id id; qsl_symbol symbol; uint8_t side; } live[QSL_FLOW_LIVE];
};

/* -EINVAL when symbols is 0 or above QSL_FLOW_MAX_SYMBOLS, or gen is unknown. */
int qsl_flow_init(struct qsl_flow *f, enum qsl_flow_gen gen, uint64_t seed, uint32_t symbols);
/* The generator named s, or -1. */
int qsl_flow_gen_parse(const char *s);
/* Next request; eng (may be NULL) is the engine the stream is applied to. */
void qsl_flow_next(struct qsl_flow *f, const struct qsl_engine *eng, struct qsl_flow_item *it);

/* Apply one item to an engine (submit, cancel or modify). */
enum qsl_reject qsl_flow_apply(struct qsl_engine *e, const struct qsl_flow_item *it,
                               qsl_event_fn fn, void *ctx);

/* Uniform draw in [0, n) from the drift generator (n > 0). */
uint64_t qsl_flow_below(struct qsl_flow *f, uint64_t n);

/* One item as the golden files write a command: "L sym id side price qty tif",
 * "M sym id side qty", "C sym id", "D sym id price qty". Returns snprintf's. */
int qsl_flow_format(const struct qsl_flow_item *it, char *buf, unsigned long cap);

#endif
