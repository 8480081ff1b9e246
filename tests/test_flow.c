/*
 * test_flow.c - the synthetic flow is deterministic and has the stated mix.
 */
#include <errno.h>
#include <string.h>

#include "flow.h"
#include "suites.h"

START_TEST(test_same_seed_same_stream)
{
    struct qsl_flow a, b;
    qsl_flow_init(&a, 42, 3);
    qsl_flow_init(&b, 42, 3);
    for (int i = 0; i < 10000; i++) {
        struct qsl_flow_item x, y;
        qsl_flow_next(&a, NULL, &x);
        qsl_flow_next(&b, NULL, &y);
        ck_assert_mem_eq(&x, &y, sizeof x);
    }
}
END_TEST

START_TEST(test_other_seed_other_stream)
{
    struct qsl_flow a, b;
    qsl_flow_init(&a, 42, 3);
    qsl_flow_init(&b, 43, 3);
    int differ = 0;
    for (int i = 0; i < 100; i++) {
        struct qsl_flow_item x, y;
        qsl_flow_next(&a, NULL, &x);
        qsl_flow_next(&b, NULL, &y);
        differ += memcmp(&x, &y, sizeof x) != 0;
    }
    ck_assert_int_gt(differ, 50);
}
END_TEST

START_TEST(test_bad_symbol_count_rejected)
{
    struct qsl_flow f;
    ck_assert_int_eq(qsl_flow_init(&f, 1, 0), -EINVAL);
    ck_assert_int_eq(qsl_flow_init(&f, 1, QSL_FLOW_MAX_SYMBOLS + 1), -EINVAL);
}
END_TEST

START_TEST(test_mix_and_ranges)
{
    struct qsl_flow f;
    qsl_flow_init(&f, 42, 3);
    unsigned kinds[3] = {0}, market = 0, ioc = 0, limits = 0;
    const unsigned N = 200000;
    for (unsigned i = 0; i < N; i++) {
        struct qsl_flow_item it;
        qsl_flow_next(&f, NULL, &it);
        kinds[it.kind]++;
        ck_assert_uint_lt(it.req.symbol, 3);
        if (it.kind == QSL_FLOW_CANCEL)
            continue;
        ck_assert_uint_ge(it.req.qty, 1);
        ck_assert_uint_le(it.req.qty, 12);
        if (it.kind == QSL_FLOW_NEW && it.req.order_type == QSL_MARKET) {
            market++;
            continue;
        }
        ck_assert_int_ge(it.req.price, QSL_FLOW_MID_MIN - 4);
        ck_assert_int_le(it.req.price, QSL_FLOW_MID_MAX + 4);
        if (it.kind == QSL_FLOW_NEW) {
            limits++;
            ioc += it.req.tif == QSL_IOC;
        }
    }
    for (int i = 0; i < 3; i++)
        ck_assert_int_le(f.mid[i], QSL_FLOW_MID_MAX);
    /* stated odds: 16% cancel, 14% modify, 12% market; within 1 point over 200k draws */
    ck_assert_uint_ge(kinds[QSL_FLOW_CANCEL], N * 15 / 100);
    ck_assert_uint_le(kinds[QSL_FLOW_CANCEL], N * 17 / 100);
    ck_assert_uint_ge(kinds[QSL_FLOW_MODIFY], N * 13 / 100);
    ck_assert_uint_le(kinds[QSL_FLOW_MODIFY], N * 15 / 100);
    ck_assert_uint_ge(market, N * 11 / 100);
    ck_assert_uint_le(market, N * 13 / 100);
    /* IOC share of limits: 0.18*0.35 + 0.82*0.08 = 12.9% */
    ck_assert_uint_ge(ioc * 1000 / limits, 119);
    ck_assert_uint_le(ioc * 1000 / limits, 139);
}
END_TEST

START_TEST(test_cancels_name_orders_it_sent)
{
    struct qsl_flow f;
    qsl_flow_init(&f, 7, 2);
    struct qsl_engine e;
    struct qsl_engine_config c;
    qsl_engine_config_defaults(&c);
    c.symbols = 2;
    c.capacity = 1 << 16;
    ck_assert_int_eq(qsl_engine_init(&e, &c), 0);
    unsigned ok = 0, unknown = 0;
    for (int i = 0; i < 50000; i++) {
        struct qsl_flow_item it;
        qsl_flow_next(&f, &e, &it);
        ck_assert_uint_lt(it.req.order_id, f.next_id);
        enum qsl_reject r = qsl_flow_apply(&e, &it, NULL, NULL);
        if (it.kind == QSL_FLOW_CANCEL) {
            ok += r == QSL_REJECT_NONE;
            unknown += r == QSL_REJECT_UNKNOWN_ORDER;
        }
    }
    /* with the engine in view, only the deliberate 10% miss */
    ck_assert_uint_gt(unknown * 1000 / (ok + unknown), 85);
    ck_assert_uint_lt(unknown * 1000 / (ok + unknown), 115);
    qsl_engine_free(&e);
}
END_TEST

Suite *flow_suite(void)
{
    Suite *s = suite_create("flow");
    TCase *tc = tcase_create("flow");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_same_seed_same_stream);
    tcase_add_test(tc, test_other_seed_other_stream);
    tcase_add_test(tc, test_bad_symbol_count_rejected);
    tcase_add_test(tc, test_mix_and_ranges);
    tcase_add_test(tc, test_cancels_name_orders_it_sent);
    suite_add_tcase(s, tc);
    return s;
}
