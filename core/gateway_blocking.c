/*
 * gateway_blocking.c - the gateway's blocking mode: the original's server, one
 * connection at a time, kept for side-by-side comparison.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "gateway_conn.h"
#include "net.h"
#include "sockopt.h"

#define READ_CHUNK 65536


/* The session's replies out[0, n), every byte, bounded only by stall_ms (0: none):
 * 0, -1 for a dead peer or a stop, -2 when the peer took nothing for stall_ms.
 * On failure the replies not sent are counted as discarded. */
static int write_all(int fd, const uint8_t *out, size_t n, const struct qsl_gateway_config *c,
                     struct qsl_gateway_stats *st, qsl_stop_flag *stop)
{
    uint64_t stall = c->stall_ms;
    uint64_t deadline = stall ? qsl_clock_ms() + stall : 0;
    size_t off = 0;
    int rc = 0;
    while (off < n && rc == 0) {
        ssize_t w = send(fd, out + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            off += (size_t)w;
            st->bytes_out += (uint64_t)w;
            deadline = stall ? qsl_clock_ms() + stall : 0;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            rc = -1;
            break;
        }
        int r = qsl_net_wait(fd, POLLOUT, deadline, stop);
        if (r <= 0)
            rc = r < 0 ? -1 : -2;
    }
    if (rc != 0)
        st->replies_discarded += qsl_gwc_replies_unsent(out, 0, off, n);
    return rc;
}

static void linger_close(int fd, unsigned linger_ms, qsl_stop_flag *stop)
{
    shutdown(fd, SHUT_WR);
    uint64_t deadline = qsl_clock_ms() + linger_ms;
    while (qsl_gwc_discard_input(fd) == 0 && qsl_net_wait(fd, POLLIN, deadline, stop) == 1)
        ;
    qsl_gwc_discard_input(fd);          /* nothing unread at close: no RST, and the kernel still
                                 * delivers the replies it holds after we let go */
    close(fd);
}

/* Feed one read to the session, writing out as it pauses. 0, or write_all's code. */
static int serve_chunk(int fd, struct qsl_session *s, const uint8_t *in, size_t n, uint8_t *out,
                       const struct qsl_gateway_config *c, struct qsl_gateway_stats *st,
                       qsl_stop_flag *stop)
{
    size_t pos = 0;
    do {
        struct qsl_session_out o = {out, 0, c->out_bytes};
        pos += qsl_session_feed(s, in + pos, n - pos, &o);
        int rc = write_all(fd, out, o.len, c, st, stop);
        if (rc != 0)
            return rc;
    } while (qsl_session_paused(s));
    return 0;
}

/* tcp_info_ms: the connection's TCP_INFO when due; the next sample's time (0: none). */
static uint64_t sample(int fd, const struct qsl_gateway_config *c,
                       const struct qsl_gateway_stats *st, uint64_t next)
{
    if (!next || qsl_clock_ms() < next)
        return next;
    struct qsl_tcpinfo t;
    if (qsl_tcpinfo_read(fd, &t) == 0)
        c->tcp_info(c->tcp_info_ctx, (unsigned)st->connections, qsl_clock_ns() - st->started_ns,
                    0, &t);
    return qsl_clock_ms() + c->tcp_info_ms;
}

static void serve_one(int fd, struct qsl_engine *e, const struct qsl_gateway_config *c,
                      struct qsl_gateway_stats *st, uint8_t *in, uint8_t *out, qsl_stop_flag *stop)
{
    struct qsl_session s;
    qsl_session_init(&s, e);
    unsigned idle = c->idle_ms;
    uint64_t deadline = idle ? qsl_clock_ms() + idle : 0;
    uint64_t next_sample = c->tcp_info && c->tcp_info_ms ? qsl_clock_ms() + c->tcp_info_ms : 0;
    int clean = 1;              /* 0: the peer is gone, nothing to linger for */
    for (;;) {
        uint64_t until = next_sample && (!deadline || next_sample < deadline) ? next_sample
                                                                               : deadline;
        int ready = qsl_net_wait(fd, POLLIN, until, stop);
        if (ready == 0 && until == next_sample && until != deadline) {
            next_sample = sample(fd, c, st, next_sample);
            continue;
        }
        if (ready <= 0) {
            ready < 0 ? st->closed_at_stop++ : st->closed_idle++;
            break;
        }
        ssize_t n = recv(fd, in, READ_CHUNK, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            n == 0 ? st->closed_by_peer++ : st->closed_error++;
            clean = 0;
            break;
        }
        __atomic_store_n(&st->bytes_in, st->bytes_in + (uint64_t)n, __ATOMIC_RELAXED);
        uint64_t frames = s.stats.frames_in;
        int rc = serve_chunk(fd, &s, in, (size_t)n, out, c, st, stop);
        if (rc != 0) {
            rc == -2 ? st->closed_stalled++ : *stop ? st->closed_at_stop++ : st->closed_error++;
            clean = rc == -2;
            break;
        }
        if (qsl_session_closed(&s))
            break;
        if (idle && s.stats.frames_in != frames)
            deadline = qsl_clock_ms() + idle;     /* a partial frame does not count as activity */
        next_sample = sample(fd, c, st, next_sample);   /* a busy connection is sampled too */
    }
    qsl_gwc_account(st, &s);
    qsl_gwc_tcpinfo(c, st, fd, (unsigned)st->connections);
    if (clean)
        linger_close(fd, c->linger_ms, stop);
    else
        close(fd);
}

static int run_blocking(int lfd, struct qsl_engine *e, const struct qsl_gateway_config *c,
                        struct qsl_gateway_stats *st, qsl_stop_flag *stop)
{
    uint8_t *in = malloc(READ_CHUNK), *out = malloc(c->out_bytes);
    if (!in || !out) {
        free(in);
        free(out);
        return -ENOMEM;
    }
    fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
    if (c->on_ready)
        c->on_ready(c->ready_ctx);
    /* a stop that lands just before the wait is seen, not slept through until a client comes */
    while (qsl_net_wait(lfd, POLLIN, 0, stop) > 0) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                st->emfile++;
                struct timespec ts = {0, 10000000};     /* descriptors may free up */
                nanosleep(&ts, NULL);
            }
            continue;           /* EAGAIN, EINTR, ECONNABORTED, ...: keep serving */
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (c->conn_opts)
            qsl_sockopt_apply(fd, c->conn_opts, NULL, NULL);    /* checked on the listener */
        QSL_GWC_BUMP(st->connections);
        st->active = st->active_max = 1;
        serve_one(fd, e, c, st, in, out, stop);
        __atomic_store_n(&st->active, 0, __ATOMIC_RELAXED);
    }
    free(in);
    free(out);
    return 0;
}

/* one idle client holds everyone here: an idle bound by default */
const struct qsl_gateway_backend qsl_gateway_blocking_backend = {qsl_gwc_always_available, run_blocking,
                                                                 QSL_GATEWAY_BLOCKING_IDLE_MS};
