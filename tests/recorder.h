/* A qsl_event_fn that records events, shared by the engine-facing suites. */
#ifndef QSL_TEST_RECORDER_H
#define QSL_TEST_RECORDER_H

#include <string.h>

#include "engine.h"

struct recorder {
    struct qsl_event ev[256];
    unsigned n;
};

static inline void record(void *ctx, const struct qsl_event *ev)
{
    struct recorder *r = ctx;
    if (r->n < sizeof r->ev / sizeof r->ev[0])
        r->ev[r->n] = *ev;
    r->n++;
}

static inline unsigned count_kind(const struct recorder *r, enum qsl_event_kind k)
{
    unsigned c = 0;
    for (unsigned i = 0; i < r->n && i < 256; i++)
        c += r->ev[i].kind == k;
    return c;
}

static inline struct qsl_order_req limit(qsl_order_id id, qsl_symbol sym, enum qsl_side side,
                                         qsl_price price, qsl_qty qty, enum qsl_tif tif)
{
    return (struct qsl_order_req){.order_id = id, .symbol = sym, .price = price, .qty = qty,
                                  .side = (uint8_t)side, .order_type = QSL_LIMIT,
                                  .tif = (uint8_t)tif};
}

static inline struct qsl_order_req market(qsl_order_id id, qsl_symbol sym, enum qsl_side side,
                                          qsl_qty qty)
{
    return (struct qsl_order_req){.order_id = id, .symbol = sym, .qty = qty,
                                  .side = (uint8_t)side, .order_type = QSL_MARKET};
}

#endif
