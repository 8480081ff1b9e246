/*
 * book.h - one symbol's price-time order book over a shared order pool.
 *
 * Orders live in a fixed pool (allocated once) and are found by (symbol, id)
 * through an open-addressing index, so cancel is O(1) and steady state never
 * allocates. Levels live in a per-book pool with stable indices (an order
 * knows its level, so cancel needs no search); each side keeps a small array
 * of (key, level) sorted so that the best level is last: matching pops from
 * the end, and a new order finds its level by binary search. Within a level,
 * orders form a FIFO list (time priority). Level storage grows by doubling
 * and is never given back, so a book in steady state does not allocate.
 */
#ifndef QSL_BOOK_H
#define QSL_BOOK_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

#define QSL_NIL UINT32_MAX

struct qsl_order {
    qsl_order_id id;
    qsl_price price;
    uint32_t prev, next;        /* FIFO neighbours in the level, QSL_NIL at the ends */
    uint32_t level;             /* index in the book's level pool */
    qsl_qty qty;                /* open quantity */
    qsl_symbol symbol;
    uint8_t side;
};

struct qsl_book_pool {
    struct qsl_order *orders;
    uint32_t *slots;            /* index: order index + 1, 0 = empty */
    uint32_t mask;              /* slots - 1 (a power of two minus one) */
    uint32_t shift;             /* 64 - log2(slots): the hash's top bits index the slots */
    uint32_t capacity;
    uint32_t used;
    uint32_t free_head;         /* free list through orders[i].next */
};

struct qsl_level {
    uint64_t total;             /* open quantity at the level */
    uint32_t head, tail;        /* FIFO of orders; head doubles as the free-list link */
    uint32_t count;
};

struct qsl_level_ref {
    qsl_price key;              /* price for bids, -price for asks: ascending, best last */
    uint32_t level;
};

struct qsl_book_side {
    struct qsl_level_ref *ref;
    uint32_t n, cap;
};

struct qsl_book {
    struct qsl_book_side side[2];       /* indexed by enum qsl_side */
    /* Set when a side's best level was created or dropped: the only ways its
     * best price or presence can change. The engine clears it per operation
     * and reads the top of book only when it is set. */
    uint8_t best_moved;
    struct qsl_level *levels;
    uint32_t levels_cap, level_free;
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

/* What an incoming order would do, computed without changing the book. */
struct qsl_book_preview {
    uint32_t fills;             /* trades it would cause */
    uint32_t makers_emptied;    /* resting orders it would fully fill (slots it frees) */
    qsl_qty remaining;          /* quantity left after matching */
};

int qsl_book_pool_init(struct qsl_book_pool *p, uint32_t capacity);
void qsl_book_pool_free(struct qsl_book_pool *p);
uint32_t qsl_book_pool_find(const struct qsl_book_pool *p, qsl_symbol symbol, qsl_order_id id);
static inline uint32_t qsl_book_pool_free_slots(const struct qsl_book_pool *p)
{
    return p->capacity - p->used;
}

int qsl_book_init(struct qsl_book *b, struct qsl_book_pool *p, qsl_symbol symbol);
void qsl_book_free(struct qsl_book *b);

/* Make room for one more level on a side, so a later rest cannot fail. */
int qsl_book_reserve(struct qsl_book *b, enum qsl_side side);

/*
 * Match an incoming order against the opposite side: a buy takes asks while
 * ask <= limit, a sell takes bids while bid >= limit (no limit for market).
 * Returns the quantity left.
 */
qsl_qty qsl_book_match(struct qsl_book *b, enum qsl_side side, qsl_price limit, int market,
                       qsl_qty qty, qsl_order_id taker, qsl_trade_fn fn, void *ctx);

void qsl_book_preview(const struct qsl_book *b, enum qsl_side side, qsl_price limit,
                      int market, qsl_qty qty, struct qsl_book_preview *out);

/* Rest an order at the back of its level. -ENOSPC when the pool is full,
 * -ENOMEM when the level array cannot grow. */
int qsl_book_rest(struct qsl_book *b, qsl_order_id id, enum qsl_side side, qsl_price price,
                  qsl_qty qty);

/* Remove a resting order (its pool index) and free its slot. */
void qsl_book_remove(struct qsl_book *b, uint32_t idx);

/*
 * A price change in two steps that keep the order's pool slot and index
 * entry (same symbol, same id): unlink it from its level (it is then in no
 * level, invisible to matching), match its remainder if it crosses, then
 * either relink it at the back of the level for its new price (-ENOMEM only
 * without a level reserve) or release its slot.
 */
void qsl_book_unlink(struct qsl_book *b, uint32_t idx);
int qsl_book_relink(struct qsl_book *b, uint32_t idx, qsl_price price, qsl_qty qty);
void qsl_book_release(struct qsl_book *b, uint32_t idx);

/* Lower a resting order's quantity in place, keeping its time priority. */
void qsl_book_reduce(struct qsl_book *b, uint32_t idx, qsl_qty qty);

/* Best price of a side: 1 and *price when present, 0 when the side is empty. */
static inline int qsl_book_best(const struct qsl_book *b, enum qsl_side side, qsl_price *price)
{
    const struct qsl_book_side *s = &b->side[side];
    if (s->n == 0)
        return 0;
    *price = side == QSL_BUY ? s->ref[s->n - 1].key : -s->ref[s->n - 1].key;
    return 1;
}

/* Level i of a side counted from the best (0); 0 when there is no such level. */
int qsl_book_level(const struct qsl_book *b, enum qsl_side side, uint32_t i, qsl_price *price,
                   uint64_t *total, uint32_t *count);

static inline uint32_t qsl_book_depth(const struct qsl_book *b, enum qsl_side side)
{
    return b->side[side].n;
}

#endif
