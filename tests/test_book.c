/*
 * test_book.c - pool, id index and level structure of one book.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "book.h"
#include "suites.h"

static struct qsl_book_pool pool;
static struct qsl_book book;

static void setup(void)
{
    ck_assert_int_eq(qsl_book_pool_init(&pool, 0, 0), 0);
    qsl_book_init(&book, &pool, 3);
}

static void teardown(void)
{
    qsl_book_free(&book);
    qsl_book_pool_free(&pool);
}

START_TEST(test_pool_rejects_a_bound_past_its_max)
{
    struct qsl_book_pool p;
    ck_assert_int_eq(qsl_book_pool_init(&p, QSL_BOOK_ORDERS_MAX + 1u, 0), -EINVAL);
    ck_assert_int_eq(qsl_book_pool_init(&p, 0, 0), 0);      /* 0: no bound */
    ck_assert(!qsl_book_pool_full(&p));
    qsl_book_pool_free(&p);
}
END_TEST

START_TEST(test_levels_sorted_best_first)
{
    qsl_price bids[] = {100, 98, 99, 97, 101};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(qsl_book_rest(&book, (qsl_order_id)i + 1, QSL_BUY, bids[i], 1), 0);
    qsl_price asks[] = {105, 103, 104};
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(qsl_book_rest(&book, (qsl_order_id)i + 10, QSL_SELL, asks[i], 1), 0);
    qsl_price p;
    for (uint32_t i = 0; i < 5; i++) {
        ck_assert(qsl_book_level(&book, QSL_BUY, i, &p, NULL, NULL));
        ck_assert_int_eq(p, 101 - (qsl_price)i);
    }
    for (uint32_t i = 0; i < 3; i++) {
        ck_assert(qsl_book_level(&book, QSL_SELL, i, &p, NULL, NULL));
        ck_assert_int_eq(p, 103 + (qsl_price)i);
    }
    ck_assert(!qsl_book_level(&book, QSL_SELL, 3, &p, NULL, NULL));
}
END_TEST

START_TEST(test_same_price_joins_level_and_totals_add)
{
    qsl_book_rest(&book, 1, QSL_SELL, 50, 3);
    qsl_book_rest(&book, 2, QSL_SELL, 50, 4);
    uint64_t total;
    uint32_t count;
    ck_assert(qsl_book_level(&book, QSL_SELL, 0, NULL, &total, &count));
    ck_assert_uint_eq(total, 7);
    ck_assert_uint_eq(count, 2);
    ck_assert_uint_eq(qsl_book_depth(&book, QSL_SELL), 1);
}
END_TEST

START_TEST(test_find_by_symbol_and_id)
{
    qsl_book_rest(&book, 77, QSL_BUY, 10, 1);
    uint32_t idx = qsl_book_pool_find(&pool, 3, 77);
    ck_assert_uint_ne(idx, QSL_NIL);
    ck_assert_uint_eq(qsl_book_order(&pool, idx)->id, 77);
    ck_assert_int_eq(qsl_book_order_price(qsl_book_order(&pool, idx)), 10);
    ck_assert_uint_eq(qsl_book_pool_find(&pool, 4, 77), QSL_NIL);
    ck_assert_uint_eq(qsl_book_pool_find(&pool, 3, 78), QSL_NIL);
    /* an ask's price comes back from its key too, negative prices included */
    qsl_book_rest(&book, 79, QSL_SELL, -5, 1);
    ck_assert_int_eq(qsl_book_order_price(qsl_book_order(&pool, qsl_book_pool_find(&pool, 3, 79))),
                     -5);
}
END_TEST

START_TEST(test_remove_drops_empty_level_and_frees_slot)
{
    qsl_book_rest(&book, 1, QSL_BUY, 10, 1);
    qsl_book_rest(&book, 2, QSL_BUY, 11, 1);
    qsl_book_remove(&book, qsl_book_pool_find(&pool, 3, 2));
    ck_assert_uint_eq(qsl_book_depth(&book, QSL_BUY), 1);
    ck_assert_uint_eq(pool.used, 1);
    ck_assert_uint_eq(qsl_book_pool_find(&pool, 3, 2), QSL_NIL);
    qsl_price p;
    ck_assert(qsl_book_best(&book, QSL_BUY, &p));
    ck_assert_int_eq(p, 10);
}
END_TEST

START_TEST(test_pool_full_is_enospc)
{
    pool.max_orders = 64;
    for (qsl_order_id i = 1; i <= 64; i++)
        ck_assert_int_eq(qsl_book_rest(&book, i, QSL_BUY, (qsl_price)i, 1), 0);
    ck_assert_int_eq(qsl_book_rest(&book, 65, QSL_BUY, 1, 1), -ENOSPC);
    qsl_book_remove(&book, qsl_book_pool_find(&pool, 3, 30));
    ck_assert_int_eq(qsl_book_rest(&book, 65, QSL_BUY, 1, 1), 0);
}
END_TEST

/* Index churn: many inserts and deletes in random order while the index grows
 * through several incremental rehashes (lookups and deletes meeting entries in
 * the old table and the new), every id findable throughout. Every other delete
 * is at the slot the find left (qsl_book_remove_at), the others looked up again. */
START_TEST(test_index_survives_churn)
{
    static uint8_t live[50501];             /* ids 1 .. 500 + 300000 / 6 */
    unsigned seed = 7, draining = 0;
    for (int step = 0; step < 300000; step++) {
        seed = seed * 1103515245u + 12345u;
        /* ids drawn from a range that widens: the live count keeps growing */
        qsl_order_id id = 1 + (seed >> 8) % (500 + (unsigned)step / 6);
        uint32_t at, idx = qsl_book_pool_find_at(&pool, 3, id, &at);
        ck_assert_int_eq(idx != QSL_NIL, live[id]);
        ck_assert_uint_eq(qsl_book_pool_find(&pool, 3, id), idx);
        draining += pool.old.slot != NULL;
        if (idx != QSL_NIL && !pool.old.slot)   /* found where the table says */
            ck_assert(at <= pool.index.mask && pool.index.slot[at].id == id &&
                      pool.index.slot[at].ref == idx + 1);
        else
            ck_assert_uint_eq(at, QSL_NIL);
        if (live[id] && (seed >> 4) % 3 == 0) {
            if (step & 1)
                qsl_book_remove_at(&book, idx, qsl_book_order(&pool, idx), at);
            else
                qsl_book_remove(&book, idx);
            live[id] = 0;
        } else if (!live[id]) {
            ck_assert_int_eq(qsl_book_rest(&book, id, id & 1 ? QSL_BUY : QSL_SELL,
                                           (qsl_price)(id & 1 ? 100 - id % 50 : 200 + id % 50), 1), 0);
            live[id] = 1;
        }
    }
    for (qsl_order_id id = 1; id <= 50500; id++)
        ck_assert_int_eq(qsl_book_pool_find(&pool, 3, id) != QSL_NIL, live[id]);
    ck_assert_uint_gt(pool.used, 20000);
    ck_assert_uint_gt(draining, 1000);          /* lookups met a draining index often */
    ck_assert_uint_ge(pool.index.mask + 1, 2 * pool.used);
}
END_TEST

/* 70,000 resting orders with no bound: the pool grows a chunk at a time and an
 * order's slot never moves. */
START_TEST(test_pool_grows_and_nothing_moves)
{
    ck_assert_int_eq(qsl_book_rest(&book, 1, QSL_BUY, 100, 1), 0);
    const struct qsl_order *first = qsl_book_order(&pool, qsl_book_pool_find(&pool, 3, 1));
    for (qsl_order_id id = 2; id <= 70000; id++)
        ck_assert_int_eq(qsl_book_rest(&book, id, QSL_BUY, 100 - (qsl_price)(id % 7), 1), 0);
    ck_assert_uint_eq(pool.used, 70000);
    ck_assert_uint_ge(pool.chunks * QSL_BOOK_CHUNK, 70000);
    ck_assert_ptr_eq(qsl_book_order(&pool, qsl_book_pool_find(&pool, 3, 1)), first);
    ck_assert_uint_eq(first->id, 1);
    uint64_t total;
    ck_assert(qsl_book_level(&book, QSL_BUY, 0, NULL, &total, NULL));
    ck_assert_uint_eq(total, 10001);                         /* ids 7, 14, ..., 70000 and 1 at 100 */
    ck_assert_uint_gt(qsl_book_pool_bytes(&pool), 70000 * sizeof(struct qsl_order));
}
END_TEST

/* With huge set, a pool past its first chunk carves its chunks from 2 MiB slabs and maps
 * its larger index tables whole: every order stays where it rested, and bytes counts the
 * mappings whole. */
START_TEST(test_pool_huge_grows_in_slabs)
{
    struct qsl_book_pool p;
    struct qsl_book b;
    ck_assert_int_eq(qsl_book_pool_init(&p, 0, 1), 0);
    qsl_book_init(&b, &p, 5);
    uint32_t n = (1 + QSL_BOOK_SLAB_CHUNKS + 1) * QSL_BOOK_CHUNK;   /* into a second slab */
    const struct qsl_order *at[4] = {0};
    const qsl_order_id probe[4] = {1, QSL_BOOK_CHUNK + 1, 40000, n};
    for (qsl_order_id id = 1; id <= n; id++) {
        ck_assert_int_eq(qsl_book_rest(&b, id, id & 1 ? QSL_BUY : QSL_SELL,
                                       id & 1 ? 100 - (qsl_price)(id % 5) : 200, 1), 0);
        for (int k = 0; k < 4; k++)
            if (probe[k] == id)
                at[k] = qsl_book_order(&p, qsl_book_pool_find(&p, 5, id));
        if (id == QSL_BOOK_CHUNK) {          /* one chunk: nothing mapped yet */
            ck_assert_uint_eq(p.slabs.slabs, 0);
            ck_assert(!p.index.huge);
        }
    }
    ck_assert_uint_eq(p.heap_chunks, 1);
    ck_assert_uint_eq(p.chunks, 1 + QSL_BOOK_SLAB_CHUNKS + 1);
    ck_assert_uint_eq(p.slabs.slabs, 2);
    for (uint32_t c = 1; c < p.chunks; c++) {  /* slab chunks in order, slabs 2 MiB aligned */
        uint32_t k = c - 1;
        struct qsl_order *slab = (struct qsl_order *)p.slabs.slab[k / QSL_BOOK_SLAB_CHUNKS];
        ck_assert_ptr_eq(p.chunk[c], slab + (size_t)(k % QSL_BOOK_SLAB_CHUNKS) * QSL_BOOK_CHUNK);
    }
    for (uint32_t i = 0; i < p.slabs.slabs; i++)
        ck_assert_uint_eq((uintptr_t)p.slabs.slab[i] % (2u << 20), 0);
    ck_assert(p.index.huge);
    ck_assert_uint_eq((uintptr_t)p.index.slot % (2u << 20), 0);
    for (int k = 0; k < 4; k++) {          /* nothing moved, every field intact */
        const struct qsl_order *o = qsl_book_order(&p, qsl_book_pool_find(&p, 5, probe[k]));
        ck_assert_ptr_eq(o, at[k]);
        ck_assert_uint_eq(o->id, probe[k]);
        ck_assert_uint_eq(o->symbol, 5);
        ck_assert_uint_eq(o->side, probe[k] & 1 ? QSL_BUY : QSL_SELL);
    }
    size_t table = ((size_t)p.index.mask + 1) * sizeof(struct qsl_index_slot);
    table = (table + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
    size_t old = p.old.slot ? (p.old.huge ? 2u << 20 : ((size_t)p.old.mask + 1) * 16) : 0;
    ck_assert_uint_eq(qsl_book_pool_bytes(&p),
                      QSL_BOOK_CHUNK * sizeof(struct qsl_order) + 2 * (2u << 20) +
                      p.chunk_cap * sizeof *p.chunk + p.slabs.cap * sizeof *p.slabs.slab + table + old);
    for (qsl_order_id id = 1; id <= n; id++)  /* and every order leaves */
        qsl_book_remove(&b, qsl_book_pool_find(&p, 5, id));
    ck_assert_uint_eq(p.used, 0);
    ck_assert_uint_eq(qsl_book_depth(&b, QSL_BUY) + qsl_book_depth(&b, QSL_SELL), 0);
    qsl_book_free(&b);
    qsl_book_pool_free(&p);
}
END_TEST

/* Without huge, the same growth stays in malloc'd memory. */
START_TEST(test_pool_without_huge_maps_nothing)
{
    for (qsl_order_id id = 1; id <= 3 * QSL_BOOK_CHUNK; id++)
        ck_assert_int_eq(qsl_book_rest(&book, id, QSL_BUY, 100, 1), 0);
    ck_assert_uint_eq(pool.heap_chunks, 3);
    ck_assert_uint_eq(pool.slabs.slabs, 0);
    ck_assert(!pool.index.huge);
}
END_TEST

/* Every level of a side, best first, as (price, count) pairs; returns how many. */
static uint32_t levels_of(const struct qsl_book *b, enum qsl_side side, qsl_price *px,
                          uint32_t *n, uint32_t max)
{
    uint32_t i = 0;
    while (i < max && qsl_book_level(b, side, i, &px[i], NULL, &n[i]))
        i++;
    return i;
}

/* The window follows the best price up by 10,000 ticks, one at a time, while the
 * old levels stay: they go to the overflow and come back in order. */
START_TEST(test_window_follows_the_best_and_keeps_every_level)
{
    for (qsl_price p = 1000; p < 11000; p++)
        ck_assert_int_eq(qsl_book_rest(&book, (qsl_order_id)p, QSL_BUY, p, 1), 0);
    ck_assert_uint_eq(qsl_book_depth(&book, QSL_BUY), 10000);
    qsl_price best;
    ck_assert(qsl_book_best(&book, QSL_BUY, &best));
    ck_assert_int_eq(best, 10999);
    static qsl_price px[10001];
    static uint32_t n[10001];
    ck_assert_uint_eq(levels_of(&book, QSL_BUY, px, n, 10001), 10000);
    for (uint32_t i = 0; i < 10000; i++)
        ck_assert_int_eq(px[i], 10999 - (qsl_price)i);
    /* a sell sweeps them all, best first, taking the overflow's levels back in */
    struct qsl_book_preview pv;
    qsl_book_preview(&book, QSL_SELL, 1, 0, 20000, &pv);
    ck_assert_uint_eq(pv.fills, 10000);
    ck_assert_uint_eq(qsl_book_match(&book, QSL_SELL, 1, 0, 20000, 99999, NULL, NULL), 10000);
    ck_assert_uint_eq(qsl_book_depth(&book, QSL_BUY), 0);
    ck_assert_uint_eq(pool.used, 0);
}
END_TEST

/* A stray price: a far worse bid goes to the overflow (the window does not grow for
 * it); a far better one takes the window, the others go to the overflow, and when
 * it leaves they come back. */
START_TEST(test_strays_do_not_grow_the_window)
{
    for (qsl_order_id id = 1; id <= 5; id++)
        qsl_book_rest(&book, id, QSL_BUY, 1000 + (qsl_price)id, 1);
    qsl_book_rest(&book, 6, QSL_BUY, 1, 1);
    qsl_book_rest(&book, 7, QSL_BUY, 900000000, 1);
    ck_assert_uint_le(book.side[QSL_BUY].w, QSL_LADDER_FREE);
    ck_assert_uint_eq(qsl_book_bytes(&book) < 64 * 1024, 1);
    qsl_price px[8];
    uint32_t n[8];
    ck_assert_uint_eq(levels_of(&book, QSL_BUY, px, n, 8), 7);
    qsl_price want[] = {900000000, 1005, 1004, 1003, 1002, 1001, 1};
    for (int i = 0; i < 7; i++)
        ck_assert_int_eq(px[i], want[i]);
    qsl_book_remove(&book, qsl_book_pool_find(&pool, 3, 7));
    qsl_price best;
    ck_assert(qsl_book_best(&book, QSL_BUY, &best));
    ck_assert_int_eq(best, 1005);
    ck_assert_uint_eq(book.side[QSL_BUY].near, 5);          /* back in the window */
    qsl_book_remove(&book, qsl_book_pool_find(&pool, 3, 6));
    ck_assert_uint_eq(qsl_book_depth(&book, QSL_BUY), 5);
    /* asks rank the other way: the lowest is the best */
    qsl_book_rest(&book, 20, QSL_SELL, 2000, 1);
    qsl_book_rest(&book, 21, QSL_SELL, 100000, 1);
    qsl_book_rest(&book, 22, QSL_SELL, 1999, 1);
    ck_assert(qsl_book_best(&book, QSL_SELL, &best));
    ck_assert_int_eq(best, 1999);
    ck_assert_uint_eq(levels_of(&book, QSL_SELL, px, n, 8), 3);
    ck_assert_int_eq(px[2], 100000);
}
END_TEST

/* 100,000 levels on one side fit the window (it grows while they fill it). */
START_TEST(test_wide_dense_side_grows_the_window)
{
    for (qsl_order_id id = 1; id <= 100000; id++)
        ck_assert_int_eq(qsl_book_rest(&book, id, QSL_SELL, 500000 + (qsl_price)id, 1), 0);
    ck_assert_uint_eq(book.side[QSL_SELL].nfar, 0);
    ck_assert_uint_eq(book.side[QSL_SELL].near, 100000);
    ck_assert_uint_le(book.side[QSL_SELL].w, QSL_LADDER_MAX);
    qsl_price best;
    ck_assert(qsl_book_best(&book, QSL_SELL, &best));
    ck_assert_int_eq(best, 500001);
    /* cancel half the levels from the best: the next best is always found */
    for (qsl_order_id id = 1; id <= 50000; id++) {
        qsl_book_remove(&book, qsl_book_pool_find(&pool, 3, id));
        ck_assert(qsl_book_best(&book, QSL_SELL, &best));
        ck_assert_int_eq(best, 500000 + (qsl_price)id + 1);
    }
}
END_TEST

struct collected {
    qsl_price px[20000];
    uint32_t n, empty;          /* levels seen; of them with no order (never right) */
};

static int collect(void *ctx, qsl_price price, uint64_t total, uint32_t count)
{
    struct collected *c = ctx;
    (void)total;
    c->empty += count == 0;
    if (c->n < 20000)
        c->px[c->n] = price;
    c->n++;
    return 1;
}

/* Random rests and cancels of bids over spans that hold the window at each of its bitmap's
 * sizes - one word (<= 64 slots), one summary word (<= 4,096), three levels - and take it
 * from one to the next as it grows: after every step the best bid is the model's, and now
 * and then every level is, best first. (The loop records its first mismatch and asserts
 * once: a Check assertion per step costs a write to its pipe each.) */
START_TEST(test_bitmap_sizes_keep_the_levels)
{
    static uint32_t at_price[20000];
    static qsl_order_id live[20000];
    static struct collected got;
    const uint32_t spans[] = {40, 3000, 20000};
    uint32_t widest[3] = {0, 0, 0};
    char why[160] = "";
    qsl_order_id next = 1;
    unsigned seed = 11;
    for (int phase = 0; phase < 3 && !why[0]; phase++) {
        uint32_t span = spans[phase], nlive = 0;
        int64_t best = -1;          /* the model's best offset: kept, rescanned down on a drop */
        memset(at_price, 0, sizeof at_price);
        for (int step = 0; step < 20000 && !why[0]; step++) {
            seed = seed * 1103515245u + 12345u;
            if (nlive > 0 && (seed >> 16) % 10 < 4) {
                uint32_t k = (seed >> 4) % nlive;
                uint32_t idx = qsl_book_pool_find(&pool, 3, live[k]);
                uint32_t off = (uint32_t)(qsl_book_order_price(qsl_book_order(&pool, idx)) - 1000);
                qsl_book_remove(&book, idx);
                live[k] = live[--nlive];
                if (--at_price[off] == 0 && (int64_t)off == best)
                    while (best >= 0 && at_price[best] == 0)
                        best--;
            } else if (nlive < 20000) {
                uint32_t off = (seed >> 8) % span;
                if (qsl_book_rest(&book, next, QSL_BUY, 1000 + (qsl_price)off, 1) != 0)
                    snprintf(why, sizeof why, "span %u step %d: rest refused", span, step);
                at_price[off]++;
                live[nlive++] = next++;
                if ((int64_t)off > best)
                    best = off;
            }
            if (book.side[QSL_BUY].w > widest[phase])
                widest[phase] = book.side[QSL_BUY].w;
            qsl_price px = 0;
            int has = qsl_book_best(&book, QSL_BUY, &px);
            if (has != (best >= 0) || (has && px != 1000 + best))
                snprintf(why, sizeof why, "span %u step %d: best %d/%lld, the model's %lld", span,
                         step, has, (long long)px, (long long)(best >= 0 ? 1000 + best : -1));
            if (step % 97 == 0 || step == 19999) {
                got.n = got.empty = 0;
                qsl_book_walk(&book, QSL_BUY, collect, &got);
                uint32_t i = 0;
                for (uint32_t off = span; off-- > 0;)
                    if (at_price[off] && (i >= got.n || got.px[i++] != 1000 + (qsl_price)off))
                        snprintf(why, sizeof why, "span %u step %d: level %u is not %u", span,
                                 step, i, 1000 + off);
                if (got.n != i || got.empty)
                    snprintf(why, sizeof why, "span %u step %d: %u levels (%u empty), the "
                             "model's %u", span, step, got.n, got.empty, i);
            }
        }
        while (nlive > 0)       /* empty the side for the next span */
            qsl_book_remove(&book, qsl_book_pool_find(&pool, 3, live[--nlive]));
        ck_assert_uint_eq(qsl_book_depth(&book, QSL_BUY), 0);
    }
    ck_assert_msg(!why[0], "%s", why);
    ck_assert_uint_le(widest[0], 64);
    ck_assert(widest[1] > 64 && widest[1] <= 4096);
    ck_assert_uint_gt(widest[2], 4096);
}
END_TEST

START_TEST(test_preview_counts_without_changing)
{
    qsl_book_rest(&book, 1, QSL_SELL, 100, 5);
    qsl_book_rest(&book, 2, QSL_SELL, 100, 5);
    qsl_book_rest(&book, 3, QSL_SELL, 102, 5);
    struct qsl_book_preview pv;
    qsl_book_preview(&book, QSL_BUY, 101, 0, 7, &pv);
    ck_assert_uint_eq(pv.fills, 2);
    ck_assert_uint_eq(pv.makers_emptied, 1);
    ck_assert_uint_eq(pv.remaining, 0);
    qsl_book_preview(&book, QSL_BUY, 0, 1, 100, &pv);
    ck_assert_uint_eq(pv.fills, 3);
    ck_assert_uint_eq(pv.makers_emptied, 3);
    ck_assert_uint_eq(pv.remaining, 85);
    ck_assert_uint_eq(pool.used, 3);
}
END_TEST

Suite *book_suite(void)
{
    Suite *s = suite_create("book");
    TCase *tc = tcase_create("book");
    tcase_add_checked_fixture(tc, setup, teardown);
    /* a hang guard, not a time limit: the churn's 300,000 checked steps take ~3 s under
     * ASan on a quiet host, past Check's default of 4 s on a busy one */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_pool_rejects_a_bound_past_its_max);
    tcase_add_test(tc, test_pool_grows_and_nothing_moves);
    tcase_add_test(tc, test_pool_huge_grows_in_slabs);
    tcase_add_test(tc, test_pool_without_huge_maps_nothing);
    tcase_add_test(tc, test_window_follows_the_best_and_keeps_every_level);
    tcase_add_test(tc, test_strays_do_not_grow_the_window);
    tcase_add_test(tc, test_wide_dense_side_grows_the_window);
    tcase_add_test(tc, test_levels_sorted_best_first);
    tcase_add_test(tc, test_same_price_joins_level_and_totals_add);
    tcase_add_test(tc, test_find_by_symbol_and_id);
    tcase_add_test(tc, test_remove_drops_empty_level_and_frees_slot);
    tcase_add_test(tc, test_pool_full_is_enospc);
    tcase_add_test(tc, test_index_survives_churn);
    tcase_add_test(tc, test_preview_counts_without_changing);
    suite_add_tcase(s, tc);
    /* 60,000 steps checked against a model: seconds under the sanitizers */
    TCase *sizes = tcase_create("bitmap sizes");
    tcase_add_checked_fixture(sizes, setup, teardown);
    tcase_set_timeout(sizes, 120);
    tcase_add_test(sizes, test_bitmap_sizes_keep_the_levels);
    suite_add_tcase(s, sizes);
    return s;
}
