/*
 * gateway.c - epoll, io_uring and blocking TCP servers around the session
 * framer. io_uring mode lives in gateway_uring.c, included at the end.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "gateway.h"
#include "net.h"
#include "session.h"
#include "sockopt.h"
#include "uring.h"

#define READ_CHUNK 65536

/* Counters a test thread watches while the server runs: stored whole, so a
 * concurrent reader never sees a torn value. */
#define BUMP(x) __atomic_store_n(&(x), (x) + 1, __ATOMIC_RELAXED)

void qsl_gateway_defaults(struct qsl_gateway_config *c)
{
    memset(c, 0, sizeof *c);
    c->max_conns = 1024;
    c->out_bytes = 65536;
    c->idle_ms = QSL_GATEWAY_IDLE_DEFAULT;
    c->linger_ms = 1000;
    qsl_engine_config_defaults(&c->engine);
}


/* ------------------------------------------------------------------ replies owed */

/* The length of the reply frame at p: the gateway wrote it, so its header is sound. */
static size_t reply_len(const uint8_t *p)
{
    return QSL_WIRE_HEADER_SIZE + qsl_be32_get(p + 4);
}

/* The first frame boundary at or past off, walking from the boundary head. */
static size_t boundary_from(const uint8_t *b, size_t head, size_t off)
{
    while (head < off)
        head += reply_len(b + head);
    return head;
}

/*
 * Reply frames with a byte not yet sent: out[off, len) is unsent, head is a frame
 * boundary, and out[0, head) (when head > 0) is the tail of a frame whose start was
 * moved away. A frame counts once, whether none or part of it left.
 */
static uint64_t replies_unsent(const uint8_t *b, size_t head, size_t off, size_t len)
{
    uint64_t n = head > off;
    for (size_t p = head; p < len; p += reply_len(b + p))
        n += p + reply_len(b + p) > off;
    return n;
}

/* Fold a closed session's counters into the gateway's. */
static void account(struct qsl_gateway_stats *st, const struct qsl_session *s)
{
    st->frames_in += s->stats.frames_in;
    st->frames_out += s->stats.frames_out;
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

/* ------------------------------------------------------------------ ending a connection */

/*
 * close() with unread input makes the kernel send RST, and a RST discards
 * replies the peer has not read yet. So a connection the server ends is shut
 * down for writing first (the peer reads every reply, then EOF), and its
 * input is read and dropped until the peer closes or linger_ms passes.
 */
static int discard_input(int fd)
{
    uint8_t sink[4096];
    for (;;) {
        ssize_t n = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && errno == EAGAIN ? 0 : -1;      /* -1: EOF or an error: done */
    }
}

/* ------------------------------------------------------------------ blocking mode */

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
        st->replies_discarded += replies_unsent(out, 0, off, n);
    return rc;
}

static void linger_close(int fd, unsigned linger_ms, qsl_stop_flag *stop)
{
    shutdown(fd, SHUT_WR);
    uint64_t deadline = qsl_clock_ms() + linger_ms;
    while (discard_input(fd) == 0 && qsl_net_wait(fd, POLLIN, deadline, stop) == 1)
        ;
    discard_input(fd);          /* nothing unread at close: no RST, and the kernel still
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

static void serve_one(int fd, struct qsl_engine *e, const struct qsl_gateway_config *c,
                      struct qsl_gateway_stats *st, uint8_t *in, uint8_t *out, qsl_stop_flag *stop)
{
    struct qsl_session s;
    qsl_session_init(&s, e);
    unsigned idle = c->idle_ms;
    uint64_t deadline = idle ? qsl_clock_ms() + idle : 0;
    int clean = 1;              /* 0: the peer is gone, nothing to linger for */
    for (;;) {
        int ready = qsl_net_wait(fd, POLLIN, deadline, stop);
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
    }
    account(st, &s);
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
        BUMP(st->connections);
        st->active = st->active_max = 1;
        serve_one(fd, e, c, st, in, out, stop);
        __atomic_store_n(&st->active, 0, __ATOMIC_RELAXED);
    }
    free(in);
    free(out);
    return 0;
}

/* ------------------------------------------------------------------ epoll mode */

#define IN_CAP 16384u           /* input a connection holds while its session waits for room */

enum phase {
    P_OPEN,                     /* serving */
    P_CLOSING,                  /* the session ended: flush, then shut down */
    P_LINGER                    /* shut down for writing: drop input until EOF or linger_ms */
};

/* One accepted connection: allocated at accept, freed after it closes (a closed one
 * is freed at the end of the round, so an event later in the same batch, or an
 * io_uring completion still to come, never points at freed memory). */
struct conn {
    int fd;                     /* -1: closed */
    enum phase phase;
    int peer_eof;               /* the peer shut down its side: finish, then close */
    struct conn *prev, *next;   /* the loop's open list, or its closed list */
    struct qsl_session s;
    uint8_t *out, *in;          /* one allocation: out_bytes, then IN_CAP */
    size_t out_len, out_off, in_len;
    size_t out_head;            /* a reply frame boundary in out (replies_unsent) */
    uint32_t events;            /* what epoll watches now */
    uint64_t active_at;         /* last whole request handled or reply byte taken */
    uint64_t deadline;          /* idle/stall (P_OPEN, P_CLOSING) or linger deadline; 0 none */
    /* io_uring: requests in flight, and input received but not yet in `in` */
    uint8_t recv_armed, recv_cancel, send_busy, send_cancel, want_buf, zombie;
    uint8_t stalled;            /* stall_ms passed: what is unsent is discarded, counted */
    int held, held_tail;        /* chain of provided buffers, -1 none */
    size_t held_bytes;
};

struct uring;

struct loop {
    int ep, lfd, reserve;
    const struct qsl_gateway_config *c;
    struct qsl_gateway_stats *st;
    struct qsl_engine *e;
    struct conn *open;          /* open connections, newest first */
    struct conn *closed;        /* closed, to be freed once nothing refers to them */
    unsigned zombies;           /* closed ones the kernel still holds (io_uring) */
    unsigned timed;             /* connections with a deadline */
    int bounded;                /* idle_ms or stall_ms: activity times are kept */
    struct uring *ur;           /* io_uring mode; NULL otherwise */
};

/* io_uring mode's parts of the shared steps (gateway_uring.c) */
static void ur_conn_closing(struct loop *l, struct conn *k);
static void ur_progress(struct loop *l, struct conn *k);
static int ur_send_cancelled(struct loop *l, struct conn *k);

static void set_deadline(struct loop *l, struct conn *k, uint64_t at)
{
    l->timed += (at != 0) - (k->deadline != 0);
    k->deadline = at;
}

static void list_push(struct conn **head, struct conn *k)
{
    k->prev = NULL;
    k->next = *head;
    if (*head)
        (*head)->prev = k;
    *head = k;
}

static void list_remove(struct conn **head, struct conn *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        *head = k->next;
    if (k->next)
        k->next->prev = k->prev;
}

/* The replies still in user space will not reach the peer: counted, then dropped. */
static void conn_discard(struct loop *l, struct conn *k)
{
    l->st->replies_discarded += replies_unsent(k->out, k->out_head, k->out_off, k->out_len);
    k->out_off = k->out_len = k->out_head = 0;
}

static void conn_close(struct loop *l, struct conn *k)
{
    account(l->st, &k->s);
    conn_discard(l, k);
    set_deadline(l, k, 0);
    if (l->ur)
        ur_conn_closing(l, k);  /* may keep out/in while the kernel still holds them */
    else
        epoll_ctl(l->ep, EPOLL_CTL_DEL, k->fd, NULL);
    close(k->fd);
    k->fd = -1;
    l->zombies += k->zombie;
    list_remove(&l->open, k);
    list_push(&l->closed, k);
    __atomic_store_n(&l->st->active, l->st->active - 1, __ATOMIC_RELAXED);
}

/* Free the closed connections nothing refers to any more. */
static void free_closed(struct loop *l)
{
    for (struct conn *k = l->closed, *next; k; k = next) {
        next = k->next;
        if (!k->zombie) {
            list_remove(&l->closed, k);
            free(k->out);
            free(k);
        }
    }
}

static void conn_watch(struct loop *l, struct conn *k, uint32_t events)
{
    if (k->events == events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = k};
    epoll_ctl(l->ep, EPOLL_CTL_MOD, k->fd, &ev);
    k->events = events;
}

/* A whole request handled or a reply byte taken: the connection is alive. */
static void touch(struct loop *l, struct conn *k)
{
    if (l->bounded)
        k->active_at = qsl_clock_ms();
}

/* The connection owes its peer replies: some are unsent, or a request waits for room. */
static int owes(const struct conn *k)
{
    return k->out_off < k->out_len || qsl_session_paused(&k->s);
}

/* The bound that applies now: stall_ms while replies are owed, idle_ms (open
 * connections only) while nothing is. */
static void conn_timer(struct loop *l, struct conn *k)
{
    if (!l->bounded || k->fd < 0 || k->phase == P_LINGER)
        return;
    uint32_t bound = owes(k) ? l->c->stall_ms : k->phase == P_OPEN ? l->c->idle_ms : 0;
    set_deadline(l, k, bound ? k->active_at + bound : 0);
}

/* Write what is pending. 0: all written or would block; -1: the connection is gone. */
static int conn_flush(struct loop *l, struct conn *k)
{
    while (k->out_off < k->out_len) {
        ssize_t w = send(k->fd, k->out + k->out_off, k->out_len - k->out_off, MSG_NOSIGNAL);
        if (w > 0) {
            k->out_off += (size_t)w;
            l->st->bytes_out += (uint64_t)w;
            touch(l, k);
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && errno == EAGAIN) {
            return 0;
        } else {
            return -1;
        }
    }
    k->out_off = k->out_len = k->out_head = 0;
    return 0;
}

/* Reading goes on only while half the output bound is free and the session
 * is not waiting for room: a client that does not read its replies stops
 * being read, instead of filling memory. */
static int may_read(const struct loop *l, const struct conn *k)
{
    return k->phase == P_OPEN && !k->peer_eof && !qsl_session_paused(&k->s) &&
           k->in_len < IN_CAP && k->out_len - k->out_off <= l->c->out_bytes / 2;
}

static void conn_rearm(struct loop *l, struct conn *k)
{
    uint32_t ev = 0;
    if (k->out_off < k->out_len)
        ev |= EPOLLOUT;
    if (k->phase == P_LINGER || may_read(l, k))
        ev |= EPOLLIN | EPOLLRDHUP;
    conn_watch(l, k, ev);
}

/* Give the session what input is held, as far as output room allows. */
static void conn_feed(struct loop *l, struct conn *k)
{
    if (k->phase != P_OPEN || (k->in_len == 0 && !qsl_session_paused(&k->s)))
        return;
    if (k->out_off > 0) {       /* make the unsent tail contiguous at the front */
        k->out_head = boundary_from(k->out, k->out_head, k->out_off) - k->out_off;
        memmove(k->out, k->out + k->out_off, k->out_len - k->out_off);
        k->out_len -= k->out_off;
        k->out_off = 0;
    }
    uint64_t frames = k->s.stats.frames_in;
    struct qsl_session_out o = {k->out, k->out_len, l->c->out_bytes};
    size_t used = qsl_session_feed(&k->s, k->in, k->in_len, &o);
    k->out_len = o.len;
    if (k->out_len > l->st->out_queued_max)
        l->st->out_queued_max = k->out_len;
    if (qsl_session_closed(&k->s)) {
        k->phase = P_CLOSING;
        k->in_len = 0;
        return;
    }
    memmove(k->in, k->in + used, k->in_len - used);
    k->in_len -= used;
    if (k->s.stats.frames_in != frames)
        touch(l, k);
}

/* Every reply sent: end the connection if the peer is gone and nothing is left to
 * answer, or shut a closing one down and let it linger. 1 when it was closed. */
static int conn_settle(struct loop *l, struct conn *k, int input_done)
{
    if (k->peer_eof && (input_done || k->phase == P_CLOSING)) {
        if (k->phase == P_OPEN)
            l->st->closed_by_peer++;
        conn_close(l, k);       /* the peer's FIN was read: a plain close sends no RST */
        return 1;
    }
    if (k->phase == P_CLOSING) {
        shutdown(k->fd, SHUT_WR);
        k->phase = P_LINGER;
        set_deadline(l, k, qsl_clock_ms() + l->c->linger_ms);
    }
    return 0;
}

/* Move the connection along: write, feed what the room allows, end it when done. */
static void conn_progress(struct loop *l, struct conn *k)
{
    for (;;) {
        if (conn_flush(l, k) != 0) {
            if (k->phase == P_OPEN)     /* else its reason is counted already */
                l->st->closed_error++;
            conn_close(l, k);
            return;
        }
        size_t before = k->in_len;
        int paused = qsl_session_paused(&k->s);
        if (k->out_off == k->out_len && (before > 0 || paused))
            conn_feed(l, k);
        if (k->out_off < k->out_len || (k->in_len == before && qsl_session_paused(&k->s) == paused))
            break;              /* output is waiting for the peer, or nothing moved */
    }
    if (k->out_off == k->out_len &&
        conn_settle(l, k, k->in_len == 0 && !qsl_session_paused(&k->s)))
        return;
    conn_timer(l, k);
    conn_rearm(l, k);
}

static void conn_readable(struct loop *l, struct conn *k)
{
    if (k->phase == P_LINGER) {
        if (discard_input(k->fd) != 0)
            conn_close(l, k);
        return;
    }
    if (!may_read(l, k))
        return;
    ssize_t n = recv(k->fd, k->in + k->in_len, IN_CAP - k->in_len, 0);
    if (n == 0) {
        k->peer_eof = 1;
    } else if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            l->st->closed_error++;
            conn_close(l, k);
            return;
        }
    } else {
        k->in_len += (size_t)n;
        __atomic_store_n(&l->st->bytes_in, l->st->bytes_in + (uint64_t)n, __ATOMIC_RELAXED);
        if (k->in_len > l->st->in_held_max)
            l->st->in_held_max = k->in_len;
        conn_feed(l, k);
    }
    conn_progress(l, k);
}

/* A deadline passed: a lingering connection is closed; one that owes nothing has
 * been idle and ends gracefully; one whose peer took no reply for stall_ms ends
 * too, and the replies it owed are counted, never dropped silently. */
static void conn_expire(struct loop *l, struct conn *k, uint64_t now)
{
    set_deadline(l, k, 0);
    if (k->phase == P_LINGER) {
        discard_input(k->fd);   /* as in linger_close: no RST over replies the kernel holds */
        conn_close(l, k);
        return;
    }
    uint32_t bound = owes(k) ? l->c->stall_ms : k->phase == P_OPEN ? l->c->idle_ms : 0;
    if (bound == 0 || now < k->active_at + bound) {
        conn_timer(l, k);       /* what it owes changed since the deadline was set */
        return;
    }
    if (owes(k))
        l->st->closed_stalled += k->phase == P_OPEN;
    else
        l->st->closed_idle++;
    k->stalled = owes(k);
    k->phase = P_CLOSING;
    k->in_len = 0;
    if (l->ur) {
        if (!ur_send_cancelled(l, k))   /* else its completion says what left */
            ur_progress(l, k);
        return;
    }
    conn_discard(l, k);
    conn_progress(l, k);
}

/* Deadlines: walks the open connections only, and only when one has a deadline. */
static void sweep(struct loop *l)
{
    uint64_t now = qsl_clock_ms();
    for (struct conn *k = l->open, *next; k && l->timed > 0; k = next) {
        next = k->next;         /* k may close (it moves to the closed list) */
        if (k->deadline != 0 && now >= k->deadline)
            conn_expire(l, k, now);
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
        BUMP(l->st->refused);
    }
    l->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return fd >= 0;
}

/* Memory, buffers and a session for an accepted connection; NULL (closed and counted
 * as refused) over max_conns (closed ones the kernel still holds count) or short of memory. */
static struct conn *conn_open(struct loop *l, int fd)
{
    struct conn *k = NULL;
    uint8_t *mem = NULL;
    if (l->st->active + l->zombies < l->c->max_conns) {
        k = malloc(sizeof *k);
        mem = k ? malloc(l->c->out_bytes + IN_CAP) : NULL;
    }
    if (!k || !mem) {
        free(k);
        free(mem);
        close(fd);
        BUMP(l->st->refused);
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (l->c->conn_opts)
        qsl_sockopt_apply(fd, l->c->conn_opts, NULL, NULL);
    memset(k, 0, sizeof *k);
    k->fd = fd;
    k->out = mem;
    k->in = mem + l->c->out_bytes;
    k->held = k->held_tail = -1;
    qsl_session_init(&k->s, l->e);
    list_push(&l->open, k);
    return k;
}

/* Undo conn_open for a connection the loop could not take on. */
static void conn_unopen(struct loop *l, struct conn *k)
{
    list_remove(&l->open, k);
    close(k->fd);
    free(k->out);
    free(k);
    BUMP(l->st->refused);
}

static void conn_count(struct loop *l, struct conn *k)
{
    BUMP(l->st->connections);
    BUMP(l->st->active);
    if (l->st->active > l->st->active_max)
        l->st->active_max = l->st->active;
    touch(l, k);
    conn_timer(l, k);
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
        struct conn *k = conn_open(l, fd);
        if (!k)
            continue;
        k->events = EPOLLIN | EPOLLRDHUP;
        struct epoll_event ev = {.events = k->events, .data.ptr = k};
        if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            conn_unopen(l, k);
            continue;
        }
        conn_count(l, k);
    }
}

static void nap_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* After a stop: nothing new is accepted or read; pending output gets a
 * second to leave, then every connection is shut down and given what is
 * left of that second to close from its side. Replies still unsent then
 * are counted as discarded. */
static void drain_and_close(struct loop *l)
{
    if (l->ep >= 0)
        epoll_ctl(l->ep, EPOLL_CTL_DEL, l->lfd, NULL);
    uint64_t deadline = qsl_clock_ms() + 1000;
    for (int pending = 1; pending && qsl_clock_ms() < deadline;) {
        pending = 0;
        for (struct conn *k = l->open, *next; k; k = next) {
            next = k->next;
            if (k->out_off == k->out_len)
                continue;
            if (conn_flush(l, k) != 0) {
                l->st->closed_at_stop++;
                conn_close(l, k);
            } else {
                pending |= k->out_off < k->out_len;
            }
        }
        if (pending)
            nap_ms(1);
    }
    for (struct conn *k = l->open; k; k = k->next)
        shutdown(k->fd, SHUT_WR);
    for (int open = 1; open && qsl_clock_ms() < deadline;) {
        open = 0;
        for (struct conn *k = l->open, *next; k; k = next) {
            next = k->next;
            if (discard_input(k->fd) != 0) {
                l->st->closed_at_stop++;
                conn_close(l, k);
            } else {
                open = 1;
            }
        }
        if (open)
            nap_ms(1);
    }
    while (l->open) {
        l->st->closed_at_stop++;
        conn_close(l, l->open);
    }
}

/* Everything a loop holds, once its mode has let go of the kernel's references. */
static void loop_free(struct loop *l)
{
    for (struct conn *k = l->closed; k; k = k->next)
        k->zombie = 0;
    free_closed(l);
}

static int run_epoll(int lfd, struct qsl_engine *e, const struct qsl_gateway_config *c,
                     struct qsl_gateway_stats *st, qsl_stop_flag *stop)
{
    struct loop l = {.lfd = lfd, .c = c, .st = st, .e = e};
    l.bounded = c->idle_ms || c->stall_ms;
    l.ep = epoll_create1(EPOLL_CLOEXEC);
    l.reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int rc = 0;
    if (l.ep < 0) {
        rc = -errno;
        goto out;
    }
    fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(l.ep, EPOLL_CTL_ADD, lfd, &lev) != 0) {
        rc = -errno;
        goto out;
    }
    if (c->on_ready)
        c->on_ready(c->ready_ctx);
    struct epoll_event evs[256];
    uint64_t next_sweep = 0;
    while (!*stop) {
        int n = epoll_wait(l.ep, evs, 256, l.timed ? 20 : 100);
        for (int i = 0; i < n; i++) {
            struct conn *k = evs[i].data.ptr;
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
            sweep(&l);
            next_sweep = qsl_clock_ms() + 10;
        }
        if (l.closed)
            free_closed(&l);
    }
    drain_and_close(&l);
out:
    if (l.ep >= 0)
        close(l.ep);
    if (l.reserve >= 0)
        close(l.reserve);
    loop_free(&l);
    return rc;
}

#ifdef QSL_HAVE_URING
#include "gateway_uring.c"
#else
static void ur_conn_closing(struct loop *l, struct conn *k)
{
    (void)l, (void)k;
}

static void ur_progress(struct loop *l, struct conn *k)
{
    (void)l, (void)k;
}

static int ur_send_cancelled(struct loop *l, struct conn *k)
{
    (void)l, (void)k;
    return 0;
}

static int run_uring(int lfd, struct qsl_engine *e, const struct qsl_gateway_config *c,
                     struct qsl_gateway_stats *st, qsl_stop_flag *stop)
{
    (void)lfd, (void)e, (void)c, (void)st, (void)stop;
    return -ENOSYS;
}
#endif

int qsl_gateway_mode_available(enum qsl_gateway_mode mode, char *why, size_t len)
{
    if (len)
        why[0] = '\0';
    return mode == QSL_GATEWAY_IO_URING ? qsl_uring_available(why, len) : 0;
}

uint32_t qsl_gateway_idle_ms(const struct qsl_gateway_config *c)
{
    if (c->idle_ms != QSL_GATEWAY_IDLE_DEFAULT)
        return c->idle_ms;
    return c->mode == QSL_GATEWAY_BLOCKING ? QSL_GATEWAY_BLOCKING_IDLE_MS : 0;
}

int qsl_gateway_run(int listen_fd, const struct qsl_gateway_config *c,
                    struct qsl_gateway_stats *st, qsl_stop_flag *stop)
{
    memset(st, 0, sizeof *st);
    if (c->max_conns == 0 || c->out_bytes < QSL_WIRE_MAX_FRAME * 2)
        return -EINVAL;
    struct qsl_engine e;
    int rc = qsl_engine_init(&e, &c->engine);
    if (rc != 0)
        return rc;
    struct qsl_gateway_config cc = *c;
    cc.idle_ms = qsl_gateway_idle_ms(c);
    switch (cc.mode) {
    case QSL_GATEWAY_BLOCKING:
        rc = run_blocking(listen_fd, &e, &cc, st, stop);
        break;
    case QSL_GATEWAY_IO_URING:
        rc = run_uring(listen_fd, &e, &cc, st, stop);
        break;
    default:
        rc = run_epoll(listen_fd, &e, &cc, st, stop);
        break;
    }
    qsl_engine_free(&e);
    return rc;
}
