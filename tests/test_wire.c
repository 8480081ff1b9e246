/*
 * test_wire.c - the protocol layout (golden bytes) and strict decoding.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "wire.h"

/* Parse "00 01 ff" into bytes; returns the count. */
static size_t hex(const char *s, uint8_t *out)
{
    size_t n = 0;
    unsigned v;
    int used;
    while (sscanf(s, " %2x%n", &v, &used) == 1) {
        out[n++] = (uint8_t)v;
        s += used;
    }
    return n;
}

static void assert_encodes(const struct qsl_wire_msg *m, const char *golden)
{
    uint8_t want[128], got[128];
    size_t n = hex(golden, want);
    int len = qsl_wire_encode(m, got, sizeof got);
    ck_assert_int_eq(len, (int)n);
    ck_assert_mem_eq(got, want, n);
    /* and back: decoding the golden bytes gives the same message */
    struct qsl_wire_msg back;
    size_t flen = 0;
    memset(&back, 0xAA, sizeof back);
    ck_assert_int_eq(qsl_wire_decode(want, n, &back, &flen), QSL_WIRE_OK);
    ck_assert_uint_eq(flen, n);
    uint8_t again[128];
    ck_assert_int_eq(qsl_wire_encode(&back, again, sizeof again), (int)n);
    ck_assert_mem_eq(again, want, n);
}

START_TEST(test_golden_new_order)
{
    struct qsl_wire_msg m = {.type = QSL_WIRE_NEW_ORDER, .seq = 5,
                             .u.new_order = {0x0102030405060708ull, 7, -2, 100, QSL_SELL,
                                             QSL_LIMIT, QSL_IOC}};
    assert_encodes(&m, "00 01 00 01 00 00 00 1b 00 00 00 00 00 00 00 05"
                       " 01 02 03 04 05 06 07 08 00 00 00 07 ff ff ff ff ff ff ff fe"
                       " 00 00 00 64 01 00 01");
}
END_TEST

START_TEST(test_golden_cancel_order)
{
    struct qsl_wire_msg m = {.type = QSL_WIRE_CANCEL_ORDER, .u.cancel_order = {42, 3}};
    assert_encodes(&m, "00 02 00 01 00 00 00 0c 00 00 00 00 00 00 00 00"
                       " 00 00 00 00 00 00 00 2a 00 00 00 03");
}
END_TEST

START_TEST(test_golden_md_trade)
{
    struct qsl_wire_msg m = {.type = QSL_WIRE_MD_TRADE, .seq = 0x1122334455667788ull,
                             .u.md_trade = {2, 101, 9}};
    assert_encodes(&m, "00 03 00 01 00 00 00 10 11 22 33 44 55 66 77 88"
                       " 00 00 00 02 00 00 00 00 00 00 00 65 00 00 00 09");
}
END_TEST

START_TEST(test_golden_top_of_book_absent_price_is_zero)
{
    struct qsl_wire_msg m = {.type = QSL_WIRE_MD_TOP_OF_BOOK, .seq = 1,
                             .u.md_top_of_book = {1, 1, 99, 0, 12345}};
    assert_encodes(&m, "00 04 00 01 00 00 00 16 00 00 00 00 00 00 00 01"
                       " 00 00 00 01 01 00 00 00 00 00 00 00 63 00"
                       " 00 00 00 00 00 00 00 00");
}
END_TEST

START_TEST(test_golden_heartbeat_and_ack)
{
    struct qsl_wire_msg m = {.type = QSL_WIRE_HEARTBEAT, .u.heartbeat = {0xdeadbeefull}};
    assert_encodes(&m, "00 05 00 01 00 00 00 08 00 00 00 00 00 00 00 00"
                       " 00 00 00 00 de ad be ef");
    m.type = QSL_WIRE_HEARTBEAT_ACK;
    assert_encodes(&m, "00 06 00 01 00 00 00 08 00 00 00 00 00 00 00 00"
                       " 00 00 00 00 de ad be ef");
}
END_TEST

START_TEST(test_golden_ack_reject_fill)
{
    struct qsl_wire_msg a = {.type = QSL_WIRE_ACK, .u.ack = {10, 3}};
    assert_encodes(&a, "00 07 00 01 00 00 00 10 00 00 00 00 00 00 00 00"
                       " 00 00 00 00 00 00 00 0a 00 00 00 00 00 00 00 03");
    struct qsl_wire_msg r = {.type = QSL_WIRE_REJECT,
                             .u.reject = {11, QSL_REJECT_DUPLICATE_ORDER_ID}};
    assert_encodes(&r, "00 08 00 01 00 00 00 09 00 00 00 00 00 00 00 00"
                       " 00 00 00 00 00 00 00 0b 07");
    struct qsl_wire_msg f = {.type = QSL_WIRE_FILL, .u.fill = {12, 4, 100, 5, 6}};
    assert_encodes(&f, "00 09 00 01 00 00 00 24 00 00 00 00 00 00 00 00"
                       " 00 00 00 00 00 00 00 0c 00 00 00 00 00 00 00 04"
                       " 00 00 00 00 00 00 00 64 00 00 00 05 00 00 00 00 00 00 00 06");
}
END_TEST

/* The session's path: the header read once (qsl_wire_decode_header), then the body;
 * and its replies written in place - both equal to decode and encode, byte for byte. */
START_TEST(test_decode_body_and_put_equal_decode_and_encode)
{
    struct qsl_wire_msg msgs[] = {
        {.type = QSL_WIRE_NEW_ORDER, .seq = 9, .u.new_order = {7, 2, -5, 10, QSL_SELL, QSL_LIMIT, QSL_IOC}},
        {.type = QSL_WIRE_CANCEL_ORDER, .u.cancel_order = {8, 1}},
        {.type = QSL_WIRE_ACK, .u.ack = {10, 3}},
        {.type = QSL_WIRE_FILL, .u.fill = {12, 4, 100, 5, 6}},
    };
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
        uint8_t buf[128];
        int n = qsl_wire_encode(&msgs[i], buf, sizeof buf);
        ck_assert_int_gt(n, 0);
        struct qsl_wire_header h;
        struct qsl_wire_msg a, b;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        ck_assert_int_eq(qsl_wire_decode_header(buf, (size_t)n, &h), QSL_WIRE_OK);
        ck_assert_int_eq(qsl_wire_decode_body(&h, buf + QSL_WIRE_HEADER_SIZE, &a), QSL_WIRE_OK);
        ck_assert_int_eq(qsl_wire_decode(buf, (size_t)n, &b, NULL), QSL_WIRE_OK);
        ck_assert_mem_eq(&a, &b, sizeof a);
    }
    /* a bad enum in the body is refused by the body decoder too */
    uint8_t buf[128];
    int n = qsl_wire_encode(&msgs[0], buf, sizeof buf);
    buf[QSL_WIRE_HEADER_SIZE + 24] = 7;
    struct qsl_wire_header h;
    struct qsl_wire_msg m;
    ck_assert_int_eq(qsl_wire_decode_header(buf, (size_t)n, &h), QSL_WIRE_OK);
    ck_assert_int_eq(qsl_wire_decode_body(&h, buf + QSL_WIRE_HEADER_SIZE, &m),
                     QSL_WIRE_INVALID_ENUM_VALUE);
    /* an Ack and a Fill written in place equal their encodings */
    uint8_t want[128], got[128];
    ck_assert_int_eq(qsl_wire_encode(&msgs[2], want, sizeof want), 32);
    qsl_wire_put_header(got, QSL_WIRE_ACK, 16, 0);
    qsl_wire_put_ack(got + QSL_WIRE_HEADER_SIZE, 10, 3);
    ck_assert_mem_eq(got, want, 32);
    ck_assert_int_eq(qsl_wire_encode(&msgs[3], want, sizeof want), 52);
    qsl_wire_put_header(got, QSL_WIRE_FILL, 36, 0);
    qsl_wire_put_fill(got + QSL_WIRE_HEADER_SIZE, &msgs[3].u.fill);
    ck_assert_mem_eq(got, want, 52);
}
END_TEST

START_TEST(test_body_sizes_match_protocol)
{
    static const size_t want[] = {0, 27, 12, 16, 22, 8, 8, 16, 9, 36, 0};
    for (unsigned t = 0; t < sizeof want / sizeof want[0]; t++)
        ck_assert_uint_eq(qsl_wire_body_size(t), want[t]);
    ck_assert_uint_eq(qsl_wire_body_size(0xffff), 0);
    ck_assert_uint_eq(qsl_wire_frame_size(QSL_WIRE_FILL), QSL_WIRE_MAX_FRAME);
}
END_TEST

/* A valid NewOrder frame to corrupt. */
static size_t new_order_frame(uint8_t *buf)
{
    struct qsl_wire_msg m = {.type = QSL_WIRE_NEW_ORDER,
                             .u.new_order = {1, 0, 100, 10, QSL_BUY, QSL_LIMIT, QSL_GTC}};
    return (size_t)qsl_wire_encode(&m, buf, 64);
}

static enum qsl_wire_err decode(const uint8_t *b, size_t n)
{
    struct qsl_wire_msg m;
    return qsl_wire_decode(b, n, &m, NULL);
}

START_TEST(test_short_header_is_truncated)
{
    uint8_t b[64];
    new_order_frame(b);
    for (size_t n = 0; n < QSL_WIRE_HEADER_SIZE; n++)
        ck_assert_int_eq(decode(b, n), QSL_WIRE_TRUNCATED);
}
END_TEST

START_TEST(test_short_body_is_truncated)
{
    uint8_t b[64];
    size_t n = new_order_frame(b);
    for (size_t k = QSL_WIRE_HEADER_SIZE; k < n; k++)
        ck_assert_int_eq(decode(b, k), QSL_WIRE_TRUNCATED);
    ck_assert_int_eq(decode(b, n), QSL_WIRE_OK);
}
END_TEST

START_TEST(test_every_length_stays_in_bounds)
{
    /* exact-size heap copies: a read past the end is an ASan error */
    for (unsigned t = 1; t <= QSL_WIRE_TYPE_MAX; t++) {
        uint8_t frame[64] = {0};
        qsl_be16_put(frame, (uint16_t)t);
        qsl_be16_put(frame + 2, 1);
        qsl_be32_put(frame + 4, (uint32_t)qsl_wire_body_size(t));
        size_t full = qsl_wire_frame_size(t);
        for (size_t n = 0; n <= full; n++) {
            uint8_t *copy = malloc(n ? n : 1);
            memcpy(copy, frame, n);
            enum qsl_wire_err e = decode(copy, n);
            ck_assert_int_eq(e, n == full ? QSL_WIRE_OK : QSL_WIRE_TRUNCATED);
            free(copy);
        }
    }
}
END_TEST

START_TEST(test_version_must_be_one)
{
    uint8_t b[64];
    size_t n = new_order_frame(b);
    qsl_be16_put(b + 2, 2);
    ck_assert_int_eq(decode(b, n), QSL_WIRE_UNSUPPORTED_VERSION);
    qsl_be16_put(b + 2, 0);
    ck_assert_int_eq(decode(b, n), QSL_WIRE_UNSUPPORTED_VERSION);
}
END_TEST

START_TEST(test_unknown_types)
{
    uint8_t b[64];
    size_t n = new_order_frame(b);
    static const uint16_t bad[] = {0, 10, 0x100, 0xffff};
    for (size_t i = 0; i < 4; i++) {
        qsl_be16_put(b, bad[i]);
        ck_assert_int_eq(decode(b, n), QSL_WIRE_UNKNOWN_TYPE);
    }
}
END_TEST

START_TEST(test_body_too_large)
{
    uint8_t b[64];
    size_t n = new_order_frame(b);
    qsl_be32_put(b + 4, 4097);
    ck_assert_int_eq(decode(b, n), QSL_WIRE_BODY_TOO_LARGE);
    qsl_be32_put(b + 4, 0xffffffffu);
    ck_assert_int_eq(decode(b, n), QSL_WIRE_BODY_TOO_LARGE);
    /* 4096 is allowed by the header check, but not this type's size */
    qsl_be32_put(b + 4, 4096);
    ck_assert_int_eq(decode(b, n), QSL_WIRE_BODY_LENGTH_MISMATCH);
}
END_TEST

START_TEST(test_body_length_mismatch)
{
    uint8_t b[64];
    size_t n = new_order_frame(b);
    qsl_be32_put(b + 4, 26);
    ck_assert_int_eq(decode(b, n), QSL_WIRE_BODY_LENGTH_MISMATCH);
    qsl_be32_put(b + 4, 28);
    ck_assert_int_eq(decode(b, n), QSL_WIRE_BODY_LENGTH_MISMATCH);
    qsl_be32_put(b + 4, 0);
    ck_assert_int_eq(decode(b, n), QSL_WIRE_BODY_LENGTH_MISMATCH);
}
END_TEST

START_TEST(test_invalid_enum_values)
{
    uint8_t b[64];
    size_t n = new_order_frame(b);
    for (int field = 24; field <= 26; field++) {
        new_order_frame(b);
        b[QSL_WIRE_HEADER_SIZE + field] = 2;
        ck_assert_int_eq(decode(b, n), QSL_WIRE_INVALID_ENUM_VALUE);
    }
    struct qsl_wire_msg r = {.type = QSL_WIRE_REJECT, .u.reject = {1, 9}};
    n = (size_t)qsl_wire_encode(&r, b, sizeof b);
    ck_assert_int_eq(decode(b, n), QSL_WIRE_OK);
    b[QSL_WIRE_HEADER_SIZE + 8] = 10;
    ck_assert_int_eq(decode(b, n), QSL_WIRE_INVALID_ENUM_VALUE);
    struct qsl_wire_msg t = {.type = QSL_WIRE_MD_TOP_OF_BOOK, .u.md_top_of_book = {0, 1, 5, 1, 6}};
    n = (size_t)qsl_wire_encode(&t, b, sizeof b);
    b[QSL_WIRE_HEADER_SIZE + 13] = 2;
    ck_assert_int_eq(decode(b, n), QSL_WIRE_INVALID_ENUM_VALUE);
}
END_TEST

START_TEST(test_errors_come_in_the_original_order)
{
    uint8_t b[64];
    size_t n = new_order_frame(b);
    /* bad version beats an unknown type and an oversized body */
    qsl_be16_put(b, 77);
    qsl_be16_put(b + 2, 9);
    qsl_be32_put(b + 4, 99999);
    ck_assert_int_eq(decode(b, n), QSL_WIRE_UNSUPPORTED_VERSION);
    /* unknown type beats an oversized body */
    qsl_be16_put(b + 2, 1);
    ck_assert_int_eq(decode(b, n), QSL_WIRE_UNKNOWN_TYPE);
    /* oversized body is reported from the header alone, before any truncation */
    qsl_be16_put(b, QSL_WIRE_NEW_ORDER);
    ck_assert_int_eq(decode(b, QSL_WIRE_HEADER_SIZE), QSL_WIRE_BODY_TOO_LARGE);
    /* a length mismatch is known before the body is complete */
    qsl_be32_put(b + 4, 5);
    ck_assert_int_eq(decode(b, QSL_WIRE_HEADER_SIZE), QSL_WIRE_BODY_LENGTH_MISMATCH);
    /* a truncated body beats a bad enum in it */
    new_order_frame(b);
    b[QSL_WIRE_HEADER_SIZE + 24] = 9;
    ck_assert_int_eq(decode(b, n - 1), QSL_WIRE_TRUNCATED);
    ck_assert_int_eq(decode(b, n), QSL_WIRE_INVALID_ENUM_VALUE);
}
END_TEST

START_TEST(test_encode_refuses_small_buffer_and_bad_fields)
{
    uint8_t b[64];
    memset(b, 0x5a, sizeof b);
    struct qsl_wire_msg m = {.type = QSL_WIRE_FILL};
    ck_assert_int_eq(qsl_wire_encode(&m, b, QSL_WIRE_MAX_FRAME - 1), -ENOSPC);
    ck_assert_uint_eq(b[0], 0x5a);      /* nothing written */
    m.type = 0;
    ck_assert_int_eq(qsl_wire_encode(&m, b, sizeof b), -EINVAL);
    m.type = QSL_WIRE_NEW_ORDER;
    m.u.new_order.side = 3;
    ck_assert_int_eq(qsl_wire_encode(&m, b, sizeof b), -EINVAL);
}
END_TEST

START_TEST(test_price_extremes_round_trip)
{
    static const int64_t prices[] = {INT64_MIN, -1, 0, 1, INT64_MAX};
    for (size_t i = 0; i < 5; i++) {
        struct qsl_wire_msg m = {.type = QSL_WIRE_MD_TRADE, .u.md_trade = {1, prices[i], 1}}, back;
        uint8_t b[64];
        int n = qsl_wire_encode(&m, b, sizeof b);
        ck_assert_int_eq(qsl_wire_decode(b, (size_t)n, &back, NULL), QSL_WIRE_OK);
        ck_assert(back.u.md_trade.price == prices[i]);
    }
}
END_TEST

START_TEST(test_names)
{
    ck_assert_str_eq(qsl_wire_err_name(QSL_WIRE_BODY_TOO_LARGE), "BodyTooLarge");
    ck_assert_str_eq(qsl_wire_type_name(QSL_WIRE_MD_TOP_OF_BOOK), "MdTopOfBook");
    ck_assert_ptr_null(qsl_wire_type_name(10));
    ck_assert_str_eq(qsl_wire_reject_name(QSL_REJECT_STORAGE_EXHAUSTED), "StorageExhausted");
    ck_assert_ptr_null(qsl_wire_reject_name(10));
}
END_TEST

Suite *wire_suite(void)
{
    Suite *s = suite_create("wire");
    TCase *tc = tcase_create("wire");
    tcase_add_test(tc, test_golden_new_order);
    tcase_add_test(tc, test_golden_cancel_order);
    tcase_add_test(tc, test_golden_md_trade);
    tcase_add_test(tc, test_golden_top_of_book_absent_price_is_zero);
    tcase_add_test(tc, test_golden_heartbeat_and_ack);
    tcase_add_test(tc, test_golden_ack_reject_fill);
    tcase_add_test(tc, test_body_sizes_match_protocol);
    tcase_add_test(tc, test_short_header_is_truncated);
    tcase_add_test(tc, test_short_body_is_truncated);
    tcase_add_test(tc, test_every_length_stays_in_bounds);
    tcase_add_test(tc, test_version_must_be_one);
    tcase_add_test(tc, test_unknown_types);
    tcase_add_test(tc, test_body_too_large);
    tcase_add_test(tc, test_body_length_mismatch);
    tcase_add_test(tc, test_invalid_enum_values);
    tcase_add_test(tc, test_errors_come_in_the_original_order);
    tcase_add_test(tc, test_encode_refuses_small_buffer_and_bad_fields);
    tcase_add_test(tc, test_price_extremes_round_trip);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_decode_body_and_put_equal_decode_and_encode);
    suite_add_tcase(s, tc);
    return s;
}
