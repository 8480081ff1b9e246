/*
 * client.c - the load driver.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "clock.h"
#include "net.h"
#include "sockopt.h"
#include "wire.h"

enum kind { K_REST, K_CROSS, K_CANCEL, K_HEARTBEAT, K_SENTINEL, K_ECHO };

#define RESTING_MAX 256
#define MID 100

struct pending {
    uint8_t kind;
    uint64_t id;
    uint64_t t0;                /* scheduled time (open loop) or send time */
};

struct lconn {
    int fd;
    unsigned idx;
    struct pending *q;
    unsigned qhead, qlen, qcap;
    uint8_t hold[QSL_WIRE_MAX_FRAME];
    unsigned held;
    size_t echo_got;
    uint64_t counter;
    uint64_t fill_taker;        /* Fills may follow the Ack of this order; 0: none */
    uint64_t resting[RESTING_MAX];
    unsigned nresting;
    uint64_t rng;
    uint64_t quota;
    uint64_t next_due;
    int sentinel_sent, done;
    int connecting;             /* a non-blocking connect is under way */
    uint64_t connect_t0;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    int want_out;               /* EPOLLOUT is armed */
    uint64_t last_progress;
};

struct run {
    uint64_t next_sample;       /* tcp_info_ms: the next sample of the open connections */
    const struct qsl_load_config *c;
    struct qsl_load_stats *st;
    struct lconn *conns;
    int ep;
    uint64_t interval;          /* open loop: ns between one connection's requests */
    uint64_t end_at;            /* duration mode: stop sending at */
    int pairs;                  /* short pattern: the caller times each pair itself */
    uint8_t *echo_req;
};


static void fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct run *r, const char *fmt, ...)
{
    if (r->st->errors++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->st->error, sizeof r->st->error, fmt, ap);
        va_end(ap);
    }
}

void qsl_load_defaults(struct qsl_load_config *c)
{
    memset(c, 0, sizeof *c);
    c->pattern = QSL_LOAD_PERSISTENT;
    c->connections = 1;
    c->depth = 1;
    c->requests = 10000;
    c->mix_rest = 40;
    c->mix_cross = 20;
    c->mix_cancel = 30;
    c->mix_heartbeat = 10;
    c->symbols = 2;             /* a default gateway's symbols: no UnknownSymbol unless asked */
    c->seed = 1;
    c->echo_request = 43;
    c->echo_reply = 32;
    c->timeout_ms = 5000;
}

int qsl_load_target(struct qsl_load_config *c, const char *host, uint16_t port)
{
    return qsl_net_addr(host, port, &c->addr, &c->addrlen);
}

static uint64_t rnd(struct lconn *k)
{
    k->rng ^= k->rng << 13;
    k->rng ^= k->rng >> 7;
    k->rng ^= k->rng << 17;
    return k->rng;
}

/* ------------------------------------------------------------------ requests */

static void put_frame(struct lconn *k, const struct qsl_wire_msg *m)
{
    int n = qsl_wire_encode(m, k->out + k->out_len, k->out_cap - k->out_len);
    k->out_len += (size_t)(n > 0 ? n : 0);
}

static enum kind pick_kind(const struct qsl_load_config *c, struct lconn *k)
{
    unsigned d = (unsigned)(rnd(k) % 100);
    if (d < c->mix_rest)
        return K_REST;
    if (d < c->mix_rest + c->mix_cross)
        return K_CROSS;
    if (d < c->mix_rest + c->mix_cross + c->mix_cancel && k->nresting > 0)
        return K_CANCEL;
    return K_HEARTBEAT;
}

/* Encode one request of the mix into the connection's output; returns its pending entry. */
static struct pending make_request(struct run *r, struct lconn *k, enum kind kind, uint64_t t0)
{
    struct pending p = {.kind = (uint8_t)kind, .t0 = t0};
    struct qsl_wire_msg m = {0};
    if (kind == K_ECHO) {
        memcpy(k->out + k->out_len, r->echo_req, r->c->echo_request);
        k->out_len += r->c->echo_request;
        return p;
    }
    /* id: symbol (8 bits, added below) | seed (8) | connection (16) | counter (32), so
     * runs with other seeds against one gateway do not collide on ids */
    p.id = (r->c->seed & 0xff) << 48 | (uint64_t)(k->idx + 1) << 32 | ++k->counter;
    if (kind == K_CANCEL) {
        unsigned at = (unsigned)(rnd(k) % k->nresting);
        p.id = k->resting[at];
        k->resting[at] = k->resting[--k->nresting];
        m.type = QSL_WIRE_CANCEL_ORDER;
        m.u.cancel_order = (struct qsl_wire_cancel_order){p.id, (uint32_t)(p.id >> 56)};
    } else if (kind == K_HEARTBEAT || kind == K_SENTINEL) {
        m.type = QSL_WIRE_HEARTBEAT;
        m.u.heartbeat.token = p.id;
    } else {
        /* resting orders sit 1-5 ticks off the mid; crossing IOCs reach 6 ticks through it */
        uint8_t side = (uint8_t)(rnd(k) & 1);
        uint32_t sym = (uint32_t)(rnd(k) % r->c->symbols);
        int64_t off = kind == K_REST ? -(int64_t)(1 + rnd(k) % 5) : 6;
        int64_t px = side == QSL_BUY ? MID + off : MID - off;
        p.id |= (uint64_t)sym << 56;        /* the symbol rides in the id, for cancels */
        m.type = QSL_WIRE_NEW_ORDER;
        m.u.new_order = (struct qsl_wire_new_order){p.id, sym, px, (uint32_t)(1 + rnd(k) % 10),
                                                    side, QSL_LIMIT,
                                                    kind == K_REST ? QSL_GTC : QSL_IOC};
    }
    put_frame(k, &m);
    return p;
}

/* The silence timeout runs from the moment something is outstanding. */
static void enqueue(struct lconn *k, struct pending p, uint64_t now)
{
    if (k->qlen == 0)
        k->last_progress = now;
    k->q[(k->qhead + k->qlen) % k->qcap] = p;
    k->qlen++;
}

/* Send the buffered bytes up to `upto` (the whole buffer when upto >= out_len). */
/* A connection's TCP_INFO: summed as it closes, and handed to the caller's tcp_info. */
static void conn_tcpinfo(struct run *r, unsigned conn, int fd, int closing)
{
    struct qsl_tcpinfo t;
    if (qsl_tcpinfo_read(fd, &t) != 0) {
        r->st->tcp.unread += (uint64_t)closing;
        return;
    }
    if (closing)
        qsl_tcpinfo_add(&r->st->tcp, &t);
    if (r->c->tcp_info)
        r->c->tcp_info(r->c->tcp_info_ctx, conn, qsl_clock_ns() - r->st->connect_start_ns,
                       closing, &t);
}

/* tcp_info_ms: every open connection's TCP_INFO, when due; the next wake-up no later. */
static void sample_tcpinfo(struct run *r, uint64_t now, uint64_t *wake)
{
    const struct qsl_load_config *c = r->c;
    if (!c->tcp_info || !c->tcp_info_ms)
        return;
    if (now >= r->next_sample) {
        for (unsigned i = 0; i < c->connections; i++)
            if (r->conns[i].fd >= 0 && !r->conns[i].connecting && !r->conns[i].done)
                conn_tcpinfo(r, i, r->conns[i].fd, 0);
        r->next_sample = now + (uint64_t)c->tcp_info_ms * 1000000u;
    }
    if (r->next_sample < *wake)
        *wake = r->next_sample;
}

static void conn_flush_upto(struct run *r, struct lconn *k, size_t upto)
{
    size_t end = upto < k->out_len ? upto : k->out_len;
    while (k->out_off < end) {
        ssize_t w = send(k->fd, k->out + k->out_off, end - k->out_off, MSG_NOSIGNAL);
        if (w > 0) {
            k->out_off += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && errno == EAGAIN) {
            if (!k->want_out) {
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = k};
                epoll_ctl(r->ep, EPOLL_CTL_MOD, k->fd, &ev);
                k->want_out = 1;
            }
            return;
        } else {
            fail(r, "connection %u: send: %s", k->idx, strerror(errno));
            k->done = 1;
            return;
        }
    }
    if (end < k->out_len)
        return;                 /* the rest of the buffer goes in a later send */
    if (k->want_out) {         /* drained: stop asking for EPOLLOUT */
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = k};
        epoll_ctl(r->ep, EPOLL_CTL_MOD, k->fd, &ev);
        k->want_out = 0;
    }
    k->out_off = k->out_len = 0;
}

static void conn_flush(struct run *r, struct lconn *k)
{
    conn_flush_upto(r, k, SIZE_MAX);
}

/* Send what this connection may send now. */
static void conn_fill(struct run *r, struct lconn *k, uint64_t now)
{
    const struct qsl_load_config *c = r->c;
    if (k->done || k->sentinel_sent || k->out_len > 0)
        return;
    int finished = c->requests ? k->quota == 0 : now >= r->end_at;
    if (finished) {
        if (c->pattern == QSL_LOAD_ECHO) {
            k->done = k->qlen == 0;
        } else {
            /* a last Heartbeat: its reply proves every Fill before it has arrived */
            enqueue(k, make_request(r, k, K_SENTINEL, now), now);
            k->sentinel_sent = 1;
            r->st->frames_sent++;
            r->st->final_heartbeats++;
        }
    } else {
        while (k->qlen < c->depth && (!c->requests || k->quota > 0)) {
            uint64_t t0 = now;
            if (r->interval) {
                if (k->next_due > now)
                    break;
                t0 = k->next_due;
                k->next_due += r->interval;
            }
            enum kind kind = c->pattern == QSL_LOAD_ECHO ? K_ECHO : pick_kind(c, k);
            size_t start = k->out_len;
            enqueue(k, make_request(r, k, kind, t0), now);
            if (c->split_writes && kind != K_ECHO) {
                /* header and body in two writes: what Nagle and delayed ACK act on */
                conn_flush_upto(r, k, start + QSL_WIRE_HEADER_SIZE);
                conn_flush(r, k);
            }
            r->st->sent++;
            r->st->frames_sent += kind != K_ECHO;
            if (c->requests)
                k->quota--;
        }
    }
    conn_flush(r, k);
}

/* ------------------------------------------------------------------ replies */

static void complete(struct run *r, struct lconn *k, uint64_t now)
{
    struct pending *p = &k->q[k->qhead];
    k->qhead = (k->qhead + 1) % k->qcap;
    k->qlen--;
    k->last_progress = now;
    if (p->kind == K_SENTINEL) {
        k->done = 1;
        return;
    }
    if (r->pairs)
        return;
    r->st->completed++;
    if (now >= r->st->measure_ns) {
        r->st->recorded++;
        qsl_hist_record(&r->st->hist, now - p->t0);
    }
}

static const char *kind_name(int kind)
{
    static const char *const n[] = {"resting NewOrder", "crossing NewOrder", "CancelOrder",
                                    "Heartbeat", "final Heartbeat", "echo"};
    return n[kind];
}

/* One reply frame, checked against the request at the head of the queue. */
static void on_frame(struct run *r, struct lconn *k, const struct qsl_wire_msg *m, uint64_t now)
{
    struct pending *head = k->qlen ? &k->q[k->qhead] : NULL;
    if (m->type == QSL_WIRE_FILL) {
        if (!k->fill_taker || m->u.fill.taker_id != k->fill_taker) {
            fail(r, "connection %u: Fill for taker %llu, not the order last acknowledged", k->idx,
                 (unsigned long long)m->u.fill.taker_id);
            k->done = 1;
            return;
        }
        r->st->fills++;
        return;
    }
    k->fill_taker = 0;
    if (!head) {
        fail(r, "connection %u: a %s with no request outstanding", k->idx,
             qsl_wire_type_name(m->type));
        k->done = 1;
        return;
    }
    int is_order = head->kind == K_REST || head->kind == K_CROSS || head->kind == K_CANCEL;
    int ok = 0;
    if (m->type == QSL_WIRE_ACK && is_order && m->u.ack.order_id == head->id) {
        ok = 1;
        r->st->acks++;
        if (head->kind != K_CANCEL)
            k->fill_taker = head->id;
        if (head->kind == K_REST && k->nresting < RESTING_MAX)
            k->resting[k->nresting++] = head->id;
    } else if (m->type == QSL_WIRE_REJECT && is_order && m->u.reject.order_id == head->id) {
        ok = 1;
        r->st->rejects++;
    } else if (m->type == QSL_WIRE_HEARTBEAT_ACK &&
               (head->kind == K_HEARTBEAT || head->kind == K_SENTINEL) &&
               m->u.heartbeat.token == head->id) {
        ok = 1;
        r->st->heartbeat_acks++;
    }
    if (!ok) {
        fail(r, "connection %u: expected the reply to a %s (id %llu), got %s", k->idx,
             kind_name(head->kind), (unsigned long long)head->id, qsl_wire_type_name(m->type));
        k->done = 1;
        return;
    }
    complete(r, k, now);
}

/* Split a read into frames, holding a partial one; echo counts bytes instead. */
static void on_bytes(struct run *r, struct lconn *k, const uint8_t *p, size_t n, uint64_t now)
{
    if (r->c->pattern == QSL_LOAD_ECHO) {
        k->echo_got += n;
        while (k->echo_got >= r->c->echo_reply && k->qlen > 0) {
            k->echo_got -= r->c->echo_reply;
            complete(r, k, now);
        }
        if (k->echo_got >= r->c->echo_reply) {
            fail(r, "connection %u: echo bytes with no request outstanding", k->idx);
            k->done = 1;
        }
        return;
    }
    while (n > 0 && !k->done) {
        size_t take = QSL_WIRE_HEADER_SIZE;
        if (k->held >= QSL_WIRE_HEADER_SIZE) {
            size_t body = qsl_wire_body_size(qsl_be16_get(k->hold));
            take = QSL_WIRE_HEADER_SIZE + body;
        }
        size_t want = take - k->held;
        size_t c = want < n ? want : n;
        memcpy(k->hold + k->held, p, c);
        k->held += (unsigned)c;
        p += c;
        n -= c;
        if (k->held < take)
            continue;
        if (take == QSL_WIRE_HEADER_SIZE) {
            struct qsl_wire_header h;
            if (qsl_wire_decode_header(k->hold, k->held, &h) != QSL_WIRE_OK ||
                h.body_len != qsl_wire_body_size(h.type)) {
                fail(r, "connection %u: malformed reply header", k->idx);
                k->done = 1;
                return;
            }
            continue;           /* now read the body */
        }
        struct qsl_wire_msg m;
        if (qsl_wire_decode(k->hold, k->held, &m, NULL) != QSL_WIRE_OK) {
            fail(r, "connection %u: malformed reply", k->idx);
            k->done = 1;
            return;
        }
        k->held = 0;
        on_frame(r, k, &m, now);
    }
}

static void conn_read(struct run *r, struct lconn *k)
{
    uint8_t buf[65536];
    for (;;) {
        ssize_t n = recv(k->fd, buf, sizeof buf, 0);
        if (n > 0) {
            on_bytes(r, k, buf, (size_t)n, qsl_clock_ns());
            if (k->done || (size_t)n < sizeof buf)
                return;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        fail(r, "connection %u: %s with %u request(s) unanswered", k->idx,
             n == 0 ? "the gateway closed the connection" : strerror(errno), k->qlen);
        k->done = 1;
        return;
    }
}

/* ------------------------------------------------------------------ persistent and echo */

/* A connection is up: its requests may start at once, whatever the others are doing
 * (a server that serves one connection at a time only accepts the next when one ends). */
static void on_connected(struct run *r, struct lconn *k, uint64_t now)
{
    const struct qsl_load_config *c = r->c;
    k->connecting = 0;
    r->st->connects++;
    r->st->connected_ns = now;
    if (r->st->start_ns == 0) {
        r->st->start_ns = now;
        r->st->measure_ns = now + (uint64_t)c->warmup_ms * 1000000u;
        r->end_at = now + (uint64_t)c->duration_ms * 1000000u;
    }
    if (r->interval) {
        uint64_t due = r->st->start_ns + r->interval * k->idx / c->connections;
        k->next_due = due > now ? due : now;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = k};
    epoll_ctl(r->ep, EPOLL_CTL_MOD, k->fd, &ev);
}

/* Start a non-blocking connect; it completes in the event loop (EPOLLOUT). */
static int open_conn(struct run *r, struct lconn *k, uint64_t now)
{
    k->fd = qsl_net_socket(r->c->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK);
    if (k->fd < 0) {
        int e = k->fd;
        k->fd = -1;
        return e;
    }
    int one = 1;
    setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (r->c->conn_opts)        /* after qsl's defaults, so they can be overridden */
        qsl_sockopt_apply(k->fd, r->c->conn_opts, NULL, NULL);
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = k};
    if (epoll_ctl(r->ep, EPOLL_CTL_ADD, k->fd, &ev) != 0)
        return -errno;
    k->connecting = 1;
    k->connect_t0 = now;
    if (connect(k->fd, (const struct sockaddr *)&r->c->addr, r->c->addrlen) == 0)
        on_connected(r, k, now);
    else if (errno != EINPROGRESS)
        return -errno;
    return 0;
}

/* The connect's outcome, once the socket is writable (or failed). */
static void conn_connect_done(struct run *r, struct lconn *k)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err != 0) {
        fail(r, "connection %u: connect: %s", k->idx, strerror(err));
        k->done = 1;
        return;
    }
    on_connected(r, k, qsl_clock_ns());
}

static int run_persistent(struct run *r, qsl_stop_flag *stop)
{
    const struct qsl_load_config *c = r->c;
    unsigned n = c->connections;
    r->conns = calloc(n, sizeof *r->conns);
    if (!r->conns)
        return -ENOMEM;
    int rc = 0;
    for (unsigned i = 0; i < n; i++) {
        struct lconn *k = &r->conns[i];
        k->fd = -1;
        k->idx = i;
        k->qcap = c->depth + 1;
        k->q = calloc(k->qcap, sizeof *k->q);
        k->out_cap = (size_t)k->qcap * (QSL_WIRE_MAX_FRAME + c->echo_request);
        k->out = malloc(k->out_cap);
        k->rng = (c->seed + 1) * 0x9e3779b97f4a7c15ull + i * 0xbf58476d1ce4e5b9ull + 1;
        if (!k->q || !k->out)
            rc = -ENOMEM;
    }
    for (unsigned i = 0; i < n; i++)
        r->conns[i].quota = c->requests / n + (i < c->requests % n);
    r->st->connect_start_ns = qsl_clock_ns();
    for (unsigned i = 0; rc == 0 && i < n; i++)
        rc = open_conn(r, &r->conns[i], qsl_clock_ns());
    if (rc != 0)
        return rc;
    struct epoll_event evs[256];
    unsigned active = n;
    while (active > 0 && !*stop) {
        uint64_t now = qsl_clock_ns();
        uint64_t wake = now + 10000000u;        /* at least every 10 ms: timeouts */
        active = 0;
        for (unsigned i = 0; i < n; i++) {
            struct lconn *k = &r->conns[i];
            if (k->done) {
                /* closed as soon as it is done: a one-connection-at-a-time server moves on */
                if (k->fd >= 0) {
                    conn_tcpinfo(r, i, k->fd, 1);
                    close(k->fd);
                    k->fd = -1;
                }
                continue;
            }
            if (k->connecting) {
                if (now - k->connect_t0 > (uint64_t)c->timeout_ms * 1000000u) {
                    fail(r, "connection %u: not connected after %u ms", i, c->timeout_ms);
                    k->done = 1;
                    continue;
                }
                active++;
                continue;
            }
            conn_fill(r, k, now);
            if (k->qlen > 0 && now - k->last_progress > (uint64_t)c->timeout_ms * 1000000u) {
                fail(r, "connection %u: no reply for %u ms with %u request(s) outstanding", i,
                     c->timeout_ms, k->qlen);
                k->done = 1;
            }
            if (k->done)
                continue;
            active++;
            if (r->interval && k->qlen < c->depth && k->next_due < wake)
                wake = k->next_due;
        }
        if (active == 0)
            break;
        sample_tcpinfo(r, now, &wake);
        struct timespec ts = {0, 0};
        if (wake > now) {
            ts.tv_sec = (time_t)((wake - now) / 1000000000u);
            ts.tv_nsec = (long)((wake - now) % 1000000000u);
        }
        int m = epoll_pwait2(r->ep, evs, 256, &ts, NULL);
        for (int i = 0; i < m; i++) {
            struct lconn *k = evs[i].data.ptr;
            if (k->done)
                continue;
            if (k->connecting) {
                conn_connect_done(r, k);
                continue;
            }
            if (evs[i].events & EPOLLOUT)
                conn_flush(r, k);
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                conn_read(r, k);
        }
    }
    r->st->end_ns = qsl_clock_ns();
    if (r->st->start_ns == 0)   /* nothing connected: no measured time */
        r->st->start_ns = r->st->measure_ns = r->st->end_ns;
    return 0;
}

/* ------------------------------------------------------------------ short connections */

static int run_short(struct run *r, qsl_stop_flag *stop)
{
    const struct qsl_load_config *c = r->c;
    struct lconn k;
    struct pending q[3];
    uint8_t out[2 * QSL_WIRE_MAX_FRAME];
    memset(&k, 0, sizeof k);
    k.q = q;
    k.qcap = 3;
    k.out = out;
    k.out_cap = sizeof out;
    k.rng = (c->seed + 1) * 0x9e3779b97f4a7c15ull;
    r->ep = -1;
    r->pairs = 1;
    uint64_t start = qsl_clock_ns();
    r->st->connect_start_ns = r->st->start_ns = start;
    r->st->measure_ns = start + (uint64_t)c->warmup_ms * 1000000u;
    uint64_t end_at = start + (uint64_t)c->duration_ms * 1000000u;
    struct timeval tv = {(time_t)(c->timeout_ms / 1000), (long)(c->timeout_ms % 1000) * 1000};
    for (uint64_t i = 0; !*stop && !r->st->errors && (c->requests ? i < c->requests : qsl_clock_ns() < end_at); i++) {
        uint64_t t0 = qsl_clock_ns();
        int fd = qsl_net_socket(c->addr.ss_family, SOCK_STREAM);
        if (fd < 0)
            return fd;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (c->conn_opts)
            qsl_sockopt_apply(fd, c->conn_opts, NULL, NULL);
        int rc = qsl_net_connect_until(fd, &c->addr, c->addrlen,
                                       qsl_clock_ms() + c->timeout_ms, stop);
        if (rc == 0)
            rc = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == 0 ? 0 : -errno;
        if (rc != 0) {
            if (rc != -EINTR)   /* -EINTR: stopped, not an error */
                fail(r, "round trip %llu: connect: %s", (unsigned long long)i,
                     rc == -ETIMEDOUT ? "no connection within timeout_ms" : strerror(-rc));
            close(fd);
            break;
        }
        r->st->connects++;
        k.fd = fd;
        k.done = 0;
        k.qhead = k.qlen = 0;
        k.held = 0;
        k.out_len = 0;
        enum kind kind = (rnd(&k) % 100) < c->mix_cross ? K_CROSS : K_REST;
        struct pending order = make_request(r, &k, kind, t0);
        struct pending hb = make_request(r, &k, K_HEARTBEAT, t0);
        hb.kind = K_SENTINEL;       /* the pair is one round trip, timed at its end */
        enqueue(&k, order, t0);
        enqueue(&k, hb, t0);
        r->st->sent++;
        r->st->frames_sent += 2;
        r->st->final_heartbeats++;
        ssize_t w = send(fd, out, k.out_len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR && *stop) {
            close(fd);
            break;
        }
        if (w != (ssize_t)k.out_len) {
            fail(r, "round trip %llu: send: %s", (unsigned long long)i, strerror(errno));
            close(fd);
            break;
        }
        uint8_t buf[4096];
        while (!k.done) {
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n < 0 && errno == EINTR && *stop)
                break;          /* stopped: this round trip is not counted */
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                fail(r, "round trip %llu: %s", (unsigned long long)i,
                     n == 0 ? "the gateway closed the connection early" : strerror(errno));
                break;
            }
            on_bytes(r, &k, buf, (size_t)n, qsl_clock_ns());
        }
        conn_tcpinfo(r, 0, fd, 1);
        close(fd);
        if (r->st->errors || !k.done)
            break;
        /* one round trip: connect to the Heartbeat's reply */
        uint64_t now = qsl_clock_ns();
        r->st->completed++;
        if (now >= r->st->measure_ns) {
            qsl_hist_record(&r->st->hist, now - t0);
            r->st->recorded++;
        }
    }
    r->st->end_ns = qsl_clock_ns();
    return 0;
}

int qsl_load_run(const struct qsl_load_config *c, struct qsl_load_stats *st, qsl_stop_flag *stop)
{
    static qsl_stop_flag never;
    memset(st, 0, sizeof *st);
    qsl_hist_init(&st->hist);
    qsl_tcpinfo_sum_init(&st->tcp);
    if (!stop)
        stop = &never;
    if (c->connections == 0 || c->depth == 0 || c->symbols == 0 || c->timeout_ms == 0 ||
        (c->requests == 0 && c->duration_ms == 0) ||
        c->mix_rest + c->mix_cross + c->mix_cancel + c->mix_heartbeat != 100 ||
        (c->pattern == QSL_LOAD_ECHO && (c->echo_request == 0 || c->echo_reply == 0 ||
                                         c->echo_request > 4096)) ||
        c->addrlen == 0)
        return -EINVAL;
    struct run r = {.c = c, .st = st, .ep = -1};
    if (c->rate > 0)
        r.interval = (uint64_t)(1e9 * c->connections / c->rate);
    if (c->pattern == QSL_LOAD_SHORT)
        return run_short(&r, stop);
    r.echo_req = calloc(1, c->echo_request);
    r.ep = epoll_create1(EPOLL_CLOEXEC);
    int rc = !r.echo_req ? -ENOMEM : r.ep < 0 ? -errno : run_persistent(&r, stop);
    if (r.conns)
        for (unsigned i = 0; i < c->connections; i++) {
            if (r.conns[i].fd >= 0) {
                if (!r.conns[i].connecting)
                    conn_tcpinfo(&r, i, r.conns[i].fd, 1);
                close(r.conns[i].fd);
            }
            free(r.conns[i].q);
            free(r.conns[i].out);
        }
    free(r.conns);
    free(r.echo_req);
    if (r.ep >= 0)
        close(r.ep);
    return rc;
}
