/*
 * test_book.c - pool, id index and level structure of one book.
 */
#include <errno.h>
#include <stdlib.h>

#include "book.h"
#include "suites.h"

static struct qsl_book_pool pool;
static struct qsl_book book;

static void setup(void)
{
    ck_assert_int_eq(qsl_book_pool_init(&pool, 64), 0);
    qsl_book_init(&book, &pool, 3);
}

static void teardown(void)
{
    qsl_book_free(&book);
    qsl_book_pool_free(&pool);
}

START_TEST(test_pool_rejects_zero_capacity)
{
    struct qsl_book_pool p;
    ck_assert_int_eq(qsl_book_pool_init(&p, 0), -EINVAL);
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
    ck_assert_uint_eq(pool.orders[idx].id, 77);
    ck_assert_uint_eq(qsl_book_pool_find(&pool, 4, 77), QSL_NIL);
    ck_assert_uint_eq(qsl_book_pool_find(&pool, 3, 78), QSL_NIL);
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
    for (qsl_order_id i = 1; i <= 64; i++)
        ck_assert_int_eq(qsl_book_rest(&book, i, QSL_BUY, (qsl_price)i, 1), 0);
    ck_assert_int_eq(qsl_book_rest(&book, 65, QSL_BUY, 1, 1), -ENOSPC);
    qsl_book_remove(&book, qsl_book_pool_find(&pool, 3, 30));
    ck_assert_int_eq(qsl_book_rest(&book, 65, QSL_BUY, 1, 1), 0);
}
END_TEST

/* Index churn: many inserts and deletes in random order, every id findable. */
START_TEST(test_index_survives_churn)
{
    struct qsl_book_pool p;
    struct qsl_book b;
    ck_assert_int_eq(qsl_book_pool_init(&p, 1000), 0);
    qsl_book_init(&b, &p, 0);
    static uint8_t live[5001];
    unsigned seed = 7;
    for (int step = 0; step < 20000; step++) {
        seed = seed * 1103515245u + 12345u;
        qsl_order_id id = 1 + (seed >> 8) % 5000;
        uint32_t idx = qsl_book_pool_find(&p, 0, id);
        ck_assert_int_eq(idx != QSL_NIL, live[id]);
        if (live[id]) {
            qsl_book_remove(&b, idx);
            live[id] = 0;
        } else if (p.used < p.capacity) {
            ck_assert_int_eq(qsl_book_rest(&b, id, id & 1 ? QSL_BUY : QSL_SELL,
                                           (qsl_price)(id & 1 ? 100 - id % 50 : 200 + id % 50), 1), 0);
            live[id] = 1;
        }
    }
    for (qsl_order_id id = 1; id <= 5000; id++)
        ck_assert_int_eq(qsl_book_pool_find(&p, 0, id) != QSL_NIL, live[id]);
    qsl_book_free(&b);
    qsl_book_pool_free(&p);
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
    tcase_add_test(tc, test_pool_rejects_zero_capacity);
    tcase_add_test(tc, test_levels_sorted_best_first);
    tcase_add_test(tc, test_same_price_joins_level_and_totals_add);
    tcase_add_test(tc, test_find_by_symbol_and_id);
    tcase_add_test(tc, test_remove_drops_empty_level_and_frees_slot);
    tcase_add_test(tc, test_pool_full_is_enospc);
    tcase_add_test(tc, test_index_survives_churn);
    tcase_add_test(tc, test_preview_counts_without_changing);
    suite_add_tcase(s, tc);
    return s;
}
