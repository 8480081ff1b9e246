/*
 * gateway.c - epoll and blocking TCP servers around the session framer.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gateway.h"
#include "session.h"
#include "sockopt.h"

#define READ_CHUNK 65536

void qsl_gateway_defaults(struct qsl_gateway_config *c)
{
    memset(c, 0, sizeof *c);
    c->max_conns = 1024;
    c->out_bytes = 65536;
    qsl_engine_config_defaults(&c->engine);
}

int qsl_gateway_listen(const char *host, uint16_t *port, int backlog)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (qsl_sockopt_addr(host, *port, &ss, &len) != 0)
        return -EINVAL;         /* numeric only: never a silent fallback to a wildcard */
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, backlog) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Fold a closed session's counters into the gateway's. */
static void account(struct qsl_gateway_stats *st, const struct qsl_session *s)
{
    st->frames_in += s->stats.frames_in;
    st->frames_out += s->stats.frames_out;
    st->bytes_in += s->stats.bytes_in;
    st->new_orders += s->stats.new_orders;
    st->cancels += s->stats.cancels;
    st->heartbeats += s->stats.heartbeats;
    st->fills += s->stats.fills;
    for (int r = 0; r < QSL_REJECT_COUNT; r++)
        st->rejects[r] += s->stats.rejects[r];
    switch (s->state) {
    case QSL_SESSION_MALFORMED:
        st->closed_malformed++;
        break;
    case QSL_SESSION_UNEXPECTED:
        st->closed_unexpected++;
        break;
    case QSL_SESSION_OUTPUT_LIMIT:
        st->closed_output_limit++;
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------ blocking mode */

static int write_all(int fd, const uint8_t *p, size_t n, uint64_t *bytes_out)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
        *bytes_out += (uint64_t)w;
    }
    return 0;
}

static void serve_one(int fd, struct qsl_engine *e, const struct qsl_gateway_config *c,
                      struct qsl_gateway_stats *st, uint8_t *in, uint8_t *out, volatile int *stop)
{
    struct qsl_session s;
    qsl_session_init(&s, e);
    for (;;) {
        ssize_t n = recv(fd, in, READ_CHUNK, 0);
        if (n < 0 && errno == EINTR && !*stop)
            continue;
        if (n == 0)
            st->closed_by_peer++;
        if (n <= 0) {
            if (n < 0)
                *stop ? st->closed_at_stop++ : st->closed_error++;
            break;
        }
        struct qsl_session_out o = {out, 0, c->out_bytes};
        qsl_session_feed(&s, in, (size_t)n, &o);
        if (write_all(fd, out, o.len, &st->bytes_out) != 0) {
            st->closed_error++;
            break;
        }
        if (qsl_session_closed(&s))
            break;
    }
    account(st, &s);
    close(fd);
}

static int run_blocking(int lfd, struct qsl_engine *e, const struct qsl_gateway_config *c,
                        struct qsl_gateway_stats *st, volatile int *stop)
{
    uint8_t *in = malloc(READ_CHUNK), *out = malloc(c->out_bytes);
    if (!in || !out) {
        free(in);
        free(out);
        return -ENOMEM;
    }
    int fl = fcntl(lfd, F_GETFL);
    fcntl(lfd, F_SETFL, fl & ~O_NONBLOCK);
    if (c->on_ready)
        c->on_ready(c->ready_ctx);
    while (!*stop) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                st->emfile++;
                struct timespec ts = {0, 10000000};     /* descriptors may free up */
                nanosleep(&ts, NULL);
            }
            continue;           /* EINTR (a stop), ECONNABORTED, ...: keep serving */
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        st->connections++;
        st->active = st->active_max = 1;
        serve_one(fd, e, c, st, in, out, stop);
        st->active = 0;
    }
    free(in);
    free(out);
    return 0;
}

/* ------------------------------------------------------------------ epoll mode */

struct conn {
    int fd;                     /* -1: free slot */
    struct qsl_session s;
    uint8_t *out;
    size_t out_len, out_off;
    uint32_t events;            /* what epoll watches now */
    int closing;                /* the session closed: flush, then close */
};

struct loop {
    int ep, lfd, reserve;
    const struct qsl_gateway_config *c;
    struct qsl_gateway_stats *st;
    struct qsl_engine *e;
    struct conn *conns;
    uint8_t *in;
};

static void conn_close(struct loop *l, struct conn *k)
{
    account(l->st, &k->s);
    epoll_ctl(l->ep, EPOLL_CTL_DEL, k->fd, NULL);
    close(k->fd);
    free(k->out);
    k->out = NULL;
    k->fd = -1;
    l->st->active--;
}

static void conn_watch(struct loop *l, struct conn *k, uint32_t events)
{
    if (k->events == events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = k};
    epoll_ctl(l->ep, EPOLL_CTL_MOD, k->fd, &ev);
    k->events = events;
}

/* Write what is pending. 0: all written or would block; -1: the connection is gone. */
static int conn_flush(struct loop *l, struct conn *k)
{
    while (k->out_off < k->out_len) {
        ssize_t w = send(k->fd, k->out + k->out_off, k->out_len - k->out_off, MSG_NOSIGNAL);
        if (w > 0) {
            k->out_off += (size_t)w;
            l->st->bytes_out += (uint64_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && errno == EAGAIN) {
            return 0;
        } else {
            return -1;
        }
    }
    k->out_off = k->out_len = 0;
    return 0;
}

/* Watch for input only while half the output bound is free: a client that
 * does not read its replies stops being read, instead of filling memory. */
static void conn_rearm(struct loop *l, struct conn *k)
{
    uint32_t ev = 0;
    if (k->out_off < k->out_len)
        ev |= EPOLLOUT;
    if (!k->closing && k->out_len - k->out_off <= l->c->out_bytes / 2)
        ev |= EPOLLIN;
    conn_watch(l, k, ev | EPOLLRDHUP);
}

static void conn_readable(struct loop *l, struct conn *k)
{
    if (k->out_off > 0) {       /* make the unsent tail contiguous at the front */
        memmove(k->out, k->out + k->out_off, k->out_len - k->out_off);
        k->out_len -= k->out_off;
        k->out_off = 0;
    }
    size_t room = l->c->out_bytes - k->out_len;
    size_t want = room / 2 < READ_CHUNK ? room / 2 : READ_CHUNK;
    if (want < QSL_WIRE_MAX_FRAME)
        want = QSL_WIRE_MAX_FRAME;
    ssize_t n = recv(k->fd, l->in, want, 0);
    if (n == 0) {
        l->st->closed_by_peer++;
        conn_close(l, k);
        return;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
        l->st->closed_error++;
        conn_close(l, k);
        return;
    }
    struct qsl_session_out o = {k->out, k->out_len, l->c->out_bytes};
    qsl_session_feed(&k->s, l->in, (size_t)n, &o);
    k->out_len = o.len;
    k->closing = qsl_session_closed(&k->s);
    if (conn_flush(l, k) != 0) {
        l->st->closed_error++;
        conn_close(l, k);
        return;
    }
    if (k->closing && k->out_len == 0) {
        conn_close(l, k);
        return;
    }
    conn_rearm(l, k);
}

static void conn_writable(struct loop *l, struct conn *k)
{
    if (conn_flush(l, k) != 0) {
        l->st->closed_error++;
        conn_close(l, k);
    } else if (k->closing && k->out_len == 0) {
        conn_close(l, k);
    } else {
        conn_rearm(l, k);
    }
}

/*
 * Out of descriptors: accept the pending connection on the reserved one and
 * close it, so the client hears a close instead of hanging in the backlog.
 * Returns 1 if one was shed; 0 when none was pending - accept4 reports EMFILE
 * before it looks at the queue, so EMFILE alone does not mean a client waits.
 */
static int shed_one(struct loop *l)
{
    l->st->emfile++;
    if (l->reserve < 0)
        return 0;
    close(l->reserve);
    int fd = accept4(l->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
        close(fd);
        l->st->refused++;
    }
    l->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return fd >= 0;
}

static void accept_all(struct loop *l)
{
    for (;;) {
        int fd = accept4(l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno == EMFILE || errno == ENFILE) {
                if (shed_one(l))
                    continue;
                return;         /* nothing pending, or nothing to shed with */
            }
            return;             /* EAGAIN: accepted everything pending */
        }
        struct conn *k = NULL;
        if (l->st->active < l->c->max_conns)
            for (unsigned i = 0; i < l->c->max_conns; i++)
                if (l->conns[i].fd < 0) {
                    k = &l->conns[i];
                    break;
                }
        uint8_t *out = k ? malloc(l->c->out_bytes) : NULL;
        if (!k || !out) {
            free(out);
            close(fd);
            l->st->refused++;
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        memset(k, 0, sizeof *k);
        k->fd = fd;
        k->out = out;
        k->events = EPOLLIN | EPOLLRDHUP;
        qsl_session_init(&k->s, l->e);
        struct epoll_event ev = {.events = k->events, .data.ptr = k};
        if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            free(out);
            close(fd);
            k->fd = -1;
            l->st->refused++;
            continue;
        }
        l->st->connections++;
        if (++l->st->active > l->st->active_max)
            l->st->active_max = l->st->active;
    }
}

/* After a stop: nothing new is accepted; pending output gets a second to leave. */
static void drain_and_close(struct loop *l)
{
    epoll_ctl(l->ep, EPOLL_CTL_DEL, l->lfd, NULL);
    uint64_t deadline = now_ms() + 1000;
    for (int pending = 1; pending && now_ms() < deadline;) {
        pending = 0;
        for (unsigned i = 0; i < l->c->max_conns; i++) {
            struct conn *k = &l->conns[i];
            if (k->fd >= 0 && k->out_off < k->out_len) {
                if (conn_flush(l, k) != 0)
                    conn_close(l, k);
                else
                    pending |= k->out_off < k->out_len;
            }
        }
        if (pending) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    for (unsigned i = 0; i < l->c->max_conns; i++)
        if (l->conns[i].fd >= 0) {
            l->st->closed_at_stop++;
            conn_close(l, &l->conns[i]);
        }
}

static int run_epoll(int lfd, struct qsl_engine *e, const struct qsl_gateway_config *c,
                     struct qsl_gateway_stats *st, volatile int *stop)
{
    struct loop l = {.lfd = lfd, .c = c, .st = st, .e = e};
    l.ep = epoll_create1(EPOLL_CLOEXEC);
    l.reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
    l.conns = calloc(c->max_conns, sizeof *l.conns);
    l.in = malloc(READ_CHUNK);
    int rc = 0;
    if (l.ep < 0 || !l.conns || !l.in) {
        rc = l.ep < 0 ? -errno : -ENOMEM;
        goto out;
    }
    for (unsigned i = 0; i < c->max_conns; i++)
        l.conns[i].fd = -1;
    fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(l.ep, EPOLL_CTL_ADD, lfd, &lev) != 0) {
        rc = -errno;
        goto out;
    }
    if (c->on_ready)
        c->on_ready(c->ready_ctx);
    struct epoll_event evs[256];
    while (!*stop) {
        int n = epoll_wait(l.ep, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            struct conn *k = evs[i].data.ptr;
            if (!k) {
                accept_all(&l);
                continue;
            }
            if (k->fd < 0)
                continue;       /* closed earlier in this batch */
            if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                conn_readable(&l, k);
            if (k->fd >= 0 && (evs[i].events & EPOLLOUT))
                conn_writable(&l, k);
        }
    }
    drain_and_close(&l);
out:
    if (l.ep >= 0)
        close(l.ep);
    if (l.reserve >= 0)
        close(l.reserve);
    free(l.conns);
    free(l.in);
    return rc;
}

int qsl_gateway_run(int listen_fd, const struct qsl_gateway_config *c,
                    struct qsl_gateway_stats *st, volatile int *stop)
{
    memset(st, 0, sizeof *st);
    if (c->max_conns == 0 || c->out_bytes < QSL_WIRE_MAX_FRAME * 2)
        return -EINVAL;
    struct qsl_engine e;
    int rc = qsl_engine_init(&e, &c->engine);
    if (rc != 0)
        return rc;
    rc = c->blocking ? run_blocking(listen_fd, &e, c, st, stop)
                     : run_epoll(listen_fd, &e, c, st, stop);
    qsl_engine_free(&e);
    return rc;
}
