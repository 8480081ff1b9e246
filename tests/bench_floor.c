/*
 * bench_floor.c - obook's work without generality (bench_floor.h says what is
 * left out). Written plainly, the way a first fast engine would be: what it
 * counts is a floor for the engine's design to be measured against, not a
 * tuned target.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench_floor.h"

#define NIL UINT32_MAX
/* One frame per operation, as the engine has (its FLAT): the compiler left alone splits
 * the level and top-of-book steps out of line (make bench, callgrind: 789 an op, not 677). */
#define INLINE static inline __attribute__((always_inline))

int bench_floor_init(struct bench_floor *f, uint32_t symbols, uint32_t capacity, qsl_price price)
{
    memset(f, 0, sizeof *f);
    if (symbols == 0 || capacity == 0 || capacity > 1u << 28)
        return -EINVAL;
    uint32_t slots = 2;
    while (slots < 2 * capacity)
        slots *= 2;
    f->books = calloc(symbols, sizeof *f->books);
    f->tobs = calloc(symbols, sizeof *f->tobs);
    f->order = calloc(capacity, sizeof *f->order);
    f->slot = calloc(slots, sizeof *f->slot);
    f->symbols = symbols;
    if (!f->books || !f->tobs || !f->order || !f->slot)
        goto nomem;
    for (uint32_t s = 0; s < symbols; s++) {
        for (unsigned side = 0; side < 2; side++) {
            struct bench_floor_side *sd = &f->books[s].side[side];
            sd->lv = calloc(BENCH_FLOOR_WINDOW, sizeof *sd->lv);
            if (!sd->lv)
                goto nomem;
            sd->base = qsl_book_key(side, price) - BENCH_FLOOR_WINDOW / 2;
        }
        f->tobs[s].kind = QSL_EV_TOP_OF_BOOK;
        f->tobs[s].symbol = s;
    }
    for (uint32_t i = 0; i < capacity; i++)
        f->order[i].next = i + 1 < capacity ? i + 1 : NIL;
    f->capacity = capacity;
    f->mask = slots - 1;
    f->shift = 64 - (uint32_t)__builtin_ctz(slots);
    qsl_risk_defaults(&f->risk);
    return 0;
nomem:
    bench_floor_free(f);
    return -ENOMEM;
}

void bench_floor_free(struct bench_floor *f)
{
    for (uint32_t s = 0; f->books && s < f->symbols; s++)
        for (unsigned side = 0; side < 2; side++)
            free(f->books[s].side[side].lv);
    free(f->books);
    free(f->tobs);
    free(f->order);
    free(f->slot);
    memset(f, 0, sizeof *f);
}

/* ------------------------------------------------------------------ index */

INLINE uint32_t home(const struct bench_floor *f, qsl_symbol symbol, qsl_order_id id)
{
    return (uint32_t)(((id ^ ((uint64_t)symbol << 40)) * 0x9e3779b97f4a7c15ull) >> f->shift);
}

/* The slot holding (symbol, id), *found 1; else the empty slot where it would go. */
INLINE uint32_t probe(const struct bench_floor *f, qsl_symbol symbol, qsl_order_id id,
                      int *found)
{
    for (uint32_t i = home(f, symbol, id);; i = (i + 1) & f->mask) {
        const struct bench_floor_slot *s = &f->slot[i];
        if (s->ref == 0 || (s->id == id && s->symbol == symbol)) {
            *found = s->ref != 0;
            return i;
        }
    }
}

/* Backward-shift deletion: the entries after i that may move up, move up. */
INLINE void index_delete(struct bench_floor *f, uint32_t i)
{
    for (uint32_t j = (i + 1) & f->mask; f->slot[j].ref != 0; j = (j + 1) & f->mask) {
        uint32_t h = home(f, f->slot[j].symbol, f->slot[j].id);
        if (((j - h) & f->mask) >= ((j - i) & f->mask)) {
            f->slot[i] = f->slot[j];
            i = j;
        }
    }
    f->slot[i].ref = 0;
}

/* ------------------------------------------------------------------ levels */

INLINE void level_add(struct bench_floor *f, struct bench_floor_book *b, uint32_t idx,
                      struct bench_floor_order *o)
{
    struct bench_floor_side *s = &b->side[o->side];
    uint32_t i = (uint32_t)(o->key - s->base);     /* in the window: checked before */
    struct bench_floor_level *l = &s->lv[i];
    o->next = NIL;
    if (l->count++ == 0) {
        s->bits[i >> 6] |= 1ull << (i & 63);
        s->summary |= 1ull << (i >> 6);
        if (s->levels++ == 0 || i > s->hi) {
            s->hi = i;
            b->best_moved |= (uint8_t)(1u << o->side);
        }
        o->prev = NIL;
        l->head = idx;
        l->total = o->qty;
    } else {
        o->prev = l->tail;
        f->order[l->tail].next = idx;
        l->total += o->qty;
    }
    l->tail = idx;
}

INLINE void level_remove(struct bench_floor *f, struct bench_floor_book *b,
                         struct bench_floor_order *o)
{
    struct bench_floor_side *s = &b->side[o->side];
    uint32_t i = (uint32_t)(o->key - s->base);
    struct bench_floor_level *l = &s->lv[i];
    if (o->prev != NIL)
        f->order[o->prev].next = o->next;
    else
        l->head = o->next;
    if (o->next != NIL)
        f->order[o->next].prev = o->prev;
    else
        l->tail = o->prev;
    l->total -= o->qty;
    if (--l->count > 0)
        return;
    if ((s->bits[i >> 6] &= ~(1ull << (i & 63))) == 0)
        s->summary &= ~(1ull << (i >> 6));
    if (--s->levels == 0) {
        b->best_moved |= (uint8_t)(1u << o->side);
    } else if (i == s->hi) {
        unsigned w = 63 - (unsigned)__builtin_clzll(s->summary);
        s->hi = w * 64 + 63 - (unsigned)__builtin_clzll(s->bits[w]);
        b->best_moved |= (uint8_t)(1u << o->side);
    }
}

/* ------------------------------------------------------------------ events */

INLINE void emit(struct bench_floor *f, const struct qsl_event *ev)
{
    if (f->fn)
        f->fn(f->ctx, ev);
}

INLINE void emit_order(struct bench_floor *f, enum qsl_event_kind kind, qsl_symbol symbol,
                       qsl_order_id id)
{
    struct qsl_event *ev = &f->ev_order;
    ev->kind = (uint8_t)kind;
    ev->symbol = symbol;
    ev->seq = ++f->seq;
    ev->order_id = id;
    emit(f, ev);
}

INLINE int best_changed(const struct bench_floor_side *s, unsigned side, uint8_t *present,
                        qsl_price *price)
{
    uint8_t h = s->levels > 0;
    qsl_price p = h ? qsl_book_price(side, s->base + s->hi) : 0;
    if (h == *present && p == *price)
        return 0;
    *present = h;
    *price = p;
    return 1;
}

INLINE void emit_tob_if_changed(struct bench_floor *f, struct bench_floor_book *b,
                                qsl_symbol symbol)
{
    unsigned moved = b->best_moved;
    if (!moved)
        return;
    b->best_moved = 0;
    struct qsl_event *ev = &f->tobs[symbol];
    int changed = 0;
    if (moved & (1u << QSL_BUY))
        changed = best_changed(&b->side[QSL_BUY], QSL_BUY, &ev->bid_present, &ev->bid);
    if (moved & (1u << QSL_SELL))
        changed |= best_changed(&b->side[QSL_SELL], QSL_SELL, &ev->ask_present, &ev->ask);
    if (!changed)
        return;
    f->stats.top_of_book++;
    emit(f, ev);
}

INLINE int reject(struct bench_floor *f, enum qsl_reject r)
{
    f->stats.rejects[r]++;
    return (int)r;
}

/* ------------------------------------------------------------------ operations */

INLINE int crosses(const struct bench_floor_book *b, unsigned side, qsl_price price,
                   int market)
{
    unsigned other = side ^ 1;
    const struct bench_floor_side *o = &b->side[other];
    if (o->levels == 0)
        return 0;
    if (market)
        return 1;
    qsl_price best = qsl_book_price(other, o->base + o->hi);
    return side == QSL_BUY ? best <= price : best >= price;
}

__attribute__((noinline)) int bench_floor_submit(struct bench_floor *f,
                                                 const struct qsl_order_req *r, qsl_event_fn fn,
                                                 void *ctx)
{
    const qsl_order_id id = r->order_id;
    const qsl_symbol symbol = r->symbol;
    const qsl_price price = r->price;
    const qsl_qty qty = r->qty;
    const unsigned side = r->side;
    const int market = r->order_type != QSL_LIMIT, rest = !market && r->tif == QSL_GTC;
    if (symbol >= f->symbols)
        return reject(f, QSL_REJECT_UNKNOWN_SYMBOL);
    int found;
    uint32_t at = probe(f, symbol, id, &found);
    if (found)
        return reject(f, QSL_REJECT_DUPLICATE_ORDER_ID);
    enum qsl_reject why = market ? qsl_risk_check_market(&f->risk, side, qty)
                                 : qsl_risk_check_limit(&f->risk, side, price, qty);
    if (why != QSL_REJECT_NONE)
        return reject(f, why);
    struct bench_floor_book *b = &f->books[symbol];
    uint64_t key = qsl_book_key(side, price);
    if (crosses(b, side, price, market) ||
        (rest && (key - b->side[side].base >= BENCH_FLOOR_WINDOW || f->free_head == NIL ||
                  (f->used + 1) * 2 > f->mask + 1)))
        return BENCH_FLOOR_UNSUPPORTED;
    f->fn = fn;
    f->ctx = ctx;
    f->stats.accepted++;
    emit_order(f, QSL_EV_ACCEPTED, symbol, id);
    if (rest) {
        uint32_t idx = f->free_head;
        struct bench_floor_order *o = &f->order[idx];
        f->free_head = o->next;
        f->used++;
        o->id = id;
        o->key = key;
        o->qty = qty;
        o->side = (uint8_t)side;
        /* nothing has changed the index since the probe: its empty slot is this one's */
        f->slot[at] = (struct bench_floor_slot){.id = id, .symbol = symbol, .ref = idx + 1};
        level_add(f, b, idx, o);
    }
    emit_tob_if_changed(f, b, symbol);
    return QSL_REJECT_NONE;
}

INLINE int cancel_at(struct bench_floor *f, qsl_symbol symbol, qsl_order_id id, uint32_t at)
{
    struct bench_floor_book *b = &f->books[symbol];
    uint32_t idx = f->slot[at].ref - 1;
    struct bench_floor_order *o = &f->order[idx];
    level_remove(f, b, o);
    index_delete(f, at);
    o->next = f->free_head;
    f->free_head = idx;
    f->used--;
    f->stats.canceled++;
    emit_order(f, QSL_EV_CANCELED, symbol, id);
    emit_tob_if_changed(f, b, symbol);
    return QSL_REJECT_NONE;
}

/* The index slot of a resting order, its events routed to fn; a reject when the symbol or
 * the order is unknown (cancel and modify answer alike). */
INLINE int resting_order(struct bench_floor *f, qsl_symbol symbol, qsl_order_id id,
                         qsl_event_fn fn, void *ctx, uint32_t *at)
{
    if (symbol >= f->symbols)
        return reject(f, QSL_REJECT_UNKNOWN_SYMBOL);
    int found;
    *at = probe(f, symbol, id, &found);
    if (!found)
        return reject(f, QSL_REJECT_UNKNOWN_ORDER);
    f->fn = fn;
    f->ctx = ctx;
    return QSL_REJECT_NONE;
}

__attribute__((noinline)) int bench_floor_cancel(struct bench_floor *f, qsl_symbol symbol,
                                                 qsl_order_id id, qsl_event_fn fn, void *ctx)
{
    uint32_t at;
    int why = resting_order(f, symbol, id, fn, ctx, &at);
    return why != QSL_REJECT_NONE ? why : cancel_at(f, symbol, id, at);
}

__attribute__((noinline)) int bench_floor_modify(struct bench_floor *f, qsl_symbol symbol,
                                                 qsl_order_id id, qsl_price price, qsl_qty qty,
                                                 qsl_event_fn fn, void *ctx)
{
    uint32_t at;
    int rc = resting_order(f, symbol, id, fn, ctx, &at);
    if (rc != QSL_REJECT_NONE)
        return rc;
    if (qty == 0)               /* the original's rule: quantity 0 is a cancel */
        return cancel_at(f, symbol, id, at);
    uint32_t idx = f->slot[at].ref - 1;
    struct bench_floor_order *o = &f->order[idx];
    const unsigned side = o->side;
    enum qsl_reject why = qsl_risk_check_limit(&f->risk, side, price, qty);
    if (why != QSL_REJECT_NONE)
        return reject(f, why);
    struct bench_floor_book *b = &f->books[symbol];
    uint64_t key = qsl_book_key(side, price);
    int keeps_priority = key == o->key && qty <= o->qty;
    if (!keeps_priority &&
        (key - b->side[side].base >= BENCH_FLOOR_WINDOW || crosses(b, side, price, 0)))
        return BENCH_FLOOR_UNSUPPORTED;
    f->stats.modified++;
    if (keeps_priority) {
        b->side[side].lv[key - b->side[side].base].total -= o->qty - qty;
        o->qty = qty;
        emit_order(f, QSL_EV_MODIFIED, symbol, id);
        return QSL_REJECT_NONE;
    }
    level_remove(f, b, o);
    emit_order(f, QSL_EV_MODIFIED, symbol, id);
    o->key = key;
    o->qty = qty;
    level_add(f, b, idx, o);
    emit_tob_if_changed(f, b, symbol);
    return QSL_REJECT_NONE;
}
