/* fuzz_engine.c - the engine driven by arbitrary operations at arbitrary prices:
 * every 8 bytes are one submit, cancel or modify, prices near a mid the input moves
 * or anywhere (the ladder's window moves and grows, the overflow fills and empties),
 * an optional bound on resting orders. After each: the book uncrossed, its depth
 * adding up to the resting count, the best price the first level. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

static uint64_t resting_in_depth(const struct qsl_engine *e, qsl_symbol sym, enum qsl_side side)
{
    const struct qsl_book *b = qsl_engine_book(e, sym);
    uint64_t n = 0;
    uint32_t count;
    qsl_price p, prev = 0;
    for (uint32_t i = 0; qsl_book_level(b, side, i, &p, NULL, &count); i++) {
        if (i > 0 && (side == QSL_BUY ? p >= prev : p <= prev))
            abort();                        /* levels not strictly best first */
        if (count == 0)
            abort();
        prev = p;
        n += count;
    }
    return n;
}

static void check(const struct qsl_engine *e)
{
    uint64_t n = 0;
    for (qsl_symbol s = 0; s < e->symbols; s++) {
        const struct qsl_book *b = qsl_engine_book(e, s);
        qsl_price bid, ask, first;
        int hb = qsl_book_best(b, QSL_BUY, &bid), ha = qsl_book_best(b, QSL_SELL, &ask);
        if (hb && ha && bid >= ask)
            abort();                        /* crossed */
        if (hb != qsl_book_level(b, QSL_BUY, 0, &first, NULL, NULL) || (hb && first != bid))
            abort();
        n += resting_in_depth(e, s, QSL_BUY) + resting_in_depth(e, s, QSL_SELL);
    }
    if (n != qsl_engine_resting(e))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n < 1)
        return 0;
    struct qsl_engine_config c;
    qsl_engine_config_defaults(&c);
    c.max_orders = d[0] & 0x80 ? d[0] & 0x7f : 0;
    struct qsl_engine e;
    if (qsl_engine_init(&e, &c) != 0)
        abort();
    qsl_price mid = 100000;
    for (size_t i = 1; i + 8 <= n; i += 8) {
        const uint8_t *o = d + i;
        uint32_t span = (uint32_t)o[2] << 8 | o[3];
        qsl_price px = o[1] & 0x80 ? (qsl_price)(span * 3000u + 1)      /* anywhere */
                                   : mid + (o[1] & 0x40 ? 1 : -1) * (qsl_price)(span & 0x3ff);
        mid += (int8_t)o[4];
        if (mid < 2000)
            mid = 2000;
        qsl_order_id id = 1 + (o[5] & 0x3f);
        qsl_symbol sym = o[6] & 1;
        qsl_qty qty = 1 + (o[7] & 7);
        switch (o[0] % 4) {
        case 0:
        case 1: {
            struct qsl_order_req r = {.order_id = id, .symbol = sym, .price = px, .qty = qty,
                                      .side = o[0] & 4 ? QSL_SELL : QSL_BUY,
                                      .order_type = (o[0] & 0x18) == 0x18 ? QSL_MARKET : QSL_LIMIT,
                                      .tif = o[0] & 0x20 ? QSL_IOC : QSL_GTC};
            qsl_engine_submit(&e, &r, NULL, NULL);
            break;
        }
        case 2:
            qsl_engine_cancel(&e, sym, id, NULL, NULL);
            break;
        default:
            qsl_engine_modify(&e, sym, id, px, o[7] & 8 ? 0 : qty, NULL, NULL);
        }
        check(&e);
    }
    qsl_engine_free(&e);
    return 0;
}
