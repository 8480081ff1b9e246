/*
 * feed.c - UDP market-data publisher and subscriber.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/net_tstamp.h>
#include <time.h>

#include "clock.h"
#include "feed.h"
#include "feed_sub.h"
#include "flow.h"
#include "sockopt.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif


/* ------------------------------------------------------------------ sequence tracking */

int qsl_seqtrack_init(struct qsl_seqtrack *t, uint64_t capacity)
{
    memset(t, 0, sizeof *t);
    if (capacity == 0 || capacity > (1ull << 34))
        return -EINVAL;
    t->seen = calloc(capacity / 64 + 1, sizeof *t->seen);
    if (!t->seen)
        return -ENOMEM;
    t->capacity = capacity;
    return 0;
}

void qsl_seqtrack_free(struct qsl_seqtrack *t)
{
    free(t->seen);
    memset(t, 0, sizeof *t);
}

void qsl_seqtrack_reset(struct qsl_seqtrack *t)
{
    memset(t->seen, 0, (t->capacity / 64 + 1) * sizeof *t->seen);
    t->received = t->duplicates = t->reordered = t->out_of_range = t->highest = 0;
}

void qsl_seqtrack_add(struct qsl_seqtrack *t, uint64_t seq)
{
    if (seq == 0 || seq > t->capacity) {
        t->out_of_range++;
        return;
    }
    uint64_t bit = 1ull << (seq & 63);
    uint64_t *w = &t->seen[seq >> 6];
    if (*w & bit) {
        t->duplicates++;
        return;
    }
    *w |= bit;
    t->received++;
    if (seq < t->highest)
        t->reordered++;
    else
        t->highest = seq;
}

/* Bits lo..hi (0..63, lo <= hi) of a word. */
static inline uint64_t bit_range(unsigned lo, unsigned hi)
{
    return (~0ull >> (63 - hi)) & (~0ull << lo);
}

/* Bits of word w standing for numbers below h. */
static inline uint64_t below(uint64_t w, uint64_t h)
{
    uint64_t base = w << 6;
    return h <= base ? 0 : h - base >= 64 ? ~0ull : (1ull << (h - base)) - 1;
}

void qsl_seqtrack_add_run(struct qsl_seqtrack *t, uint64_t first, uint64_t count)
{
    if (count == 0 || first + count - 1 < first)
        return;
    uint64_t lo = first, hi = first + count - 1;
    if (lo == 0) {
        t->out_of_range++;
        lo = 1;
    }
    if (hi > t->capacity) {
        t->out_of_range += hi - (lo > t->capacity ? lo - 1 : t->capacity);
        hi = t->capacity;
    }
    if (lo > hi)
        return;
    /* a run's numbers rise, so one is reordered exactly when it is new and below the
     * highest seen before the run: the order add() would see them in changes nothing */
    uint64_t h = t->highest;
    for (uint64_t w = lo >> 6; w <= hi >> 6; w++) {
        unsigned a = w == lo >> 6 ? (unsigned)(lo & 63) : 0;
        unsigned b = w == hi >> 6 ? (unsigned)(hi & 63) : 63;
        uint64_t mask = bit_range(a, b), fresh = mask & ~t->seen[w];
        t->duplicates += (uint64_t)__builtin_popcountll(mask & t->seen[w]);
        t->received += (uint64_t)__builtin_popcountll(fresh);
        t->reordered += (uint64_t)__builtin_popcountll(fresh & below(w, h));
        t->seen[w] |= mask;
    }
    if (hi > t->highest)
        t->highest = hi;
}

/* ------------------------------------------------------------------ decoding */

/* A header's first 8 bytes (type, version, body length) for each market-data frame. */
#define MD_WORD(type, body) ((uint64_t)(type) << 48 | (uint64_t)QSL_WIRE_VERSION << 32 | (body))
#define MD_TRADE_BODY 16u
#define MD_TOB_BODY 22u

/*
 * One whole, valid market-data frame of exactly l bytes: its sequence number, or 0.
 * Exactly qsl_wire_check's verdict for the two types a feed carries (version, type, body
 * length, frame length, the top of book's presence flags), read as one 64-bit compare per
 * type: this runs once per message on the subscriber's hot path.
 */
static uint64_t md_frame_seq(const uint8_t *d, size_t l)
{
    if (l < QSL_WIRE_HEADER_SIZE)
        return 0;
    uint64_t word = qsl_be64_get(d);
    const uint8_t *b = d + QSL_WIRE_HEADER_SIZE;
    int ok = (word == MD_WORD(QSL_WIRE_MD_TRADE, MD_TRADE_BODY) &&
              l == QSL_WIRE_HEADER_SIZE + MD_TRADE_BODY) ||
             (word == MD_WORD(QSL_WIRE_MD_TOP_OF_BOOK, MD_TOB_BODY) &&
              l == QSL_WIRE_HEADER_SIZE + MD_TOB_BODY && b[4] <= 1 && b[13] <= 1);
    return ok ? qsl_be64_get(d + 8) : 0;
}

/* Validate (fn NULL) or deliver the messages of a packed datagram. */
static int walk_packed(const uint8_t *d, size_t len, qsl_feed_msg_fn fn, void *ctx)
{
    uint64_t first = qsl_be64_get(d + 10);
    unsigned count = qsl_be16_get(d + 18);
    size_t pos = QSL_FEED_PACKED_HEADER;
    /* the rule of single datagrams: sequences start at 1; the last may be 2^64-1 */
    if (first == 0 || (count > 0 && first + (count - 1) < first))
        return -1;
    for (unsigned i = 0; i < count; i++) {
        if (len - pos < 2)
            return -1;
        size_t l = qsl_be16_get(d + pos);
        pos += 2;
        if (l > len - pos || md_frame_seq(d + pos, l) != first + i)
            return -1;          /* checked without decoding: a delivery pass decodes */
        if (fn) {
            struct qsl_wire_msg m;
            qsl_wire_decode(d + pos, l, &m, NULL);
            fn(ctx, &m);
        }
        pos += l;
    }
    for (; pos < len; pos++)        /* GSO padding: zeros only */
        if (d[pos] != 0)
            return -1;
    return count > 0 ? (int)count : -1;
}

int qsl_feed_decode(const uint8_t *d, size_t len, qsl_feed_msg_fn fn, void *ctx)
{
    if (len >= QSL_FEED_PACKED_HEADER && memcmp(d, QSL_FEED_SESSION, 10) == 0) {
        /* trusted whole or not at all: validate every message before delivering any */
        if (walk_packed(d, len, NULL, NULL) < 0)
            return -1;
        return walk_packed(d, len, fn, ctx);
    }
    if (md_frame_seq(d, len) == 0)     /* one market-data frame, sequence 1 or more */
        return -1;
    if (fn) {
        struct qsl_wire_msg m;
        qsl_wire_decode(d, len, &m, NULL);
        fn(ctx, &m);
    }
    return 1;
}

int qsl_feed_decode_run(const uint8_t *d, size_t len, uint64_t *first)
{
    if (len >= QSL_FEED_PACKED_HEADER && memcmp(d, QSL_FEED_SESSION, 10) == 0) {
        *first = qsl_be64_get(d + 10);
        return walk_packed(d, len, NULL, NULL);
    }
    *first = md_frame_seq(d, len);
    return *first ? 1 : -1;
}

/* ------------------------------------------------------------------ publisher */

void qsl_feed_pub_defaults(struct qsl_feed_pub_config *c)
{
    memset(c, 0, sizeof *c);
    c->seed = 42;
    c->orders = 20000;
    c->symbols = 3;
    c->batch = 64;
    c->datagram_bytes = 1472;       /* an Ethernet MTU's UDP payload */
    c->catch_up = 1;
    c->huge_pages = 1;
}

struct pub {
    int fd;
    const struct qsl_feed_pub_config *c;
    struct qsl_feed_pub_stats *st;
    uint8_t *buf;
    size_t slot_cap;                /* bytes one sendmmsg entry can hold */
    unsigned slots;
    struct mmsghdr *mm;
    struct iovec *iov;
    uint32_t *slot_dgrams, *slot_msgs;
    unsigned n;                     /* complete slots waiting to be sent */
    size_t len;                     /* bytes in the slot being filled */
    size_t dg_start;                /* offset of the open packed datagram */
    unsigned dg_count;              /* messages in it; 0 when none is open */
    unsigned dg_per_slot;
    uint64_t seq;                   /* last market-data sequence handed out */
    uint64_t t0;
    double ns_per_msg;              /* pacing; 0 = burst */
    uint64_t late_after_ns;         /* catch_up 0: overdue by more than this moves the schedule */
    uint64_t since_wait;            /* datagrams sent before the last pacing wait */
    uint64_t msg_at_wait;           /* the message that last waited its turn */
};

static void flush(struct pub *p)
{
    unsigned off = 0;
    while (off < p->n) {
        if (p->st->start_ns == 0)
            p->st->start_ns = qsl_clock_ns();
        int r = sendmmsg(p->fd, p->mm + off, p->n - off, 0);
        p->st->send_calls++;
        if (r > 0) {
            for (unsigned i = off; i < off + (unsigned)r; i++)
                p->st->datagrams += p->slot_dgrams[i];
            off += (unsigned)r;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else {
            /* the entry at off was refused (ENOBUFS, ECONNREFUSED...): count it, go on */
            p->st->datagrams += p->slot_dgrams[off];
            p->st->send_failures += p->slot_dgrams[off];
            p->st->failed_messages += p->slot_msgs[off];
            p->st->last_errno = r < 0 ? errno : EIO;
            off++;
        }
    }
    p->st->end_ns = qsl_clock_ns();
    p->n = 0;
    if (p->st->datagrams - p->since_wait > p->st->burst_max)
        p->st->burst_max = p->st->datagrams - p->since_wait;
    /* slot 0 is filled next: its counts start over (a paced flush comes between slots,
     * and a stale count let a packed slot grow past its buffer) */
    p->slot_dgrams[0] = p->slot_msgs[0] = 0;
}

static uint8_t *slot(struct pub *p)
{
    return p->buf + (size_t)p->n * p->slot_cap;
}

static void close_datagram(struct pub *p)
{
    if (p->dg_count == 0)
        return;
    uint8_t *s = slot(p);
    qsl_be16_put(s + p->dg_start + 18, (uint16_t)p->dg_count);
    if (p->c->gso) {        /* every GSO segment but the last must be exactly the size */
        size_t end = p->dg_start + p->c->datagram_bytes;
        memset(s + p->len, 0, end - p->len);
        p->len = end;
    }
    p->slot_dgrams[p->n]++;
    p->dg_count = 0;
}

static void close_slot(struct pub *p)
{
    close_datagram(p);
    if (p->len == 0)
        return;
    p->iov[p->n].iov_base = slot(p);
    p->iov[p->n].iov_len = p->len;
    p->n++;
    p->len = 0;
    if (p->n == p->slots)
        flush(p);
    p->slot_dgrams[p->n] = p->slot_msgs[p->n] = 0;
}

static void add_packed(struct pub *p, const uint8_t *frame, size_t flen, uint64_t seq)
{
    if (p->dg_count > 0 && p->len - p->dg_start + 2 + flen > p->c->datagram_bytes) {
        close_datagram(p);
        if (p->slot_dgrams[p->n] == p->dg_per_slot)
            close_slot(p);
    }
    uint8_t *s = slot(p);
    if (p->dg_count == 0) {
        p->dg_start = p->len;
        memcpy(s + p->len, QSL_FEED_SESSION, 10);
        qsl_be64_put(s + p->len + 10, seq);
        qsl_be16_put(s + p->len + 18, 0);
        p->len += QSL_FEED_PACKED_HEADER;
    }
    qsl_be16_put(s + p->len, (uint16_t)flen);
    memcpy(s + p->len + 2, frame, flen);
    p->len += 2 + flen;
    p->dg_count++;
    p->slot_msgs[p->n]++;
}

/* Wait for message i's turn; what is already due leaves first. */
static void pace(struct pub *p, uint64_t i)
{
    uint64_t due = p->t0 + (uint64_t)((double)i * p->ns_per_msg), now = qsl_clock_ns();
    int capped = 0;
    if (!p->c->catch_up) {
        /* a batch sent since the last wait waits now; behind after a stall (more than a batch
         * overdue) or after a batch, the schedule moves on: what is overdue leaves at the rate
         * and never more than a batch at once */
        capped = i - p->msg_at_wait >= p->c->batch;
        if (now > due && (capped || now > due + p->late_after_ns)) {
            uint64_t to = now + (capped ? (uint64_t)p->ns_per_msg : 0);
            p->t0 += to - due;
            p->st->schedule_moved++;
            p->st->late_ns += to - due;
            due = to;
        }
    }
    if (!capped && due <= now + 20000)
        return;                 /* due within 20 us: not worth a sleep */
    close_slot(p);
    flush(p);
    struct timespec ts = {(time_t)(due / 1000000000u), (long)(due % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
    p->since_wait = p->st->datagrams;
    p->msg_at_wait = i;
}

static void publish_msg(struct pub *p, struct qsl_wire_msg *m)
{
    m->seq = ++p->seq;
    p->st->messages++;
    if (p->ns_per_msg > 0)
        pace(p, p->seq - 1);
    if (!p->c->packed) {
        int n = qsl_wire_encode(m, slot(p), p->slot_cap);
        p->len = (size_t)n;
        p->slot_msgs[p->n] = 1;
        p->slot_dgrams[p->n] = 1;
        close_slot(p);
        return;
    }
    uint8_t frame[QSL_FEED_MSG_MAX];
    int n = qsl_wire_encode(m, frame, sizeof frame);
    add_packed(p, frame, (size_t)n, m->seq);
}

/* Engine events to market data: a trade, a top-of-book change. */
static int to_md(const struct qsl_event *ev, struct qsl_wire_msg *m)
{
    memset(m, 0, sizeof *m);
    if (ev->kind == QSL_EV_TRADE) {
        m->type = QSL_WIRE_MD_TRADE;
        m->u.md_trade = (struct qsl_wire_md_trade){ev->symbol, ev->price, ev->qty};
        return 1;
    }
    if (ev->kind == QSL_EV_TOP_OF_BOOK) {
        m->type = QSL_WIRE_MD_TOP_OF_BOOK;
        m->u.md_top_of_book = (struct qsl_wire_md_top_of_book){
            ev->symbol, ev->bid_present, ev->bid, ev->ask_present, ev->ask};
        return 1;
    }
    return 0;
}

static void on_event(void *ctx, const struct qsl_event *ev)
{
    struct qsl_wire_msg m;
    if (to_md(ev, &m))
        publish_msg(ctx, &m);
}

/* Raw baseline: the same messages, made first, then one send() each. */
struct raw {
    uint8_t (*frames)[QSL_FEED_MSG_MAX];
    uint8_t *lens;
    size_t n, cap;
    uint64_t seq;
    int oom;
};

static void raw_collect(void *ctx, const struct qsl_event *ev)
{
    struct raw *r = ctx;
    struct qsl_wire_msg m;
    if (!to_md(ev, &m) || r->oom)
        return;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4096;
        void *f = realloc(r->frames, cap * sizeof *r->frames);
        if (f)
            r->frames = f;
        void *l = f ? realloc(r->lens, cap) : NULL;
        if (!f || !l) {
            r->oom = 1;
            return;
        }
        r->lens = l;
        r->cap = cap;
    }
    m.seq = ++r->seq;
    r->lens[r->n] = (uint8_t)qsl_wire_encode(&m, r->frames[r->n], QSL_FEED_MSG_MAX);
    r->n++;
}

static int run_flow(const struct qsl_feed_pub_config *c, qsl_event_fn fn, void *ctx,
                    qsl_stop_flag *stop)
{
    struct qsl_engine_config ec;
    qsl_engine_config_defaults(&ec);
    ec.symbols = c->symbols;
    ec.max_orders = c->max_orders;
    ec.huge_pages = c->huge_pages;
    struct qsl_engine e;
    struct qsl_flow *f = malloc(sizeof *f);
    if (!f)
        return -ENOMEM;
    int rc = qsl_engine_init(&e, &ec);
    if (rc != 0) {
        free(f);
        return rc;
    }
    rc = qsl_flow_init(f, (enum qsl_flow_gen)c->flow, c->seed, c->symbols);
    for (uint64_t i = 0; rc == 0 && i < c->orders && !(stop && *stop); i++) {
        struct qsl_flow_item it;
        qsl_flow_next(f, &e, &it);
        qsl_flow_apply(&e, &it, fn, ctx);
    }
    qsl_engine_free(&e);
    free(f);
    return rc;
}

/* A datagram of one message the kernel refused: counted, not retried. */
static void raw_refused(struct qsl_feed_pub_stats *st, int err)
{
    st->send_failures++;
    st->failed_messages++;
    st->last_errno = err;
}

static void raw_send_each(int fd, const struct raw *r, struct qsl_feed_pub_stats *st,
                          qsl_stop_flag *stop)
{
    for (size_t i = 0; i < r->n && !(stop && *stop); i++) {
        st->messages++;
        st->datagrams++;
        st->send_calls++;
        if (send(fd, r->frames[i], r->lens[i], 0) < 0)
            raw_refused(st, errno);
    }
}

/* sendmmsg, batch datagrams a call, from one batch of headers pointed at the next messages
 * before each call, as the publisher's own (hundreds of thousands of headers made up front
 * are colder than the messages): what its sends cost with nothing else around them. */
static int raw_send_batched(int fd, const struct raw *r, unsigned batch,
                            struct qsl_feed_pub_stats *st, qsl_stop_flag *stop)
{
    struct mmsghdr *mm = calloc(batch, sizeof *mm);
    struct iovec *iov = calloc(batch, sizeof *iov);
    if (!mm || !iov) {
        free(mm);
        free(iov);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < batch; i++) {
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    st->start_ns = qsl_clock_ns();
    for (size_t off = 0; off < r->n && !(stop && *stop);) {
        unsigned k = r->n - off < batch ? (unsigned)(r->n - off) : batch;
        for (unsigned i = 0; i < k; i++)
            iov[i] = (struct iovec){r->frames[off + i], r->lens[off + i]};
        int n = sendmmsg(fd, mm, k, 0);
        st->send_calls++;
        if (n < 0 && errno == EINTR)
            continue;
        /* the entry at off was refused when none went (ENOBUFS, ECONNREFUSED...) */
        unsigned went = n > 0 ? (unsigned)n : 1;
        if (n <= 0)
            raw_refused(st, n < 0 ? errno : EIO);
        st->messages += went;
        st->datagrams += went;
        off += went;
    }
    free(mm);
    free(iov);
    return 0;
}

static int publish_raw(int fd, const struct qsl_feed_pub_config *c, struct qsl_feed_pub_stats *st,
                       qsl_stop_flag *stop)
{
    struct raw r = {0};
    int rc = run_flow(c, raw_collect, &r, stop);
    if (rc == 0 && r.oom)
        rc = -ENOMEM;
    if (rc == 0 && c->raw == 2) {
        rc = raw_send_batched(fd, &r, c->batch, st, stop);
    } else if (rc == 0) {
        st->start_ns = qsl_clock_ns();
        raw_send_each(fd, &r, st, stop);
    }
    if (st->start_ns)
        st->end_ns = qsl_clock_ns();
    free(r.frames);
    free(r.lens);
    return rc;
}

int qsl_feed_publish(int fd, const struct qsl_feed_pub_config *c, struct qsl_feed_pub_stats *st,
                     qsl_stop_flag *stop)
{
    memset(st, 0, sizeof *st);
    if (c->batch == 0 || c->batch > 1024 || c->rate < 0 || c->symbols == 0 ||
        (c->packed && (c->datagram_bytes < QSL_FEED_PACKED_HEADER + 2 + QSL_FEED_MSG_MAX ||
                       c->datagram_bytes > QSL_FEED_DGRAM_MAX)) ||
        (c->gso && !c->packed) || c->raw < 0 || c->raw > 2 ||
        (c->raw && (c->packed || c->rate > 0)))
        return -EINVAL;
    if (c->raw)
        return publish_raw(fd, c, st, stop);
    struct pub p = {.fd = fd, .c = c, .st = st, .slots = c->batch, .dg_per_slot = 1};
    if (c->gso) {
        int seg = (int)c->datagram_bytes;
        if (setsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, sizeof seg) != 0)
            return -ENOPROTOOPT;
        /* one GSO send: at most 64 segments and 64 KiB */
        p.dg_per_slot = 65000 / c->datagram_bytes;
        p.dg_per_slot = p.dg_per_slot > 64 ? 64 : p.dg_per_slot;
    }
    p.slot_cap = c->packed ? (size_t)c->datagram_bytes * p.dg_per_slot : QSL_FEED_MSG_MAX;
    p.buf = malloc(p.slot_cap * p.slots);
    p.mm = calloc(p.slots, sizeof *p.mm);
    p.iov = calloc(p.slots, sizeof *p.iov);
    p.slot_dgrams = calloc(p.slots + 1, sizeof *p.slot_dgrams);
    p.slot_msgs = calloc(p.slots + 1, sizeof *p.slot_msgs);
    int rc = -ENOMEM;
    if (p.buf && p.mm && p.iov && p.slot_dgrams && p.slot_msgs) {
        for (unsigned i = 0; i < p.slots; i++) {
            p.mm[i].msg_hdr.msg_iov = &p.iov[i];
            p.mm[i].msg_hdr.msg_iovlen = 1;
        }
        p.ns_per_msg = c->rate > 0 ? 1e9 / c->rate : 0;
        p.late_after_ns = (uint64_t)(p.ns_per_msg * c->batch);     /* a batch's worth */
        p.t0 = qsl_clock_ns();
        rc = run_flow(c, on_event, &p, stop);
        close_slot(&p);
        flush(&p);
    }
    free(p.buf);
    free(p.mm);
    free(p.iov);
    free(p.slot_dgrams);
    free(p.slot_msgs);
    return rc;
}

/* ------------------------------------------------------------------ subscriber */

/* A consumer's work, on the CPU as real work is: a sleep would hand the CPU away. */
static void sub_work(unsigned ns, int messages)
{
    uint64_t until = qsl_clock_ns() + (uint64_t)ns * (uint64_t)messages;
    while (qsl_clock_ns() < until)
        ;
}

/* One datagram, however it was received: count, track, decode. */
void qsl_feed_sub_datagram(struct qsl_feed_sub *s, const uint8_t *d, size_t len, int truncated,
                         const struct qsl_feed_sub_ctl *ctl)
{
    s->st->datagrams++;
    if (s->raw)
        return;
    if (ctl && ctl->has_ovfl && ctl->ovfl > s->st->rxq_ovfl)
        s->st->rxq_ovfl = ctl->ovfl;
    if (s->timestamps) {
        /* both stamps are CLOCK_REALTIME: a step of the clock between them is clamped to 0 */
        if (ctl && ctl->rx_rt)
            qsl_hist_record(&s->st->socket_wait, s->read_rt > ctl->rx_rt ? s->read_rt - ctl->rx_rt : 0);
        else
            s->st->unstamped++;
    }
    uint64_t first = 0;
    int n = truncated ? -1 : qsl_feed_decode_run(d, len, &first);
    if (n < 0) {
        s->st->malformed++;
        return;
    }
    s->st->messages += (uint64_t)n;
    if (s->on_message)
        qsl_feed_decode(d, len, s->on_message, s->on_message_ctx);
    qsl_seqtrack_add_run(s->t, first, (uint64_t)n);
    if (s->work_ns)
        sub_work(s->work_ns, n);
}

void qsl_feed_sub_arrived(struct qsl_feed_sub *s)
{
    s->last = qsl_clock_ns();
    if (s->st->first_ns == 0)
        s->st->first_ns = s->last;
    s->st->last_ns = s->last;
}

/* How long to wait for more (at most 100 ms, so a stop is seen), or -1 when the
 * subscription is over (ended_by set): count, stop, deadline, idle after the last. */
int qsl_feed_sub_wait_ms(struct qsl_feed_sub *s, uint64_t expected, unsigned idle_ms, uint64_t deadline,
                       qsl_stop_flag *stop)
{
    struct qsl_feed_sub_stats *st = s->st;
    uint64_t now = qsl_clock_ns();
    uint64_t idle = (uint64_t)idle_ms * 1000000u;
    if (expected && s->t->received >= expected)
        st->ended_by = QSL_FEED_END_COUNT;
    else if (stop && *stop)
        st->ended_by = QSL_FEED_END_STOP;
    else if (now >= deadline)
        st->ended_by = QSL_FEED_END_DEADLINE;
    else if (st->datagrams > 0 && now - s->last >= idle)
        st->ended_by = QSL_FEED_END_IDLE;
    else if (st->datagrams == 0 && now >= s->first_by)   /* idle_ms starts at the first */
        st->ended_by = QSL_FEED_END_FIRST;
    if (st->ended_by)
        return -1;
    uint64_t wait = st->datagrams > 0 ? idle - (now - s->last)
                    : (s->first_by < deadline ? s->first_by : deadline) - now;
    if (deadline - now < wait)
        wait = deadline - now;
    int ms = (int)(wait / 1000000u) + 1;
    return ms > 100 ? 100 : ms;
}

void qsl_feed_sub_read(struct qsl_feed_sub *s)
{
    struct timespec now;
    if (s->timestamps && clock_gettime(CLOCK_REALTIME, &now) == 0)
        s->read_rt = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

void qsl_feed_sub_parse_ctl(struct cmsghdr *c, struct qsl_feed_sub_ctl *out)
{
    if (c->cmsg_level != SOL_SOCKET)
        return;
    if (c->cmsg_type == SO_RXQ_OVFL && c->cmsg_len >= CMSG_LEN(sizeof out->ovfl)) {
        memcpy(&out->ovfl, CMSG_DATA(c), sizeof out->ovfl);
        out->has_ovfl = 1;
    } else if (c->cmsg_type == SCM_TIMESTAMPING && c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
        struct timespec ts;         /* [0] is the software stamp; [2], hardware, unused */
        memcpy(&ts, CMSG_DATA(c), sizeof ts);
        if (ts.tv_sec || ts.tv_nsec)
            out->rx_rt = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    }
}

#define NAME(e, file, name, help) name,
const char *const qsl_feed_rx_mode_names[] = {QSL_FEED_RX_MODES(NAME) NULL};
#undef NAME
#define HELP(e, file, name, help) help,
const char *const qsl_feed_rx_mode_helps[] = {QSL_FEED_RX_MODES(HELP) NULL};
#undef HELP
#define BACKEND(e, file, name, help) &qsl_feed_rx_##file##_backend,
static const struct qsl_feed_rx_backend *const backends[] = {QSL_FEED_RX_MODES(BACKEND)};
#undef BACKEND

int qsl_feed_rx_init(struct qsl_feed_rx *rx, enum qsl_feed_rx_mode mode, char *why, size_t len)
{
    memset(rx, 0, sizeof *rx);
    if (len)
        why[0] = '\0';
    if ((unsigned)mode >= QSL_FEED_RX_MODE_COUNT)
        return -EINVAL;
    rx->mode = mode;
    return backends[mode]->init(rx, why, len);
}

int qsl_feed_rx_mode_available(enum qsl_feed_rx_mode mode, char *why, size_t len)
{
    if (len)
        why[0] = '\0';
    if ((unsigned)mode >= QSL_FEED_RX_MODE_COUNT)
        return -EINVAL;
    return backends[mode]->available(why, len);
}

void qsl_feed_rx_free(struct qsl_feed_rx *rx)
{
    backends[rx->mode]->free(rx);
}

int qsl_feed_rx_prepare(int fd, const struct qsl_feed_rx *rx)
{
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
    if (!rx->timestamps || backends[rx->mode]->count_only)
        return 0;
    int flags = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
    return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags) == 0 ? 0 : -errno;
}

int qsl_feed_subscribe(int fd, struct qsl_feed_rx *rx, uint64_t expected, unsigned idle_ms,
                       unsigned deadline_ms, struct qsl_seqtrack *t, struct qsl_feed_sub_stats *st,
                       qsl_stop_flag *stop)
{
    memset(st, 0, sizeof *st);
    qsl_hist_init(&st->socket_wait);
    int rc = qsl_feed_rx_prepare(fd, rx);
    if (rc != 0)
        return rc;
    const struct qsl_feed_rx_backend *m = backends[rx->mode];
    struct qsl_feed_sub ctx = {t, st, qsl_clock_ns(), m->count_only, rx->work_ns, UINT64_MAX,
                               rx->timestamps && !m->count_only, 0, rx->on_message,
                               rx->on_message_ctx};
    if (rx->first_ms)
        ctx.first_by = ctx.last + (uint64_t)rx->first_ms * 1000000u;
    uint64_t deadline = deadline_ms ? ctx.last + (uint64_t)deadline_ms * 1000000u : UINT64_MAX;
    rc = m->subscribe(fd, rx, &ctx, expected, idle_ms, deadline, stop);
    uint32_t drops;
    if (qsl_sockopt_drops(fd, &drops) == 0)
        st->kernel_drops = drops;
    return rc;
}
