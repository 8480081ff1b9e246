/*
 * test_engine.c - matching rules, rejects, events, modify priority, storage,
 * and a long seeded flow checked step by step against a naive reference book.
 */
#include <stdlib.h>

#include "bench_floor.h"
#include "engine.h"
#include "flow.h"
#include "recorder.h"
#include "suites.h"

static struct qsl_engine eng;
static struct recorder rec;

static void setup_cap(uint32_t max_orders)
{
    struct qsl_engine_config c;
    qsl_engine_config_defaults(&c);
    c.symbols = 2;
    c.max_orders = max_orders;
    c.risk.max_quantity = 1000;
    c.risk.max_notional = 1000000;
    ck_assert_int_eq(qsl_engine_init(&eng, &c), 0);
    memset(&rec, 0, sizeof rec);
}

static void setup(void) { setup_cap(0); }
static void teardown(void) { qsl_engine_free(&eng); }

static enum qsl_reject submit(struct qsl_order_req r)
{
    memset(&rec, 0, sizeof rec);
    return qsl_engine_submit(&eng, &r, record, &rec);
}

static qsl_price best(enum qsl_side side)
{
    qsl_price p = 0;
    return qsl_book_best(qsl_engine_book(&eng, 0), side, &p) ? p : -1;
}

static const struct qsl_event *trade(unsigned i)
{
    unsigned seen = 0;
    for (unsigned k = 0; k < rec.n; k++)
        if (rec.ev[k].kind == QSL_EV_TRADE && seen++ == i)
            return &rec.ev[k];
    ck_abort_msg("no trade %u", i);
    return NULL;
}

START_TEST(test_limit_rests_when_it_does_not_cross)
{
    ck_assert_int_eq(submit(limit(1, 0, QSL_BUY, 100, 5, QSL_GTC)), QSL_REJECT_NONE);
    ck_assert_int_eq(submit(limit(2, 0, QSL_SELL, 101, 5, QSL_GTC)), QSL_REJECT_NONE);
    ck_assert_int_eq(best(QSL_BUY), 100);
    ck_assert_int_eq(best(QSL_SELL), 101);
    ck_assert_uint_eq(count_kind(&rec, QSL_EV_TRADE), 0);
}
END_TEST

START_TEST(test_fill_is_at_the_makers_price)
{
    submit(limit(1, 0, QSL_SELL, 100, 5, QSL_GTC));
    submit(limit(2, 0, QSL_BUY, 105, 5, QSL_GTC));
    ck_assert_uint_eq(count_kind(&rec, QSL_EV_TRADE), 1);
    ck_assert_int_eq(trade(0)->price, 100);
    ck_assert_uint_eq(trade(0)->order_id, 2);
    ck_assert_uint_eq(trade(0)->maker_id, 1);
    ck_assert_int_eq(best(QSL_SELL), -1);
    ck_assert_int_eq(best(QSL_BUY), -1);
}
END_TEST

START_TEST(test_better_price_fills_first_then_level_by_level)
{
    submit(limit(1, 0, QSL_SELL, 103, 2, QSL_GTC));
    submit(limit(2, 0, QSL_SELL, 101, 2, QSL_GTC));
    submit(limit(3, 0, QSL_SELL, 102, 2, QSL_GTC));
    submit(limit(4, 0, QSL_BUY, 102, 5, QSL_GTC));
    ck_assert_uint_eq(count_kind(&rec, QSL_EV_TRADE), 2);
    ck_assert_uint_eq(trade(0)->maker_id, 2);
    ck_assert_uint_eq(trade(1)->maker_id, 3);
    /* 1 left over rests as the new best bid; 103 untouched */
    ck_assert_int_eq(best(QSL_BUY), 102);
    ck_assert_int_eq(best(QSL_SELL), 103);
}
END_TEST

START_TEST(test_oldest_order_at_a_level_fills_first)
{
    submit(limit(1, 0, QSL_BUY, 100, 3, QSL_GTC));
    submit(limit(2, 0, QSL_BUY, 100, 3, QSL_GTC));
    submit(limit(3, 0, QSL_BUY, 100, 3, QSL_GTC));
    submit(limit(4, 0, QSL_SELL, 100, 4, QSL_GTC));
    ck_assert_uint_eq(trade(0)->maker_id, 1);
    ck_assert_uint_eq(trade(0)->qty, 3);
    ck_assert_uint_eq(trade(1)->maker_id, 2);
    ck_assert_uint_eq(trade(1)->qty, 1);
}
END_TEST

START_TEST(test_gtc_remainder_rests)
{
    submit(limit(1, 0, QSL_SELL, 100, 2, QSL_GTC));
    submit(limit(2, 0, QSL_BUY, 100, 5, QSL_GTC));
    uint64_t total;
    ck_assert(qsl_book_level(qsl_engine_book(&eng, 0), QSL_BUY, 0, NULL, &total, NULL));
    ck_assert_uint_eq(total, 3);
}
END_TEST

START_TEST(test_ioc_remainder_never_rests)
{
    submit(limit(1, 0, QSL_SELL, 100, 3, QSL_GTC));
    ck_assert_int_eq(submit(limit(2, 0, QSL_BUY, 100, 5, QSL_IOC)), QSL_REJECT_NONE);
    ck_assert_uint_eq(count_kind(&rec, QSL_EV_TRADE), 1);
    ck_assert_int_eq(best(QSL_BUY), -1);
    /* an IOC that cannot cross is accepted and discarded */
    ck_assert_int_eq(submit(limit(3, 0, QSL_BUY, 99, 4, QSL_IOC)), QSL_REJECT_NONE);
    ck_assert_uint_eq(count_kind(&rec, QSL_EV_ACCEPTED), 1);
    ck_assert_uint_eq(qsl_engine_resting(&eng), 0);
}
END_TEST

START_TEST(test_market_sweeps_levels_and_never_rests)
{
    submit(limit(1, 0, QSL_SELL, 100, 1, QSL_GTC));
    submit(limit(2, 0, QSL_SELL, 250, 1, QSL_GTC));
    ck_assert_int_eq(submit(market(3, 0, QSL_BUY, 5)), QSL_REJECT_NONE);
    ck_assert_uint_eq(count_kind(&rec, QSL_EV_TRADE), 2);
    ck_assert_int_eq(trade(1)->price, 250);
    ck_assert_uint_eq(qsl_engine_resting(&eng), 0);
    ck_assert_int_eq(submit(market(4, 0, QSL_SELL, 5)), QSL_REJECT_NONE);
    ck_assert_uint_eq(count_kind(&rec, QSL_EV_TRADE), 0);
    ck_assert_uint_eq(qsl_engine_resting(&eng), 0);
}
END_TEST

START_TEST(test_cancel_removes_and_unknown_is_rejected)
{
    submit(limit(1, 0, QSL_BUY, 100, 1, QSL_GTC));
    ck_assert_int_eq(qsl_engine_cancel(&eng, 0, 1, record, &rec), QSL_REJECT_NONE);
    ck_assert_int_eq(best(QSL_BUY), -1);
    ck_assert_int_eq(qsl_engine_cancel(&eng, 0, 1, record, &rec), QSL_REJECT_UNKNOWN_ORDER);
    ck_assert_int_eq(qsl_engine_cancel(&eng, 0, 999, record, &rec), QSL_REJECT_UNKNOWN_ORDER);
    ck_assert_int_eq(qsl_engine_cancel(&eng, 9, 1, record, &rec), QSL_REJECT_UNKNOWN_SYMBOL);
}
END_TEST

START_TEST(test_cancel_of_a_filled_order_is_unknown)
{
    submit(limit(1, 0, QSL_BUY, 100, 1, QSL_GTC));
    submit(limit(2, 0, QSL_SELL, 100, 1, QSL_GTC));
    ck_assert_int_eq(qsl_engine_cancel(&eng, 0, 1, record, &rec), QSL_REJECT_UNKNOWN_ORDER);
}
END_TEST

START_TEST(test_duplicate_active_id_rejected_per_symbol)
{
    submit(limit(1, 0, QSL_BUY, 100, 1, QSL_GTC));
    ck_assert_int_eq(submit(limit(1, 0, QSL_SELL, 200, 1, QSL_GTC)), QSL_REJECT_DUPLICATE_ORDER_ID);
    ck_assert_int_eq(submit(market(1, 0, QSL_SELL, 1)), QSL_REJECT_DUPLICATE_ORDER_ID);
    ck_assert_uint_eq(rec.n, 0);
    /* the same id on another symbol is another order */
    ck_assert_int_eq(submit(limit(1, 1, QSL_BUY, 100, 1, QSL_GTC)), QSL_REJECT_NONE);
    /* once inactive, the id may be used again */
    qsl_engine_cancel(&eng, 0, 1, NULL, NULL);
    ck_assert_int_eq(submit(limit(1, 0, QSL_BUY, 100, 1, QSL_GTC)), QSL_REJECT_NONE);
}
END_TEST

START_TEST(test_every_reject_reason_reachable)
{
    ck_assert_int_eq(submit(limit(1, 7, QSL_BUY, 100, 1, QSL_GTC)), QSL_REJECT_UNKNOWN_SYMBOL);
    ck_assert_int_eq(submit(limit(1, 0, QSL_BUY, 0, 1, QSL_GTC)), QSL_REJECT_INVALID_PRICE);
    ck_assert_int_eq(submit(limit(1, 0, QSL_BUY, 10, 0, QSL_GTC)), QSL_REJECT_INVALID_QUANTITY);
    struct qsl_order_req bad = limit(1, 0, QSL_BUY, 10, 1, QSL_GTC);
    bad.side = 2;
    ck_assert_int_eq(submit(bad), QSL_REJECT_INVALID_SIDE);
    ck_assert_int_eq(submit(limit(1, 0, QSL_BUY, 1, 1001, QSL_GTC)), QSL_REJECT_MAX_QUANTITY_EXCEEDED);
    ck_assert_int_eq(submit(limit(1, 0, QSL_BUY, 1001, 1000, QSL_GTC)), QSL_REJECT_MAX_NOTIONAL_EXCEEDED);
    ck_assert_uint_eq(rec.n, 0);
    ck_assert_uint_eq(eng.stats.rejects[QSL_REJECT_INVALID_PRICE], 1);
    ck_assert_uint_eq(eng.seq, 0);      /* a reject consumes no sequence number */
}
END_TEST

/* Two checks failing at once: the original's order decides, whichever pair. */
enum { F_SYMBOL, F_DUPLICATE, F_PRICE, F_QTY_ZERO, F_QTY_MAX, F_NOTIONAL, F_COUNT };

static void apply_failure(struct qsl_order_req *r, int f)
{
    switch (f) {
    case F_SYMBOL: r->symbol = 7; break;
    case F_DUPLICATE: r->order_id = 1; break;       /* id 1 rests on symbol 0 */
    case F_PRICE: r->price = 0; break;
    case F_QTY_ZERO: r->qty = 0; break;
    case F_QTY_MAX: r->qty = 1001; break;
    default: r->price = 600000; r->qty = r->qty < 2 ? 2 : r->qty; break;
    }
}

static int fails(const struct qsl_order_req *r, int f)
{
    switch (f) {
    case F_SYMBOL: return r->symbol >= 3;
    case F_DUPLICATE: return r->order_id == 1 && r->symbol == 0;
    case F_PRICE: return r->price <= 0;
    case F_QTY_ZERO: return r->qty == 0;
    case F_QTY_MAX: return r->qty > 1000;
    default: return r->price > 0 && (uint64_t)r->price * r->qty > 1000000;
    }
}

START_TEST(test_two_failures_first_in_the_originals_order_wins)
{
    static const enum qsl_reject reason[F_COUNT] = {
        QSL_REJECT_UNKNOWN_SYMBOL, QSL_REJECT_DUPLICATE_ORDER_ID, QSL_REJECT_INVALID_PRICE,
        QSL_REJECT_INVALID_QUANTITY, QSL_REJECT_MAX_QUANTITY_EXCEEDED,
        QSL_REJECT_MAX_NOTIONAL_EXCEEDED};
    submit(limit(1, 0, QSL_BUY, 50, 1, QSL_GTC));
    int pairs = 0;
    for (int a = 0; a < F_COUNT; a++)
        for (int b = 0; b < F_COUNT; b++) {
            if (a == b)
                continue;
            /* a then b, and (in its own turn of the loop) b then a */
            struct qsl_order_req r = limit(9, 0, QSL_SELL, 100, 1, QSL_GTC);
            apply_failure(&r, a);
            apply_failure(&r, b);
            if (!fails(&r, a) || !fails(&r, b))
                continue;       /* the two cannot hold together (qty 0 and qty 1001, ...) */
            int first = a < b ? a : b;
            ck_assert_msg(submit(r) == reason[first], "failures %d+%d: got %d, want %d", a, b,
                          submit(r), reason[first]);
            pairs++;
            if (first == F_SYMBOL || first == F_DUPLICATE || b == F_NOTIONAL || a == F_NOTIONAL ||
                b == F_PRICE || a == F_PRICE)
                continue;
            /* a market order has no price: the same pair without a price check */
            r.order_type = QSL_MARKET;
            ck_assert_int_eq(submit(r), reason[first]);
        }
    ck_assert_int_ge(pairs, 16);
    /* market orders: the duplicate id before quantity */
    struct qsl_order_req m = market(1, 0, QSL_SELL, 0);
    ck_assert_int_eq(submit(m), QSL_REJECT_DUPLICATE_ORDER_ID);
    m.qty = 1001;
    ck_assert_int_eq(submit(m), QSL_REJECT_DUPLICATE_ORDER_ID);
    /* cancel: unknown symbol before unknown order */
    ck_assert_int_eq(qsl_engine_cancel(&eng, 7, 99, NULL, NULL), QSL_REJECT_UNKNOWN_SYMBOL);
    ck_assert_int_eq(qsl_engine_cancel(&eng, 0, 99, NULL, NULL), QSL_REJECT_UNKNOWN_ORDER);
    ck_assert_uint_eq(qsl_engine_resting(&eng), 1);
}
END_TEST

START_TEST(test_events_are_sequenced_and_ack_comes_first)
{
    submit(limit(1, 0, QSL_SELL, 100, 1, QSL_GTC));
    submit(limit(2, 0, QSL_SELL, 100, 1, QSL_GTC));
    submit(limit(3, 0, QSL_BUY, 100, 2, QSL_GTC));
    ck_assert_uint_eq(rec.n, 4);        /* accepted, trade, trade, top of book */
    ck_assert_int_eq(rec.ev[0].kind, QSL_EV_ACCEPTED);
    ck_assert_uint_eq(rec.ev[0].seq, 3);
    ck_assert_uint_eq(rec.ev[1].seq, 4);
    ck_assert_uint_eq(rec.ev[2].seq, 5);
    ck_assert_int_eq(rec.ev[3].kind, QSL_EV_TOP_OF_BOOK);
    ck_assert_int_eq(rec.ev[3].ask_present, 0);
    ck_assert_int_eq(rec.ev[3].bid_present, 0);
}
END_TEST

START_TEST(test_top_of_book_only_when_best_changes)
{
    submit(limit(1, 0, QSL_BUY, 100, 1, QSL_GTC));
    ck_assert_uint_eq(count_kind(&rec, QSL_EV_TOP_OF_BOOK), 1);
    ck_assert_int_eq(rec.ev[1].bid, 100);
    submit(limit(2, 0, QSL_BUY, 99, 1, QSL_GTC));        /* behind the best */
    ck_assert_uint_eq(count_kind(&rec, QSL_EV_TOP_OF_BOOK), 0);
    submit(limit(3, 0, QSL_BUY, 100, 1, QSL_GTC));       /* joins the best: same price */
    ck_assert_uint_eq(count_kind(&rec, QSL_EV_TOP_OF_BOOK), 0);
    memset(&rec, 0, sizeof rec);
    qsl_engine_cancel(&eng, 0, 2, record, &rec);
    ck_assert_uint_eq(count_kind(&rec, QSL_EV_TOP_OF_BOOK), 0);
}
END_TEST

START_TEST(test_modify_smaller_same_price_keeps_priority)
{
    submit(limit(1, 0, QSL_BUY, 100, 5, QSL_GTC));
    submit(limit(2, 0, QSL_BUY, 100, 5, QSL_GTC));
    ck_assert_int_eq(qsl_engine_modify(&eng, 0, 1, 100, 2, NULL, NULL), QSL_REJECT_NONE);
    submit(limit(3, 0, QSL_SELL, 100, 1, QSL_GTC));
    ck_assert_uint_eq(trade(0)->maker_id, 1);
    uint64_t total;
    qsl_book_level(qsl_engine_book(&eng, 0), QSL_BUY, 0, NULL, &total, NULL);
    ck_assert_uint_eq(total, 6);
}
END_TEST

START_TEST(test_modify_larger_quantity_loses_priority)
{
    submit(limit(1, 0, QSL_BUY, 100, 5, QSL_GTC));
    submit(limit(2, 0, QSL_BUY, 100, 5, QSL_GTC));
    ck_assert_int_eq(qsl_engine_modify(&eng, 0, 1, 100, 6, NULL, NULL), QSL_REJECT_NONE);
    submit(limit(3, 0, QSL_SELL, 100, 1, QSL_GTC));
    ck_assert_uint_eq(trade(0)->maker_id, 2);
}
END_TEST

/* The original: same price and a quantity not larger keeps priority. */
START_TEST(test_modify_same_quantity_keeps_priority)
{
    submit(limit(1, 0, QSL_BUY, 100, 5, QSL_GTC));
    submit(limit(2, 0, QSL_BUY, 100, 5, QSL_GTC));
    ck_assert_int_eq(qsl_engine_modify(&eng, 0, 1, 100, 5, NULL, NULL), QSL_REJECT_NONE);
    submit(limit(3, 0, QSL_SELL, 100, 1, QSL_GTC));
    ck_assert_uint_eq(trade(0)->maker_id, 1);
}
END_TEST

START_TEST(test_modify_new_price_loses_priority)
{
    submit(limit(1, 0, QSL_BUY, 100, 5, QSL_GTC));
    submit(limit(2, 0, QSL_BUY, 101, 5, QSL_GTC));
    /* to 101 with a smaller quantity: a new price goes to the back of its level */
    ck_assert_int_eq(qsl_engine_modify(&eng, 0, 1, 101, 2, NULL, NULL), QSL_REJECT_NONE);
    submit(limit(3, 0, QSL_SELL, 101, 6, QSL_GTC));
    ck_assert_uint_eq(trade(0)->maker_id, 2);
    ck_assert_uint_eq(trade(1)->maker_id, 1);
    ck_assert_uint_eq(trade(1)->qty, 1);
}
END_TEST

START_TEST(test_modify_quantity_zero_cancels)
{
    submit(limit(1, 0, QSL_BUY, 100, 5, QSL_GTC));
    memset(&rec, 0, sizeof rec);
    ck_assert_int_eq(qsl_engine_modify(&eng, 0, 1, 0, 0, record, &rec), QSL_REJECT_NONE);
    ck_assert_int_eq(rec.ev[0].kind, QSL_EV_CANCELED);
    ck_assert_int_eq(rec.ev[1].kind, QSL_EV_TOP_OF_BOOK);
    ck_assert_int_eq(best(QSL_BUY), -1);
    ck_assert_uint_eq(qsl_engine_resting(&eng), 0);
    /* gone: a second modify is an unknown order, before any other check */
    ck_assert_int_eq(qsl_engine_modify(&eng, 0, 1, 0, 0, NULL, NULL), QSL_REJECT_UNKNOWN_ORDER);
}
END_TEST

START_TEST(test_modify_to_a_crossing_price_trades)
{
    submit(limit(1, 0, QSL_SELL, 105, 3, QSL_GTC));
    submit(limit(2, 0, QSL_BUY, 100, 5, QSL_GTC));
    memset(&rec, 0, sizeof rec);
    ck_assert_int_eq(qsl_engine_modify(&eng, 0, 2, 106, 5, record, &rec), QSL_REJECT_NONE);
    ck_assert_int_eq(rec.ev[0].kind, QSL_EV_MODIFIED);
    ck_assert_uint_eq(count_kind(&rec, QSL_EV_TRADE), 1);
    ck_assert_int_eq(trade(0)->price, 105);
    ck_assert_int_eq(best(QSL_BUY), 106);       /* remainder 2 rests at the new price */
    ck_assert_int_eq(best(QSL_SELL), -1);
}
END_TEST

START_TEST(test_modify_rejects)
{
    ck_assert_int_eq(qsl_engine_modify(&eng, 0, 1, 100, 1, NULL, NULL), QSL_REJECT_UNKNOWN_ORDER);
    ck_assert_int_eq(qsl_engine_modify(&eng, 5, 1, 100, 1, NULL, NULL), QSL_REJECT_UNKNOWN_SYMBOL);
    submit(limit(1, 0, QSL_BUY, 100, 5, QSL_GTC));
    ck_assert_int_eq(qsl_engine_modify(&eng, 0, 1, -1, 1, NULL, NULL), QSL_REJECT_INVALID_PRICE);
    ck_assert_int_eq(qsl_engine_modify(&eng, 0, 1, 100, 2000000, NULL, NULL),
                     QSL_REJECT_MAX_QUANTITY_EXCEEDED);
    ck_assert_int_eq(qsl_engine_modify(&eng, 0, 1, 2000000, 1000, NULL, NULL),
                     QSL_REJECT_MAX_NOTIONAL_EXCEEDED);
    /* two failures at once: unknown symbol before unknown order, unknown order before risk */
    ck_assert_int_eq(qsl_engine_modify(&eng, 9, 7, -1, 1, NULL, NULL), QSL_REJECT_UNKNOWN_SYMBOL);
    ck_assert_int_eq(qsl_engine_modify(&eng, 0, 7, -1, 1, NULL, NULL), QSL_REJECT_UNKNOWN_ORDER);
    ck_assert_int_eq(best(QSL_BUY), 100);
}
END_TEST

START_TEST(test_full_pool_rejects_storage_exhausted)
{
    teardown();
    setup_cap(2);
    submit(limit(1, 0, QSL_BUY, 100, 1, QSL_GTC));
    submit(limit(2, 0, QSL_BUY, 99, 1, QSL_GTC));
    ck_assert_int_eq(submit(limit(3, 0, QSL_BUY, 98, 1, QSL_GTC)), QSL_REJECT_STORAGE_EXHAUSTED);
    ck_assert_uint_eq(rec.n, 0);
    /* what does not need a slot still works */
    ck_assert_int_eq(submit(limit(4, 0, QSL_SELL, 200, 1, QSL_IOC)), QSL_REJECT_NONE);
    /* a partial cross that frees no slot and would rest is refused before it trades */
    ck_assert_int_eq(submit(limit(5, 0, QSL_SELL, 100, 1, QSL_GTC)), QSL_REJECT_NONE);
    ck_assert_uint_eq(count_kind(&rec, QSL_EV_TRADE), 1);   /* emptied maker 1: slot freed */
    submit(limit(6, 0, QSL_BUY, 100, 1, QSL_GTC));           /* takes the freed slot */
    ck_assert_int_eq(qsl_engine_resting(&eng), 2);
    ck_assert_int_eq(submit(limit(7, 0, QSL_SELL, 100, 3, QSL_GTC)), QSL_REJECT_NONE);
    ck_assert_int_eq(qsl_engine_resting(&eng), 2);          /* filled 6, rests 2 in its slot */
    /* a modify to a new price keeps its slot: a full pool does not refuse it */
    ck_assert_int_eq(qsl_engine_modify(&eng, 0, 2, 97, 1, NULL, NULL), QSL_REJECT_NONE);
    ck_assert_int_eq(qsl_engine_modify(&eng, 0, 7, 150, 2, NULL, NULL), QSL_REJECT_NONE);
    ck_assert_int_eq(qsl_engine_resting(&eng), 2);
    ck_assert_int_eq(best(QSL_BUY), 97);
}
END_TEST

START_TEST(test_preview_matches_submit)
{
    submit(limit(1, 0, QSL_SELL, 100, 1, QSL_GTC));
    submit(limit(2, 0, QSL_SELL, 101, 1, QSL_GTC));
    struct qsl_order_req r = limit(3, 0, QSL_BUY, 101, 5, QSL_GTC);
    uint32_t fills = 99;
    ck_assert_int_eq(qsl_engine_preview(&eng, &r, &fills), QSL_REJECT_NONE);
    ck_assert_uint_eq(fills, 2);
    ck_assert_uint_eq(qsl_engine_resting(&eng), 2);
    submit(r);
    ck_assert_uint_eq(count_kind(&rec, QSL_EV_TRADE), fills);
    r.order_id = 3;
    ck_assert_int_eq(qsl_engine_preview(&eng, &r, &fills), QSL_REJECT_DUPLICATE_ORDER_ID);
}
END_TEST

/* The session's path: preview, then submit with the preview's verdict - the same events
 * and counts as a plain submit, a reject included, with admission checked once. */
START_TEST(test_submit_previewed_is_submit)
{
    submit(limit(1, 0, QSL_SELL, 100, 2, QSL_GTC));
    struct qsl_order_req r = limit(2, 0, QSL_BUY, 100, 3, QSL_GTC);   /* fills 2, rests 1 */
    uint32_t fills = 0;
    enum qsl_reject why = qsl_engine_preview(&eng, &r, &fills);
    memset(&rec, 0, sizeof rec);
    ck_assert_int_eq(qsl_engine_submit_previewed(&eng, &r, why, record, &rec), QSL_REJECT_NONE);
    ck_assert_uint_eq(count_kind(&rec, QSL_EV_TRADE), 1);
    ck_assert_uint_eq(count_kind(&rec, QSL_EV_ACCEPTED), 1);
    /* a duplicate id: the preview's reject is the submit's, counted once, nothing emitted */
    why = qsl_engine_preview(&eng, &r, &fills);
    ck_assert_int_eq(why, QSL_REJECT_DUPLICATE_ORDER_ID);
    uint64_t before = eng.stats.rejects[QSL_REJECT_DUPLICATE_ORDER_ID];
    memset(&rec, 0, sizeof rec);
    ck_assert_int_eq(qsl_engine_submit_previewed(&eng, &r, why, record, &rec), why);
    ck_assert_uint_eq(eng.stats.rejects[QSL_REJECT_DUPLICATE_ORDER_ID], before + 1);
    ck_assert_uint_eq(count_kind(&rec, QSL_EV_ACCEPTED) + count_kind(&rec, QSL_EV_TRADE), 0);
}
END_TEST

/* huge_pages (the default) puts a pool past 1,024 orders in 2 MiB mappings; off, none: the
 * same orders give the same stats either way. */
START_TEST(test_huge_pages_on_and_off)
{
    struct qsl_engine_stats st[2];
    uint32_t slabs[2];
    for (int huge = 0; huge < 2; huge++) {
        struct qsl_engine e;
        struct qsl_engine_config c;
        qsl_engine_config_defaults(&c);
        ck_assert_uint_eq(c.huge_pages, 1);
        c.huge_pages = (uint8_t)huge;
        ck_assert_int_eq(qsl_engine_init(&e, &c), 0);
        for (qsl_order_id id = 1; id <= 3000; id++) {
            struct qsl_order_req r = limit(id, id % 2, id % 3 ? QSL_BUY : QSL_SELL,
                                           id % 3 ? 100 - (qsl_price)(id % 7) : 98 + (qsl_price)(id % 5),
                                           1 + id % 4, QSL_GTC);
            ck_assert_int_eq(qsl_engine_submit(&e, &r, NULL, NULL), QSL_REJECT_NONE);
        }
        ck_assert_uint_gt(qsl_engine_resting(&e), 1024);
        st[huge] = e.stats;
        slabs[huge] = e.pool.slabs.slabs;
        if (huge)
            ck_assert_uint_ge(qsl_engine_bytes(&e), 2u << 20);
        qsl_engine_free(&e);
    }
    ck_assert_uint_eq(slabs[0], 0);
    ck_assert_uint_eq(slabs[1], 1);
    ck_assert_mem_eq(&st[0], &st[1], sizeof st[0]);
    ck_assert_uint_gt(st[1].trades, 0);
}
END_TEST

/* ------------------------------------------------------------------ reference model */

#define REF_MAX 8192

struct ref_order {
    qsl_order_id id;
    qsl_symbol sym;
    uint8_t side;
    qsl_price price;
    qsl_qty qty;
    uint64_t time;
};

static struct ref_order ref[REF_MAX];
static unsigned ref_n;
static uint64_t ref_clock;

static int ref_find(qsl_symbol sym, qsl_order_id id)
{
    for (unsigned i = 0; i < ref_n; i++)
        if (ref[i].sym == sym && ref[i].id == id)
            return (int)i;
    return -1;
}

static void ref_drop(unsigned i)
{
    ref[i] = ref[--ref_n];
}

/* Best maker of a side: best price, then oldest. */
static int ref_best(qsl_symbol sym, unsigned side)
{
    int b = -1;
    for (unsigned i = 0; i < ref_n; i++) {
        if (ref[i].sym != sym || ref[i].side != side)
            continue;
        if (b < 0)
            b = (int)i;
        else {
            int better = side == QSL_BUY ? ref[i].price > ref[b].price : ref[i].price < ref[b].price;
            if (better || (ref[i].price == ref[b].price && ref[i].time < ref[b].time))
                b = (int)i;
        }
    }
    return b;
}

struct ref_trade { qsl_order_id maker; qsl_price price; qsl_qty qty; };
static struct ref_trade ref_trades[512];
static unsigned ref_ntrades;

static void ref_execute(qsl_symbol sym, qsl_order_id id, unsigned side, qsl_price px, qsl_qty qty,
                        int market, int rest)
{
    unsigned other = side == QSL_BUY ? QSL_SELL : QSL_BUY;
    while (qty > 0) {
        int m = ref_best(sym, other);
        if (m < 0)
            break;
        if (!market && (side == QSL_BUY ? ref[m].price > px : ref[m].price < px))
            break;
        qsl_qty q = ref[m].qty < qty ? ref[m].qty : qty;
        ref_trades[ref_ntrades++] = (struct ref_trade){ref[m].id, ref[m].price, q};
        qty -= q;
        ref[m].qty -= q;
        if (ref[m].qty == 0)
            ref_drop((unsigned)m);
    }
    if (qty > 0 && rest) {
        ck_assert_uint_lt(ref_n, REF_MAX);
        ref[ref_n++] = (struct ref_order){id, sym, (uint8_t)side, px, qty, ++ref_clock};
    }
}

static enum qsl_reject ref_apply(const struct qsl_flow_item *it, const struct qsl_risk_limits *risk)
{
    const struct qsl_order_req *r = &it->req;
    ref_ntrades = 0;
    int at = ref_find(r->symbol, r->order_id);
    if (it->kind == QSL_FLOW_CANCEL) {
        if (at < 0)
            return QSL_REJECT_UNKNOWN_ORDER;
        ref_drop((unsigned)at);
        return QSL_REJECT_NONE;
    }
    if (it->kind == QSL_FLOW_MODIFY) {
        if (at < 0)
            return QSL_REJECT_UNKNOWN_ORDER;
        if (r->qty == 0) {
            ref_drop((unsigned)at);
            return QSL_REJECT_NONE;
        }
        unsigned side = ref[at].side;
        enum qsl_reject why = qsl_risk_check_limit(risk, side, r->price, r->qty);
        if (why)
            return why;
        if (r->price == ref[at].price && r->qty <= ref[at].qty) {
            ref[at].qty = r->qty;
            return QSL_REJECT_NONE;
        }
        ref_drop((unsigned)at);
        ref_execute(r->symbol, r->order_id, side, r->price, r->qty, 0, 1);
        return QSL_REJECT_NONE;
    }
    int mkt = r->order_type == QSL_MARKET;
    if (at >= 0)
        return QSL_REJECT_DUPLICATE_ORDER_ID;
    enum qsl_reject why = mkt ? qsl_risk_check_market(risk, r->side, r->qty)
                              : qsl_risk_check_limit(risk, r->side, r->price, r->qty);
    if (why)
        return why;
    ref_execute(r->symbol, r->order_id, r->side, r->price, r->qty, mkt, !mkt && r->tif == QSL_GTC);
    return QSL_REJECT_NONE;
}

/* Depth of the engine's book equals the reference aggregated by price. */
static void compare_depth(qsl_symbol sym)
{
    const struct qsl_book *b = qsl_engine_book(&eng, sym);
    for (unsigned side = 0; side < 2; side++) {
        uint64_t orders = 0;
        qsl_price prev = 0, p;
        uint64_t total;
        uint32_t count;
        for (uint32_t i = 0; qsl_book_level(b, side, i, &p, &total, &count); i++) {
            if (i > 0)
                ck_assert(side == QSL_BUY ? p < prev : p > prev);
            prev = p;
            uint64_t want_total = 0;
            uint32_t want_count = 0;
            for (unsigned k = 0; k < ref_n; k++)
                if (ref[k].sym == sym && ref[k].side == side && ref[k].price == p) {
                    want_total += ref[k].qty;
                    want_count++;
                }
            ck_assert_uint_eq(total, want_total);
            ck_assert_uint_eq(count, want_count);
            ck_assert_uint_gt(total, 0);
            orders += count;
        }
        uint64_t want = 0;
        for (unsigned k = 0; k < ref_n; k++)
            want += ref[k].sym == sym && ref[k].side == side;
        ck_assert_uint_eq(orders, want);
    }
}

/*
 * A flow that finds the ladder's edges: a mid that walks and jumps by up to
 * 5,000 ticks (the window moves and grows), resting prices up to 40,000 ticks
 * away and strays anywhere in 1..100,000 (the overflow, and levels that come
 * back from it when the window empties), crossing orders that sweep.
 */
static uint64_t wide_rand(uint64_t *s, uint64_t below)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (*s >> 33) % below;
}

static void wide_next(uint64_t *s, uint64_t *next_id, qsl_price *mid, struct qsl_flow_item *it)
{
    uint64_t k = wide_rand(s, 100);
    if (wide_rand(s, 40) == 0)
        *mid += (qsl_price)wide_rand(s, 10001) - 5000;
    else
        *mid += (qsl_price)wide_rand(s, 3) - 1;
    if (*mid < 45000 || *mid > 55000)
        *mid = 45000 + (qsl_price)wide_rand(s, 10001);
    memset(it, 0, sizeof *it);
    struct qsl_order_req *r = &it->req;
    r->symbol = (qsl_symbol)wide_rand(s, 3);
    r->side = (uint8_t)wide_rand(s, 2);
    r->qty = 1 + (qsl_qty)wide_rand(s, 9);
    int away = r->side == QSL_BUY ? -1 : 1;
    uint64_t far = wide_rand(s, 20);
    qsl_price px = *mid + away * (1 + (qsl_price)wide_rand(s, 20));
    if (far < 2)
        px = *mid + away * (1000 + (qsl_price)wide_rand(s, 39000));
    else if (far < 3)
        px = 1 + (qsl_price)wide_rand(s, 100000);
    else if (far < 6)
        px = *mid - away * (qsl_price)wide_rand(s, 30);   /* crosses */
    if (k < 62) {
        it->kind = QSL_FLOW_NEW;
        r->order_id = (*next_id)++;
        r->price = px;
        r->order_type = k < 56 ? QSL_LIMIT : QSL_MARKET;
        r->tif = k < 8 ? QSL_IOC : QSL_GTC;
    } else {
        it->kind = k < 82 ? QSL_FLOW_CANCEL : QSL_FLOW_MODIFY;
        uint64_t back = wide_rand(s, 400) + 1;
        r->order_id = *next_id > back ? *next_id - back : 1;
        r->price = px;
        r->qty = k < 97 ? r->qty : 0;
    }
}

START_TEST(test_long_seeded_flow_matches_reference_and_invariants)
{
    teardown();
    struct qsl_engine_config c;
    qsl_engine_config_defaults(&c);
    c.symbols = 3;
    c.max_orders = REF_MAX;
    c.risk.max_quantity = 9;            /* quantities run to 10-12: some MaxQuantity rejects */
    c.risk.max_notional = 1000000;
    ck_assert_int_eq(qsl_engine_init(&eng, &c), 0);
    ref_n = 0;
    ref_clock = 0;
    /* three generators: loop index % 3 = 0 original, 1 drift, 2 wide */
    static struct qsl_flow flow;
    int wide = _i % 3 == 2;
    uint64_t wide_s = (uint64_t)_i * 7919 + 42, wide_id = 1;
    qsl_price wide_mid = 50000;
    qsl_flow_init(&flow, wide ? QSL_FLOW_DRIFT : (enum qsl_flow_gen)(_i % 3), wide_s, 3);
    uint64_t last_seq = 0, trades = 0, rejects = 0;
    uint32_t most_far = 0, widest = 0;
    for (int step = 0; step < 20000; step++) {
        struct qsl_flow_item it;
        if (wide)
            wide_next(&wide_s, &wide_id, &wide_mid, &it);
        else
            qsl_flow_next(&flow, &eng, &it);
        memset(&rec, 0, sizeof rec);
        enum qsl_reject got = qsl_flow_apply(&eng, &it, record, &rec);
        enum qsl_reject want = ref_apply(&it, &c.risk);
        ck_assert_msg(got == want, "step %d: reject %d, reference %d", step, got, want);
        rejects += got != QSL_REJECT_NONE;
        ck_assert_uint_le(rec.n, 256);
        unsigned t = 0;
        for (unsigned k = 0; k < rec.n; k++) {
            const struct qsl_event *ev = &rec.ev[k];
            if (ev->kind != QSL_EV_TOP_OF_BOOK) {
                ck_assert_uint_gt(ev->seq, last_seq);   /* strictly increasing */
                last_seq = ev->seq;
            }
            if (ev->kind == QSL_EV_TRADE) {
                ck_assert_uint_lt(t, ref_ntrades);
                ck_assert_uint_eq(ev->maker_id, ref_trades[t].maker);
                ck_assert_int_eq(ev->price, ref_trades[t].price);
                ck_assert_uint_eq(ev->qty, ref_trades[t].qty);
                t++;
            }
        }
        ck_assert_uint_eq(t, ref_ntrades);
        trades += t;
        qsl_symbol sym = it.req.symbol;
        qsl_price bid, ask;
        const struct qsl_book *b = qsl_engine_book(&eng, sym);
        int hb = qsl_book_best(b, QSL_BUY, &bid), ha = qsl_book_best(b, QSL_SELL, &ask);
        if (hb && ha)
            ck_assert_msg(bid < ask, "step %d: crossed book %ld >= %ld", step, (long)bid, (long)ask);
        int rb = ref_best(sym, QSL_BUY), ra = ref_best(sym, QSL_SELL);
        ck_assert_int_eq(hb, rb >= 0);
        ck_assert_int_eq(ha, ra >= 0);
        if (hb)
            ck_assert_int_eq(bid, ref[rb].price);
        if (ha)
            ck_assert_int_eq(ask, ref[ra].price);
        ck_assert_uint_eq(qsl_engine_resting(&eng), ref_n);
        if (step % 97 == 0 || (wide && step % 7 == 0))
            compare_depth(sym);
        for (unsigned side = 0; side < 2; side++) {
            most_far = b->side[side].nfar > most_far ? b->side[side].nfar : most_far;
            widest = b->side[side].w > widest ? b->side[side].w : widest;
        }
    }
    for (qsl_symbol s = 0; s < 3; s++)
        compare_depth(s);
    /* the flow really exercised matching and rejects */
    ck_assert_uint_gt(trades, 1000);
    ck_assert_uint_gt(rejects, 100);
    if (wide) {                         /* the ladder's every path was taken */
        ck_assert_uint_gt(most_far, 20);
        ck_assert_uint_gt(widest, QSL_LADDER_MIN);
    }
}
END_TEST

/* make bench measures obook against tests/bench_floor.c; that floor means something only
 * if it does the engine's work: the same answers and the same events, field by field, over
 * a seeded mix of everything it supports (both sides, several levels and orders a level,
 * priority-keeping and losing modifies, quantity-0 modifies, IOC that rests nothing, and
 * every reject it can reach), none of which crosses. */
static void same_events(const struct recorder *a, const struct recorder *b, unsigned step)
{
    ck_assert_msg(a->n == b->n, "step %u: engine %u events, floor %u", step, a->n, b->n);
    for (unsigned i = 0; i < a->n && i < 256; i++) {
        const struct qsl_event *x = &a->ev[i], *y = &b->ev[i];
        ck_assert_msg(x->kind == y->kind && x->symbol == y->symbol && x->seq == y->seq &&
                      x->order_id == y->order_id && x->maker_id == y->maker_id &&
                      x->price == y->price && x->qty == y->qty &&
                      x->taker_side == y->taker_side && x->bid_present == y->bid_present &&
                      x->ask_present == y->ask_present && x->bid == y->bid && x->ask == y->ask,
                      "step %u event %u: engine kind %u seq %llu id %llu bid %lld ask %lld, "
                      "floor kind %u seq %llu id %llu bid %lld ask %lld", step, i, x->kind,
                      (unsigned long long)x->seq, (unsigned long long)x->order_id,
                      (long long)x->bid, (long long)x->ask, y->kind,
                      (unsigned long long)y->seq, (unsigned long long)y->order_id,
                      (long long)y->bid, (long long)y->ask);
    }
}

START_TEST(test_bench_floor_does_the_engines_work)
{
    struct qsl_engine_config c;
    qsl_engine_config_defaults(&c);
    c.symbols = 2;
    struct qsl_engine e;
    struct bench_floor f;
    ck_assert_int_eq(qsl_engine_init(&e, &c), 0);
    ck_assert_int_eq(bench_floor_init(&f, 2, 4096, 100), 0);
    static struct recorder ra, rb;
    uint64_t rng = 7;
    unsigned kinds[4] = {0};
    for (unsigned step = 0; step < 20000; step++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t x = (uint32_t)(rng >> 33);
        qsl_symbol sym = x % 7 == 0 ? 2 : x % 2;          /* 2: unknown */
        qsl_order_id id = 1 + (x >> 3) % 24;       /* few: levels empty and best moves often */
        enum qsl_side side = (x >> 12) & 1 ? QSL_SELL : QSL_BUY;
        /* bids at 90..99, asks at 101..110: nothing crosses; price 0 is a risk reject */
        qsl_price price = (x >> 13) % 23 == 0 ? 0
                        : side == QSL_BUY ? 90 + (qsl_price)((x >> 14) % 10)
                                          : 101 + (qsl_price)((x >> 14) % 10);
        qsl_qty qty = (x >> 18) % 11 == 0 ? 0 : 1 + (x >> 20) % 50;
        unsigned op = (x >> 26) % 4;
        memset(&ra, 0, sizeof ra);
        memset(&rb, 0, sizeof rb);
        int a, b;
        if (op <= 1) {
            struct qsl_order_req r = limit(id, sym, side, price, qty, op ? QSL_IOC : QSL_GTC);
            a = (int)qsl_engine_submit(&e, &r, record, &ra);
            b = bench_floor_submit(&f, &r, record, &rb);
        } else if (op == 2) {
            /* a resting order keeps its side: a modify's price comes from that side's band */
            const struct qsl_book_pool *p = &e.pool;
            uint32_t idx = sym < 2 ? qsl_book_pool_find(p, sym, id) : QSL_NIL;
            if (idx != QSL_NIL && price != 0) {
                enum qsl_side s = (enum qsl_side)qsl_book_order(p, idx)->side;
                price = s == QSL_BUY ? 90 + price % 10 : 101 + price % 10;
                if ((x & 7) == 0)                   /* often its own price: may keep priority */
                    price = qsl_book_order_price(qsl_book_order(p, idx));
            }
            a = (int)qsl_engine_modify(&e, sym, id, price, qty, record, &ra);
            b = bench_floor_modify(&f, sym, id, price, qty, record, &rb);
        } else {
            a = (int)qsl_engine_cancel(&e, sym, id, record, &ra);
            b = bench_floor_cancel(&f, sym, id, record, &rb);
        }
        ck_assert_msg(b != BENCH_FLOOR_UNSUPPORTED, "step %u: the floor cannot (op %u)", step, op);
        ck_assert_msg(a == b, "step %u op %u: engine %d, floor %d", step, op, a, b);
        same_events(&ra, &rb, step);
        kinds[op] += a == QSL_REJECT_NONE;
    }
    ck_assert_uint_eq(qsl_engine_resting(&e), f.used);
    ck_assert(memcmp(&e.stats, &f.stats, sizeof e.stats) == 0);
    /* the mix reached what it is for */
    for (unsigned op = 0; op < 4; op++)
        ck_assert_msg(kinds[op] > 500, "op %u succeeded only %u times", op, kinds[op]);
    ck_assert_uint_gt(e.stats.top_of_book, 500);
    ck_assert_uint_gt(e.stats.rejects[QSL_REJECT_DUPLICATE_ORDER_ID], 100);
    ck_assert_uint_gt(e.stats.rejects[QSL_REJECT_UNKNOWN_SYMBOL], 100);
    ck_assert_uint_gt(e.stats.rejects[QSL_REJECT_INVALID_PRICE], 100);
    ck_assert_uint_gt(e.stats.rejects[QSL_REJECT_UNKNOWN_ORDER], 100);
    ck_assert_uint_eq(e.stats.trades, 0);
    /* what it cannot do it refuses, before any event: a crossing order, a price outside
     * its window */
    struct qsl_order_req cross = limit(1000, 0, QSL_BUY, 200, 1, QSL_GTC);
    struct qsl_order_req far = limit(1001, 0, QSL_BUY, 100 + BENCH_FLOOR_WINDOW, 1, QSL_GTC);
    struct qsl_order_req ask = limit(1002, 0, QSL_SELL, 105, 1, QSL_GTC);
    ck_assert_int_eq(bench_floor_submit(&f, &ask, NULL, NULL), QSL_REJECT_NONE);
    memset(&rb, 0, sizeof rb);
    ck_assert_int_eq(bench_floor_submit(&f, &cross, record, &rb), BENCH_FLOOR_UNSUPPORTED);
    far.side = QSL_SELL;
    ck_assert_int_eq(bench_floor_submit(&f, &far, record, &rb), BENCH_FLOOR_UNSUPPORTED);
    ck_assert_uint_eq(rb.n, 0);
    bench_floor_free(&f);
    qsl_engine_free(&e);
}
END_TEST

Suite *engine_suite(void)
{
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("rules");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_limit_rests_when_it_does_not_cross);
    tcase_add_test(tc, test_huge_pages_on_and_off);
    tcase_add_test(tc, test_fill_is_at_the_makers_price);
    tcase_add_test(tc, test_better_price_fills_first_then_level_by_level);
    tcase_add_test(tc, test_oldest_order_at_a_level_fills_first);
    tcase_add_test(tc, test_gtc_remainder_rests);
    tcase_add_test(tc, test_ioc_remainder_never_rests);
    tcase_add_test(tc, test_market_sweeps_levels_and_never_rests);
    tcase_add_test(tc, test_cancel_removes_and_unknown_is_rejected);
    tcase_add_test(tc, test_cancel_of_a_filled_order_is_unknown);
    tcase_add_test(tc, test_duplicate_active_id_rejected_per_symbol);
    tcase_add_test(tc, test_every_reject_reason_reachable);
    tcase_add_test(tc, test_two_failures_first_in_the_originals_order_wins);
    tcase_add_test(tc, test_events_are_sequenced_and_ack_comes_first);
    tcase_add_test(tc, test_top_of_book_only_when_best_changes);
    tcase_add_test(tc, test_modify_smaller_same_price_keeps_priority);
    tcase_add_test(tc, test_modify_larger_quantity_loses_priority);
    tcase_add_test(tc, test_modify_same_quantity_keeps_priority);
    tcase_add_test(tc, test_modify_new_price_loses_priority);
    tcase_add_test(tc, test_modify_quantity_zero_cancels);
    tcase_add_test(tc, test_modify_to_a_crossing_price_trades);
    tcase_add_test(tc, test_modify_rejects);
    tcase_add_test(tc, test_full_pool_rejects_storage_exhausted);
    tcase_add_test(tc, test_preview_matches_submit);
    tcase_add_test(tc, test_submit_previewed_is_submit);
    tcase_add_test(tc, test_bench_floor_does_the_engines_work);
    suite_add_tcase(s, tc);
    TCase *flow = tcase_create("reference");
    tcase_add_checked_fixture(flow, setup, teardown);
    tcase_set_timeout(flow, 120);
    tcase_add_loop_test(flow, test_long_seeded_flow_matches_reference_and_invariants, 0, 6);
    suite_add_tcase(s, flow);
    return s;
}
