/*
 * engine.c - multi-symbol matching engine: checks, sequencing, events.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

void qsl_engine_config_defaults(struct qsl_engine_config *c)
{
    c->symbols = 2;
    c->max_orders = 0;
    c->huge_pages = 1;
    qsl_risk_defaults(&c->risk);
}

int qsl_engine_init(struct qsl_engine *e, const struct qsl_engine_config *c)
{
    memset(e, 0, sizeof *e);
    if (c->symbols == 0 || c->symbols > 1u << 20)
        return -EINVAL;
    int rc = qsl_book_pool_init(&e->pool, c->max_orders, c->huge_pages);
    if (rc)
        return rc;
    e->books = calloc(c->symbols, sizeof *e->books);
    e->tobs = calloc(c->symbols, sizeof *e->tobs);
    if (!e->books || !e->tobs) {
        free(e->books);
        free(e->tobs);
        qsl_book_pool_free(&e->pool);
        return -ENOMEM;
    }
    for (uint32_t s = 0; s < c->symbols; s++) {
        qsl_book_init(&e->books[s], &e->pool, s);
        e->tobs[s].kind = QSL_EV_TOP_OF_BOOK;
        e->tobs[s].symbol = s;
    }
    e->symbols = c->symbols;
    e->risk = c->risk;
    e->ev_trade.kind = QSL_EV_TRADE;
    return 0;
}

void qsl_engine_free(struct qsl_engine *e)
{
    for (uint32_t s = 0; s < e->symbols; s++)
        qsl_book_free(&e->books[s]);
    free(e->books);
    free(e->tobs);
    qsl_book_pool_free(&e->pool);
    memset(e, 0, sizeof *e);
}

size_t qsl_engine_bytes(const struct qsl_engine *e)
{
    size_t n = qsl_book_pool_bytes(&e->pool) +
               (size_t)e->symbols * (sizeof *e->books + sizeof *e->tobs);
    for (uint32_t s = 0; s < e->symbols; s++)
        n += qsl_book_bytes(&e->books[s]);
    return n;
}

/* ------------------------------------------------------------------ events */

static inline void emit(struct qsl_engine *e, const struct qsl_event *ev)
{
    if (e->fn)
        e->fn(e->ctx, ev);
}

static inline void emit_order(struct qsl_engine *e, enum qsl_event_kind kind,
                              qsl_symbol symbol, qsl_order_id id)
{
    struct qsl_event *ev = &e->ev_order;
    ev->kind = (uint8_t)kind;
    ev->symbol = symbol;
    ev->seq = ++e->seq;
    ev->order_id = id;
    emit(e, ev);
}

/* A side's best as last published: 1 when it changed (and is now recorded). */
static inline int best_changed(const struct qsl_book *b, enum qsl_side side, uint8_t *present,
                               qsl_price *price)
{
    qsl_price p = 0;
    uint8_t h = (uint8_t)qsl_book_best(b, side, &p);
    if (h == *present && p == *price)
        return 0;
    *present = h;
    *price = p;
    return 1;
}

/*
 * After an operation on a book: a side's best bid or ask can only have
 * changed if its best level was created or dropped (book->best_moved, a bit
 * per side); only that side's top is read and compared with what was last
 * published for the symbol, which is the event itself.
 */
static inline void emit_tob_if_changed(struct qsl_engine *e, struct qsl_book *b,
                                       qsl_symbol symbol)
{
    unsigned moved = b->best_moved;
    if (!moved)
        return;
    b->best_moved = 0;
    struct qsl_event *ev = &e->tobs[symbol];
    int changed = 0;
    if (moved & (1u << QSL_BUY))
        changed = best_changed(b, QSL_BUY, &ev->bid_present, &ev->bid);
    if (moved & (1u << QSL_SELL))
        changed |= best_changed(b, QSL_SELL, &ev->ask_present, &ev->ask);
    if (!changed)
        return;
    e->stats.top_of_book++;
    emit(e, ev);
}

static void on_trade(void *ctx, const struct qsl_trade *t)
{
    struct qsl_engine *e = ctx;
    e->stats.trades++;
    struct qsl_event *ev = &e->ev_trade;
    ev->symbol = e->cur_symbol;
    ev->seq = ++e->seq;
    ev->order_id = t->taker_id;
    ev->maker_id = t->maker_id;
    ev->price = t->price;
    ev->qty = t->qty;
    ev->taker_side = t->taker_side;
    emit(e, ev);
}

static enum qsl_reject reject(struct qsl_engine *e, enum qsl_reject r)
{
    e->stats.rejects[r]++;
    return r;
}

/* ------------------------------------------------------------------ checks */

static int is_market(const struct qsl_order_req *r)
{
    return r->order_type != QSL_LIMIT;
}

static int may_rest(const struct qsl_order_req *r)
{
    return !is_market(r) && r->tif == QSL_GTC;
}

/* Out of line, so that admission's usual path pays no frame for the walk. */
static __attribute__((noinline, cold)) enum qsl_reject
full_pool_verdict(const struct qsl_engine *e, const struct qsl_order_req *r)
{
    struct qsl_book_preview pv;
    qsl_book_preview(&e->books[r->symbol], r->side, r->price, 0, r->qty, &pv);
    if (pv.remaining > 0 && pv.makers_emptied == 0)
        return QSL_REJECT_STORAGE_EXHAUSTED;
    return QSL_REJECT_NONE;
}

/* Every check of a submit, in the original's order; nothing changes. */
QSL_HOT static enum qsl_reject admit(const struct qsl_engine *e, const struct qsl_order_req *r)
{
    if (r->symbol >= e->symbols)
        return QSL_REJECT_UNKNOWN_SYMBOL;
    if (qsl_book_pool_find(&e->pool, r->symbol, r->order_id) != QSL_NIL)
        return QSL_REJECT_DUPLICATE_ORDER_ID;
    enum qsl_reject why = is_market(r) ? qsl_risk_check_market(&e->risk, r->side, r->qty)
                                       : qsl_risk_check_limit(&e->risk, r->side, r->price, r->qty);
    if (why != QSL_REJECT_NONE)
        return why;
    /* A pool at its bound only matters if a remainder would rest and no maker
     * it empties hands back a slot: only then is the preview walk worth it. */
    if (may_rest(r) && qsl_book_pool_full(&e->pool))
        return full_pool_verdict(e, r);
    return QSL_REJECT_NONE;
}

enum qsl_reject qsl_engine_preview(const struct qsl_engine *e, const struct qsl_order_req *r,
                                   uint32_t *fills)
{
    enum qsl_reject why = admit(e, r);
    if (!fills)
        return why;
    *fills = 0;
    if (why == QSL_REJECT_NONE) {
        struct qsl_book_preview pv;
        qsl_book_preview(&e->books[r->symbol], r->side, r->price, is_market(r), r->qty, &pv);
        *fills = pv.fills;
    }
    return why;
}

/* ------------------------------------------------------------------ operations */

/* Cancel, modify and the previewed submit inline everything they call but the book's
 * rare paths (RARE in book.c): one frame per operation. make bench, callgrind, against
 * the same code without: obook 954 -> 911 instructions an op, flow 324.5 -> 305.7, the
 * gateway's loop 441 -> 426 a request. The plain submit is left to the compiler: flattened
 * too, its inlined rest made obook 967. */
#define FLAT __attribute__((flatten))

/* Match, then rest what is left when allowed. Its memory was reserved
 * before, so resting cannot fail here. */
static inline __attribute__((always_inline)) void
execute(struct qsl_engine *e, struct qsl_book *b, qsl_order_id id, unsigned side, qsl_price price,
        qsl_qty qty, int market, int rest)
{
    qsl_qty left = qty;
    if (qsl_book_crosses(b, side, price, market)) {
        e->cur_symbol = b->symbol;
        left = qsl_book_match(b, side, price, market, qty, id, on_trade, e);
    }
    if (left > 0 && rest)
        qsl_book_rest_reserved(b, id, side, price, left);
}

/* Submit with admission's verdict already known: the body of both entry points, inlined
 * into each so a plain submit pays no extra call. */
static inline enum qsl_reject submit_admitted(struct qsl_engine *e, const struct qsl_order_req *r,
                                              enum qsl_reject why, qsl_event_fn fn, void *ctx)
{
    if (why != QSL_REJECT_NONE)
        return reject(e, why);
    /* the request read once: the engine's stores may alias it for all the compiler knows */
    const qsl_order_id id = r->order_id;
    const qsl_symbol symbol = r->symbol;
    const qsl_price price = r->price;
    const qsl_qty qty = r->qty;
    const unsigned side = r->side;
    const int market = is_market(r), rest = may_rest(r);
    struct qsl_book *b = &e->books[symbol];
    if (rest && qsl_book_reserve(b, side, price) != 0)
        return reject(e, QSL_REJECT_STORAGE_EXHAUSTED);
    e->fn = fn;
    e->ctx = ctx;
    e->stats.accepted++;
    emit_order(e, QSL_EV_ACCEPTED, symbol, id);
    execute(e, b, id, side, price, qty, market, rest);
    emit_tob_if_changed(e, b, symbol);
    return QSL_REJECT_NONE;
}

enum qsl_reject qsl_engine_submit(struct qsl_engine *e, const struct qsl_order_req *r,
                                  qsl_event_fn fn, void *ctx)
{
    return submit_admitted(e, r, admit(e, r), fn, ctx);
}

FLAT QSL_HOT enum qsl_reject
qsl_engine_submit_previewed(struct qsl_engine *e, const struct qsl_order_req *r,
                            enum qsl_reject why, qsl_event_fn fn, void *ctx)
{
    return submit_admitted(e, r, why, fn, ctx);
}

/* at: where the order's index entry was found, nothing changed since */
static void cancel_at(struct qsl_engine *e, qsl_symbol symbol, qsl_order_id id, uint32_t idx,
                      uint32_t at)
{
    struct qsl_book *b = &e->books[symbol];
    qsl_book_remove_at(b, idx, qsl_book_order(&e->pool, idx), at);
    e->stats.canceled++;
    emit_order(e, QSL_EV_CANCELED, symbol, id);
    emit_tob_if_changed(e, b, symbol);
}

/* The pool index of a resting order, its events routed to fn; a reject when the symbol
 * or the order is unknown (cancel and modify answer the same way). */
static inline enum qsl_reject resting_order(struct qsl_engine *e, qsl_symbol symbol,
                                            qsl_order_id id, qsl_event_fn fn, void *ctx,
                                            uint32_t *idx, uint32_t *at)
{
    if (symbol >= e->symbols)
        return reject(e, QSL_REJECT_UNKNOWN_SYMBOL);
    *idx = qsl_book_pool_find_at(&e->pool, symbol, id, at);
    if (*idx == QSL_NIL)
        return reject(e, QSL_REJECT_UNKNOWN_ORDER);
    e->fn = fn;
    e->ctx = ctx;
    return QSL_REJECT_NONE;
}

FLAT QSL_HOT enum qsl_reject
qsl_engine_cancel(struct qsl_engine *e, qsl_symbol symbol, qsl_order_id id, qsl_event_fn fn,
                  void *ctx)
{
    uint32_t idx, at;
    enum qsl_reject why = resting_order(e, symbol, id, fn, ctx, &idx, &at);
    if (why != QSL_REJECT_NONE)
        return why;
    cancel_at(e, symbol, id, idx, at);
    return QSL_REJECT_NONE;
}

FLAT enum qsl_reject
qsl_engine_modify(struct qsl_engine *e, qsl_symbol symbol, qsl_order_id id, qsl_price price,
                  qsl_qty qty, qsl_event_fn fn, void *ctx)
{
    uint32_t idx, at;
    enum qsl_reject why = resting_order(e, symbol, id, fn, ctx, &idx, &at);
    if (why != QSL_REJECT_NONE)
        return why;
    if (qty == 0) {             /* the original's rule: quantity 0 is a cancel */
        cancel_at(e, symbol, id, idx, at);
        return QSL_REJECT_NONE;
    }
    struct qsl_book *b = &e->books[symbol];
    struct qsl_order *o = qsl_book_order(&e->pool, idx);
    unsigned side = o->side;
    why = qsl_risk_check_limit(&e->risk, side, price, qty);
    if (why != QSL_REJECT_NONE)
        return reject(e, why);
    int keeps_priority = qsl_book_key(side, price) == o->key && qty <= o->qty;
    if (!keeps_priority && qsl_book_reserve_level(b, side, price) != 0)
        return reject(e, QSL_REJECT_STORAGE_EXHAUSTED);
    e->stats.modified++;
    if (keeps_priority) {
        qsl_book_reduce(b, o, qty);
        emit_order(e, QSL_EV_MODIFIED, symbol, id);
        return QSL_REJECT_NONE;
    }
    /* out of its level but keeping its slot: the same (symbol, id) re-rests */
    qsl_book_unlink(b, o);
    emit_order(e, QSL_EV_MODIFIED, symbol, id);
    qsl_qty left = qty;
    if (qsl_book_crosses(b, side, price, 0)) {
        e->cur_symbol = symbol;
        left = qsl_book_match(b, side, price, 0, qty, id, on_trade, e);
    }
    if (left > 0)
        qsl_book_relink(b, idx, o, price, left);   /* reserved above */
    else
        qsl_book_release(b, idx, o);
    emit_tob_if_changed(e, b, symbol);
    return QSL_REJECT_NONE;
}
