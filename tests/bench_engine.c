/*
 * bench_engine.c - core benchmarks: ns/op as min/median/max over repeated runs.
 *
 *   bench_engine [--runs R] [--ops N] [--only NAME] [--once] [--huge 0|1]
 *
 * The original's own workloads (its own build gives its instructions per op on
 * each, so the ratio holds on any machine):
 *   obook    add + modify + cancel on an empty book, one op = all three (the
 *            modify moves the price: the order leaves and re-rests), through the
 *            engine (admission, risk checks, sequence numbers, events, top of book)
 *   book     (qsl's) the same three on the book alone, as the book layer has them
 *   ocodec   encode + decode of a NewOrder frame (the same work as codec)
 *   osession a NewOrder through the session that fills 1 lot against deep
 *            resting liquidity (1,000 sells on 100 levels), per frame
 *   oflow    generate_flow(42, 4 symbols, 5,000 orders) through a fresh
 *            engine per repetition (sized for the workload: 8,192 orders),
 *            per item of the original's 5,004 (4 symbol registrations, which
 *            qsl's engine does at creation, + 5,000 commands)
 * qsl's own:
 *   flow     the seeded drifting-mid flow (seed 42, 3 symbols) applied to the engine
 *   deep     add/cancel/modify/cross mix over a deep book (about 4,000 resting
 *            orders on 400 levels a side, held there)
 *   codec    encode + decode of a NewOrder frame
 *   session  a resting order then a crossing one through the session framer
 *            (wire decode, risk, engine, Ack/Fill encode), per frame
 * Every value a loop gives the code it measures is unknown to the compiler (unseen()
 * below), as a caller's are. --once runs one repetition of one workload and prints
 * nothing: the form tests/bench.sh runs under callgrind to count instructions. --huge 0 gives
 * every engine malloc'd memory only (huge_pages off; the default is on).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "engine.h"
#include "flow.h"
#include "session.h"
#include "wire.h"

static int huge_pages = 1;

static struct qsl_engine_config config(uint32_t symbols)
{
    struct qsl_engine_config c;
    qsl_engine_config_defaults(&c);
    c.symbols = symbols;
    c.huge_pages = (uint8_t)huge_pages;
    return c;
}

/* ------------------------------------------------------------------ flow */

static struct qsl_flow_item *flow_items;

static void flow_prepare(size_t n)
{
    /* generate against an engine so cancels and modifies name resting orders */
    struct qsl_engine_config c = config(3);
    struct qsl_engine e;
    struct qsl_flow *f = malloc(sizeof *f);
    flow_items = malloc(n * sizeof *flow_items);
    if (!f || !flow_items || qsl_engine_init(&e, &c) != 0 || qsl_flow_init(f, QSL_FLOW_DRIFT, 42, 3) != 0) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        qsl_flow_next(f, &e, &flow_items[i]);
        qsl_flow_apply(&e, &flow_items[i], NULL, NULL);
    }
    qsl_engine_free(&e);
    free(f);
}

__attribute__((noinline)) void bench_run_flow(struct qsl_engine *e, size_t n);
__attribute__((noinline)) void bench_run_flow(struct qsl_engine *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        qsl_flow_apply(e, &flow_items[i], count_events, NULL);
}

static double run_flow(size_t n)
{
    struct qsl_engine_config c = config(3);
    struct qsl_engine e;
    if (qsl_engine_init(&e, &c) != 0)
        exit(1);
    double t0 = now_ns();
    bench_run_flow(&e, n);
    double t = now_ns() - t0;
    qsl_engine_free(&e);
    return t / (double)n;
}

/* ------------------------------------------------------------------ deep book */

#define DEEP_ORDERS 4000     /* the book hovers at this many resting orders */

struct deep {
    struct qsl_engine e;
    qsl_order_id *live;         /* resting ids (sells have the top bit clear, buys set) */
    uint32_t *pos;              /* id -> index in live, or UINT32_MAX */
    uint32_t n;
    qsl_order_id next_id;
    uint64_t rng;
};

static uint32_t deep_rand(struct deep *d, uint32_t below)
{
    d->rng = d->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)((d->rng >> 33) % below);
}

static void deep_forget(struct deep *d, qsl_order_id id)
{
    uint32_t at = d->pos[id];
    if (at == UINT32_MAX)
        return;
    d->live[at] = d->live[--d->n];
    d->pos[d->live[at]] = at;
    d->pos[id] = UINT32_MAX;
}

static void deep_on_event(void *ctx, const struct qsl_event *ev)
{
    struct deep *d = ctx;
    if (ev->kind == QSL_EV_TRADE)
        deep_forget(d, ev->maker_id);
}

static void deep_add(struct deep *d, int cross)
{
    qsl_order_id id = d->next_id++;
    uint8_t side = (uint8_t)deep_rand(d, 2);
    /* bids 600..999, asks 1001..1400; a cross reaches 1-3 levels in */
    qsl_price px = side == QSL_BUY ? 999 - deep_rand(d, 400) : 1001 + deep_rand(d, 400);
    if (cross)
        px = side == QSL_BUY ? 1001 + deep_rand(d, 3) : 999 - deep_rand(d, 3);
    struct qsl_order_req r = {.order_id = id, .symbol = (qsl_symbol)unseen(0), .price = px,
                              .qty = 1 + deep_rand(d, 10), .side = side,
                              .order_type = (uint8_t)unseen(QSL_LIMIT),
                              .tif = cross ? QSL_IOC : QSL_GTC};
    qsl_engine_submit(&d->e, &r, deep_on_event, d);
    if (!cross) {
        d->pos[id] = d->n;
        d->live[d->n++] = id;
    }
}

static void deep_op(struct deep *d)
{
    uint32_t k = deep_rand(d, 100);
    if (d->n == 0 || (k < 45 && d->n < DEEP_ORDERS)) {
        deep_add(d, 0);
    } else if (k < 80) {
        qsl_order_id id = d->live[deep_rand(d, d->n)];
        qsl_engine_cancel(&d->e, (qsl_symbol)unseen(0), id, deep_on_event, d);
        deep_forget(d, id);
    } else if (k < 90) {
        qsl_order_id id = d->live[deep_rand(d, d->n)];
        uint32_t idx = qsl_book_pool_find(&d->e.pool, (qsl_symbol)unseen(0), id);
        const struct qsl_order *o = qsl_book_order(&d->e.pool, idx);
        qsl_qty q = o->qty > 1 ? o->qty - 1 : 2;        /* mostly keeps priority */
        qsl_engine_modify(&d->e, (qsl_symbol)unseen(0), id, qsl_book_order_price(o), q,
                          deep_on_event, d);
    } else {
        deep_add(d, 1);
    }
}

static struct deep *deep_setup(size_t ops)
{
    struct deep *d = calloc(1, sizeof *d);
    struct qsl_engine_config c = config(1);
    size_t ids = ops + 8192;
    d->live = malloc(ids * sizeof *d->live);
    d->pos = malloc(ids * sizeof *d->pos);
    if (!d->live || !d->pos || qsl_engine_init(&d->e, &c) != 0)
        exit(1);
    memset(d->pos, 0xff, ids * sizeof *d->pos);
    d->next_id = 1;
    d->rng = 42;
    while (d->n < DEEP_ORDERS)
        deep_add(d, 0);
    return d;
}

static void deep_free(struct deep *d)
{
    qsl_engine_free(&d->e);
    free(d->live);
    free(d->pos);
    free(d);
}

__attribute__((noinline)) void bench_run_deep(struct deep *d, size_t n);
__attribute__((noinline)) void bench_run_deep(struct deep *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        deep_op(d);
}

static double run_deep(size_t n)
{
    struct deep *d = deep_setup(n);
    double t0 = now_ns();
    bench_run_deep(d, n);
    double t = now_ns() - t0;
    deep_free(d);
    return t / (double)n;
}

/* ------------------------------------------------------------------ codec */

__attribute__((noinline)) uint64_t bench_run_codec(size_t n);
__attribute__((noinline)) uint64_t bench_run_codec(size_t n)
{
    uint8_t buf[64];
    uint64_t acc = 0;
    struct qsl_wire_msg m = {.type = QSL_WIRE_NEW_ORDER,
                             .u.new_order = {1, 2, 100, 5, QSL_BUY, QSL_LIMIT, QSL_GTC}}, back;
    for (size_t i = 0; i < n; i++) {
        m.u.new_order.order_id = i;
        __asm__ volatile("" : : "r"(&m) : "memory");    /* encode reads m, not constants */
        int len = qsl_wire_encode(&m, buf, sizeof buf);
        __asm__ volatile("" : : "r"(buf) : "memory");  /* decode reads the bytes, not m */
        size_t flen;
        if (qsl_wire_decode(buf, (size_t)len, &back, &flen) == QSL_WIRE_OK)
            acc += back.u.new_order.order_id;
        __asm__ volatile("" : : "r"(buf) : "memory");
    }
    return acc;
}

static double run_codec(size_t n)
{
    double t0 = now_ns();
    sink_count += bench_run_codec(n);
    return (now_ns() - t0) / (double)n;
}

/* ------------------------------------------------------------------ session */

/* also the original's session workload (osession): callgrind runs one workload a process */
__attribute__((noinline)) void bench_run_session(struct qsl_session *s, const uint8_t *in,
                                                 size_t len, size_t n);
__attribute__((noinline)) void bench_run_session(struct qsl_session *s, const uint8_t *in,
                                                 size_t len, size_t n)
{
    uint8_t outbuf[256];
    for (size_t i = 0; i < n; i++) {
        struct qsl_session_out out = {outbuf, 0, sizeof outbuf};
        qsl_session_feed(s, in, len, &out);
    }
}

static double run_session(size_t n)
{
    struct qsl_engine_config c = config(1);
    struct qsl_engine e;
    if (qsl_engine_init(&e, &c) != 0)
        exit(1);
    struct qsl_session s;
    qsl_session_init(&s, &e);
    /* sell 1 rests, buy 1 fills it: the pair leaves the book as it found it */
    uint8_t in[128];
    struct qsl_wire_msg sell = {.type = QSL_WIRE_NEW_ORDER,
                                .u.new_order = {1, 0, 100, 1, QSL_SELL, QSL_LIMIT, QSL_GTC}};
    struct qsl_wire_msg buy = {.type = QSL_WIRE_NEW_ORDER,
                               .u.new_order = {2, 0, 100, 1, QSL_BUY, QSL_LIMIT, QSL_GTC}};
    size_t len = (size_t)qsl_wire_encode(&sell, in, sizeof in);
    len += (size_t)qsl_wire_encode(&buy, in + len, sizeof in - len);
    double t0 = now_ns();
    bench_run_session(&s, in, len, n);
    double t = now_ns() - t0;
    if (qsl_session_closed(&s) || s.stats.fills != n) {
        fprintf(stderr, "bench: session workload went wrong\n");
        exit(1);
    }
    qsl_engine_free(&e);
    return t / (double)(2 * n);
}

/* ------------------------------------------------------------------ the original's workloads */

__attribute__((noinline)) void bench_run_obook(struct qsl_engine *e, size_t n);
__attribute__((noinline)) void bench_run_obook(struct qsl_engine *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t id = unseen(i + 1), symbol = unseen(0), price = unseen(100), qty = unseen(10),
                 side = unseen(QSL_BUY), type = unseen(QSL_LIMIT), tif = unseen(QSL_GTC),
                 price2 = unseen(101), qty2 = unseen(10);
        struct qsl_order_req r = {.order_id = id, .symbol = (qsl_symbol)symbol,
                                  .price = (qsl_price)price, .qty = (qsl_qty)qty,
                                  .side = (uint8_t)side, .order_type = (uint8_t)type,
                                  .tif = (uint8_t)tif};
        qsl_engine_submit(e, &r, count_events, NULL);
        qsl_engine_modify(e, (qsl_symbol)symbol, id, (qsl_price)price2, (qsl_qty)qty2,
                          count_events, NULL);
        qsl_engine_cancel(e, (qsl_symbol)symbol, id, count_events, NULL);
    }
}

static double run_obook(size_t n)
{
    struct qsl_engine_config c = config(1);
    struct qsl_engine e;
    if (qsl_engine_init(&e, &c) != 0)
        exit(1);
    double t0 = now_ns();
    bench_run_obook(&e, n);
    double t = now_ns() - t0;
    if (qsl_engine_resting(&e) != 0 || e.stats.canceled != n || e.stats.modified != n) {
        fprintf(stderr, "bench: obook workload went wrong (resting %u, modified %llu, "
                "canceled %llu)\n", qsl_engine_resting(&e),
                (unsigned long long)e.stats.modified, (unsigned long long)e.stats.canceled);
        exit(1);
    }
    qsl_engine_free(&e);
    return t / (double)n;
}

/* The same three operations on the book alone: rest (its memory reserved first), the
 * price change as the engine makes it (unlink, reserve, relink) and the cancel by id - no
 * admission, risk checks, sequence numbers or events. */
__attribute__((noinline)) void bench_run_book(struct qsl_book *b, size_t n);
__attribute__((noinline)) void bench_run_book(struct qsl_book *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t id = unseen(i + 1), symbol = unseen(0), side = unseen(QSL_BUY),
                 price = unseen(100), price2 = unseen(101), qty = unseen(10);
        if (qsl_book_rest(b, id, (enum qsl_side)side, (qsl_price)price, (qsl_qty)qty) != 0)
            exit(1);
        uint32_t idx = qsl_book_pool_find(b->pool, (qsl_symbol)symbol, id);
        struct qsl_order *o = qsl_book_order(b->pool, idx);
        qsl_book_unlink(b, o);
        if (qsl_book_reserve_level(b, (enum qsl_side)side, (qsl_price)price2) != 0)
            exit(1);
        qsl_book_relink(b, idx, o, (qsl_price)price2, (qsl_qty)qty);
        uint32_t at;
        idx = qsl_book_pool_find_at(b->pool, (qsl_symbol)symbol, id, &at);
        qsl_book_remove_at(b, idx, qsl_book_order(b->pool, idx), at);
    }
}

static double run_book(size_t n)
{
    struct qsl_book_pool p;
    struct qsl_book b;
    if (qsl_book_pool_init(&p, 0, 0) != 0)
        exit(1);
    qsl_book_init(&b, &p, 0);
    double t0 = now_ns();
    bench_run_book(&b, n);
    double t = now_ns() - t0;
    if (qsl_book_depth(&b, QSL_BUY) != 0 || p.used != 0) {
        fprintf(stderr, "bench: book workload went wrong\n");
        exit(1);
    }
    qsl_book_free(&b);
    qsl_book_pool_free(&p);
    return t / (double)n;
}

static double run_osession(size_t n)
{
    struct qsl_engine_config c = config(1);
    struct qsl_engine e;
    if (qsl_engine_init(&e, &c) != 0)
        exit(1);
    /* deep resting liquidity: 1,000 sells on 100 levels, each large enough never to run out */
    for (uint32_t i = 0; i < 1000; i++) {
        struct qsl_order_req r = {.order_id = 1000000 + i, .symbol = 0, .price = 100 + i / 10,
                                  .qty = 1000000, .side = QSL_SELL, .order_type = QSL_LIMIT,
                                  .tif = QSL_GTC};
        qsl_engine_submit(&e, &r, NULL, NULL);
    }
    struct qsl_session s;
    qsl_session_init(&s, &e);
    uint8_t in[64];
    struct qsl_wire_msg buy = {.type = QSL_WIRE_NEW_ORDER,
                               .u.new_order = {1, 0, 100, 1, QSL_BUY, QSL_LIMIT, QSL_IOC}};
    size_t len = (size_t)qsl_wire_encode(&buy, in, sizeof in);
    double t0 = now_ns();
    bench_run_session(&s, in, len, n);
    double t = now_ns() - t0;
    if (qsl_session_closed(&s) || s.stats.fills != n || qsl_engine_resting(&e) != 1000) {
        fprintf(stderr, "bench: osession workload went wrong\n");
        exit(1);
    }
    qsl_engine_free(&e);
    return t / (double)n;
}

#define OFLOW_ORDERS 5000
#define OFLOW_ITEMS (OFLOW_ORDERS + 4)      /* the original counts its 4 registrations */
static struct qsl_flow_item oflow_items[OFLOW_ORDERS];

static void oflow_prepare(void)
{
    struct qsl_flow f;
    qsl_flow_init(&f, QSL_FLOW_ORIGINAL, 42, 4);
    for (size_t i = 0; i < OFLOW_ORDERS; i++)
        qsl_flow_next(&f, NULL, &oflow_items[i]);
}

/* reps repetitions, each on a fresh engine (created and freed inside) */
__attribute__((noinline)) void bench_run_oflow(size_t reps);
__attribute__((noinline)) void bench_run_oflow(size_t reps)
{
    for (size_t r = 0; r < reps; r++) {
        struct qsl_engine_config c = config(4);
        struct qsl_engine e;
        if (qsl_engine_init(&e, &c) != 0)
            exit(1);
        for (size_t i = 0; i < OFLOW_ORDERS; i++)
            qsl_flow_apply(&e, &oflow_items[i], count_events, NULL);
        qsl_engine_free(&e);
    }
}

/* n: items; run in whole repetitions of 5,004 */
static double run_oflow(size_t n)
{
    size_t reps = n / OFLOW_ITEMS ? n / OFLOW_ITEMS : 1;
    double t0 = now_ns();
    bench_run_oflow(reps);
    return (now_ns() - t0) / (double)(reps * OFLOW_ITEMS);
}

/* ------------------------------------------------------------------ the book's weak spots */

/*
 * Each is timed per engine call (submit, cancel) so it compares with the
 * typical one, flow (one call per item). Every resting order has quantity 1
 * on one symbol.
 */
static void must(enum qsl_reject r)
{
    if (r != QSL_REJECT_NONE) {
        fprintf(stderr, "bench: a weak-spot workload was refused (%d)\n", (int)r);
        exit(1);
    }
}

static void rest1(struct qsl_engine *e, qsl_order_id id, enum qsl_side side, qsl_price px)
{
    struct qsl_order_req r = {.order_id = unseen(id), .symbol = (qsl_symbol)unseen(0),
                              .price = (qsl_price)unseen((uint64_t)px),
                              .qty = (qsl_qty)unseen(1), .side = (uint8_t)unseen(side),
                              .order_type = (uint8_t)unseen(QSL_LIMIT),
                              .tif = (uint8_t)unseen(QSL_GTC)};
    must(qsl_engine_submit(e, &r, count_events, NULL));
}

static struct qsl_engine *weak_engine(void)
{
    static struct qsl_engine e;
    struct qsl_engine_config c = config(1);
    if (qsl_engine_init(&e, &c) != 0)
        exit(1);
    return &e;
}

#define WALK_LIVE 64
#define WALK_STEP 37            /* 64 live bids span 2,368 ticks: more than a window they can fill */

/* walk: the best bid moves up 37 ticks per op and the oldest of 64 bids goes: the window
 * keeps moving, the levels it leaves go to the overflow and are cancelled there. */
__attribute__((noinline)) void bench_run_walk(struct qsl_engine *e, size_t n);
__attribute__((noinline)) void bench_run_walk(struct qsl_engine *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        qsl_order_id id = WALK_LIVE + i + 1;
        rest1(e, id, QSL_BUY, 1000000 + (qsl_price)id * WALK_STEP);
        must(qsl_engine_cancel(e, (qsl_symbol)unseen(0), unseen(id - WALK_LIVE), count_events,
                               NULL));
    }
}

static double run_walk(size_t n)
{
    struct qsl_engine *e = weak_engine();
    for (qsl_order_id id = 1; id <= WALK_LIVE; id++)
        rest1(e, id, QSL_BUY, 1000000 + (qsl_price)id * WALK_STEP);
    double t0 = now_ns();
    bench_run_walk(e, n);
    double t = now_ns() - t0;
    qsl_engine_free(e);
    return t / (double)(2 * n);
}

#define WIDE_LEVELS 100000

/* wide: 100,000 ask levels; each op cancels the order of a random level and rests a new one
 * there (the level goes and comes back). */
static qsl_order_id *wide_ids;

__attribute__((noinline)) void bench_run_wide(struct qsl_engine *e, size_t n);
__attribute__((noinline)) void bench_run_wide(struct qsl_engine *e, size_t n)
{
    uint64_t rng = 42;
    qsl_order_id next = WIDE_LEVELS + 1;
    for (size_t i = 0; i < n; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t j = (uint32_t)((rng >> 33) % WIDE_LEVELS);
        must(qsl_engine_cancel(e, (qsl_symbol)unseen(0), wide_ids[j], count_events, NULL));
        wide_ids[j] = next++;
        rest1(e, wide_ids[j], QSL_SELL, 100000 + j);
    }
}

static double run_wide(size_t n)
{
    struct qsl_engine *e = weak_engine();
    wide_ids = malloc(WIDE_LEVELS * sizeof *wide_ids);
    if (!wide_ids)
        exit(1);
    for (uint32_t j = 0; j < WIDE_LEVELS; j++)
        rest1(e, wide_ids[j] = j + 1, QSL_SELL, 100000 + j);
    double t0 = now_ns();
    bench_run_wide(e, n);
    double t = now_ns() - t0;
    qsl_engine_free(e);
    free(wide_ids);
    return t / (double)(2 * n);
}

#define DEEP_LEVEL 100000

/* oldest / newest: one level of 100,000 bids; each op cancels its oldest (or newest)
 * order and rests a new one at its back. */
__attribute__((noinline)) void bench_run_level(struct qsl_engine *e, size_t n, int oldest);
__attribute__((noinline)) void bench_run_level(struct qsl_engine *e, size_t n, int oldest)
{
    qsl_order_id newest = DEEP_LEVEL;
    for (size_t i = 0; i < n; i++) {
        must(qsl_engine_cancel(e, (qsl_symbol)unseen(0), unseen(oldest ? i + 1 : newest),
                               count_events, NULL));
        rest1(e, ++newest, QSL_BUY, 1000);
    }
}

static double run_level(size_t n, int oldest)
{
    struct qsl_engine *e = weak_engine();
    for (qsl_order_id id = 1; id <= DEEP_LEVEL; id++)
        rest1(e, id, QSL_BUY, 1000);
    double t0 = now_ns();
    bench_run_level(e, n, oldest);
    double t = now_ns() - t0;
    qsl_engine_free(e);
    return t / (double)(2 * n);
}

static double run_oldest(size_t n) { return run_level(n, 1); }
static double run_newest(size_t n) { return run_level(n, 0); }

#define SWEEP_LEVELS 200
#define SWEEP_DEPTH 50

/* sweep: 200 ask levels; each op is a buy that takes the best 50 levels (50 fills) and
 * the 50 asks that put them back: 51 calls. */
__attribute__((noinline)) void bench_run_sweep(struct qsl_engine *e, size_t n);
__attribute__((noinline)) void bench_run_sweep(struct qsl_engine *e, size_t n)
{
    qsl_order_id next = SWEEP_LEVELS + 1;
    for (size_t i = 0; i < n; i++) {
        struct qsl_order_req r = {.order_id = unseen(next++), .symbol = (qsl_symbol)unseen(0),
                                  .price = (qsl_price)unseen(1000 + SWEEP_DEPTH),
                                  .qty = (qsl_qty)unseen(SWEEP_DEPTH),
                                  .side = (uint8_t)unseen(QSL_BUY),
                                  .order_type = (uint8_t)unseen(QSL_LIMIT),
                                  .tif = (uint8_t)unseen(QSL_IOC)};
        must(qsl_engine_submit(e, &r, count_events, NULL));
        for (qsl_price p = 1001; p <= 1000 + SWEEP_DEPTH; p++)
            rest1(e, next++, QSL_SELL, p);
    }
}

static double run_sweep(size_t n)
{
    struct qsl_engine *e = weak_engine();
    for (qsl_order_id id = 1; id <= SWEEP_LEVELS; id++)
        rest1(e, id, QSL_SELL, 1000 + (qsl_price)id);
    double t0 = now_ns();
    bench_run_sweep(e, n);
    double t = now_ns() - t0;
    if (qsl_engine_resting(e) != SWEEP_LEVELS || e->stats.trades != n * SWEEP_DEPTH) {
        fprintf(stderr, "bench: sweep workload went wrong\n");
        exit(1);
    }
    qsl_engine_free(e);
    return t / (double)(n * (SWEEP_DEPTH + 1));
}

/* The kernel's floor for anything a mode saves in system calls: the cheapest one
 * (getppid), entry and exit alone, with this machine's mitigations. */
static double run_syscall(size_t n)
{
    double t0 = now_ns();
    for (size_t i = 0; i < n; i++)
        (void)syscall(SYS_getppid);
    return (now_ns() - t0) / (double)n;
}

/* ------------------------------------------------------------------ driver */

struct workload {
    const char *name;
    const char *what;
    size_t ops;
    double (*run)(size_t n);
};

static const struct workload workloads[] = {
    {"obook", "original's: book add + modify + cancel, ns/op (all three)", 1000000, run_obook},
    {"book", "obook's three operations on the book alone (no engine), ns/op", 1000000,
     run_book},
    {"ocodec", "original's: NewOrder encode + decode, ns/op", 5000000, run_codec},
    {"osession", "original's: session, fill against deep liquidity, ns/frame", 500000,
     run_osession},
    {"oflow", "original's: generate_flow(42,4,5000), fresh engine, ns/item", 5004 * 200,
     run_oflow},
    {"flow", "engine, synthetic flow (seed 42, 3 symbols), ns/item", 200000, run_flow},
    {"deep", "engine, add/cancel/modify/cross on a deep book, ns/op", 1000000, run_deep},
    {"codec", "wire encode+decode NewOrder, ns/frame", 5000000, run_codec},
    {"session", "session framer with fill (decode, engine, encode), ns/frame", 1000000,
     run_session},
    {"walk", "weak spot: best bid walks up 37 ticks/op, oldest of 64 goes, ns/call", 500000,
     run_walk},
    {"wide", "weak spot: 100,000 ask levels, cancel + re-add one, ns/call", 500000, run_wide},
    {"oldest", "weak spot: one level of 100,000, cancel oldest + add, ns/call", 500000,
     run_oldest},
    {"newest", "weak spot: one level of 100,000, cancel newest + add, ns/call", 500000,
     run_newest},
    {"sweep", "weak spot: a buy takes 50 levels, 50 asks put back, ns/call", 20000, run_sweep},
    {"syscall", "one system call, getppid: entry + exit, ns/call", 1000000, run_syscall},
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int runs = 7, once = 0;
    size_t ops = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ops") && i + 1 < argc)
            ops = (size_t)strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--huge") && i + 1 < argc)
            huge_pages = atoi(argv[++i]) != 0;
        else if (!strcmp(argv[i], "--once"))
            once = 1;
        else {
            fprintf(stderr, "usage: bench_engine [--runs R] [--ops N] [--only NAME] [--once] [--huge 0|1]\n");
            return 1;
        }
    }
    if (runs < 1 || runs > 1000) {
        fprintf(stderr, "bench_engine: --runs must be 1..1000\n");
        return 1;
    }
    if (once)
        runs = 1;
    int ran = 0;
    for (size_t w = 0; w < sizeof workloads / sizeof workloads[0]; w++) {
        const struct workload *wl = &workloads[w];
        if (only && strcmp(only, wl->name) != 0)
            continue;
        size_t n = ops ? ops : wl->ops;
        if (wl->run == run_flow)
            flow_prepare(n);
        if (wl->run == run_oflow)
            oflow_prepare();
        double t[1000];
        for (int r = 0; r < runs; r++)
            t[r] = wl->run(n);
        ran++;
        if (once)
            continue;
        qsort(t, (size_t)runs, sizeof t[0], cmp_double);
        printf("%-8s %-62s min %7.1f  median %7.1f  max %7.1f  (%d runs x %zu ops)\n", wl->name,
               wl->what, t[0], t[runs / 2], t[runs - 1], runs, n);
        fflush(stdout);
    }
    if (!ran) {
        fprintf(stderr, "bench_engine: no workload named %s\n", only);
        return 1;
    }
    return sink_count == 42 ? 3 : 0;   /* keeps the event sink observable */
}
