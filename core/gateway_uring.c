/*
 * gateway_uring.c - the gateway's io_uring mode: the connection steps of
 * gateway_conn.c (session feeding, output and input bounds, deadlines, shedding
 * and drain, as in epoll mode), with bytes moved by io_uring completions.
 *
 * One io_uring_enter per round submits what the round queued and waits for
 * completions: a multishot accept on the listener, one receive per
 * connection into a ring of provided buffers shared by all, and at most one
 * send per connection in flight (its bytes stay put in the output buffer
 * until it completes).
 *
 * Receives are armed one at a time, for at most the room left in the
 * connection's input buffer, and only while epoll mode would read: the same
 * bound (16 KiB of unanswered input) and the same backpressure. A multishot
 * receive was tried and dropped: on each wakeup the kernel drains the whole
 * socket queue into the shared ring (measured: 776 KB held for one client
 * that never reads its replies), so one such client would pin the ring and
 * starve every other connection. A buffer returns to the ring as soon as its
 * bytes are copied into the connection's input. A connection closed with
 * requests in flight keeps its memory (a zombie slot) until their
 * completions arrive.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "gateway_conn.h"
#include "uring.h"

#ifdef QSL_HAVE_URING


#define UR_BUFS 256u            /* receive buffers shared by every connection */
#define UR_BUF_SIZE 8192u
#define UR_GROUP 1
#define UR_ENTRIES 1024u

enum ur_op { UR_ACCEPT = 1, UR_RECV, UR_SEND, UR_POLL, UR_CANCEL };

/* A connection, and what io_uring holds of it: requests in flight, and input received
 * into provided buffers but not yet in its input buffer. */
struct ur_conn {
    struct qsl_gwc_conn c;
    uint8_t recv_armed, recv_cancel, send_busy, send_cancel, want_buf;
    int held, held_tail;        /* chain of provided buffers, -1 none */
    size_t held_bytes;
};

static struct ur_conn *U(struct qsl_gwc_conn *k)
{
    return (struct ur_conn *)k;
}

static const struct ur_conn *CU(const struct qsl_gwc_conn *k)
{
    return (const struct ur_conn *)k;
}

struct uring {
    struct io_uring ring;
    struct qsl_uring_bufs b;
    int next[UR_BUFS];          /* held chains, in arrival order */
    uint32_t len[UR_BUFS], off[UR_BUFS];
    unsigned free;              /* buffers in the ring */
    unsigned inflight;          /* requests whose last completion has not come */
    unsigned starved;           /* connections whose receive ended for want of a buffer */
    int accepting;              /* the multishot accept, or the listener poll, is armed */
    int stopping;
    int failed;                 /* -errno: the ring could take no request */
};

static struct uring *UR(const struct qsl_gwc_loop *l)
{
    return l->mode;
}

/* A request's user data: its connection's address (malloc aligns to 16) and the op. */
_Static_assert(_Alignof(max_align_t) >= 16, "user data keeps the op in the low 4 bits");
static uint64_t ud(enum ur_op op, const struct qsl_gwc_loop *l, const struct qsl_gwc_conn *k)
{
    (void)l;
    return (uint64_t)(uintptr_t)k | (uint64_t)op;
}

/* A submission entry; when the queue is full, what is queued goes in first. */
static struct io_uring_sqe *ur_sqe(struct qsl_gwc_loop *l, enum ur_op op, const struct qsl_gwc_conn *k)
{
    struct uring *u = UR(l);
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (!sqe) {
        int rc = io_uring_submit(&u->ring);
        l->st->ring_enters++;
        sqe = io_uring_get_sqe(&u->ring);
        if (!sqe) {
            u->failed = rc < 0 ? rc : -EBUSY;
            return NULL;
        }
    }
    io_uring_sqe_set_data64(sqe, ud(op, l, k));
    u->inflight++;
    return sqe;
}

static void ur_recycle(struct uring *u, int bid)
{
    qsl_uring_bufs_recycle(&u->b, bid);
    u->free++;
}

static void ur_hold(struct uring *u, struct qsl_gwc_conn *k, int bid, uint32_t n)
{
    u->next[bid] = -1;
    u->len[bid] = n;
    u->off[bid] = 0;
    if (U(k)->held < 0)
        U(k)->held = bid;
    else
        u->next[U(k)->held_tail] = bid;
    U(k)->held_tail = bid;
    U(k)->held_bytes += n;
}

/* Held input into the connection's input buffer, as far as it has room. */
static void ur_take(struct uring *u, struct qsl_gwc_conn *k)
{
    while (U(k)->held >= 0 && k->in_len < QSL_GWC_IN_CAP) {
        int b = U(k)->held;
        size_t n = u->len[b] - u->off[b];
        if (n > QSL_GWC_IN_CAP - k->in_len)
            n = QSL_GWC_IN_CAP - k->in_len;
        memcpy(k->in + k->in_len, qsl_uring_bufs_at(&u->b, b) + u->off[b], n);
        k->in_len += n;
        u->off[b] += (uint32_t)n;
        U(k)->held_bytes -= n;
        if (u->off[b] == u->len[b]) {
            U(k)->held = u->next[b];
            ur_recycle(u, b);
        }
    }
}

static void ur_drop_held(struct uring *u, struct qsl_gwc_conn *k)
{
    while (U(k)->held >= 0) {
        int b = U(k)->held;
        U(k)->held = u->next[b];
        ur_recycle(u, b);
    }
    U(k)->held_bytes = 0;
}

static void ur_cancel(struct qsl_gwc_loop *l, enum ur_op op, struct qsl_gwc_conn *k)
{
    struct io_uring_sqe *sqe = ur_sqe(l, UR_CANCEL, NULL);
    if (sqe)
        io_uring_prep_cancel64(sqe, ud(op, l, k), 0);
}

/* A lingering connection reads to see the peer's close; an open one while it may. */
static int ur_wants_input(const struct qsl_gwc_loop *l, const struct qsl_gwc_conn *k)
{
    return k->phase == QSL_GWC_LINGER || (qsl_gwc_may_read(l, k) && CU(k)->held < 0);
}

/* Arm a receive when epoll mode would read, for at most the input buffer's room: what
 * it brings always fits, so a receive in flight never needs cancelling for room. */
static void ur_rearm(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k)
{
    if (UR(l)->stopping || k->fd < 0 || U(k)->recv_armed || U(k)->want_buf || !ur_wants_input(l, k))
        return;
    struct io_uring_sqe *sqe = ur_sqe(l, UR_RECV, k);
    if (!sqe)
        return;
    size_t room = k->phase == QSL_GWC_LINGER ? UR_BUF_SIZE : QSL_GWC_IN_CAP - k->in_len;
    io_uring_prep_recv(sqe, k->fd, NULL, room < UR_BUF_SIZE ? room : UR_BUF_SIZE, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = UR_GROUP;
    U(k)->recv_armed = 1;
}

static void ur_send(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k)
{
    if (U(k)->send_busy || k->out_off == k->out_len || UR(l)->stopping)
        return;
    struct io_uring_sqe *sqe = ur_sqe(l, UR_SEND, k);
    if (!sqe)
        return;
    io_uring_prep_send(sqe, k->fd, k->out + k->out_off, k->out_len - k->out_off, MSG_NOSIGNAL);
    U(k)->send_busy = 1;
}

/* epoll mode's conn_progress, with a send in flight instead of a write. */
static void ur_progress(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k)
{
    struct uring *u = UR(l);
    if (U(k)->send_busy || u->stopping)
        return;                 /* the send's completion moves the connection on */
    if (k->stalled)
        qsl_gwc_discard(l, k);     /* after the send in flight said what left */
    if (k->phase != QSL_GWC_OPEN)
        ur_drop_held(u, k);
    for (;;) {
        ur_take(u, k);
        size_t before = k->in_len;
        int paused = qsl_session_paused(&k->s);
        if (k->out_off == k->out_len && (before > 0 || paused))
            qsl_gwc_feed(l, k);
        if (k->phase != QSL_GWC_OPEN)
            ur_drop_held(u, k);
        if (k->out_off < k->out_len || (k->in_len == before && qsl_session_paused(&k->s) == paused))
            break;
    }
    if (k->in_len + U(k)->held_bytes > l->st->in_held_max)
        l->st->in_held_max = k->in_len + U(k)->held_bytes;
    if (k->out_off < k->out_len)
        ur_send(l, k);
    else if (qsl_gwc_settle(l, k, k->in_len == 0 && U(k)->held < 0 && !qsl_session_paused(&k->s)))
        return;
    qsl_gwc_timer(l, k);
    ur_rearm(l, k);
}

/* Stalled with a send in flight: cancel it; its completion says how much left.
 * 1 when the completion is awaited. */
static int ur_send_cancelled(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k)
{
    if (!U(k)->send_busy)
        return 0;
    if (!U(k)->send_cancel) {
        U(k)->send_cancel = 1;
        ur_cancel(l, UR_SEND, k);
    }
    return 1;
}

/* Called by conn_close: held buffers go back, requests in flight are cancelled, and
 * the slot keeps its memory until their completions arrive. */
static void ur_conn_closing(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k)
{
    ur_drop_held(UR(l), k);
    if (U(k)->recv_armed && !U(k)->recv_cancel) {
        U(k)->recv_cancel = 1;
        ur_cancel(l, UR_RECV, k);
    }
    if (U(k)->send_busy && !U(k)->send_cancel) {
        U(k)->send_cancel = 1;
        ur_cancel(l, UR_SEND, k);
    }
    if (U(k)->want_buf) {
        U(k)->want_buf = 0;
        UR(l)->starved--;
    }
    k->zombie = U(k)->recv_armed || U(k)->send_busy;
}

/* A closed connection whose last request completed: free_closed may take it now. */
static void ur_bury(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k)
{
    if (k->zombie && !U(k)->recv_armed && !U(k)->send_busy) {
        k->zombie = 0;
        l->zombies--;
    }
}

static void ur_arm_accept(struct qsl_gwc_loop *l)
{
    struct io_uring_sqe *sqe = ur_sqe(l, UR_ACCEPT, NULL);
    if (!sqe)
        return;
    io_uring_prep_multishot_accept(sqe, l->lfd, NULL, NULL, SOCK_CLOEXEC);
    UR(l)->accepting = 1;
}

static void ur_on_accept(struct qsl_gwc_loop *l, const struct io_uring_cqe *cqe)
{
    struct uring *u = UR(l);
    int more = cqe->flags & IORING_CQE_F_MORE;
    if (!more) {
        u->inflight--;
        u->accepting = 0;
    }
    if (cqe->res >= 0) {
        if (u->stopping) {
            close(cqe->res);
            QSL_GWC_BUMP(l->st->refused);
        } else {
            struct qsl_gwc_conn *k = qsl_gwc_open(l, cqe->res);
            if (k) {
                U(k)->held = U(k)->held_tail = -1;
                qsl_gwc_count(l, k);
                ur_rearm(l, k);
            }
        }
    } else if (cqe->res == -EMFILE || cqe->res == -ENFILE) {
        while (qsl_gwc_shed_one(l))
            ;
        if (!more && !u->stopping) {
            /* accept again only when a client waits: EMFILE comes before the queue is looked at */
            struct io_uring_sqe *sqe = ur_sqe(l, UR_POLL, NULL);
            if (sqe)
                io_uring_prep_poll_add(sqe, l->lfd, POLLIN);
            u->accepting = 1;
            return;
        }
    }
    if (!more && !u->stopping && !u->accepting)
        ur_arm_accept(l);
}

static void ur_on_recv(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k, const struct io_uring_cqe *cqe)
{
    struct uring *u = UR(l);
    int bid = cqe->flags & IORING_CQE_F_BUFFER ? (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT) : -1;
    if (bid >= 0)
        u->free--;
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        u->inflight--;
        U(k)->recv_armed = U(k)->recv_cancel = 0;
    }
    if (k->fd < 0 || u->stopping) {
        if (bid >= 0)
            ur_recycle(u, bid);     /* after a stop nothing new is read, as in epoll mode */
        if (k->fd < 0)
            ur_bury(l, k);
        else if (cqe->res == 0)
            k->peer_eof = 1;
        return;
    }
    if (cqe->res > 0 && bid >= 0) {
        __atomic_store_n(&l->st->bytes_in, l->st->bytes_in + (uint64_t)cqe->res, __ATOMIC_RELAXED);
        if (k->phase == QSL_GWC_OPEN && !k->peer_eof)
            ur_hold(u, k, bid, (uint32_t)cqe->res);
        else
            ur_recycle(u, bid);
        ur_progress(l, k);
        return;
    }
    if (bid >= 0)
        ur_recycle(u, bid);
    if (cqe->res == 0 || (cqe->res < 0 && k->phase == QSL_GWC_LINGER)) {
        if (k->phase == QSL_GWC_LINGER) {
            qsl_gwc_close(l, k);
            return;
        }
        k->peer_eof = 1;
        ur_progress(l, k);
    } else if (cqe->res == -ENOBUFS) {
        U(k)->want_buf = 1;
        u->starved++;
    } else if (cqe->res == -ECANCELED) {
        ur_rearm(l, k);         /* room may have come back since the cancel went out */
    } else if (cqe->res < 0) {
        l->st->closed_error++;
        qsl_gwc_close(l, k);
    }
}

static void ur_on_send(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k, const struct io_uring_cqe *cqe)
{
    UR(l)->inflight--;
    U(k)->send_busy = U(k)->send_cancel = 0;
    if (k->fd < 0) {
        ur_bury(l, k);
        return;
    }
    if (cqe->res > 0 && k->out_len > 0) {
        k->out_off += (size_t)cqe->res;
        l->st->bytes_out += (uint64_t)cqe->res;
        qsl_gwc_touch(l, k);
        if (k->out_off == k->out_len)
            k->out_off = k->out_len = k->out_head = 0;
    } else if (cqe->res < 0 && cqe->res != -ECANCELED && !UR(l)->stopping) {
        if (k->phase == QSL_GWC_OPEN)     /* else its reason is counted already */
            l->st->closed_error++;
        qsl_gwc_close(l, k);
        return;
    }
    ur_progress(l, k);
}

static void ur_complete(struct qsl_gwc_loop *l, const struct io_uring_cqe *cqe)
{
    uint64_t d = io_uring_cqe_get_data64(cqe);
    struct qsl_gwc_conn *k = (struct qsl_gwc_conn *)(uintptr_t)(d & ~(uint64_t)15);
    switch ((enum ur_op)(d & 15)) {
    case UR_ACCEPT:
        ur_on_accept(l, cqe);
        break;
    case UR_POLL:               /* a client waits at a listener that ran out of descriptors */
        UR(l)->inflight--;
        UR(l)->accepting = 0;
        if (!UR(l)->stopping)
            ur_arm_accept(l);
        break;
    case UR_RECV:
        ur_on_recv(l, k, cqe);
        break;
    case UR_SEND:
        ur_on_send(l, k, cqe);
        break;
    case UR_CANCEL:
        UR(l)->inflight--;
        break;
    }
}

static void ur_reap(struct qsl_gwc_loop *l)
{
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;
    io_uring_for_each_cqe(&UR(l)->ring, head, cqe)
    {
        ur_complete(l, cqe);
        n++;
    }
    io_uring_cq_advance(&UR(l)->ring, n);
    l->st->ring_completions += n;
}

/* Connections whose receive ended with no buffer left get one again once some are back. */
static void ur_feed_starved(struct qsl_gwc_loop *l)
{
    struct uring *u = UR(l);
    for (struct qsl_gwc_conn *k = l->open; k && u->starved > 0 && u->free > 0; k = k->next) {
        if (U(k)->want_buf) {
            U(k)->want_buf = 0;
            u->starved--;
            ur_rearm(l, k);
        }
    }
}

/* One round: submit what is queued, wait up to ms for a completion, handle them all. */
static int ur_round(struct qsl_gwc_loop *l, long ms)
{
    struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
    struct io_uring_cqe *cqe;
    int r = io_uring_submit_and_wait_timeout(&UR(l)->ring, &cqe, 1, &ts, NULL);
    l->st->ring_enters++;
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY)
        return r;
    ur_reap(l);
    return UR(l)->failed;
}

static void ur_teardown(struct uring *u)
{
    io_uring_queue_exit(&u->ring);
    qsl_uring_bufs_free(&u->b);
}

static int ur_setup(struct uring *u)
{
    memset(u, 0, sizeof *u);
    int rc = qsl_uring_open(&u->ring, UR_ENTRIES, 8 * UR_ENTRIES);
    if (rc < 0)
        return rc;
    rc = qsl_uring_bufs_init(&u->ring, &u->b, UR_BUFS, UR_BUF_SIZE, UR_GROUP);
    if (rc < 0) {
        io_uring_queue_exit(&u->ring);
        return rc;
    }
    u->free = UR_BUFS;
    return 0;
}

/* After a stop: cancel every request and collect every completion (a send may have
 * moved bytes), then drain and close as epoll mode does, with plain calls. */
static void ur_quiesce(struct qsl_gwc_loop *l)
{
    struct uring *u = UR(l);
    u->stopping = 1;
    struct io_uring_sqe *sqe = ur_sqe(l, UR_CANCEL, NULL);
    if (sqe)
        io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
    uint64_t deadline = qsl_clock_ms() + 1000;
    while (u->inflight > 0 && qsl_clock_ms() < deadline && ur_round(l, 10) == 0)
        ;
    for (struct qsl_gwc_conn *k = l->open; k; k = k->next) {
        ur_drop_held(u, k);
        fcntl(k->fd, F_SETFL, fcntl(k->fd, F_GETFL) | O_NONBLOCK);
    }
}

static const struct qsl_gwc_ops ur_ops = {sizeof(struct ur_conn), ur_conn_closing, ur_progress,
                                         ur_send_cancelled};

static int run_uring(int lfd, struct qsl_engine *e, const struct qsl_gateway_config *c,
                     struct qsl_gateway_stats *st, qsl_stop_flag *stop)
{
    struct uring u;
    int rc = ur_setup(&u);
    if (rc != 0)
        return rc;
    struct qsl_gwc_loop l;
    qsl_gwc_loop_init(&l, lfd, c, st, e, &ur_ops, &u);
    fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);     /* shed_one's accept4 */
    ur_arm_accept(&l);
    if (c->on_ready)
        c->on_ready(c->ready_ctx);
    uint64_t next_sweep = 0;
    while (!*stop && rc == 0) {
        rc = ur_round(&l, qsl_gwc_wait_ms(&l));
        if (u.starved)
            ur_feed_starved(&l);
        if (l.timed && qsl_clock_ms() >= next_sweep) {
            qsl_gwc_sweep(&l);
            next_sweep = qsl_clock_ms() + 10;
        }
        qsl_gwc_sample(&l);
        if (l.closed)
            qsl_gwc_free_closed(&l);
    }
    ur_quiesce(&l);
    qsl_gwc_drain_and_close(&l);
    ur_teardown(&u);            /* ends anything still in flight: zombies can go */
    if (l.reserve >= 0)
        close(l.reserve);
    qsl_gwc_loop_free(&l);
    return rc;
}

const struct qsl_gateway_backend qsl_gateway_uring_backend = {qsl_uring_available, run_uring, 0};

#else /* built without liburing: the mode says why it cannot run */

static int no_uring(int lfd, struct qsl_engine *e, const struct qsl_gateway_config *c,
                    struct qsl_gateway_stats *st, qsl_stop_flag *stop)
{
    (void)lfd, (void)e, (void)c, (void)st, (void)stop;
    return -ENOSYS;
}

const struct qsl_gateway_backend qsl_gateway_uring_backend = {qsl_uring_available, no_uring, 0};

#endif
