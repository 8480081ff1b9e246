/*
 * book.c - price-time order book: pool, id index, sorted levels, matching.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "book.h"

/* ------------------------------------------------------------------ pool and index */

/* Fibonacci hashing: one multiply, the top bits. (symbol, id) pairs from a
 * client are no less predictable under a stronger mix, which is as
 * invertible; the probe length stays bounded by the load factor of 1/2. */
static uint32_t home_of(const struct qsl_book_pool *p, qsl_symbol symbol, qsl_order_id id)
{
    uint64_t x = (id ^ ((uint64_t)symbol << 40)) * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(x >> p->shift);
}

int qsl_book_pool_init(struct qsl_book_pool *p, uint32_t capacity)
{
    memset(p, 0, sizeof *p);
    if (capacity == 0 || capacity > (1u << 30))
        return -EINVAL;
    uint32_t nslots = 2;
    while (nslots < capacity * 2u)
        nslots <<= 1;
    p->orders = malloc((size_t)capacity * sizeof *p->orders);
    p->slots = calloc(nslots, sizeof *p->slots);
    if (!p->orders || !p->slots) {
        qsl_book_pool_free(p);
        return -ENOMEM;
    }
    p->mask = nslots - 1;
    p->shift = 64;
    for (uint32_t b = nslots; b > 1; b >>= 1)
        p->shift--;
    p->capacity = capacity;
    for (uint32_t i = 0; i < capacity; i++)
        p->orders[i].next = i + 1 < capacity ? i + 1 : QSL_NIL;
    p->free_head = 0;
    return 0;
}

void qsl_book_pool_free(struct qsl_book_pool *p)
{
    free(p->orders);
    free(p->slots);
    memset(p, 0, sizeof *p);
}

uint32_t qsl_book_pool_find(const struct qsl_book_pool *p, qsl_symbol symbol, qsl_order_id id)
{
    for (uint32_t i = home_of(p, symbol, id);; i = (i + 1) & p->mask) {
        uint32_t s = p->slots[i];
        if (s == 0)
            return QSL_NIL;
        const struct qsl_order *o = &p->orders[s - 1];
        if (o->id == id && o->symbol == symbol)
            return s - 1;
    }
}

static void index_insert(struct qsl_book_pool *p, uint32_t idx)
{
    const struct qsl_order *o = &p->orders[idx];
    uint32_t i = home_of(p, o->symbol, o->id);
    while (p->slots[i] != 0)
        i = (i + 1) & p->mask;
    p->slots[i] = idx + 1;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void index_delete(struct qsl_book_pool *p, uint32_t idx)
{
    const struct qsl_order *o = &p->orders[idx];
    uint32_t i = home_of(p, o->symbol, o->id);
    while (p->slots[i] != idx + 1)
        i = (i + 1) & p->mask;
    for (uint32_t j = i;;) {
        j = (j + 1) & p->mask;
        uint32_t s = p->slots[j];
        if (s == 0)
            break;
        const struct qsl_order *m = &p->orders[s - 1];
        uint32_t home = home_of(p, m->symbol, m->id);
        int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            p->slots[i] = s;
            i = j;
        }
    }
    p->slots[i] = 0;
}

static uint32_t pool_take(struct qsl_book_pool *p)
{
    uint32_t idx = p->free_head;
    p->free_head = p->orders[idx].next;
    p->used++;
    return idx;
}

static void pool_release(struct qsl_book_pool *p, uint32_t idx)
{
    index_delete(p, idx);
    p->orders[idx].next = p->free_head;
    p->free_head = idx;
    p->used--;
}

/* ------------------------------------------------------------------ levels */

int qsl_book_init(struct qsl_book *b, struct qsl_book_pool *p, qsl_symbol symbol)
{
    memset(b, 0, sizeof *b);
    b->pool = p;
    b->symbol = symbol;
    b->level_free = QSL_NIL;
    return 0;
}

void qsl_book_free(struct qsl_book *b)
{
    free(b->side[QSL_BUY].ref);
    free(b->side[QSL_SELL].ref);
    free(b->levels);
    memset(b, 0, sizeof *b);
}

static int grow_levels(struct qsl_book *b)
{
    uint32_t old = b->levels_cap, cap = old ? old * 2 : 64;
    struct qsl_level *lv = realloc(b->levels, (size_t)cap * sizeof *lv);
    if (!lv)
        return -ENOMEM;
    for (uint32_t i = old; i < cap; i++)
        lv[i].head = i + 1 < cap ? i + 1 : b->level_free;
    b->levels = lv;
    b->levels_cap = cap;
    b->level_free = old;
    return 0;
}

int qsl_book_reserve(struct qsl_book *b, enum qsl_side side)
{
    struct qsl_book_side *s = &b->side[side];
    if (b->level_free == QSL_NIL && grow_levels(b) != 0)
        return -ENOMEM;
    if (s->n < s->cap)
        return 0;
    uint32_t cap = s->cap ? s->cap * 2 : 64;
    struct qsl_level_ref *ref = realloc(s->ref, (size_t)cap * sizeof *ref);
    if (!ref)
        return -ENOMEM;
    s->ref = ref;
    s->cap = cap;
    return 0;
}

static qsl_price key_of(unsigned side, qsl_price price)
{
    return side == QSL_BUY ? price : -price;
}

/* First ref whose key is >= key (n when none). */
static uint32_t lower_bound(const struct qsl_book_side *s, qsl_price key)
{
    uint32_t lo = 0, n = s->n;
    while (n > 0) {
        uint32_t half = n / 2;
        if (s->ref[lo + half].key < key) {
            lo += half + 1;
            n -= half + 1;
        } else {
            n = half;
        }
    }
    return lo;
}

static uint32_t level_take(struct qsl_book *b)
{
    uint32_t i = b->level_free;
    b->level_free = b->levels[i].head;
    b->levels[i] = (struct qsl_level){.head = QSL_NIL, .tail = QSL_NIL};
    return i;
}

/* Remove an empty level from its side and give it back to the pool. */
static void level_drop(struct qsl_book *b, struct qsl_book_side *s, uint32_t at)
{
    uint32_t li = s->ref[at].level;
    if (at + 1 < s->n)          /* the best level is last: dropping it moves nothing */
        memmove(&s->ref[at], &s->ref[at + 1], (size_t)(s->n - at - 1) * sizeof *s->ref);
    else
        b->best_moved = 1;
    s->n--;
    b->levels[li].head = b->level_free;
    b->level_free = li;
}

/* Order idx joins the back of level l: the last in time priority there. */
static void level_append(struct qsl_book_pool *p, struct qsl_level *l, uint32_t idx, qsl_qty qty)
{
    if (l->tail != QSL_NIL)
        p->orders[l->tail].next = idx;
    else
        l->head = idx;
    l->tail = idx;
    l->count++;
    l->total += qty;
}

static void level_unlink(struct qsl_book_pool *p, struct qsl_level *l, uint32_t idx)
{
    struct qsl_order *o = &p->orders[idx];
    if (o->prev != QSL_NIL)
        p->orders[o->prev].next = o->next;
    else
        l->head = o->next;
    if (o->next != QSL_NIL)
        p->orders[o->next].prev = o->prev;
    else
        l->tail = o->prev;
    l->count--;
    l->total -= o->qty;
}

/* The level for a price on a side, created in place when missing. */
static int level_for(struct qsl_book *b, unsigned side, qsl_price key, uint32_t *level)
{
    struct qsl_book_side *s = &b->side[side];
    uint32_t at = s->n && s->ref[s->n - 1].key < key ? s->n : lower_bound(s, key);
    if (at < s->n && s->ref[at].key == key) {
        *level = s->ref[at].level;
        return 0;
    }
    if (s->n == s->cap || b->level_free == QSL_NIL) {    /* not reserved by the caller */
        int rc = qsl_book_reserve(b, side);
        if (rc)
            return rc;
    }
    if (at < s->n)
        memmove(&s->ref[at + 1], &s->ref[at], (size_t)(s->n - at) * sizeof *s->ref);
    else
        b->best_moved = 1;      /* a new best level */
    s->ref[at] = (struct qsl_level_ref){.key = key, .level = level_take(b)};
    s->n++;
    *level = s->ref[at].level;
    return 0;
}

int qsl_book_rest(struct qsl_book *b, qsl_order_id id, enum qsl_side side, qsl_price price,
                  qsl_qty qty)
{
    struct qsl_book_pool *p = b->pool;
    if (p->used == p->capacity)
        return -ENOSPC;
    uint32_t li;
    int rc = level_for(b, side, key_of(side, price), &li);
    if (rc)
        return rc;
    struct qsl_level *l = &b->levels[li];
    uint32_t idx = pool_take(p);
    struct qsl_order *o = &p->orders[idx];
    *o = (struct qsl_order){.id = id, .price = price, .prev = l->tail, .next = QSL_NIL,
                            .level = li, .qty = qty, .symbol = b->symbol, .side = (uint8_t)side};
    level_append(p, l, idx, qty);
    index_insert(p, idx);
    return 0;
}

void qsl_book_unlink(struct qsl_book *b, uint32_t idx)
{
    struct qsl_order *o = &b->pool->orders[idx];
    struct qsl_level *l = &b->levels[o->level];
    level_unlink(b->pool, l, idx);
    if (l->count == 0) {
        struct qsl_book_side *s = &b->side[o->side];
        /* most often the best level empties: it is last, no search needed */
        uint32_t at = s->ref[s->n - 1].level == o->level ? s->n - 1
                                                         : lower_bound(s, key_of(o->side, o->price));
        level_drop(b, s, at);
    }
}

void qsl_book_release(struct qsl_book *b, uint32_t idx)
{
    pool_release(b->pool, idx);
}

void qsl_book_remove(struct qsl_book *b, uint32_t idx)
{
    qsl_book_unlink(b, idx);
    pool_release(b->pool, idx);
}

int qsl_book_relink(struct qsl_book *b, uint32_t idx, qsl_price price, qsl_qty qty)
{
    struct qsl_book_pool *p = b->pool;
    struct qsl_order *o = &p->orders[idx];
    uint32_t li;
    int rc = level_for(b, o->side, key_of(o->side, price), &li);
    if (rc)
        return rc;
    struct qsl_level *l = &b->levels[li];
    o->price = price;
    o->qty = qty;
    o->level = li;
    o->prev = l->tail;
    o->next = QSL_NIL;
    level_append(p, l, idx, qty);
    return 0;
}

void qsl_book_reduce(struct qsl_book *b, uint32_t idx, qsl_qty qty)
{
    struct qsl_order *o = &b->pool->orders[idx];
    b->levels[o->level].total -= o->qty - qty;
    o->qty = qty;
}

/* ------------------------------------------------------------------ matching */

static int crosses(enum qsl_side taker, qsl_price limit, int market, qsl_price maker_price)
{
    if (market)
        return 1;
    return taker == QSL_BUY ? maker_price <= limit : maker_price >= limit;
}

qsl_qty qsl_book_match(struct qsl_book *b, enum qsl_side side, qsl_price limit, int market,
                       qsl_qty qty, qsl_order_id taker, qsl_trade_fn fn, void *ctx)
{
    struct qsl_book_pool *p = b->pool;
    enum qsl_side other = side == QSL_BUY ? QSL_SELL : QSL_BUY;
    struct qsl_book_side *s = &b->side[other];
    while (qty > 0 && s->n > 0) {
        const struct qsl_level_ref *best = &s->ref[s->n - 1];
        struct qsl_level *l = &b->levels[best->level];
        qsl_price price = other == QSL_BUY ? best->key : -best->key;
        if (!crosses(side, limit, market, price))
            break;
        while (qty > 0 && l->head != QSL_NIL) {
            uint32_t idx = l->head;
            struct qsl_order *m = &p->orders[idx];
            qsl_qty q = m->qty < qty ? m->qty : qty;
            struct qsl_trade t = {.taker_id = taker, .maker_id = m->id, .price = price,
                                  .qty = q, .taker_side = (uint8_t)side};
            qty -= q;
            m->qty -= q;
            l->total -= q;
            if (m->qty == 0) {
                l->head = m->next;
                if (l->head != QSL_NIL)
                    p->orders[l->head].prev = QSL_NIL;
                else
                    l->tail = QSL_NIL;
                l->count--;
                pool_release(p, idx);
            }
            if (fn)
                fn(ctx, &t);
        }
        if (l->count == 0)
            level_drop(b, s, s->n - 1);
    }
    return qty;
}

void qsl_book_preview(const struct qsl_book *b, enum qsl_side side, qsl_price limit,
                      int market, qsl_qty qty, struct qsl_book_preview *out)
{
    const struct qsl_book_pool *p = b->pool;
    enum qsl_side other = side == QSL_BUY ? QSL_SELL : QSL_BUY;
    const struct qsl_book_side *s = &b->side[other];
    *out = (struct qsl_book_preview){0};
    for (uint32_t n = s->n; qty > 0 && n > 0; n--) {
        const struct qsl_level_ref *r = &s->ref[n - 1];
        const struct qsl_level *l = &b->levels[r->level];
        if (!crosses(side, limit, market, other == QSL_BUY ? r->key : -r->key))
            break;
        for (uint32_t idx = l->head; qty > 0 && idx != QSL_NIL; idx = p->orders[idx].next) {
            qsl_qty mq = p->orders[idx].qty;
            out->fills++;
            if (mq <= qty)
                out->makers_emptied++;
            qty -= mq < qty ? mq : qty;
        }
    }
    out->remaining = qty;
}

/* ------------------------------------------------------------------ queries */

int qsl_book_level(const struct qsl_book *b, enum qsl_side side, uint32_t i, qsl_price *price,
                   uint64_t *total, uint32_t *count)
{
    const struct qsl_book_side *s = &b->side[side];
    if (i >= s->n)
        return 0;
    const struct qsl_level_ref *r = &s->ref[s->n - 1 - i];
    const struct qsl_level *l = &b->levels[r->level];
    if (price)
        *price = side == QSL_BUY ? r->key : -r->key;
    if (total)
        *total = l->total;
    if (count)
        *count = l->count;
    return 1;
}
