/*
 * echo.c - a request/reply server with no protocol: the kernel's floor.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echo.h"
#include "net.h"

#define ECHO_IO 65536

static uint8_t in_buf[ECHO_IO];
static const uint8_t zeros[ECHO_IO];

void qsl_echo_defaults(struct qsl_echo_config *c)
{
    memset(c, 0, sizeof *c);
    c->mode = QSL_ECHO_BLOCKING;
    c->request = 43;
    c->reply = 32;
    c->max_conns = 1024;
    c->owed_max = 65536;
}

/* As the gateway does on every connection it accepts: the floor's segments leave as the
 * gateway's do (Nagle would hold a small reply back while one is unacknowledged, and so
 * send fewer segments than the gateway it is the floor of). */
static void nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* ------------------------------------------------------------------ blocking */

static int serve_blocking(int lfd, const struct qsl_echo_config *c, struct qsl_echo_stats *st,
                          qsl_stop_flag *stop)
{
    int fl = fcntl(lfd, F_GETFL);
    if (fl < 0 || fcntl(lfd, F_SETFL, fl | O_NONBLOCK) != 0)
        return -errno;
    /* the stop in view while waiting: a stop just before the wait is not slept through */
    while (qsl_net_wait(lfd, POLLIN, 0, stop) > 0) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;           /* EAGAIN, EINTR, or a connection gone before accept */
        nodelay(fd);
        st->connections++;
        uint64_t have = 0;
        for (;;) {
            ssize_t n = recv(fd, in_buf, sizeof in_buf, 0);
            if (n < 0 && errno == EINTR && !*stop)
                continue;
            if (n <= 0)
                break;
            st->bytes_in += (uint64_t)n;
            have += (uint64_t)n;
            int ok = 1;
            for (; have >= c->request && ok; have -= c->request, st->requests++) {
                ok = send(fd, zeros, c->reply, MSG_NOSIGNAL) == (ssize_t)c->reply;
                st->bytes_out += ok ? c->reply : 0;
            }
            if (!ok)
                break;
        }
        close(fd);
    }
    return 0;
}

/* ------------------------------------------------------------------ epoll */

struct echo_conn {
    struct echo_conn *prev, *next;  /* every open connection, to close them at a stop */
    int fd;
    uint32_t events;            /* as registered */
    uint64_t have;              /* bytes of an incomplete request */
    uint64_t owed;              /* reply bytes not yet sent */
};

struct echo_server {
    int ep;
    unsigned live;
    struct echo_conn *head;
};

static void conn_close(struct echo_server *sv, struct echo_conn *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        sv->head = k->next;
    if (k->next)
        k->next->prev = k->prev;
    sv->live--;
    epoll_ctl(sv->ep, EPOLL_CTL_DEL, k->fd, NULL);
    close(k->fd);
    free(k);
}

/* Send what is owed; 0, or -1 when the connection failed. */
static int conn_flush(struct echo_conn *k, struct qsl_echo_stats *st)
{
    while (k->owed > 0) {
        size_t len = k->owed < ECHO_IO ? (size_t)k->owed : ECHO_IO;
        ssize_t n = send(k->fd, zeros, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        k->owed -= (uint64_t)n;
        st->bytes_out += (uint64_t)n;
    }
    return 0;
}

/* Read while owing little, write while owing anything: registered only when it changes. */
static int conn_arm(int ep, struct echo_conn *k, const struct qsl_echo_config *c)
{
    uint32_t want = (k->owed < c->owed_max ? EPOLLIN : 0) | (k->owed ? EPOLLOUT : 0);
    if (want == k->events)
        return 0;
    struct epoll_event ev = {.events = want, .data.ptr = k};
    k->events = want;
    return epoll_ctl(ep, EPOLL_CTL_MOD, k->fd, &ev);
}

/* One round for a ready connection; -1 when it is done (closed by the peer or failed). */
static int conn_serve(struct echo_conn *k, uint32_t events, const struct qsl_echo_config *c,
                      struct qsl_echo_stats *st)
{
    if ((events & EPOLLIN) && k->owed < c->owed_max) {
        ssize_t n = recv(k->fd, in_buf, sizeof in_buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return -1;
        if (n > 0) {
            st->bytes_in += (uint64_t)n;
            k->have += (uint64_t)n;
            uint64_t done = k->have / c->request;
            k->have -= done * c->request;
            k->owed += done * c->reply;
            st->requests += done;
        }
    } else if (events & (EPOLLHUP | EPOLLERR)) {
        return -1;
    }
    return conn_flush(k, st);
}

static void accept_all(struct echo_server *sv, int lfd, const struct qsl_echo_config *c,
                       struct qsl_echo_stats *st)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;             /* EAGAIN: all taken; anything else: try next round */
        nodelay(fd);
        struct echo_conn *k = sv->live < c->max_conns ? calloc(1, sizeof *k) : NULL;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = k};
        if (!k || (k->fd = fd, k->events = EPOLLIN,
                   epoll_ctl(sv->ep, EPOLL_CTL_ADD, fd, &ev) != 0)) {
            st->refused++;
            free(k);
            close(fd);
            continue;
        }
        k->next = sv->head;
        if (sv->head)
            sv->head->prev = k;
        sv->head = k;
        st->connections++;
        sv->live++;
    }
}

static int serve_epoll(int lfd, const struct qsl_echo_config *c, struct qsl_echo_stats *st,
                       qsl_stop_flag *stop)
{
    struct echo_server sv = {.ep = epoll_create1(EPOLL_CLOEXEC)};
    if (sv.ep < 0)
        return -errno;
    int fl = fcntl(lfd, F_GETFL);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (fl < 0 || fcntl(lfd, F_SETFL, fl | O_NONBLOCK) != 0 ||
        epoll_ctl(sv.ep, EPOLL_CTL_ADD, lfd, &lev) != 0) {
        int e = errno;
        close(sv.ep);
        return -e;
    }
    struct epoll_event evs[64];
    while (!*stop) {
        int n = epoll_wait(sv.ep, evs, 64, 100);   /* a stop is seen within 100 ms */
        for (int i = 0; i < n; i++) {
            struct echo_conn *k = evs[i].data.ptr;
            if (!k)
                accept_all(&sv, lfd, c, st);
            else if (conn_serve(k, evs[i].events, c, st) != 0 || conn_arm(sv.ep, k, c) != 0)
                conn_close(&sv, k);
        }
    }
    while (sv.head)
        conn_close(&sv, sv.head);
    close(sv.ep);
    return 0;
}

int qsl_echo_serve(int lfd, const struct qsl_echo_config *c, struct qsl_echo_stats *st,
                   qsl_stop_flag *stop)
{
    memset(st, 0, sizeof *st);
    if (c->request < 1 || c->reply < 1 || c->reply > ECHO_IO || c->max_conns < 1 ||
        c->owed_max < c->reply)
        return -EINVAL;
    return c->mode == QSL_ECHO_EPOLL ? serve_epoll(lfd, c, st, stop) : serve_blocking(lfd, c, st, stop);
}
