/*
 * test_flow.c - the synthetic flow is deterministic and has the stated mix.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "flow.h"
#include "suites.h"

START_TEST(test_same_seed_same_stream)
{
    struct qsl_flow a, b;
    qsl_flow_init(&a, QSL_FLOW_DRIFT, 42, 3);
    qsl_flow_init(&b, QSL_FLOW_DRIFT, 42, 3);
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
    qsl_flow_init(&a, QSL_FLOW_DRIFT, 42, 3);
    qsl_flow_init(&b, QSL_FLOW_DRIFT, 43, 3);
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
    ck_assert_int_eq(qsl_flow_init(&f, QSL_FLOW_DRIFT, 1, 0), -EINVAL);
    ck_assert_int_eq(qsl_flow_init(&f, QSL_FLOW_ORIGINAL, 1, QSL_FLOW_MAX_SYMBOLS + 1), -EINVAL);
}
END_TEST

START_TEST(test_mix_and_ranges)
{
    struct qsl_flow f;
    qsl_flow_init(&f, QSL_FLOW_DRIFT, 42, 3);
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
    qsl_flow_init(&f, QSL_FLOW_DRIFT, 7, 2);
    struct qsl_engine e;
    struct qsl_engine_config c;
    qsl_engine_config_defaults(&c);
    c.symbols = 2;
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

/* ------------------------------------------------------------------ the original's generator */

START_TEST(test_mt64_matches_the_standard)
{
    /* the C++ standard's check value: the 10,000th output for the default seed */
    struct qsl_mt64 m;
    qsl_mt64_seed(&m, QSL_MT64_DEFAULT_SEED);
    uint64_t v = 0;
    for (int i = 0; i < 10000; i++)
        v = qsl_mt64_next(&m);
    ck_assert_uint_eq(v, 9981545732273789042ull);
}
END_TEST

START_TEST(test_original_first_200_commands_equal_golden)
{
    FILE *g = fopen("tests/data/flow_seed42_first200.txt", "r");
    ck_assert_msg(g != NULL, "tests/data/flow_seed42_first200.txt: run from the checkout");
    struct qsl_flow f;
    ck_assert_int_eq(qsl_flow_init(&f, QSL_FLOW_ORIGINAL, 42, 3), 0);
    char want[128], got[128];
    int lines = 0, registered = 0;
    while (fgets(want, sizeof want, g)) {
        want[strcspn(want, "\n")] = 0;
        lines++;
        if (want[0] == 'R') {   /* the original registers its symbols first; qsl's engine has them */
            char name[16];
            snprintf(name, sizeof name, "R S%d", registered++);
            ck_assert_str_eq(want, name);
            continue;
        }
        struct qsl_flow_item it;
        qsl_flow_next(&f, NULL, &it);
        qsl_flow_format(&it, got, sizeof got);
        ck_assert_msg(strcmp(want, got) == 0, "line %d: golden '%s', qsl '%s'", lines, want, got);
    }
    fclose(g);
    ck_assert_int_eq(lines, 200);
    ck_assert_int_eq(registered, 3);
}
END_TEST

START_TEST(test_original_draws_are_in_range)
{
    struct qsl_flow f;
    qsl_flow_init(&f, QSL_FLOW_ORIGINAL, 7, 4);
    unsigned kinds[3] = {0}, market = 0;
    for (unsigned i = 0; i < 100000; i++) {
        struct qsl_flow_item it;
        uint64_t next = f.next_id;
        qsl_flow_next(&f, NULL, &it);
        kinds[it.kind]++;
        ck_assert_uint_lt(it.req.symbol, 4);
        ck_assert_int_ge(it.req.price, 95);
        ck_assert_int_le(it.req.price, 105);
        ck_assert_uint_ge(it.req.qty, 1);
        ck_assert_uint_le(it.req.qty, 10);
        if (it.kind == QSL_FLOW_NEW) {
            ck_assert_uint_eq(it.req.order_id, next);
            market += it.req.order_type == QSL_MARKET;
        } else {
            ck_assert_uint_ge(it.req.order_id, 1);
            ck_assert_uint_le(it.req.order_id, next);   /* may name the id not yet sent */
        }
    }
    /* picks 0-6 new (1 in 7 of them market), 7-8 cancel, 9 modify */
    ck_assert_uint_gt(kinds[QSL_FLOW_NEW], 69000);
    ck_assert_uint_lt(kinds[QSL_FLOW_NEW], 71000);
    ck_assert_uint_gt(kinds[QSL_FLOW_CANCEL], 19000);
    ck_assert_uint_lt(kinds[QSL_FLOW_CANCEL], 21000);
    ck_assert_uint_gt(market, 9400);
    ck_assert_uint_lt(market, 10600);
}
END_TEST

START_TEST(test_generator_names)
{
    ck_assert_int_eq(qsl_flow_gen_parse("original"), QSL_FLOW_ORIGINAL);
    ck_assert_int_eq(qsl_flow_gen_parse("drift"), QSL_FLOW_DRIFT);
    ck_assert_int_eq(qsl_flow_gen_parse("Original"), -1);
    ck_assert_int_eq(qsl_flow_gen_parse(""), -1);
    struct qsl_flow f;
    ck_assert_int_eq(qsl_flow_init(&f, (enum qsl_flow_gen)2, 1, 1), -EINVAL);
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
    tcase_add_test(tc, test_mt64_matches_the_standard);
    tcase_add_test(tc, test_original_first_200_commands_equal_golden);
    tcase_add_test(tc, test_original_draws_are_in_range);
    tcase_add_test(tc, test_generator_names);
    suite_add_tcase(s, tc);
    return s;
}
