/*
 * test_session.c - framing (every split point), responses, closing rules,
 * bounded output.
 */
#include <stdlib.h>

#include "engine.h"
#include "session.h"
#include "suites.h"
#include "wire.h"

static struct qsl_engine eng;

static void setup(void)
{
    struct qsl_engine_config c;
    qsl_engine_config_defaults(&c);
    ck_assert_int_eq(qsl_engine_init(&eng, &c), 0);
}

static void teardown(void) { qsl_engine_free(&eng); }

static size_t put_msg(uint8_t *buf, const struct qsl_wire_msg *m)
{
    int n = qsl_wire_encode(m, buf, 64);
    ck_assert_int_gt(n, 0);
    return (size_t)n;
}

static size_t put_order(uint8_t *buf, qsl_order_id id, enum qsl_side side, qsl_price px, qsl_qty q)
{
    struct qsl_wire_msg m = {.type = QSL_WIRE_NEW_ORDER,
                             .u.new_order = {id, 0, px, q, (uint8_t)side, QSL_LIMIT, QSL_GTC}};
    return put_msg(buf, &m);
}

static size_t put_cancel(uint8_t *buf, qsl_order_id id)
{
    struct qsl_wire_msg m = {.type = QSL_WIRE_CANCEL_ORDER, .u.cancel_order = {id, 0}};
    return put_msg(buf, &m);
}

static size_t put_heartbeat(uint8_t *buf, uint64_t token)
{
    struct qsl_wire_msg m = {.type = QSL_WIRE_HEARTBEAT, .u.heartbeat = {token}};
    return put_msg(buf, &m);
}

/* Decode every response frame in out; returns the count and fills msgs. */
static unsigned responses(const uint8_t *out, size_t len, struct qsl_wire_msg *msgs, unsigned max)
{
    unsigned n = 0;
    size_t pos = 0, flen;
    while (pos < len) {
        ck_assert_uint_lt(n, max);
        ck_assert_int_eq(qsl_wire_decode(out + pos, len - pos, &msgs[n], &flen), QSL_WIRE_OK);
        pos += flen;
        n++;
    }
    return n;
}

/* A stream of requests with a cross, a reject, a cancel and a heartbeat. */
static size_t script(uint8_t *in)
{
    size_t n = 0;
    n += put_order(in + n, 1, QSL_SELL, 100, 5);
    n += put_order(in + n, 2, QSL_BUY, 101, 3);       /* fills 3 at 100 */
    n += put_order(in + n, 3, QSL_BUY, 0, 3);         /* InvalidPrice */
    n += put_cancel(in + n, 1);
    n += put_cancel(in + n, 1);                       /* UnknownOrder */
    n += put_heartbeat(in + n, 0xfeedull);
    return n;
}

START_TEST(test_responses_follow_the_protocol)
{
    uint8_t in[512], outbuf[1024];
    size_t n = script(in);
    struct qsl_session s;
    qsl_session_init(&s, &eng);
    struct qsl_session_out out = {outbuf, 0, sizeof outbuf};
    ck_assert_uint_eq(qsl_session_feed(&s, in, n, &out), n);
    ck_assert(!qsl_session_closed(&s));
    struct qsl_wire_msg m[16];
    unsigned k = responses(outbuf, out.len, m, 16);
    ck_assert_uint_eq(k, 7);
    ck_assert_int_eq(m[0].type, QSL_WIRE_ACK);
    ck_assert_uint_eq(m[0].u.ack.order_id, 1);
    ck_assert_uint_eq(m[0].u.ack.seq, 1);
    ck_assert_int_eq(m[1].type, QSL_WIRE_ACK);
    ck_assert_uint_eq(m[1].u.ack.seq, 2);
    ck_assert_int_eq(m[2].type, QSL_WIRE_FILL);
    ck_assert_uint_eq(m[2].u.fill.taker_id, 2);
    ck_assert_uint_eq(m[2].u.fill.maker_id, 1);
    ck_assert_int_eq(m[2].u.fill.price, 100);
    ck_assert_uint_eq(m[2].u.fill.quantity, 3);
    ck_assert_uint_eq(m[2].u.fill.seq, 3);
    ck_assert_int_eq(m[3].type, QSL_WIRE_REJECT);
    ck_assert_uint_eq(m[3].u.reject.reason, QSL_REJECT_INVALID_PRICE);
    ck_assert_int_eq(m[4].type, QSL_WIRE_ACK);
    ck_assert_uint_eq(m[4].u.ack.order_id, 1);
    ck_assert_int_eq(m[5].type, QSL_WIRE_REJECT);
    ck_assert_uint_eq(m[5].u.reject.reason, QSL_REJECT_UNKNOWN_ORDER);
    ck_assert_int_eq(m[6].type, QSL_WIRE_HEARTBEAT_ACK);
    ck_assert_uint_eq(m[6].u.heartbeat.token, 0xfeed);
    ck_assert_uint_eq(s.stats.frames_in, 6);
    ck_assert_uint_eq(s.stats.frames_out, 7);
}
END_TEST

/* Run the script through a fresh engine and session, cut at the given points. */
static size_t run_split(const uint8_t *in, size_t n, const size_t *cuts, unsigned ncuts,
                        uint8_t *outbuf, size_t cap)
{
    qsl_engine_free(&eng);
    setup();
    struct qsl_session s;
    qsl_session_init(&s, &eng);
    struct qsl_session_out out = {outbuf, 0, cap};
    size_t prev = 0;
    for (unsigned i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        ck_assert_uint_eq(qsl_session_feed(&s, in + prev, end - prev, &out), end - prev);
        prev = end;
    }
    ck_assert(!qsl_session_closed(&s));
    ck_assert_uint_eq(s.held, 0);
    return out.len;
}

START_TEST(test_split_at_every_byte_boundary)
{
    uint8_t in[512], whole[1024], part[1024];
    size_t n = script(in);
    size_t want = run_split(in, n, NULL, 0, whole, sizeof whole);
    for (size_t a = 1; a < n; a++) {
        size_t cut[1] = {a};
        ck_assert_uint_eq(run_split(in, n, cut, 1, part, sizeof part), want);
        ck_assert_mem_eq(part, whole, want);
    }
    /* and in two places at once, over the first frames */
    for (size_t a = 1; a < 60; a++)
        for (size_t b = a + 1; b < 80; b++) {
            size_t cuts[2] = {a, b};
            ck_assert_uint_eq(run_split(in, n, cuts, 2, part, sizeof part), want);
            ck_assert_mem_eq(part, whole, want);
        }
}
END_TEST

START_TEST(test_one_byte_at_a_time)
{
    uint8_t in[512], whole[1024], part[1024];
    size_t n = script(in);
    size_t want = run_split(in, n, NULL, 0, whole, sizeof whole);
    size_t cuts[512];
    for (size_t i = 0; i + 1 < n; i++)
        cuts[i] = i + 1;
    ck_assert_uint_eq(run_split(in, n, cuts, (unsigned)(n - 1), part, sizeof part), want);
    ck_assert_mem_eq(part, whole, want);
}
END_TEST

/* 200 frames in one read (more than the prefetch pass looks ahead), a frame at a time, and
 * a frame cut at every 37th byte: the same replies. */
START_TEST(test_many_frames_in_one_read)
{
    static uint8_t in[200 * 64], whole[200 * 160], part[200 * 160];
    size_t n = 0, cuts[200 * 64];
    unsigned frames = 0, ncut = 0;
    for (qsl_order_id id = 1; id <= 200; id++) {
        if (id % 4 == 0)
            n += put_cancel(in + n, id - 2);
        else if (id % 9 == 0)
            n += put_heartbeat(in + n, id);
        else
            n += put_order(in + n, id, id % 2 ? QSL_BUY : QSL_SELL, 100 + (qsl_price)(id % 3), 2);
        cuts[frames++] = n;
    }
    size_t want = run_split(in, n, NULL, 0, whole, sizeof whole);
    ck_assert_uint_gt(want, 200 * 24);
    ck_assert_uint_eq(run_split(in, n, cuts, frames - 1, part, sizeof part), want);
    ck_assert_mem_eq(part, whole, want);
    for (size_t c = 37; c < n; c += 37)
        cuts[ncut++] = c;
    ck_assert_uint_eq(run_split(in, n, cuts, ncut, part, sizeof part), want);
    ck_assert_mem_eq(part, whole, want);
}
END_TEST

START_TEST(test_malformed_header_closes_and_keeps_earlier_replies)
{
    uint8_t in[256], outbuf[256];
    size_t n = put_heartbeat(in, 1);
    size_t bad = n;
    n += put_heartbeat(in + n, 2);
    qsl_be16_put(in + bad + 2, 7);              /* version 7 */
    n += put_heartbeat(in + n, 3);
    struct qsl_session s;
    qsl_session_init(&s, &eng);
    struct qsl_session_out out = {outbuf, 0, sizeof outbuf};
    size_t used = qsl_session_feed(&s, in, n, &out);
    ck_assert(qsl_session_closed(&s));
    ck_assert_int_eq(s.state, QSL_SESSION_MALFORMED);
    ck_assert_int_eq(s.wire_err, QSL_WIRE_UNSUPPORTED_VERSION);
    ck_assert_uint_eq(used, bad);
    ck_assert_uint_eq(out.len, 24);             /* only the first HeartbeatAck */
    /* nothing more is read once closed */
    ck_assert_uint_eq(qsl_session_feed(&s, in, n, &out), 0);
    ck_assert_uint_eq(out.len, 24);
}
END_TEST

START_TEST(test_body_length_mismatch_closes_without_waiting)
{
    uint8_t in[64], outbuf[64];
    put_heartbeat(in, 1);
    qsl_be32_put(in + 4, 4000);                 /* legal size, wrong for a Heartbeat */
    struct qsl_session s;
    qsl_session_init(&s, &eng);
    struct qsl_session_out out = {outbuf, 0, sizeof outbuf};
    qsl_session_feed(&s, in, QSL_WIRE_HEADER_SIZE, &out);
    ck_assert_int_eq(s.state, QSL_SESSION_MALFORMED);
    ck_assert_int_eq(s.wire_err, QSL_WIRE_BODY_LENGTH_MISMATCH);
}
END_TEST

START_TEST(test_oversized_body_closes_from_the_header)
{
    static const uint32_t sizes[] = {4097, 0xffffffffu};
    for (int i = 0; i < 2; i++) {
        uint8_t in[64], outbuf[64];
        put_heartbeat(in, 1);
        qsl_be32_put(in + 4, sizes[i]);
        struct qsl_session s;
        qsl_session_init(&s, &eng);
        struct qsl_session_out out = {outbuf, 0, sizeof outbuf};
        /* dribbled: closes as soon as the 16th header byte arrives */
        for (size_t k = 0; k < QSL_WIRE_HEADER_SIZE; k++) {
            ck_assert(!qsl_session_closed(&s));
            qsl_session_feed(&s, in + k, 1, &out);
        }
        ck_assert_int_eq(s.wire_err, QSL_WIRE_BODY_TOO_LARGE);
    }
}
END_TEST

START_TEST(test_bad_enum_closes)
{
    uint8_t in[64], outbuf[64];
    size_t n = put_order(in, 1, QSL_BUY, 100, 1);
    in[QSL_WIRE_HEADER_SIZE + 25] = 7;          /* order_type */
    struct qsl_session s;
    qsl_session_init(&s, &eng);
    struct qsl_session_out out = {outbuf, 0, sizeof outbuf};
    qsl_session_feed(&s, in, n, &out);
    ck_assert_int_eq(s.wire_err, QSL_WIRE_INVALID_ENUM_VALUE);
    ck_assert_uint_eq(out.len, 0);
    ck_assert_uint_eq(qsl_engine_resting(&eng), 0);
}
END_TEST

START_TEST(test_server_only_types_close_the_session)
{
    static const uint16_t types[] = {QSL_WIRE_MD_TRADE, QSL_WIRE_MD_TOP_OF_BOOK,
                                     QSL_WIRE_HEARTBEAT_ACK, QSL_WIRE_ACK, QSL_WIRE_REJECT,
                                     QSL_WIRE_FILL};
    for (int i = 0; i < 6; i++) {
        uint8_t in[64], outbuf[64];
        struct qsl_wire_msg m = {.type = types[i]};
        size_t n = put_msg(in, &m);
        struct qsl_session s;
        qsl_session_init(&s, &eng);
        struct qsl_session_out out = {outbuf, 0, sizeof outbuf};
        qsl_session_feed(&s, in, n, &out);
        ck_assert_int_eq(s.state, QSL_SESSION_UNEXPECTED);
        ck_assert_uint_eq(s.bad_type, types[i]);
        ck_assert_uint_eq(out.len, 0);
    }
}
END_TEST

/* A session whose first frames rest three sells of 1 at 100: 3 Acks in out. */
static void rest_three_sells(struct qsl_session *s, struct qsl_session_out *out)
{
    uint8_t in[3 * QSL_WIRE_MAX_FRAME];
    size_t n = 0;
    for (qsl_order_id id = 1; id <= 3; id++)
        n += put_order(in + n, id, QSL_SELL, 100, 1);
    qsl_session_init(s, &eng);
    ck_assert_uint_eq(qsl_session_feed(s, in, n, out), n);
}

START_TEST(test_output_bound_pauses_before_acting)
{
    uint8_t in[512], outbuf[512];
    struct qsl_session s;
    struct qsl_session_out out = {outbuf, 0, sizeof outbuf};
    rest_three_sells(&s, &out);
    ck_assert_uint_eq(out.len, 3 * 32);
    /* a taker whose Ack + 3 Fills (188 bytes) do not fit in what is left, behind a heartbeat */
    size_t m = put_heartbeat(in, 1);
    m += put_order(in + m, 9, QSL_BUY, 100, 3);
    out.cap = out.len + 24 + 32 + 2 * 52;
    ck_assert_uint_eq(qsl_session_feed(&s, in, m, &out), 24);  /* the heartbeat only */
    ck_assert(qsl_session_paused(&s));
    ck_assert(!qsl_session_closed(&s));
    ck_assert_uint_eq(out.len, 3 * 32 + 24);    /* no partial response */
    ck_assert_uint_eq(qsl_engine_resting(&eng), 3);     /* and the book is untouched */
    ck_assert_uint_eq(eng.stats.trades, 0);
    out.len = 0;                                /* the caller drained its output */
    ck_assert_uint_eq(qsl_session_feed(&s, in + 24, m - 24, &out), m - 24);
    ck_assert(!qsl_session_paused(&s));
    ck_assert_uint_eq(out.len, 32 + 3 * 52);
    ck_assert_uint_eq(qsl_engine_resting(&eng), 0);
}
END_TEST

/* Room for every lot of a large order as a fill is not needed: without it, the book is
 * walked for the real count (here 1 fill of a 500-lot taker), and the order goes ahead. */
START_TEST(test_large_quantity_small_room_uses_the_exact_count)
{
    uint8_t in[128], outbuf[512];
    struct qsl_session s;
    struct qsl_session_out out = {outbuf, 0, sizeof outbuf};
    qsl_session_init(&s, &eng);
    size_t n = put_order(in, 1, QSL_SELL, 100, 1);
    ck_assert_uint_eq(qsl_session_feed(&s, in, n, &out), n);
    out.len = 0;
    out.cap = 32 + 52;                          /* an Ack and one Fill; not 500 Fills */
    n = put_order(in, 2, QSL_BUY, 100, 500);
    ck_assert_uint_eq(qsl_session_feed(&s, in, n, &out), n);
    ck_assert(!qsl_session_paused(&s) && !qsl_session_closed(&s));
    ck_assert_uint_eq(out.len, 32 + 52);
    ck_assert_uint_eq(eng.stats.trades, 1);
    ck_assert_uint_eq(qsl_engine_resting(&eng), 1);     /* 499 rest */
}
END_TEST

START_TEST(test_response_larger_than_the_bound_closes)
{
    uint8_t in[512], outbuf[512];
    struct qsl_session s;
    struct qsl_session_out out = {outbuf, 0, sizeof outbuf};
    rest_three_sells(&s, &out);
    out.len = 0;
    out.cap = 32 + 3 * 52 - 1;                  /* even an empty buffer cannot hold it */
    size_t cross = put_order(in, 9, QSL_BUY, 100, 3);
    ck_assert_uint_eq(qsl_session_feed(&s, in, cross, &out), 0);
    ck_assert_int_eq(s.state, QSL_SESSION_OUTPUT_LIMIT);
    ck_assert_uint_eq(out.len, 0);
    ck_assert_uint_eq(qsl_engine_resting(&eng), 3);
}
END_TEST

START_TEST(test_output_bound_exactly_enough)
{
    uint8_t in[64], outbuf[64];
    size_t n = put_heartbeat(in, 5);
    struct qsl_session s;
    qsl_session_init(&s, &eng);
    struct qsl_session_out out = {outbuf, 0, 24};
    qsl_session_feed(&s, in, n, &out);
    ck_assert(!qsl_session_closed(&s));
    ck_assert_uint_eq(out.len, 24);
    ck_assert_uint_eq(qsl_session_feed(&s, in, n, &out), 0);
    ck_assert(qsl_session_paused(&s));
    out.len = 0;
    ck_assert_uint_eq(qsl_session_feed(&s, in, n, &out), n);
    ck_assert_uint_eq(out.len, 24);
    ck_assert_uint_eq(s.stats.frames_in, 2);    /* issue 21.5: paused, then handled: once */
}
END_TEST

/* A frame completed from the hold that pauses stays held: feeding 0 bytes retries it. */
START_TEST(test_pause_inside_the_hold_is_retried)
{
    uint8_t in[64], outbuf[64];
    size_t n = put_heartbeat(in, 5);
    struct qsl_session s;
    qsl_session_init(&s, &eng);
    struct qsl_session_out out = {outbuf, 0, 24};
    ck_assert_uint_eq(qsl_session_feed(&s, in, 10, &out), 10);     /* part of the first */
    ck_assert_uint_eq(qsl_session_feed(&s, in + 10, n - 10, &out), n - 10);
    ck_assert_uint_eq(out.len, 24);
    ck_assert_uint_eq(qsl_session_feed(&s, in, 10, &out), 10);
    ck_assert_uint_eq(qsl_session_feed(&s, in + 10, n - 10, &out), n - 10);   /* completes, pauses */
    ck_assert(qsl_session_paused(&s));
    ck_assert_uint_eq(out.len, 24);
    out.len = 0;
    ck_assert_uint_eq(qsl_session_feed(&s, NULL, 0, &out), 0);
    ck_assert(!qsl_session_paused(&s));
    ck_assert_uint_eq(out.len, 24);
    ck_assert_uint_eq(s.held, 0);
    ck_assert_uint_eq(s.stats.heartbeats, 2);
    ck_assert_uint_eq(s.stats.frames_in, 2);    /* issue 21.5: the paused one counts once */
}
END_TEST

START_TEST(test_random_bytes_never_crash_and_close)
{
    uint8_t in[4096], outbuf[8192];
    unsigned seed = 99;
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof in; i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] = (uint8_t)(seed >> 16);
        }
        struct qsl_session s;
        qsl_session_init(&s, &eng);
        struct qsl_session_out out = {outbuf, 0, sizeof outbuf};
        size_t pos = 0;
        while (pos < sizeof in && !qsl_session_closed(&s)) {
            size_t chunk = 1 + (seed >> 8) % 97;
            chunk = chunk < sizeof in - pos ? chunk : sizeof in - pos;
            qsl_session_feed(&s, in + pos, chunk, &out);
            pos += chunk;
        }
        ck_assert(qsl_session_closed(&s));
        ck_assert_uint_le(out.len, out.cap);
    }
}
END_TEST

Suite *session_suite(void)
{
    Suite *s = suite_create("session");
    TCase *tc = tcase_create("session");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_responses_follow_the_protocol);
    tcase_add_test(tc, test_split_at_every_byte_boundary);
    tcase_add_test(tc, test_one_byte_at_a_time);
    tcase_add_test(tc, test_many_frames_in_one_read);
    tcase_add_test(tc, test_malformed_header_closes_and_keeps_earlier_replies);
    tcase_add_test(tc, test_body_length_mismatch_closes_without_waiting);
    tcase_add_test(tc, test_oversized_body_closes_from_the_header);
    tcase_add_test(tc, test_bad_enum_closes);
    tcase_add_test(tc, test_server_only_types_close_the_session);
    tcase_add_test(tc, test_output_bound_pauses_before_acting);
    tcase_add_test(tc, test_large_quantity_small_room_uses_the_exact_count);
    tcase_add_test(tc, test_response_larger_than_the_bound_closes);
    tcase_add_test(tc, test_pause_inside_the_hold_is_retried);
    tcase_add_test(tc, test_output_bound_exactly_enough);
    tcase_add_test(tc, test_random_bytes_never_crash_and_close);
    suite_add_tcase(s, tc);
    return s;
}
