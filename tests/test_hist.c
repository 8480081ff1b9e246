/*
 * test_hist.c - histogram geometry, error bound and percentiles.
 */
#include <errno.h>
#include "hist.h"
#include "suites.h"

static struct qsl_hist h;

START_TEST(test_small_values_are_exact)
{
    for (uint64_t v = 0; v < 128; v++) {
        ck_assert_uint_eq(qsl_hist_index(v), v);
        ck_assert_uint_eq(qsl_hist_lower((unsigned)v), v);
        ck_assert_uint_eq(qsl_hist_upper((unsigned)v), v);
    }
}
END_TEST

START_TEST(test_buckets_tile_the_range_with_bounded_width)
{
    for (unsigned i = 0; i + 1 < QSL_HIST_BUCKETS; i++) {
        ck_assert_uint_eq(qsl_hist_upper(i) + 1, qsl_hist_lower(i + 1));
        ck_assert_uint_eq(qsl_hist_index(qsl_hist_lower(i)), i);
        ck_assert_uint_eq(qsl_hist_index(qsl_hist_upper(i)), i);
        uint64_t lo = qsl_hist_lower(i), width = qsl_hist_upper(i) - lo + 1;
        ck_assert(lo < 128 || width * 64 <= lo);        /* width <= 1/64 of the value */
    }
    ck_assert_uint_eq(qsl_hist_index(UINT64_MAX), QSL_HIST_BUCKETS - 1);
}
END_TEST

START_TEST(test_percentiles_of_a_uniform_run)
{
    qsl_hist_init(&h);
    for (uint64_t v = 1; v <= 100000; v++)
        qsl_hist_record(&h, v);
    ck_assert_uint_eq(h.count, 100000);
    ck_assert_uint_eq(qsl_hist_percentile(&h, 0), 1);
    ck_assert_uint_eq(qsl_hist_percentile(&h, 100), 100000);
    static const double ps[] = {50, 90, 99, 99.9};
    for (int i = 0; i < 4; i++) {
        double want = ps[i] * 1000, got = (double)qsl_hist_percentile(&h, ps[i]);
        ck_assert_msg(got >= want && got <= want * (1 + 1.0 / 64), "p%g: %g", ps[i], got);
    }
    ck_assert(qsl_hist_mean(&h) > 50000.4 && qsl_hist_mean(&h) < 50000.6);
}
END_TEST

START_TEST(test_percentile_never_exceeds_max_and_merge_adds)
{
    struct qsl_hist a, b;
    qsl_hist_init(&a);
    qsl_hist_init(&b);
    qsl_hist_record(&a, 1000);
    qsl_hist_record_n(&b, 5, 3);
    ck_assert_uint_eq(qsl_hist_percentile(&a, 99), 1000);
    qsl_hist_merge(&a, &b);
    ck_assert_uint_eq(a.count, 4);
    ck_assert_uint_eq(a.min, 5);
    ck_assert_uint_eq(qsl_hist_percentile(&a, 75), 5);
    ck_assert_uint_eq(qsl_hist_percentile(&a, 76), 1000);
    qsl_hist_init(&b);
    ck_assert_uint_eq(qsl_hist_percentile(&b, 50), 0);
}
END_TEST

/* Issue 21.8: a count never wraps: what would pass the largest count is refused whole. */
START_TEST(test_count_cannot_overflow)
{
    struct qsl_hist a, b;
    qsl_hist_init(&a);
    qsl_hist_init(&b);
    ck_assert_int_eq(qsl_hist_record_n(&a, 100, QSL_HIST_COUNT_MAX), 0);
    ck_assert_int_eq(qsl_hist_record_n(&a, 100, 2), -EOVERFLOW);
    ck_assert_int_eq(qsl_hist_record_n(&a, 100, 1), -EOVERFLOW);
    ck_assert_uint_eq(a.count, QSL_HIST_COUNT_MAX);
    ck_assert_int_eq(qsl_hist_record_n(&b, 7, 1), 0);
    ck_assert_int_eq(qsl_hist_merge(&a, &b), -EOVERFLOW);
    ck_assert_uint_eq(a.count, QSL_HIST_COUNT_MAX);
    ck_assert_uint_eq(a.min, 100);
    ck_assert_uint_eq(qsl_hist_percentile(&a, 50), qsl_hist_percentile(&a, 99));
}
END_TEST

Suite *hist_suite(void)
{
    Suite *s = suite_create("hist");
    TCase *tc = tcase_create("hist");
    tcase_add_test(tc, test_count_cannot_overflow);
    tcase_add_test(tc, test_small_values_are_exact);
    tcase_add_test(tc, test_buckets_tile_the_range_with_bounded_width);
    tcase_add_test(tc, test_percentiles_of_a_uniform_run);
    tcase_add_test(tc, test_percentile_never_exceeds_max_and_merge_adds);
    suite_add_tcase(s, tc);
    return s;
}
