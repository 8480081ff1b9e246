/*
 * oneshot.c - one client's requests, each answer decoded (see oneshot.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "clock.h"
#include "net.h"
#include "oneshot.h"

/* ------------------------------------------------------------------ text */

/* One unsigned word in [0, max]; 0, or -1. */
static int word_u64(const char *w, uint64_t max, uint64_t *out)
{
    if (!w || *w < '0' || *w > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(w, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

static int word_i64(const char *w, int64_t *out)
{
    if (!w || !*w)
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(w, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* A word of a name list, case-insensitive: its index, or -1 (a missing word: dflt). */
static int word_of(const char *w, const char *const *names, int dflt)
{
    if (!w)
        return dflt;
    for (int i = 0; names[i]; i++)
        if (strcasecmp(w, names[i]) == 0)
            return i;
    return -1;
}

#define MAX_WORDS 10

/* One item's words into m; NULL, or the word (or what) that is wrong. */
static const char *parse_item(char **w, int n, struct qsl_wire_msg *m)
{
    uint64_t u;
    memset(m, 0, sizeof *m);
    if (strcasecmp(w[0], "new") == 0) {
        struct qsl_wire_new_order *o = &m->u.new_order;
        m->type = QSL_WIRE_NEW_ORDER;
        if (n < 6 || n > 8)
            return "new takes ID SYMBOL buy|sell PRICE QUANTITY [limit|market] [gtc|ioc]";
        if (word_u64(w[1], UINT64_MAX, &o->order_id))
            return w[1];
        if (word_u64(w[2], UINT32_MAX, &u))
            return w[2];
        o->symbol = (qsl_symbol)u;
        int side = word_of(w[3], qsl_side_names, -1);
        if (side < 0)
            return w[3];
        o->side = (uint8_t)side;
        if (word_i64(w[4], &o->price))
            return w[4];
        if (word_u64(w[5], UINT32_MAX, &u))
            return w[5];
        o->quantity = (qsl_qty)u;
        int type = word_of(n > 6 ? w[6] : NULL, qsl_order_type_names, 0);
        int tif = word_of(n > 7 ? w[7] : NULL, qsl_tif_names, 0);
        if (type < 0)
            return w[6];
        if (tif < 0)
            return w[7];
        o->order_type = (uint8_t)type, o->tif = (uint8_t)tif;
    } else if (strcasecmp(w[0], "cancel") == 0) {
        m->type = QSL_WIRE_CANCEL_ORDER;
        if (n != 3)
            return "cancel takes ID SYMBOL";
        if (word_u64(w[1], UINT64_MAX, &m->u.cancel_order.order_id))
            return w[1];
        if (word_u64(w[2], UINT32_MAX, &u))
            return w[2];
        m->u.cancel_order.symbol = (qsl_symbol)u;
    } else if (strcasecmp(w[0], "heartbeat") == 0) {
        m->type = QSL_WIRE_HEARTBEAT;
        if (n != 2)
            return "heartbeat takes TOKEN";
        if (word_u64(w[1], UINT64_MAX, &m->u.heartbeat.token))
            return w[1];
    } else {
        return w[0];
    }
    return NULL;
}

int qsl_oneshot_parse(const char *text, struct qsl_wire_msg *out, size_t cap, char *err,
                      size_t errlen)
{
    char *copy = strdup(text ? text : "");
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int count = 0, item = 0;
    char *save = NULL;
    for (char *it = strtok_r(copy, ";", &save); it; it = strtok_r(NULL, ";", &save)) {
        item++;
        char *w[MAX_WORDS + 1], *wsave = NULL;
        int n = 0;
        for (char *t = strtok_r(it, " \t\n", &wsave); t; t = strtok_r(NULL, " \t\n", &wsave))
            if (n <= MAX_WORDS)
                w[n++] = t;
        if (n == 0)
            continue;               /* an empty item: "a; ;b" */
        if ((size_t)count == cap) {
            snprintf(err, errlen, "more than %zu requests", cap);
            count = -1;
            break;
        }
        const char *bad = n > MAX_WORDS ? "too many words" : parse_item(w, n, &out[count]);
        if (bad) {
            snprintf(err, errlen, "request %d (%s): %s%s", item, w[0], strchr(bad, ' ') ? "" :
                     "not understood: ", bad);
            count = -1;
            break;
        }
        count++;
    }
    free(copy);
    if (count == 0) {
        snprintf(err, errlen, "no request (new, cancel or heartbeat)");
        return -1;
    }
    return count;
}

static const char *name_of(const char *const *names, unsigned v)
{
    for (unsigned i = 0; names[i]; i++)
        if (i == v)
            return names[i];
    return "?";
}

int qsl_oneshot_format(const struct qsl_wire_msg *m, char *buf, size_t cap)
{
    switch (m->type) {
    case QSL_WIRE_NEW_ORDER: {
        const struct qsl_wire_new_order *o = &m->u.new_order;
        return snprintf(buf, cap, "NewOrder(oid=%" PRIu64 ",sym=%" PRIu32 ",%s,px=%" PRId64
                        ",qty=%" PRIu32 ",%s,%s)", o->order_id, o->symbol,
                        name_of(qsl_side_names, o->side), o->price, o->quantity,
                        name_of(qsl_order_type_names, o->order_type), name_of(qsl_tif_names, o->tif));
    }
    case QSL_WIRE_CANCEL_ORDER:
        return snprintf(buf, cap, "CancelOrder(oid=%" PRIu64 ",sym=%" PRIu32 ")",
                        m->u.cancel_order.order_id, m->u.cancel_order.symbol);
    case QSL_WIRE_HEARTBEAT:
    case QSL_WIRE_HEARTBEAT_ACK:
        return snprintf(buf, cap, "%s(token=%" PRIu64 ")", qsl_wire_type_name(m->type),
                        m->u.heartbeat.token);
    case QSL_WIRE_ACK:
        return snprintf(buf, cap, "Ack(oid=%" PRIu64 ",seq=%" PRIu64 ")", m->u.ack.order_id,
                        m->u.ack.seq);
    case QSL_WIRE_REJECT: {
        const char *r = qsl_wire_reject_name(m->u.reject.reason);
        return r ? snprintf(buf, cap, "Reject(oid=%" PRIu64 ",reason=%s)", m->u.reject.order_id, r)
                 : snprintf(buf, cap, "Reject(oid=%" PRIu64 ",reason=%u)", m->u.reject.order_id,
                            m->u.reject.reason);
    }
    case QSL_WIRE_FILL:
        return snprintf(buf, cap, "Fill(taker=%" PRIu64 ",maker=%" PRIu64 ",px=%" PRId64
                        ",qty=%" PRIu32 ",seq=%" PRIu64 ")", m->u.fill.taker_id,
                        m->u.fill.maker_id, m->u.fill.price, m->u.fill.quantity, m->u.fill.seq);
    case QSL_WIRE_MD_TRADE:
        return snprintf(buf, cap, "MdTrade(seq=%" PRIu64 ",sym=%" PRIu32 ",px=%" PRId64
                        ",qty=%" PRIu32 ")", m->seq, m->u.md_trade.symbol, m->u.md_trade.price,
                        m->u.md_trade.quantity);
    case QSL_WIRE_MD_TOP_OF_BOOK: {
        const struct qsl_wire_md_top_of_book *t = &m->u.md_top_of_book;
        char bid[24] = "-", ask[24] = "-";
        if (t->bid_present)
            snprintf(bid, sizeof bid, "%" PRId64, t->bid);
        if (t->ask_present)
            snprintf(ask, sizeof ask, "%" PRId64, t->ask);
        return snprintf(buf, cap, "MdTopOfBook(seq=%" PRIu64 ",sym=%" PRIu32 ",bid=%s,ask=%s)",
                        m->seq, t->symbol, bid, ask);
    }
    default:
        return snprintf(buf, cap, "type %u", m->type);
    }
}

/* ------------------------------------------------------------------ the run */

struct conn {
    int fd;
    unsigned timeout_ms;
    qsl_stop_flag *stop;
    uint8_t in[4096];
    size_t have;
};

/* The next whole reply into m: 0, or a negative errno (why filled for -EPROTO). */
static int next_reply(struct conn *c, struct qsl_wire_msg *m, char *why, size_t whylen)
{
    uint64_t deadline = qsl_clock_ms() + c->timeout_ms;
    for (;;) {
        size_t flen;
        enum qsl_wire_err e = c->have ? qsl_wire_decode(c->in, c->have, m, &flen)
                                      : QSL_WIRE_TRUNCATED;
        if (e == QSL_WIRE_OK) {
            memmove(c->in, c->in + flen, c->have - flen);
            c->have -= flen;
            return 0;
        }
        if (e != QSL_WIRE_TRUNCATED) {
            snprintf(why, whylen, "a malformed reply: %s", qsl_wire_err_name(e));
            return -EPROTO;
        }
        int r = qsl_net_wait(c->fd, POLLIN, deadline, c->stop);
        if (r <= 0)
            return r < 0 ? -EINTR : -ETIMEDOUT;
        ssize_t got = recv(c->fd, c->in + c->have, sizeof c->in - c->have, MSG_DONTWAIT);
        if (got == 0)
            return -ECONNRESET;
        if (got < 0 && errno != EAGAIN && errno != EINTR)
            return -errno;
        if (got > 0)
            c->have += (size_t)got;
    }
}

static int send_all(struct conn *c, const uint8_t *p, size_t n)
{
    uint64_t deadline = qsl_clock_ms() + c->timeout_ms;
    while (n > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            p += w, n -= (size_t)w;
            continue;
        }
        if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
            return -ECONNRESET;         /* the server closed: one outcome, however it shows */
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return -errno;
        int r = qsl_net_wait(c->fd, POLLOUT, deadline, c->stop);
        if (r <= 0)
            return r < 0 ? -EINTR : -ETIMEDOUT;
    }
    return 0;
}

/* Whether m answers req (Ack or Reject of its order, HeartbeatAck of its token). */
static int answers(const struct qsl_wire_msg *req, const struct qsl_wire_msg *m)
{
    qsl_order_id id = req->type == QSL_WIRE_NEW_ORDER ? req->u.new_order.order_id
                                                      : req->u.cancel_order.order_id;
    if (req->type == QSL_WIRE_HEARTBEAT)
        return m->type == QSL_WIRE_HEARTBEAT_ACK && m->u.heartbeat.token == req->u.heartbeat.token;
    return (m->type == QSL_WIRE_ACK && m->u.ack.order_id == id) ||
           (m->type == QSL_WIRE_REJECT && m->u.reject.order_id == id);
}

static void count(struct qsl_oneshot_stats *st, const struct qsl_wire_msg *m)
{
    st->acks += m->type == QSL_WIRE_ACK;
    st->rejects += m->type == QSL_WIRE_REJECT;
    st->fills += m->type == QSL_WIRE_FILL;
    st->heartbeat_acks += m->type == QSL_WIRE_HEARTBEAT_ACK;
}

/* The Fills that came with an answer, already here (no wait): shown beside it rather than
 * after the next request. A later one still shows, on the next read. */
static void buffered_fills(struct conn *c, qsl_oneshot_line line, void *ctx,
                           struct qsl_oneshot_stats *st)
{
    ssize_t got = recv(c->fd, c->in + c->have, sizeof c->in - c->have, MSG_DONTWAIT);
    if (got > 0)
        c->have += (size_t)got;
    struct qsl_wire_msg m;
    size_t flen;
    while (c->have && qsl_wire_decode(c->in, c->have, &m, &flen) == QSL_WIRE_OK &&
           m.type == QSL_WIRE_FILL) {
        memmove(c->in, c->in + flen, c->have - flen);
        c->have -= flen;
        count(st, &m);
        if (line)
            line(ctx, 0, &m);
    }
}

/* Sends req and reads until its answer; Fills on the way are the earlier orders'. */
static int exchange(struct conn *c, const struct qsl_wire_msg *req, int show,
                    qsl_oneshot_line line, void *ctx, struct qsl_oneshot_stats *st,
                    char *why, size_t whylen)
{
    uint8_t frame[QSL_WIRE_MAX_FRAME];
    int len = qsl_wire_encode(req, frame, sizeof frame);
    if (len < 0)
        return len;
    if (show && line)
        line(ctx, 1, req);
    int rc = send_all(c, frame, (size_t)len);
    if (rc != 0)
        return rc;
    for (;;) {
        struct qsl_wire_msg m;
        if ((rc = next_reply(c, &m, why, whylen)) != 0)
            return rc;
        int done = answers(req, &m);
        if (!done && m.type != QSL_WIRE_FILL) {
            char text[160];
            qsl_oneshot_format(&m, text, sizeof text);
            snprintf(why, whylen, "a reply that answers no request: %s", text);
            return -EPROTO;
        }
        if (done && !show)
            return 0;           /* the fence: not the user's */
        count(st, &m);
        if (line)
            line(ctx, 0, &m);
        if (done) {
            st->answered++;
            buffered_fills(c, line, ctx, st);
            return 0;
        }
    }
}

int qsl_oneshot_run(int fd, const struct qsl_wire_msg *reqs, size_t n, unsigned timeout_ms,
                    qsl_oneshot_line line, void *ctx, struct qsl_oneshot_stats *st,
                    qsl_stop_flag *stop, char *why, size_t whylen)
{
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->fd = fd, c->timeout_ms = timeout_ms, c->stop = stop;
    memset(st, 0, sizeof *st);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        st->requests++;
        rc = exchange(c, &reqs[i], 1, line, ctx, st, why, whylen);
    }
    if (rc == 0) {
        struct qsl_wire_msg fence = {.type = QSL_WIRE_HEARTBEAT, .u.heartbeat.token = QSL_ONESHOT_FENCE};
        rc = exchange(c, &fence, 0, line, ctx, st, why, whylen);
    }
    free(c);
    return rc;
}
