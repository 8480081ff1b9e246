/*
 * bench_floor.h - a minimal engine for make bench's obook workload: the same
 * work the engine does for an order that rests, changes price and is canceled
 * (the checks in the same order, sequence numbers, the same events through the
 * caller's callback, top of book, a price ladder with a bitmap, FIFO levels, an
 * (symbol, id) index), and nothing a real engine also needs: the window never
 * moves, the pool and index never grow, an order that would trade is not
 * matched. Each of those is a guard on its path, as it would be in any engine,
 * and the floor answers BENCH_FLOOR_UNSUPPORTED there. Its instruction count
 * is what obook's work costs without generality, measured in the same build
 * as the engine's; tests/test_engine.c checks it gives the engine's events.
 */
#ifndef QSL_BENCH_FLOOR_H
#define QSL_BENCH_FLOOR_H

#include "engine.h"

#define BENCH_FLOOR_UNSUPPORTED (-1)
#define BENCH_FLOOR_WINDOW 4096u        /* price levels a side, centred on the init price */

struct bench_floor_order {
    qsl_order_id id;
    uint64_t key;               /* qsl_book_key of its price */
    uint32_t prev, next;        /* FIFO neighbours in its level; next links the free list */
    qsl_qty qty;
    uint8_t side;
};

struct bench_floor_level {
    uint64_t total;
    uint32_t head, tail, count;
};

struct bench_floor_side {
    struct bench_floor_level *lv;   /* BENCH_FLOOR_WINDOW levels: key base + i at lv[i] */
    uint64_t bits[BENCH_FLOOR_WINDOW / 64];
    uint64_t summary;               /* bit j: bits[j] is not 0 */
    uint64_t base;
    uint32_t levels, hi;            /* levels with orders; the best one's i when levels > 0 */
};

struct bench_floor_book {
    struct bench_floor_side side[2];
    uint8_t best_moved;             /* bit 1 << side: its best level was created or dropped */
};

struct bench_floor_slot {
    qsl_order_id id;
    qsl_symbol symbol;
    uint32_t ref;                   /* order index + 1; 0 empty */
};

struct bench_floor {
    struct bench_floor_book *books;
    struct qsl_event *tobs;         /* per symbol, as last published */
    uint32_t symbols;
    struct bench_floor_order *order;
    uint32_t free_head, used, capacity;
    struct bench_floor_slot *slot;
    uint32_t mask, shift;           /* 2 x capacity slots, rounded up to a power of two */
    uint64_t seq;
    struct qsl_risk_limits risk;
    struct qsl_engine_stats stats;
    qsl_event_fn fn;
    void *ctx;
    struct qsl_event ev_order;
};

/* capacity: resting orders it can hold; each book's window is centred on price. */
int bench_floor_init(struct bench_floor *f, uint32_t symbols, uint32_t capacity, qsl_price price);
void bench_floor_free(struct bench_floor *f);
int bench_floor_submit(struct bench_floor *f, const struct qsl_order_req *r, qsl_event_fn fn,
                       void *ctx);
int bench_floor_modify(struct bench_floor *f, qsl_symbol symbol, qsl_order_id id,
                       qsl_price price, qsl_qty qty, qsl_event_fn fn, void *ctx);
int bench_floor_cancel(struct bench_floor *f, qsl_symbol symbol, qsl_order_id id,
                       qsl_event_fn fn, void *ctx);

#endif
