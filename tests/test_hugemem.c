/*
 * test_hugemem.c - 2 MiB-aligned mappings advised for huge pages.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hugemem.h"
#include "suites.h"

#define MIB2 ((size_t)2 << 20)

START_TEST(test_size_rounds_up_to_whole_pages)
{
    ck_assert_uint_eq(qsl_hugemem_size(1), MIB2);
    ck_assert_uint_eq(qsl_hugemem_size(MIB2), MIB2);
    ck_assert_uint_eq(qsl_hugemem_size(MIB2 + 1), 2 * MIB2);
}
END_TEST

START_TEST(test_refuses_nothing_and_too_much)
{
    errno = 0;
    ck_assert_ptr_null(qsl_hugemem_map(0));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(qsl_hugemem_map(SIZE_MAX));
    ck_assert_int_eq(errno, EINVAL);
    qsl_hugemem_unmap(NULL, 1);        /* nothing to do */
}
END_TEST

/* The /proc/self/smaps entry that holds address a: its start, end and whether the kernel
 * would back it with huge pages (THPeligible); 0 when there is none. */
static int smaps_entry(uintptr_t a, uintptr_t *start, uintptr_t *end, int *eligible)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    int found = 0;
    *eligible = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long s, e;
        if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            if (found)
                break;          /* the next entry: ours had no THPeligible line */
            found = s <= a && a < e;
            *start = s;
            *end = e;
        } else if (found && sscanf(line, "THPeligible: %d", eligible) == 1) {
            break;
        }
    }
    fclose(f);
    return found;
}

static int thp_enabled(void)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    char buf[128] = "";
    if (!f)
        return 0;
    if (!fgets(buf, sizeof buf, f))
        buf[0] = 0;
    fclose(f);
    return strstr(buf, "[never]") == NULL && buf[0] != 0;
}

/* Aligned, zeroed, writable to the last byte asked for, and unmapped whole (the rounding
 * past it is poisoned under AddressSanitizer, so it is not touched here). */
START_TEST(test_map_is_aligned_and_zeroed)
{
    size_t want = MIB2 + 4096;           /* rounds up to 4 MiB */
    uint8_t *p = qsl_hugemem_map(want);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % MIB2, 0);
    size_t size = qsl_hugemem_size(want);
    for (size_t i = 0; i < want; i += 4096)
        ck_assert_uint_eq(p[i], 0);
    p[want - 1] = 7;
    uintptr_t start, end;
    int eligible;
    ck_assert(smaps_entry((uintptr_t)p, &start, &end, &eligible));
    ck_assert_uint_le(start, (uintptr_t)p);
    ck_assert_uint_ge(end, (uintptr_t)p + size);
    qsl_hugemem_unmap(p, want);
    ck_assert(!smaps_entry((uintptr_t)p, &start, &end, &eligible));
    ck_assert(!smaps_entry((uintptr_t)p + size - 1, &start, &end, &eligible));
}
END_TEST

/* Where the kernel has transparent huge pages, it would back the mapping with them. */
START_TEST(test_map_is_advised)
{
    uint8_t *p = qsl_hugemem_map(MIB2);
    ck_assert_ptr_nonnull(p);
    uintptr_t start, end;
    int eligible;
    ck_assert(smaps_entry((uintptr_t)p, &start, &end, &eligible));
    ck_assert_int_eq(eligible, 1);
    qsl_hugemem_unmap(p, MIB2);
}
END_TEST

Suite *hugemem_suite(void)
{
    Suite *s = suite_create("hugemem");
    TCase *tc = tcase_create("hugemem");
    tcase_add_test(tc, test_size_rounds_up_to_whole_pages);
    tcase_add_test(tc, test_refuses_nothing_and_too_much);
    tcase_add_test(tc, test_map_is_aligned_and_zeroed);
    if (thp_enabled())
        tcase_add_test(tc, test_map_is_advised);
    else
        qsl_test_skip("test_map_is_advised", "transparent huge pages are off here");
    suite_add_tcase(s, tc);
    return s;
}
