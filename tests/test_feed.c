/*
 * test_feed.c - sequence tracking, datagram formats, and publisher +
 * subscriber over loopback (received + kernel drops = published).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/sock_diag.h>
#include <stdio.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "feed.h"
#include "suites.h"

static struct qsl_seqtrack t;

static void setup(void) { ck_assert_int_eq(qsl_seqtrack_init(&t, 1000), 0); }
static void teardown(void) { qsl_seqtrack_free(&t); }

START_TEST(test_in_order_stream_has_no_gaps)
{
    for (uint64_t s = 1; s <= 100; s++)
        qsl_seqtrack_add(&t, s);
    ck_assert_uint_eq(t.received, 100);
    ck_assert_uint_eq(qsl_seqtrack_interior_gaps(&t), 0);
    ck_assert_uint_eq(qsl_seqtrack_tail_loss(&t, 100), 0);
    ck_assert_uint_eq(t.reordered + t.duplicates, 0);
}
END_TEST

START_TEST(test_interior_gaps_and_tail_loss_are_told_apart)
{
    for (uint64_t s = 1; s <= 90; s++)
        if (s != 10 && s != 11 && s != 50)
            qsl_seqtrack_add(&t, s);
    ck_assert_uint_eq(qsl_seqtrack_interior_gaps(&t), 3);
    ck_assert_uint_eq(qsl_seqtrack_tail_loss(&t, 100), 10);   /* 91..100 never came */
    ck_assert_uint_eq(t.received + qsl_seqtrack_interior_gaps(&t) + qsl_seqtrack_tail_loss(&t, 100), 100);
}
END_TEST

/* add_run against add() one by one: random runs - overlapping, repeated, reordered, over the
 * capacity's edge and from 0 - leave the same counters and the same bitmap. */
START_TEST(test_add_run_equals_adding_one_by_one)
{
    const uint64_t cap = 1000;
    struct qsl_seqtrack a, b;
    ck_assert_int_eq(qsl_seqtrack_init(&a, cap), 0);
    ck_assert_int_eq(qsl_seqtrack_init(&b, cap), 0);
    uint64_t x = 88172645463325252ull;      /* xorshift: the same runs every time */
    for (int round = 0; round < 20000; round++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint64_t first = x % (cap + 80), count = (x >> 20) % 150;
        if (round % 500 == 0) {
            qsl_seqtrack_reset(&a);
            qsl_seqtrack_reset(&b);
        }
        qsl_seqtrack_add_run(&a, first, count);
        for (uint64_t i = 0; i < count; i++)
            qsl_seqtrack_add(&b, first + i);
        ck_assert_uint_eq(a.received, b.received);
        ck_assert_uint_eq(a.duplicates, b.duplicates);
        ck_assert_uint_eq(a.reordered, b.reordered);
        ck_assert_uint_eq(a.out_of_range, b.out_of_range);
        ck_assert_uint_eq(a.highest, b.highest);
    }
    ck_assert_mem_eq(a.seen, b.seen, (cap / 64 + 1) * sizeof *a.seen);
    qsl_seqtrack_add_run(&a, UINT64_MAX - 1, 5);     /* wraps: refused whole, nothing counted */
    ck_assert_uint_eq(a.out_of_range, b.out_of_range);
    qsl_seqtrack_free(&a);
    qsl_seqtrack_free(&b);
}
END_TEST

START_TEST(test_duplicates_and_reorder)
{
    uint64_t seqs[] = {1, 2, 4, 3, 4, 2, 5};
    for (size_t i = 0; i < 7; i++)
        qsl_seqtrack_add(&t, seqs[i]);
    ck_assert_uint_eq(t.received, 5);
    ck_assert_uint_eq(t.duplicates, 2);
    ck_assert_uint_eq(t.reordered, 1);              /* 3 arrived after 4 */
    ck_assert_uint_eq(qsl_seqtrack_interior_gaps(&t), 0);
    qsl_seqtrack_add(&t, 0);
    qsl_seqtrack_add(&t, 1001);
    ck_assert_uint_eq(t.out_of_range, 2);
    qsl_seqtrack_reset(&t);
    ck_assert_uint_eq(t.received + t.duplicates + t.highest, 0);
}
END_TEST

/* ------------------------------------------------------------------ formats */

struct got {
    uint64_t seqs[256];
    unsigned n;
};

static void collect(void *ctx, const struct qsl_wire_msg *m)
{
    struct got *g = ctx;
    g->seqs[g->n++] = m->seq;
}

static size_t md_frame(uint8_t *b, uint64_t seq, int tob)
{
    struct qsl_wire_msg m = {.seq = seq};
    if (tob) {
        m.type = QSL_WIRE_MD_TOP_OF_BOOK;
        m.u.md_top_of_book = (struct qsl_wire_md_top_of_book){1, 1, 99, 0, 0};
    } else {
        m.type = QSL_WIRE_MD_TRADE;
        m.u.md_trade = (struct qsl_wire_md_trade){1, 100, 5};
    }
    return (size_t)qsl_wire_encode(&m, b, 64);
}

/* A packed datagram of count messages from seq first; returns its length. */
static size_t packed(uint8_t *d, uint64_t first, unsigned count)
{
    memcpy(d, QSL_FEED_SESSION, 10);
    qsl_be64_put(d + 10, first);
    qsl_be16_put(d + 18, (uint16_t)count);
    size_t pos = QSL_FEED_PACKED_HEADER;
    for (unsigned i = 0; i < count; i++) {
        size_t l = md_frame(d + pos + 2, first + i, i & 1);
        qsl_be16_put(d + pos, (uint16_t)l);
        pos += 2 + l;
    }
    return pos;
}

START_TEST(test_single_datagram_is_one_frame_exactly)
{
    uint8_t d[128];
    struct got g = {.n = 0};
    size_t n = md_frame(d, 7, 0);
    ck_assert_int_eq(qsl_feed_decode(d, n, collect, &g), 1);
    ck_assert_uint_eq(g.seqs[0], 7);
    ck_assert_int_eq(qsl_feed_decode(d, n + 1, collect, &g), -1);   /* trailing byte */
    ck_assert_int_eq(qsl_feed_decode(d, n - 1, collect, &g), -1);
    md_frame(d, 0, 0);
    ck_assert_int_eq(qsl_feed_decode(d, n, collect, &g), -1);       /* seq 0 */
    struct qsl_wire_msg hb = {.type = QSL_WIRE_HEARTBEAT, .seq = 3};
    n = (size_t)qsl_wire_encode(&hb, d, sizeof d);
    ck_assert_int_eq(qsl_feed_decode(d, n, collect, &g), -1);       /* not market data */
}
END_TEST

START_TEST(test_packed_datagram_round_trip)
{
    uint8_t d[2048];
    struct got g = {.n = 0};
    size_t n = packed(d, 100, 20);
    ck_assert_int_eq(qsl_feed_decode(d, n, collect, &g), 20);
    for (unsigned i = 0; i < 20; i++)
        ck_assert_uint_eq(g.seqs[i], 100 + i);
    /* zero padding (GSO's equal segments) is allowed, anything else is not */
    memset(d + n, 0, 64);
    ck_assert_int_eq(qsl_feed_decode(d, n + 64, NULL, NULL), 20);
    d[n + 10] = 1;
    ck_assert_int_eq(qsl_feed_decode(d, n + 64, NULL, NULL), -1);
}
END_TEST

START_TEST(test_packed_datagram_is_trusted_whole_or_not_at_all)
{
    uint8_t d[2048];
    struct got g = {.n = 0};
    size_t n = packed(d, 100, 5);
    qsl_be64_put(d + 10, 101);              /* first seq disagrees with the frames */
    ck_assert_int_eq(qsl_feed_decode(d, n, collect, &g), -1);
    ck_assert_uint_eq(g.n, 0);
    n = packed(d, 100, 5);
    qsl_be16_put(d + 18, 6);                /* count says more than there is */
    ck_assert_int_eq(qsl_feed_decode(d, n, collect, &g), -1);
    n = packed(d, 100, 5);
    qsl_be16_put(d + QSL_FEED_PACKED_HEADER, 60000);        /* a length past the end */
    ck_assert_int_eq(qsl_feed_decode(d, n, collect, &g), -1);
    n = packed(d, 100, 0);
    ck_assert_int_eq(qsl_feed_decode(d, n, collect, &g), -1);   /* empty */
    ck_assert_uint_eq(g.n, 0);
    for (size_t cut = 0; cut < 60; cut++) {         /* every truncation of a small one */
        n = packed(d, 100, 1);
        if (cut < n)
            ck_assert_int_eq(qsl_feed_decode(d, cut, NULL, NULL), -1);
    }
}
END_TEST

/* The subscriber's single-pass decoder gives what the two-pass one gives, or -1 alike. */
START_TEST(test_decode_run_agrees_with_decode)
{
    uint8_t d[2048];
    uint64_t first = 0;
    size_t n = packed(d, 100, 20);
    ck_assert_int_eq(qsl_feed_decode_run(d, n, &first), 20);
    ck_assert_uint_eq(first, 100);
    qsl_be64_put(d + 10, 101);              /* first seq disagrees with the frames */
    ck_assert_int_eq(qsl_feed_decode_run(d, n, &first), -1);
    n = md_frame(d, 7, 0);
    ck_assert_int_eq(qsl_feed_decode_run(d, n, &first), 1);
    ck_assert_uint_eq(first, 7);
    ck_assert_int_eq(qsl_feed_decode_run(d, n - 1, &first), -1);
    ck_assert_uint_eq(QSL_FEED_DGRAM_MSGS_MAX, 1926);   /* (65507 - 20) / (2 + 32) */
}
END_TEST

/* Issue 21.8: a packed datagram whose last number is 2^64-1 is as valid as that number
 * alone (both out of the subscriber's range, neither malformed); one that wraps is not. */
START_TEST(test_packed_datagram_ending_at_the_largest_sequence)
{
    uint8_t d[2048];
    uint64_t first = 0;
    size_t n = md_frame(d, UINT64_MAX, 0);
    ck_assert_int_eq(qsl_feed_decode_run(d, n, &first), 1);
    n = packed(d, UINT64_MAX, 1);
    ck_assert_int_eq(qsl_feed_decode_run(d, n, &first), 1);
    ck_assert_uint_eq(first, UINT64_MAX);
    n = packed(d, UINT64_MAX - 2, 3);
    ck_assert_int_eq(qsl_feed_decode_run(d, n, &first), 3);
    ck_assert_int_eq(qsl_feed_decode(d, n, NULL, NULL), 3);
    n = packed(d, UINT64_MAX - 1, 3);               /* its third number would be 0 */
    ck_assert_int_eq(qsl_feed_decode_run(d, n, &first), -1);
    struct qsl_seqtrack e;
    ck_assert_int_eq(qsl_seqtrack_init(&e, 100), 0);
    qsl_seqtrack_add_run(&e, UINT64_MAX - 2, 3);
    ck_assert_uint_eq(e.out_of_range, 3);
    qsl_seqtrack_free(&e);
}
END_TEST

/* Issue 10.13: one rule for sequence 0 in both formats; past the expected count is
 * out of range, never a gap. */
START_TEST(test_sequence_zero_and_beyond_expected)
{
    uint8_t d[2048];
    size_t n = packed(d, 0, 3);                 /* a packed datagram starting at sequence 0 */
    ck_assert_int_eq(qsl_feed_decode(d, n, NULL, NULL), -1);
    n = packed(d, 1, 3);
    ck_assert_int_eq(qsl_feed_decode(d, n, NULL, NULL), 3);
    struct qsl_seqtrack e;
    ck_assert_int_eq(qsl_seqtrack_init(&e, 100), 0);    /* the subscriber's capacity: expected */
    for (uint64_t s = 1; s <= 50; s++)
        qsl_seqtrack_add(&e, s);
    qsl_seqtrack_add(&e, 1000000000);           /* a spoofed huge sequence */
    qsl_seqtrack_add(&e, 101);
    ck_assert_uint_eq(e.out_of_range, 2);
    ck_assert_uint_eq(qsl_seqtrack_interior_gaps(&e), 0);
    ck_assert_uint_eq(qsl_seqtrack_tail_loss(&e, 100), 50);
    qsl_seqtrack_free(&e);
}
END_TEST

/* ------------------------------------------------------------------ over loopback */

struct sub_thread {
    int fd;
    enum qsl_feed_rx_mode mode;
    uint64_t expected;
    struct qsl_seqtrack t;
    struct qsl_feed_sub_stats st;
    int rc, timestamps;
};

static void *sub_main(void *arg)
{
    struct sub_thread *s = arg;
    struct qsl_feed_rx rx;
    char why[200];
    s->rc = qsl_feed_rx_init(&rx, s->mode, why, sizeof why);
    rx.timestamps = s->timestamps;
    if (s->rc == 0)
        s->rc = qsl_feed_subscribe(s->fd, &rx, s->expected, 300, 20000, &s->t, &s->st, NULL);
    qsl_feed_rx_free(&rx);
    return NULL;
}

static int udp_socket(int rcvbuf, struct sockaddr_in *a)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)a, sizeof *a), 0);
    socklen_t len = sizeof *a;
    getsockname(fd, (struct sockaddr *)a, &len);
    return fd;
}

/*
 * How many datagrams of `bytes` the socket's granted buffer holds, from the
 * kernel's own accounting: one datagram is sent to the socket and its charge
 * (SO_MEMINFO's rmem_alloc, the skb's truesize) read back. A test that must
 * lose nothing sizes its burst from this, so it holds with net.core.rmem_max
 * at a distribution's 212992 as well as at a raised value.
 */
static uint64_t datagrams_that_fit(int fd, const struct sockaddr_in *a, size_t bytes)
{
    int granted = 0;
    socklen_t len = sizeof granted;
    ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &len), 0);
    int tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    static uint8_t probe[QSL_FEED_DGRAM_MAX];
    ck_assert_int_eq(sendto(tx, probe, bytes, 0, (const struct sockaddr *)a, sizeof *a), (ssize_t)bytes);
    close(tx);
    uint32_t mem[SK_MEMINFO_VARS] = {0};
    len = sizeof mem;
    for (int i = 0; i < 1000 && mem[SK_MEMINFO_RMEM_ALLOC] == 0; i++) {
        ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len), 0);
        if (mem[SK_MEMINFO_RMEM_ALLOC] == 0)
            usleep(1000);       /* polled: loopback delivers within microseconds */
    }
    ck_assert_uint_gt(mem[SK_MEMINFO_RMEM_ALLOC], 0);
    ck_assert_int_eq(recv(fd, probe, sizeof probe, 0), (ssize_t)bytes);
    return (uint64_t)granted / mem[SK_MEMINFO_RMEM_ALLOC];
}

/* Publish orders of the flow at a subscriber with the given buffer; check the books balance.
 * Where no loss is expected, the burst is cut to half of what the granted buffer holds. */
static void round_trip(enum qsl_feed_rx_mode mode, int rcvbuf, int packed_mode, int gso,
                       uint64_t orders, int expect_loss, double rate)
{
    if (mode == QSL_FEED_RX_IO_URING && !qsl_test_io_uring_runs("feed round trip"))
        return;
    struct qsl_feed_pub_config c;
    qsl_feed_pub_defaults(&c);
    c.packed = packed_mode;
    c.gso = gso;
    c.rate = rate;
    struct sub_thread s = {.expected = 0, .mode = mode, .timestamps = 1};
    struct sockaddr_in a;
    s.fd = udp_socket(rcvbuf, &a);
    if (!expect_loss) {
        /* the original flow publishes under one message per order on average (16,931 for
         * 20,000); a packed datagram carries at least (bytes - 20) / 40 of them */
        uint64_t per = packed_mode ? (c.datagram_bytes - QSL_FEED_PACKED_HEADER) / 40u : 1u;
        uint64_t fit = datagrams_that_fit(s.fd, &a, packed_mode ? c.datagram_bytes : 38u);
        uint64_t cap = fit * per / 2u;
        orders = orders < cap ? orders : cap;
        ck_assert_uint_ge(orders, 100);
    }
    c.orders = orders;
    ck_assert_int_eq(qsl_seqtrack_init(&s.t, 1u << 20), 0);
    /* the stamps asked for before the first datagram can come, as the role does before
     * it says it is ready: the publisher below does not wait for the thread */
    struct qsl_feed_rx pre = {.mode = mode, .timestamps = s.timestamps};
    ck_assert_int_eq(qsl_feed_rx_prepare(s.fd, &pre), 0);
    pthread_t th;
    pthread_create(&th, NULL, sub_main, &s);
    int tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_eq(connect(tx, (struct sockaddr *)&a, sizeof a), 0);
    struct qsl_feed_pub_stats ps;
    int rc = qsl_feed_publish(tx, &c, &ps, NULL);
    pthread_join(th, NULL);
    close(tx);
    close(s.fd);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(s.rc, 0);
    ck_assert_uint_gt(ps.messages, orders / 2);
    ck_assert_uint_le(ps.messages, orders * 2);
    ck_assert_uint_eq(ps.send_failures, 0);
    /* every datagram sent was received or dropped by the kernel on the socket */
    ck_assert_uint_eq(s.st.datagrams + s.st.kernel_drops, ps.datagrams);
    /* every message is received, an interior gap, or tail loss */
    ck_assert_uint_eq(s.t.received + qsl_seqtrack_interior_gaps(&s.t) +
                          qsl_seqtrack_tail_loss(&s.t, ps.messages), ps.messages);
    ck_assert_uint_eq(s.st.malformed + s.t.duplicates, 0);
    if (expect_loss)
        ck_assert_uint_gt(s.st.kernel_drops, 0);
    else
        ck_assert_uint_eq(s.t.received, ps.messages);
    /* packed means several messages a datagram: a burst fills each, a paced run packs what
     * fell due while it slept (the timer's overshoot; 9-12 a datagram seen here at 100,000
     * messages/s), so the bound is loose for a paced run */
    if (packed_mode && ps.messages >= 1000)
        ck_assert_uint_lt(ps.datagrams, ps.messages / (rate > 0 ? 4 : 10));
    /* every datagram a decoding mode read was stamped by the kernel and its wait timed, or
     * counted unstamped; raw counts only. The kernel turns receive stamps on for the whole
     * machine lazily, in a work item after the first socket asks (netstamp_needed_key), so
     * where no other socket had them the first datagrams may come unstamped (5% of a
     * 15,000-datagram burst seen here, 2 runs in 7) */
    if (mode == QSL_FEED_RX_RAW)
        ck_assert_uint_eq(s.st.socket_wait.count + s.st.unstamped, 0);
    else
        ck_assert_uint_eq(s.st.socket_wait.count + s.st.unstamped, s.st.datagrams);
    ck_assert_uint_le(s.st.unstamped, s.st.datagrams / 5);
    qsl_seqtrack_free(&s.t);
}

/* The subscriber's per-message check against the full decoder: every byte of a valid
 * MdTrade and MdTopOfBook frame set to telling values, and lengths one short and one long,
 * accepted exactly when qsl_wire_check accepts a market-data frame of that length with a
 * sequence number of 1 or more. */
static int full_verdict(const uint8_t *d, size_t l)
{
    struct qsl_wire_header h;
    size_t flen;
    return qsl_wire_check(d, l, &h, &flen) == QSL_WIRE_OK && flen == l && h.seq > 0 &&
           (h.type == QSL_WIRE_MD_TRADE || h.type == QSL_WIRE_MD_TOP_OF_BOOK);
}

START_TEST(test_fast_frame_check_equals_the_full_one)
{
    struct qsl_wire_msg frames[] = {
        {.type = QSL_WIRE_MD_TRADE, .seq = 7, .u.md_trade = {2, 100, 5}},
        {.type = QSL_WIRE_MD_TOP_OF_BOOK, .seq = 8, .u.md_top_of_book = {1, 1, 99, 1, 101}},
    };
    static const uint8_t values[] = {0, 1, 2, 3, 4, 5, 9, 16, 22, 0x7f, 0x80, 0xff};
    uint64_t first;
    unsigned checked = 0;
    for (size_t f = 0; f < 2; f++) {
        uint8_t base[64], d[64];
        int n = qsl_wire_encode(&frames[f], base, sizeof base);
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(qsl_feed_decode_run(base, (size_t)n, &first), 1);
        for (int i = 0; i < n; i++) {
            for (size_t v = 0; v < sizeof values; v++) {
                memcpy(d, base, (size_t)n);
                d[i] = values[v];
                int want = full_verdict(d, (size_t)n);
                ck_assert_msg((qsl_feed_decode_run(d, (size_t)n, &first) == 1) == want,
                              "frame %zu byte %d = %u: full check says %d", f, i, values[v], want);
                checked++;
            }
        }
        memcpy(d, base, (size_t)n);
        d[n] = 0;
        for (int l = n - 1; l <= n + 1; l += 2)
            ck_assert_int_eq(qsl_feed_decode_run(d, (size_t)l, &first) == 1,
                             full_verdict(d, (size_t)l));
    }
    ck_assert_uint_gt(checked, 800);
}
END_TEST

START_TEST(test_tiny_buffer_drops_are_all_accounted)
{
    round_trip((enum qsl_feed_rx_mode)_i, 2048, 0, 0, 20000, 1, 0);
}
END_TEST

START_TEST(test_large_buffer_loses_nothing)
{
    round_trip((enum qsl_feed_rx_mode)_i, 4 << 20, 0, 0, 20000, 0, 0);
}
END_TEST

START_TEST(test_packed_mode_round_trip)
{
    round_trip((enum qsl_feed_rx_mode)_i, 4 << 20, 1, 0, 20000, 0, 0);
}
END_TEST

START_TEST(test_gso_mode_round_trip)
{
    round_trip((enum qsl_feed_rx_mode)_i, 4 << 20, 1, 1, 20000, 0, 0);
}
END_TEST

/* Paced packed publishing: a flush between slots used to leave slot 0's counts stale, so
 * a packed slot grew past its buffer (garbage datagram counts, malformed datagrams, heap
 * corruption). Packed and GSO, paced, must balance like a burst. */
START_TEST(test_paced_packed_round_trip)
{
    round_trip(QSL_FEED_RX_RECVMMSG, 4 << 20, 1, _i, 20000, 0, 100000);
}
END_TEST

/* ------------------------------------------------------------------ the original's datagrams */

struct golden_pub {
    int fd;
    uint64_t orders;
    int raw;                    /* the publisher's raw= (0: the publisher itself) */
    struct qsl_feed_pub_stats st;
    int rc;
};

static void *golden_pub_main(void *arg)
{
    struct golden_pub *g = arg;
    struct qsl_feed_pub_config c;
    qsl_feed_pub_defaults(&c);         /* seed 42, 3 symbols, flow=original */
    c.orders = g->orders;
    c.raw = g->raw;
    g->rc = qsl_feed_publish(g->fd, &c, &g->st, NULL);
    shutdown(g->fd, SHUT_WR);          /* the reader's end of file */
    return NULL;
}

/*
 * Publish the first `orders` of the original flow with the publisher's defaults into a
 * sequenced-packet socketpair: it keeps each datagram whole, as a datagram socket does, and
 * blocks its sender instead of dropping, so the whole stream arrives on any machine whatever
 * its buffer sysctls (and faster than a datagram pair, whose queue holds
 * net.unix.max_dgram_qlen datagrams, 10 by default). The datagrams are checked against the
 * golden file (the original's 16,931 for 20,000 orders) as far as it goes, and `expected`
 * must arrive, each sent once by the publisher's own count.
 */
#define GOLDEN_DATAGRAMS 16931u          /* in tests/data's file: the original's, 20,000 orders */

static struct qsl_feed_pub_stats publish_against_golden(uint64_t orders, uint64_t expected,
                                                        int raw)
{
    FILE *f = fopen("tests/data/md_seed42_orders20000_symbols3.bin", "rb");
    ck_assert_msg(f != NULL, "tests/data/md_seed42_orders20000_symbols3.bin: run from the checkout");
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    struct golden_pub g = {.fd = sv[0], .orders = orders, .raw = raw};
    pthread_t th;
    pthread_create(&th, NULL, golden_pub_main, &g);
    struct timeval tv = {10, 0};        /* a stuck publisher fails the test, never hangs it */
    setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    uint64_t n = 0;
    uint8_t want[256], got[64][256], lenb[4];
    struct mmsghdr mm[64];
    struct iovec iov[64];
    for (int i = 0; i < 64; i++) {
        iov[i] = (struct iovec){got[i], sizeof got[i]};
        mm[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
    }
    for (int end = 0; !end;) {
        int k = recvmmsg(sv[1], mm, 64, MSG_WAITFORONE, NULL);
        ck_assert_msg(k > 0, "after datagram %" PRIu64 ": %s", n, k < 0 ? strerror(errno) : "0");
        for (int i = 0; i < k; i++) {
            size_t r = mm[i].msg_len;
            if (r == 0) {               /* the end of file */
                end = 1;
                break;
            }
            ck_assert_msg(!(mm[i].msg_hdr.msg_flags & MSG_TRUNC), "datagram %" PRIu64 " truncated",
                          n + 1);
            if (n++ >= GOLDEN_DATAGRAMS)
                continue;
            ck_assert_uint_eq(fread(lenb, 1, 4, f), 4);
            size_t len = (size_t)lenb[0] << 24 | (size_t)lenb[1] << 16 |
                         (size_t)lenb[2] << 8 | lenb[3];
            ck_assert_uint_le(len, sizeof want);
            ck_assert_uint_eq(fread(want, 1, len, f), len);
            ck_assert_msg(r == len, "datagram %" PRIu64 ": %zu bytes, golden %zu", n, r, len);
            ck_assert_msg(memcmp(want, got[i], len) == 0, "datagram %" PRIu64 " differs", n);
        }
    }
    if (n >= GOLDEN_DATAGRAMS)          /* the golden file held no more than that */
        ck_assert_uint_eq(fread(lenb, 1, 4, f), 0);
    fclose(f);
    pthread_join(th, NULL);
    ck_assert_int_eq(g.rc, 0);
    close(sv[0]);
    ck_assert_int_le(recv(sv[1], got[0], sizeof got[0], MSG_DONTWAIT), 0);   /* nothing more */
    close(sv[1]);
    ck_assert_uint_eq(n, expected);
    ck_assert_uint_eq(g.st.messages, expected);
    ck_assert_uint_eq(g.st.datagrams, expected);
    ck_assert_uint_eq(g.st.send_failures, 0);
    return g.st;
}

/* The publisher with its defaults sends exactly the original's datagrams. */
START_TEST(test_default_publisher_equals_the_originals_datagrams)
{
    struct qsl_feed_pub_config c;
    qsl_feed_pub_defaults(&c);
    ck_assert_uint_eq(c.orders, 20000);
    publish_against_golden(c.orders, GOLDEN_DATAGRAMS, 0);
}
END_TEST

/* The two raw floors send the same datagrams, made first: one send() each, and sendmmsg in
 * the publisher's batches of 64 (as many calls as the publisher makes). */
START_TEST(test_raw_floors_send_the_originals_datagrams)
{
    struct qsl_feed_pub_stats each = publish_against_golden(20000, GOLDEN_DATAGRAMS, 1);
    ck_assert_uint_eq(each.send_calls, GOLDEN_DATAGRAMS);
    struct qsl_feed_pub_stats batched = publish_against_golden(20000, GOLDEN_DATAGRAMS, 2);
    ck_assert_uint_eq(batched.send_calls, (GOLDEN_DATAGRAMS + 63) / 64);
    struct qsl_feed_pub_stats pub = publish_against_golden(20000, GOLDEN_DATAGRAMS, 0);
    ck_assert_uint_eq(pub.send_calls, batched.send_calls);
}
END_TEST

/* With no bound on resting orders (the default), the book grows as the original's: two
 * million orders of the flow publish its 1,698,989 datagrams, the first 16,931 of them the
 * golden file's (a fixed pool that filled at ~1.4 M orders gave 1,681,785). */
START_TEST(test_two_million_orders_publish_the_originals_count)
{
    publish_against_golden(2000000, 1698989, 0);
}
END_TEST

START_TEST(test_publisher_rejects_bad_configs)
{
    struct qsl_feed_pub_config c;
    struct qsl_feed_pub_stats st;
    qsl_feed_pub_defaults(&c);
    c.gso = 1;                                  /* gso without packed */
    ck_assert_int_eq(qsl_feed_publish(-1, &c, &st, NULL), -EINVAL);
    qsl_feed_pub_defaults(&c);
    c.packed = 1;
    c.datagram_bytes = 40;                      /* smaller than one message */
    ck_assert_int_eq(qsl_feed_publish(-1, &c, &st, NULL), -EINVAL);
    qsl_feed_pub_defaults(&c);
    c.batch = 0;
    ck_assert_int_eq(qsl_feed_publish(-1, &c, &st, NULL), -EINVAL);
    qsl_feed_pub_defaults(&c);
    c.raw = 3;                                  /* no such floor */
    ck_assert_int_eq(qsl_feed_publish(-1, &c, &st, NULL), -EINVAL);
    c.raw = 2;
    c.packed = 1;                               /* a floor is one message a datagram */
    ck_assert_int_eq(qsl_feed_publish(-1, &c, &st, NULL), -EINVAL);
}
END_TEST

START_TEST(test_send_failures_are_counted_not_lost)
{
    /* a port nobody listens on: after the first ICMP error, sends are refused */
    struct sockaddr_in a;
    int fd = udp_socket(0, &a);
    close(fd);                                  /* the port is now closed */
    int tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_eq(connect(tx, (struct sockaddr *)&a, sizeof a), 0);
    struct qsl_feed_pub_config c;
    qsl_feed_pub_defaults(&c);
    c.orders = 2000;
    c.batch = 1;
    struct qsl_feed_pub_stats st;
    ck_assert_int_eq(qsl_feed_publish(tx, &c, &st, NULL), 0);
    close(tx);
    ck_assert_uint_gt(st.send_failures, 0);
    ck_assert_int_eq(st.last_errno, ECONNREFUSED);
    ck_assert_uint_eq(st.datagrams, st.messages);   /* each one attempted and accounted */
}
END_TEST

Suite *feed_suite(void)
{
    Suite *s = suite_create("feed");
    TCase *tc = tcase_create("seqtrack");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_in_order_stream_has_no_gaps);
    tcase_add_test(tc, test_interior_gaps_and_tail_loss_are_told_apart);
    tcase_add_test(tc, test_duplicates_and_reorder);
    tcase_add_test(tc, test_add_run_equals_adding_one_by_one);
    suite_add_tcase(s, tc);
    TCase *fm = tcase_create("formats");
    tcase_add_test(fm, test_single_datagram_is_one_frame_exactly);
    tcase_add_test(fm, test_packed_datagram_round_trip);
    tcase_add_test(fm, test_packed_datagram_is_trusted_whole_or_not_at_all);
    tcase_add_test(fm, test_sequence_zero_and_beyond_expected);
    tcase_add_test(fm, test_decode_run_agrees_with_decode);
    tcase_add_test(fm, test_packed_datagram_ending_at_the_largest_sequence);
    tcase_add_test(fm, test_fast_frame_check_equals_the_full_one);
    suite_add_tcase(s, fm);
    TCase *lo = tcase_create("loopback");
    tcase_set_timeout(lo, 60);
    QSL_URING_LOOP(lo, test_tiny_buffer_drops_are_all_accounted, 2, 1);  /* recvmmsg, io_uring */
    QSL_URING_LOOP(lo, test_large_buffer_loses_nothing, 2, 1);  /* recvmmsg, io_uring */
    QSL_URING_LOOP(lo, test_packed_mode_round_trip, 2, 1);  /* recvmmsg, io_uring */
    QSL_URING_LOOP(lo, test_gso_mode_round_trip, 2, 1);  /* recvmmsg, io_uring */
    tcase_add_loop_test(lo, test_paced_packed_round_trip, 0, 2);  /* packed, then GSO */
    tcase_add_test(lo, test_publisher_rejects_bad_configs);
    tcase_add_test(lo, test_default_publisher_equals_the_originals_datagrams);
    tcase_add_test(lo, test_raw_floors_send_the_originals_datagrams);
    tcase_add_test(lo, test_two_million_orders_publish_the_originals_count);
    tcase_add_test(lo, test_send_failures_are_counted_not_lost);
    suite_add_tcase(s, lo);
    return s;
}
