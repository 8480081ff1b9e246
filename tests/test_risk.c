/*
 * test_risk.c - every pre-trade check, and their order.
 */
#include "risk.h"
#include "suites.h"

static const struct qsl_risk_limits lim = {.max_quantity = 100, .max_notional = 10000};

START_TEST(test_valid_limit_passes)
{
    ck_assert_int_eq(qsl_risk_check_limit(&lim, QSL_BUY, 100, 100), QSL_REJECT_NONE);
    ck_assert_int_eq(qsl_risk_check_limit(&lim, QSL_SELL, 1, 1), QSL_REJECT_NONE);
}
END_TEST

START_TEST(test_invalid_side)
{
    ck_assert_int_eq(qsl_risk_check_limit(&lim, 2, 100, 1), QSL_REJECT_INVALID_SIDE);
    ck_assert_int_eq(qsl_risk_check_market(&lim, 255, 1), QSL_REJECT_INVALID_SIDE);
}
END_TEST

START_TEST(test_limit_price_must_be_positive)
{
    ck_assert_int_eq(qsl_risk_check_limit(&lim, QSL_BUY, 0, 1), QSL_REJECT_INVALID_PRICE);
    ck_assert_int_eq(qsl_risk_check_limit(&lim, QSL_BUY, -5, 1), QSL_REJECT_INVALID_PRICE);
    ck_assert_int_eq(qsl_risk_check_limit(&lim, QSL_BUY, INT64_MIN, 1), QSL_REJECT_INVALID_PRICE);
}
END_TEST

START_TEST(test_quantity_zero_rejected)
{
    ck_assert_int_eq(qsl_risk_check_limit(&lim, QSL_BUY, 10, 0), QSL_REJECT_INVALID_QUANTITY);
    ck_assert_int_eq(qsl_risk_check_market(&lim, QSL_BUY, 0), QSL_REJECT_INVALID_QUANTITY);
}
END_TEST

START_TEST(test_max_quantity)
{
    ck_assert_int_eq(qsl_risk_check_limit(&lim, QSL_BUY, 1, 101), QSL_REJECT_MAX_QUANTITY_EXCEEDED);
    ck_assert_int_eq(qsl_risk_check_market(&lim, QSL_SELL, 101), QSL_REJECT_MAX_QUANTITY_EXCEEDED);
    ck_assert_int_eq(qsl_risk_check_market(&lim, QSL_SELL, 100), QSL_REJECT_NONE);
}
END_TEST

START_TEST(test_max_notional_is_exact_and_overflow_safe)
{
    ck_assert_int_eq(qsl_risk_check_limit(&lim, QSL_BUY, 100, 100), QSL_REJECT_NONE);
    ck_assert_int_eq(qsl_risk_check_limit(&lim, QSL_BUY, 101, 100), QSL_REJECT_MAX_NOTIONAL_EXCEEDED);
    /* price x quantity would overflow 64 bits: still rejected, never wrapped */
    struct qsl_risk_limits wide = {.max_quantity = UINT32_MAX, .max_notional = UINT64_MAX - 1};
    ck_assert_int_eq(qsl_risk_check_limit(&wide, QSL_BUY, INT64_MAX, UINT32_MAX),
                     QSL_REJECT_MAX_NOTIONAL_EXCEEDED);
    /* a market order has no notional check */
    ck_assert_int_eq(qsl_risk_check_market(&lim, QSL_BUY, 100), QSL_REJECT_NONE);
}
END_TEST

START_TEST(test_checks_come_in_order)
{
    /* side before price before quantity before limits */
    ck_assert_int_eq(qsl_risk_check_limit(&lim, 9, -1, 0), QSL_REJECT_INVALID_SIDE);
    ck_assert_int_eq(qsl_risk_check_limit(&lim, QSL_BUY, -1, 0), QSL_REJECT_INVALID_PRICE);
    ck_assert_int_eq(qsl_risk_check_limit(&lim, QSL_BUY, 1000, 0), QSL_REJECT_INVALID_QUANTITY);
    ck_assert_int_eq(qsl_risk_check_limit(&lim, QSL_BUY, 1000, 1000), QSL_REJECT_MAX_QUANTITY_EXCEEDED);
}
END_TEST

Suite *risk_suite(void)
{
    Suite *s = suite_create("risk");
    TCase *tc = tcase_create("risk");
    tcase_add_test(tc, test_valid_limit_passes);
    tcase_add_test(tc, test_invalid_side);
    tcase_add_test(tc, test_limit_price_must_be_positive);
    tcase_add_test(tc, test_quantity_zero_rejected);
    tcase_add_test(tc, test_max_quantity);
    tcase_add_test(tc, test_max_notional_is_exact_and_overflow_safe);
    tcase_add_test(tc, test_checks_come_in_order);
    suite_add_tcase(s, tc);
    return s;
}
