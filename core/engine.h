/*
 * engine.h - the multi-symbol matching engine.
 *
 * Symbols are 0 .. symbols-1. Every operation runs the checks in the
 * original's order (unknown symbol, duplicate id or unknown order, risk,
 * then storage, which the original does not have) before it changes anything,
 * so a reject leaves the engine exactly as it was. Events go to a caller's
 * callback as they happen: Accepted/Canceled/Modified first, then one Trade
 * per fill, then at most one TopOfBook when the symbol's best bid or ask
 * (price or presence) changed. Accepted, Canceled, Modified and Trade carry
 * the engine sequence (1, 2, 3, ... strictly increasing, as the original's
 * Ack and Fill report it); TopOfBook carries seq 0 (the feed numbers it).
 */
#ifndef QSL_ENGINE_H
#define QSL_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "book.h"
#include "risk.h"
#include "types.h"

enum qsl_event_kind {
    QSL_EV_ACCEPTED,
    QSL_EV_CANCELED,
    QSL_EV_MODIFIED,
    QSL_EV_TRADE,
    QSL_EV_TOP_OF_BOOK
};

struct qsl_event {
    uint8_t kind;
    uint8_t bid_present, ask_present;   /* TopOfBook */
    uint8_t taker_side;                 /* Trade */
    qsl_symbol symbol;
    uint64_t seq;
    qsl_order_id order_id;              /* the order; the taker for a Trade */
    qsl_order_id maker_id;              /* Trade */
    qsl_price price;                    /* Trade: the maker's price */
    qsl_qty qty;                        /* Trade */
    qsl_price bid, ask;                 /* TopOfBook */
};

typedef void (*qsl_event_fn)(void *ctx, const struct qsl_event *ev);

struct qsl_order_req {
    qsl_order_id order_id;
    qsl_symbol symbol;
    qsl_price price;            /* ignored for market orders */
    qsl_qty qty;
    uint8_t side;               /* enum qsl_side; checked (InvalidSide) */
    uint8_t order_type;         /* enum qsl_order_type; anything but Limit is Market */
    uint8_t tif;                /* enum qsl_tif; anything but GTC never rests */
};

struct qsl_engine_config {
    uint32_t symbols;
    uint32_t max_orders;        /* resting orders across all symbols; 0: no bound */
    uint8_t huge_pages;         /* a pool past 1,024 orders grows in 2 MiB mappings (book.h) */
    struct qsl_risk_limits risk;
};

struct qsl_engine_stats {
    uint64_t accepted, canceled, modified, trades, top_of_book;
    uint64_t rejects[QSL_REJECT_COUNT];
};

struct qsl_engine {
    struct qsl_book_pool pool;
    struct qsl_book *books;
    /* per symbol, its TopOfBook event as last published: a change is compared against it
     * and written into it, and the event handed on is that one */
    struct qsl_event *tobs;
    uint32_t symbols;
    uint64_t seq;               /* last engine sequence handed out */
    struct qsl_risk_limits risk;
    struct qsl_engine_stats stats;
    /* the callback of the operation in progress */
    qsl_event_fn fn;
    void *ctx;
    qsl_symbol cur_symbol;
    /* One event per kind family, zeroed once: each is written only with its own
     * kind's fields, so the others stay 0 as a fresh event's would, at no cost. */
    struct qsl_event ev_order, ev_trade;
};

void qsl_engine_config_defaults(struct qsl_engine_config *c);
int qsl_engine_init(struct qsl_engine *e, const struct qsl_engine_config *c);
void qsl_engine_free(struct qsl_engine *e);

enum qsl_reject qsl_engine_submit(struct qsl_engine *e, const struct qsl_order_req *r,
                                  qsl_event_fn fn, void *ctx);
enum qsl_reject qsl_engine_cancel(struct qsl_engine *e, qsl_symbol symbol, qsl_order_id id,
                                  qsl_event_fn fn, void *ctx);
/* The original's rule: quantity 0 cancels the order (a Canceled event).
 * Otherwise the risk checks on (price, qty); then the same price and a
 * quantity not larger than the resting one reduces it in place and keeps
 * time priority; anything else loses it: the order leaves the book and
 * re-enters as a GTC limit at the back of its new level (it may trade). */
enum qsl_reject qsl_engine_modify(struct qsl_engine *e, qsl_symbol symbol, qsl_order_id id,
                                  qsl_price price, qsl_qty qty, qsl_event_fn fn, void *ctx);

/*
 * The reject a submit would give, and if none, the number of fills it would
 * cause; nothing changes. Lets a session size its response before acting.
 * fills NULL: the reject only, without walking the book for the fills.
 */
enum qsl_reject qsl_engine_preview(const struct qsl_engine *e, const struct qsl_order_req *r,
                                   uint32_t *fills);

/* qsl_engine_submit for an order just previewed, given the preview's verdict: the
 * admission checks are not made twice. Nothing may change the engine in between. */
enum qsl_reject qsl_engine_submit_previewed(struct qsl_engine *e, const struct qsl_order_req *r,
                                            enum qsl_reject previewed, qsl_event_fn fn,
                                            void *ctx);

/* Requests for orders are coming: qsl_book_table_prefetch(qsl_engine_index(e), symbol, id)
 * starts fetching where each one's lookup begins, so that several requests' cache misses
 * overlap (a hint; nothing changes). The table is valid until the engine next changes. */
static inline struct qsl_index_table qsl_engine_index(const struct qsl_engine *e)
{
    return e->pool.index;
}

static inline const struct qsl_book *qsl_engine_book(const struct qsl_engine *e, qsl_symbol s)
{
    return s < e->symbols ? &e->books[s] : 0;
}
/* Bytes the engine's books, order pool and index hold now. */
size_t qsl_engine_bytes(const struct qsl_engine *e);

static inline uint32_t qsl_engine_resting(const struct qsl_engine *e)
{
    return e->pool.used;
}

#endif
