/*
 * book.h - one symbol's price-time order book over a shared order pool.
 *
 * Orders live in chunks of QSL_BOOK_CHUNK allocated as orders rest (nothing
 * moves when the pool grows; an optional max_orders bounds it). They are
 * found by (symbol, id) through an open-addressing index that grows by
 * incremental rehash, so no single order pays for moving the whole index.
 *
 * Each side of a book is a price ladder. A side ranks prices by a key
 * (price for bids, -price for asks: the best level has the highest key).
 * Keys in a window base .. base + w - 1 have their level at slot key & (w - 1)
 * of an array, and a three-level bitmap over the window (bit i: key base + i
 * has a level) finds the best level, and the next one, in a few instructions.
 * The window follows the best price: a better key outside it moves the window
 * (levels that fall below go to the overflow), and a side whose window empties
 * pulls its best overflow levels back in. Keys below the window live in the
 * overflow, an array sorted by key, so a stray price costs a search there,
 * never memory in proportion to its distance. The window grows (doubling, up
 * to QSL_LADDER_MAX slots) only while its levels fill at least 1 slot in 16.
 * Within a level, orders form a FIFO list (time priority); an order finds its
 * level from its price.
 */
#ifndef QSL_BOOK_H
#define QSL_BOOK_H

#include <stddef.h>
#include <stdint.h>

#include "hugemem.h"
#include "types.h"

#define QSL_NIL UINT32_MAX
#define QSL_BOOK_CHUNK_SHIFT 10
#define QSL_BOOK_CHUNK (1u << QSL_BOOK_CHUNK_SHIFT)  /* orders a chunk */
#define QSL_BOOK_ORDERS_MAX (1u << 30)              /* the index's slots fit 32 bits */
#define QSL_LADDER_MIN 64u                          /* slots of a new window */
#define QSL_LADDER_FREE 1024u                       /* a window grows to this freely */
#define QSL_LADDER_MAX (1u << 18)                   /* and never past this */

/* 32 bytes: two to a cache line, none across two (an engine's symbols are < 2^20). */
struct qsl_order {
    qsl_order_id id;
    uint64_t key;               /* its price's rank on its side (qsl_book_key): its level's */
    uint32_t prev, next;        /* FIFO neighbours in the level, QSL_NIL at the ends */
    qsl_qty qty;                /* open quantity */
    uint32_t symbol : 31;       /* a qsl_symbol */
    uint32_t side : 1;          /* an enum qsl_side */
};

struct qsl_index_slot {
    qsl_order_id id;
    qsl_symbol symbol;
    uint32_t ref;               /* order index + 1; 0 empty; UINT32_MAX moved (old table) */
};

struct qsl_index_table {
    struct qsl_index_slot *slot;
    uint32_t mask;              /* slots - 1 */
    uint32_t shift;             /* 64 - log2(slots): the hash's top bits index the slots */
    uint8_t huge;               /* slot is a qsl_hugemem mapping, not calloc'd */
};

/*
 * With huge set, a pool that outgrows its first chunk takes its further
 * chunks, QSL_BOOK_SLAB_CHUNKS at a time, from 2 MiB mappings advised for
 * huge pages (slabs), and index tables of QSL_BOOK_HUGE_TABLE bytes or more
 * get mappings of their own: one TLB entry then covers what a page walk per
 * 4 KiB page would reach after every system call (hugemem.h). A small pool,
 * a fresh engine's, stays in malloc'd memory and pays no 2 MiB page.
 */
#define QSL_BOOK_SLAB_CHUNKS 64u            /* 1,024-order chunks in 2 MiB (32 bytes an order) */
#define QSL_BOOK_HUGE_TABLE (64u << 10)     /* 4,096 slots: the table of 1,024 orders and more */

struct qsl_book_pool {
    struct qsl_order **chunk;   /* order i is chunk[i / QSL_BOOK_CHUNK][i % QSL_BOOK_CHUNK] */
    uint32_t chunks, chunk_cap;
    uint32_t heap_chunks;       /* chunks 0 .. heap_chunks - 1 are malloc'd, the rest in slabs */
    uint8_t huge;               /* grow into 2 MiB mappings (above), set at init */
    struct qsl_hugemem_slabs slabs;     /* chunks past the first: QSL_BOOK_SLAB_CHUNKS a slab */
    uint32_t max_orders;        /* 0: no bound */
    uint32_t used;              /* resting orders (and index entries) */
    uint32_t free_head;         /* free list through orders' next */
    struct qsl_index_table index;
    struct qsl_index_table old; /* the table being drained into index, slot NULL when none */
    uint32_t drained;           /* old slots moved so far */
};

struct qsl_level {
    uint64_t total;             /* open quantity at the level */
    uint32_t head, tail;        /* FIFO of orders */
    uint32_t count;             /* 0: no level here */
};

struct qsl_far_level {
    uint64_t key;
    struct qsl_level l;
};

struct qsl_book_side {
    struct qsl_level *lv;       /* w slots: key k at k & (w - 1) */
    uint64_t *bits;             /* w / 64 words: bit i, key base + i has a level */
    uint64_t *mid;              /* bit j: bits[j] is not 0 */
    uint64_t top;               /* bit k: mid[k] is not 0 */
    uint64_t base;              /* keys are uint64: see qsl_book_key */
    uint32_t w, near;           /* window slots; levels in it */
    uint32_t hi;                /* the best level's bit, when near > 0 (the bitmap's last) */
    uint8_t moved;              /* this side's bit in the book's best_moved */
    struct qsl_far_level *far;  /* keys below base, ascending (the best last) */
    uint32_t nfar, far_cap;
};

struct qsl_book {
    struct qsl_book_side side[2];       /* indexed by enum qsl_side */
    /* Bit 1 << side set when a side's best level was created or dropped: the
     * only ways its best price or presence can change. The engine clears it
     * per operation and reads that side's top only when it is set. */
    uint8_t best_moved;
    struct qsl_book_pool *pool;
    qsl_symbol symbol;
};

struct qsl_trade {
    qsl_order_id taker_id, maker_id;
    qsl_price price;            /* always the maker's price */
    qsl_qty qty;
    uint8_t taker_side;
};

typedef void (*qsl_trade_fn)(void *ctx, const struct qsl_trade *t);

/*
 * A price's rank on a side as an unsigned key: the best level has the
 * highest. Bids rank by price, asks by its negation; the offset 2^63 keeps
 * the order of signed prices, and unsigned arithmetic never overflows.
 */
#define QSL_BOOK_KEY_ZERO (1ull << 63)
static inline uint64_t qsl_book_key(unsigned side, qsl_price price)
{
    uint64_t u = (uint64_t)price;
    return (side == QSL_BUY ? u : 0 - u) + QSL_BOOK_KEY_ZERO;
}
static inline qsl_price qsl_book_price(unsigned side, uint64_t key)
{
    uint64_t u = key - QSL_BOOK_KEY_ZERO;
    return (qsl_price)(side == QSL_BUY ? u : 0 - u);
}

/* A resting order's price. */
static inline qsl_price qsl_book_order_price(const struct qsl_order *o)
{
    return qsl_book_price(o->side, o->key);
}

/* What an incoming order would do, computed without changing the book. */
struct qsl_book_preview {
    uint32_t fills;             /* trades it would cause */
    uint32_t makers_emptied;    /* resting orders it would fully fill (slots it frees) */
    qsl_qty remaining;          /* quantity left after matching */
};

/* max_orders 0: the pool grows while memory lasts (up to QSL_BOOK_ORDERS_MAX); huge: its
 * memory past the first chunk in 2 MiB mappings (above). */
int qsl_book_pool_init(struct qsl_book_pool *p, uint32_t max_orders, int huge);
void qsl_book_pool_free(struct qsl_book_pool *p);
/* Fibonacci hashing: one multiply, the top bits. (symbol, id) pairs from a
 * client are no less predictable under a stronger mix, which is as
 * invertible; the probe length stays bounded by the load factor of 1/2. */
static inline uint32_t qsl_book_home(const struct qsl_index_table *t, qsl_symbol symbol,
                                     qsl_order_id id)
{
    uint64_t x = (id ^ ((uint64_t)symbol << 40)) * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(x >> t->shift);
}

/* The slot holding (symbol, id), QSL_NIL when none. Slots an old table has
 * moved on keep their key but never match. */
static inline uint32_t qsl_book_table_find(const struct qsl_index_table *t, qsl_symbol symbol,
                                           qsl_order_id id)
{
    for (uint32_t i = qsl_book_home(t, symbol, id);; i = (i + 1) & t->mask) {
        const struct qsl_index_slot *s = &t->slot[i];
        if (s->ref == 0)
            return QSL_NIL;
        if (s->id == id && s->symbol == symbol && s->ref != UINT32_MAX)
            return i;
    }
}

uint32_t qsl_book_pool_find_draining(const struct qsl_book_pool *p, qsl_symbol symbol,
                                     qsl_order_id id);

/* The pool index of the order (symbol, id), QSL_NIL when none rests; *at the slot
 * of its index entry (QSL_NIL while a table drains), for qsl_book_remove_at. */
static inline uint32_t qsl_book_pool_find_at(const struct qsl_book_pool *p, qsl_symbol symbol,
                                             qsl_order_id id, uint32_t *at)
{
    *at = QSL_NIL;
    if (p->old.slot)
        return qsl_book_pool_find_draining(p, symbol, id);
    uint32_t i = qsl_book_table_find(&p->index, symbol, id);
    if (i == QSL_NIL)
        return QSL_NIL;
    *at = i;
    return p->index.slot[i].ref - 1;
}
static inline uint32_t qsl_book_pool_find(const struct qsl_book_pool *p, qsl_symbol symbol,
                                          qsl_order_id id)
{
    uint32_t at;
    return qsl_book_pool_find_at(p, symbol, id, &at);
}
/* Ask the cache for the index slot where a find of (symbol, id) in table t starts: a hint,
 * nothing read or changed (any symbol and id give a slot of the table). */
static inline void qsl_book_table_prefetch(struct qsl_index_table t, qsl_symbol symbol,
                                           qsl_order_id id)
{
    __builtin_prefetch(&t.slot[qsl_book_home(&t, symbol, id)]);
}
/* Whether the bound is reached: no order may rest unless one leaves first. */
static inline int qsl_book_pool_full(const struct qsl_book_pool *p)
{
    return p->used >= (p->max_orders ? p->max_orders : QSL_BOOK_ORDERS_MAX);
}
static inline struct qsl_order *qsl_book_order(const struct qsl_book_pool *p, uint32_t idx)
{
    return &p->chunk[idx >> QSL_BOOK_CHUNK_SHIFT][idx & (QSL_BOOK_CHUNK - 1)];
}
/* Bytes the pool and its index hold now (chunks, their directory, tables; a slab or a
 * mapped table counts whole, resident or not). */
size_t qsl_book_pool_bytes(const struct qsl_book_pool *p);

void qsl_book_init(struct qsl_book *b, struct qsl_book_pool *p, qsl_symbol symbol);
void qsl_book_free(struct qsl_book *b);
/* Bytes one book's two sides hold now (windows, bitmaps, overflow). */
size_t qsl_book_bytes(const struct qsl_book *b);

/*
 * Take now whatever memory a later rest at this price on this side could
 * need (an order slot and its index entry unless the bound is reached, the
 * window's growth, overflow room), so that the rest cannot fail after
 * matching has changed the book. -ENOMEM when memory cannot be had. The slow
 * path's slot 0 (qsl_book_reserve_level) leaves out the slot and index entry.
 */
int qsl_book_reserve_slow(struct qsl_book *b, enum qsl_side side, qsl_price price, int slot);
static inline int qsl_book_reserve(struct qsl_book *b, enum qsl_side side, qsl_price price)
{
    const struct qsl_book_side *s = &b->side[side];
    const struct qsl_book_pool *p = b->pool;
    if (qsl_book_key(side, price) - s->base < s->w && s->far_cap > s->near + s->nfar &&
        p->free_head != QSL_NIL && ((uint64_t)p->used + 1) * 2 <= (uint64_t)p->index.mask + 1)
        return 0;
    return qsl_book_reserve_slow(b, side, price, 1);
}
/* The same for an order that keeps its slot and index entry (a modify's new price): only
 * its level's room. */
static inline int qsl_book_reserve_level(struct qsl_book *b, enum qsl_side side,
                                         qsl_price price)
{
    const struct qsl_book_side *s = &b->side[side];
    if (qsl_book_key(side, price) - s->base < s->w && s->far_cap > s->near + s->nfar)
        return 0;
    return qsl_book_reserve_slow(b, side, price, 0);
}

/*
 * Match an incoming order against the opposite side: a buy takes asks while
 * ask <= limit, a sell takes bids while bid >= limit (no limit for market).
 * Returns the quantity left.
 */
qsl_qty qsl_book_match(struct qsl_book *b, enum qsl_side side, qsl_price limit, int market,
                       qsl_qty qty, qsl_order_id taker, qsl_trade_fn fn, void *ctx);

void qsl_book_preview(const struct qsl_book *b, enum qsl_side side, qsl_price limit,
                      int market, qsl_qty qty, struct qsl_book_preview *out);

/* Whether an incoming order would trade at all: the opposite best crosses it. */
static inline int qsl_book_crosses(const struct qsl_book *b, enum qsl_side side,
                                   qsl_price limit, int market)
{
    enum qsl_side other = side == QSL_BUY ? QSL_SELL : QSL_BUY;
    const struct qsl_book_side *o = &b->side[other];
    if (o->near == 0)
        return 0;
    if (market)
        return 1;
    qsl_price best = qsl_book_price(other, o->base + o->hi);
    return side == QSL_BUY ? best <= limit : best >= limit;
}

/* qsl_book_rest after qsl_book_reserve for this price, with nothing added since:
 * cannot fail. */
void qsl_book_rest_reserved(struct qsl_book *b, qsl_order_id id, enum qsl_side side,
                            qsl_price price, qsl_qty qty);

/* Rest an order at the back of its level. -ENOSPC when the pool is at its
 * bound, -ENOMEM when memory cannot be had (not after qsl_book_reserve). */
int qsl_book_rest(struct qsl_book *b, qsl_order_id id, enum qsl_side side, qsl_price price,
                  qsl_qty qty);

/* Remove a resting order (its pool index) and free its slot. */
void qsl_book_remove(struct qsl_book *b, uint32_t idx);
/* The same for an order found by qsl_book_pool_find_at with nothing changed since: its
 * index entry is deleted where the find left it, not looked up again. Here and below, o is
 * qsl_book_order(pool, idx), which the caller has already worked out: passed on, not
 * worked out again after every store (make bench, callgrind: obook 775 -> 764). */
void qsl_book_remove_at(struct qsl_book *b, uint32_t idx, struct qsl_order *o, uint32_t at);

/*
 * A price change in two steps that keep the order's pool slot and index
 * entry (same symbol, same id): unlink it from its level (it is then in no
 * level, invisible to matching), match its remainder if it crosses, then
 * either relink it at the back of the level for its new price (reserved
 * before the unlink) or release its slot.
 */
void qsl_book_unlink(struct qsl_book *b, struct qsl_order *o);
void qsl_book_relink(struct qsl_book *b, uint32_t idx, struct qsl_order *o, qsl_price price,
                     qsl_qty qty);
void qsl_book_release(struct qsl_book *b, uint32_t idx, struct qsl_order *o);

/* Lower a resting order's quantity in place, keeping its time priority. */
void qsl_book_reduce(struct qsl_book *b, struct qsl_order *o, qsl_qty qty);

/* Best price of a side: 1 and *price when present, 0 when the side is empty
 * (a side with levels always has its best in the window). */
static inline int qsl_book_best(const struct qsl_book *b, enum qsl_side side, qsl_price *price)
{
    const struct qsl_book_side *s = &b->side[side];
    if (s->near == 0)
        return 0;
    *price = qsl_book_price(side, s->base + s->hi);
    return 1;
}

/* Visit a side's levels from the best until fn returns 0. */
typedef int (*qsl_level_fn)(void *ctx, qsl_price price, uint64_t total, uint32_t count);
void qsl_book_walk(const struct qsl_book *b, enum qsl_side side, qsl_level_fn fn, void *ctx);

/* Level i of a side counted from the best (0); 0 when there is no such level. */
int qsl_book_level(const struct qsl_book *b, enum qsl_side side, uint32_t i, qsl_price *price,
                   uint64_t *total, uint32_t *count);

static inline uint32_t qsl_book_depth(const struct qsl_book *b, enum qsl_side side)
{
    return b->side[side].near + b->side[side].nfar;
}

#endif
