/*
 * gateway_epoll.c - the gateway's epoll mode: one event loop, non-blocking accept4,
 * writes flushed on EPOLLOUT; the connection steps are gateway_conn.c's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "gateway_conn.h"

/* A connection, and what epoll watches of it now. */
struct ep_conn {
    struct qsl_gwc_conn c;
    uint32_t events;
};

static int ep_fd(const struct qsl_gwc_loop *l)
{
    return *(const int *)l->mode;
}

static uint32_t *watching(struct qsl_gwc_conn *k)
{
    return &((struct ep_conn *)k)->events;
}

static void ep_closing(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k)
{
    epoll_ctl(ep_fd(l), EPOLL_CTL_DEL, k->fd, NULL);
}

static void conn_watch(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k, uint32_t events)
{
    if (*watching(k) == events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = k};
    epoll_ctl(ep_fd(l), EPOLL_CTL_MOD, k->fd, &ev);
    *watching(k) = events;
}


static void conn_rearm(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k)
{
    uint32_t ev = 0;
    if (k->out_off < k->out_len)
        ev |= EPOLLOUT;
    if (k->phase == QSL_GWC_LINGER || qsl_gwc_may_read(l, k))
        ev |= EPOLLIN | EPOLLRDHUP;
    conn_watch(l, k, ev);
}


/* Move the connection along: write, feed what the room allows, end it when done. */
QSL_HOT static void conn_progress(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k)
{
    for (;;) {
        if (qsl_gwc_flush(l, k) != 0) {
            if (k->phase == QSL_GWC_OPEN)     /* else its reason is counted already */
                l->st->closed_error++;
            qsl_gwc_close(l, k);
            return;
        }
        size_t before = k->in_len;
        int paused = qsl_session_paused(&k->s);
        if (k->out_off == k->out_len && (before > 0 || paused))
            qsl_gwc_feed(l, k);
        if (k->out_off < k->out_len || (k->in_len == before && qsl_session_paused(&k->s) == paused))
            break;              /* output is waiting for the peer, or nothing moved */
    }
    if (k->out_off == k->out_len &&
        qsl_gwc_settle(l, k, k->in_len == 0 && !qsl_session_paused(&k->s)))
        return;
    qsl_gwc_timer(l, k);
    conn_rearm(l, k);
}


static void conn_readable(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k)
{
    if (k->phase == QSL_GWC_LINGER) {
        if (qsl_gwc_discard_input(k->fd) != 0)
            qsl_gwc_close(l, k);
        return;
    }
    if (!qsl_gwc_may_read(l, k))
        return;
    ssize_t n = recv(k->fd, k->in + k->in_len, QSL_GWC_IN_CAP - k->in_len, 0);
    if (n == 0) {
        k->peer_eof = 1;
    } else if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            l->st->closed_error++;
            qsl_gwc_close(l, k);
            return;
        }
    } else {
        k->in_len += (size_t)n;
        __atomic_store_n(&l->st->bytes_in, l->st->bytes_in + (uint64_t)n, __ATOMIC_RELAXED);
        if (k->in_len > l->st->in_held_max)
            l->st->in_held_max = k->in_len;
        qsl_gwc_feed(l, k);
    }
    conn_progress(l, k);
}


static void accept_all(struct qsl_gwc_loop *l)
{
    for (;;) {
        int fd = accept4(l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno == EMFILE || errno == ENFILE) {
                if (qsl_gwc_shed_one(l))
                    continue;
                return;         /* nothing pending, or nothing to shed with */
            }
            return;             /* EAGAIN: accepted everything pending */
        }
        struct qsl_gwc_conn *k = qsl_gwc_open(l, fd);
        if (!k)
            continue;
        *watching(k) = EPOLLIN | EPOLLRDHUP;
        struct epoll_event ev = {.events = *watching(k), .data.ptr = k};
        if (epoll_ctl(ep_fd(l), EPOLL_CTL_ADD, fd, &ev) != 0) {
            qsl_gwc_unopen(l, k);
            continue;
        }
        qsl_gwc_count(l, k);
    }
}


static const struct qsl_gwc_ops ep_ops = {sizeof(struct ep_conn), ep_closing, conn_progress, NULL};

QSL_HOT static int run_epoll(int lfd, struct qsl_engine *e, const struct qsl_gateway_config *c,
                             struct qsl_gateway_stats *st, qsl_stop_flag *stop)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct qsl_gwc_loop l;
    qsl_gwc_loop_init(&l, lfd, c, st, e, &ep_ops, &ep);
    int rc = 0;
    if (ep < 0) {
        rc = -errno;
        goto out;
    }
    fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) != 0) {
        rc = -errno;
        goto out;
    }
    if (c->on_ready)
        c->on_ready(c->ready_ctx);
    struct epoll_event evs[256];
    uint64_t next_sweep = 0;
    while (!*stop) {
        int n = epoll_wait(ep, evs, 256, qsl_gwc_wait_ms(&l));
        for (int i = 0; i < n; i++) {
            struct qsl_gwc_conn *k = evs[i].data.ptr;
            if (!k) {
                accept_all(&l);
                continue;
            }
            if (k->fd < 0)
                continue;       /* closed earlier in this batch */
            if (evs[i].events & (EPOLLIN | EPOLLRDHUP))
                conn_readable(&l, k);
            if (k->fd >= 0 && (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
                conn_progress(&l, k);   /* a dead peer shows up as a failed send */
        }
        if (l.timed && qsl_clock_ms() >= next_sweep) {
            qsl_gwc_sweep(&l);
            next_sweep = qsl_clock_ms() + 10;
        }
        qsl_gwc_sample(&l);
        if (l.closed)
            qsl_gwc_free_closed(&l);
    }
    epoll_ctl(ep, EPOLL_CTL_DEL, lfd, NULL);    /* nothing new is accepted */
    qsl_gwc_drain_and_close(&l);
out:
    if (ep >= 0)
        close(ep);
    if (l.reserve >= 0)
        close(l.reserve);
    qsl_gwc_loop_free(&l);
    return rc;
}

const struct qsl_gateway_backend qsl_gateway_epoll_backend = {qsl_gwc_always_available, run_epoll, 0};
