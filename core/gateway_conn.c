/*
 * gateway_conn.c - the connection steps every event-loop mode of the gateway shares,
 * and the reply stream's accounting every mode uses (gateway_conn.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "gateway_conn.h"
#include "sockopt.h"
#include "wire.h"

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
uint64_t qsl_gwc_replies_unsent(const uint8_t *b, size_t head, size_t off, size_t len)
{
    uint64_t n = head > off;
    for (size_t p = head; p < len; p += reply_len(b + p))
        n += p + reply_len(b + p) > off;
    return n;
}


/* Fold a closed session's counters into the gateway's. */
void qsl_gwc_account(struct qsl_gateway_stats *st, const struct qsl_session *s)
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


/*
 * close() with unread input makes the kernel send RST, and a RST discards
 * replies the peer has not read yet. So a connection the server ends is shut
 * down for writing first (the peer reads every reply, then EOF), and its
 * input is read and dropped until the peer closes or linger_ms passes.
 */
int qsl_gwc_discard_input(int fd)
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


void qsl_gwc_set_deadline(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k, uint64_t at)
{
    l->timed += (at != 0) - (k->deadline != 0);
    k->deadline = at;
}


static void list_push(struct qsl_gwc_conn **head, struct qsl_gwc_conn *k)
{
    k->prev = NULL;
    k->next = *head;
    if (*head)
        (*head)->prev = k;
    *head = k;
}


static void list_remove(struct qsl_gwc_conn **head, struct qsl_gwc_conn *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        *head = k->next;
    if (k->next)
        k->next->prev = k->prev;
}


/* The replies still in user space will not reach the peer: counted, then dropped. */
void qsl_gwc_discard(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k)
{
    l->st->replies_discarded += qsl_gwc_replies_unsent(k->out, k->out_head, k->out_off, k->out_len);
    k->out_off = k->out_len = k->out_head = 0;
}


void qsl_gwc_tcpinfo(const struct qsl_gateway_config *c, struct qsl_gateway_stats *st, int fd,
                     unsigned conn)
{
    struct qsl_tcpinfo t;
    if (qsl_tcpinfo_account(&st->tcp, fd, &t) == 0 && c->tcp_info)
        c->tcp_info(c->tcp_info_ctx, conn, qsl_clock_ns() - st->started_ns, 1, &t);
}

void qsl_gwc_close(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k)
{
    qsl_gwc_account(l->st, &k->s);
    qsl_gwc_tcpinfo(l->c, l->st, k->fd, k->id);
    qsl_gwc_discard(l, k);
    qsl_gwc_set_deadline(l, k, 0);
    l->ops->closing(l, k);      /* the mode may keep out/in while the kernel holds them */
    close(k->fd);
    k->fd = -1;
    l->zombies += k->zombie;
    list_remove(&l->open, k);
    list_push(&l->closed, k);
    __atomic_store_n(&l->st->active, l->st->active - 1, __ATOMIC_RELAXED);
}


#define CONN_ALIGN 64u
#define CONN_REDZONE (QSL_HUGEMEM_ASAN ? CONN_ALIGN : 0u)  /* poisoned after each slot */

static size_t conn_head(const struct qsl_gwc_loop *l)
{
    return (l->ops->conn_size + CONN_ALIGN - 1) & ~(size_t)(CONN_ALIGN - 1);
}

static void slots_init(struct qsl_gwc_loop *l)
{
    struct qsl_gwc_slots *p = &l->slots;
    p->huge = l->c->engine.huge_pages;
    p->size = (conn_head(l) + l->c->out_bytes + QSL_GWC_IN_CAP + CONN_ALIGN - 1) &
              ~(size_t)(CONN_ALIGN - 1);
    if (p->huge)
        p->size += CONN_REDZONE;
    qsl_hugemem_slabs_init(&p->slabs, p->size);
}

/* A connection's slot (NULL: no memory). */
static void *slot_take(struct qsl_gwc_loop *l)
{
    struct qsl_gwc_slots *p = &l->slots;
    if (!p->huge)
        return malloc(p->size);
    void *s = p->free;
    if (s) {
        QSL_HUGEMEM_UNPOISON(s, p->size);
        memcpy(&p->free, s, sizeof p->free);
    } else if (!(s = qsl_hugemem_carve(&p->slabs))) {
        return NULL;
    }
    QSL_HUGEMEM_POISON((uint8_t *)s + p->size - CONN_REDZONE, CONN_REDZONE);
    return s;
}

static void slot_give(struct qsl_gwc_loop *l, void *s)
{
    struct qsl_gwc_slots *p = &l->slots;
    if (!p->huge) {
        free(s);
    } else if (s) {
        memcpy(s, &p->free, sizeof p->free);
        p->free = s;
        QSL_HUGEMEM_POISON(s, p->size);        /* unpoisoned when taken again */
    }
}

static void slots_free(struct qsl_gwc_loop *l)
{
    qsl_hugemem_slabs_free(&l->slots.slabs);
    l->slots.free = NULL;
}

/* Free the closed connections nothing refers to any more. */
void qsl_gwc_free_closed(struct qsl_gwc_loop *l)
{
    for (struct qsl_gwc_conn *k = l->closed, *next; k; k = next) {
        next = k->next;
        if (!k->zombie) {
            list_remove(&l->closed, k);
            slot_give(l, k);
        }
    }
}


/* A whole request handled or a reply byte taken: the connection is alive. */
void qsl_gwc_touch(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k)
{
    if (l->bounded)
        k->active_at = qsl_clock_ms();
}


/* The connection owes its peer replies: some are unsent, or a request waits for room. */
static int owes(const struct qsl_gwc_conn *k)
{
    return k->out_off < k->out_len || qsl_session_paused(&k->s);
}


/* The bound that applies now: stall_ms while replies are owed, idle_ms (open
 * connections only) while nothing is. */
void qsl_gwc_timer(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k)
{
    if (!l->bounded || k->fd < 0 || k->phase == QSL_GWC_LINGER)
        return;
    uint32_t bound = owes(k) ? l->c->stall_ms : k->phase == QSL_GWC_OPEN ? l->c->idle_ms : 0;
    qsl_gwc_set_deadline(l, k, bound ? k->active_at + bound : 0);
}


/* Write what is pending. 0: all written or would block; -1: the connection is gone. */
QSL_HOT int qsl_gwc_flush(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k)
{
    while (k->out_off < k->out_len) {
        ssize_t w = send(k->fd, k->out + k->out_off, k->out_len - k->out_off, MSG_NOSIGNAL);
        if (w > 0) {
            k->out_off += (size_t)w;
            l->st->bytes_out += (uint64_t)w;
            qsl_gwc_touch(l, k);
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
int qsl_gwc_may_read(const struct qsl_gwc_loop *l, const struct qsl_gwc_conn *k)
{
    return k->phase == QSL_GWC_OPEN && !k->peer_eof && !qsl_session_paused(&k->s) &&
           k->in_len < QSL_GWC_IN_CAP && k->out_len - k->out_off <= l->c->out_bytes / 2;
}


/* Give the session what input is held, as far as output room allows. */
QSL_HOT void qsl_gwc_feed(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k)
{
    if (k->phase != QSL_GWC_OPEN || (k->in_len == 0 && !qsl_session_paused(&k->s)))
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
        k->phase = QSL_GWC_CLOSING;
        k->in_len = 0;
        return;
    }
    memmove(k->in, k->in + used, k->in_len - used);
    k->in_len -= used;
    if (k->s.stats.frames_in != frames)
        qsl_gwc_touch(l, k);
}


/* Every reply sent: end the connection if the peer is gone and nothing is left to
 * answer, or shut a closing one down and let it linger. 1 when it was closed. */
QSL_HOT int qsl_gwc_settle(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k, int input_done)
{
    if (k->peer_eof && (input_done || k->phase == QSL_GWC_CLOSING)) {
        if (k->phase == QSL_GWC_OPEN)
            l->st->closed_by_peer++;
        qsl_gwc_close(l, k);       /* the peer's FIN was read: a plain close sends no RST */
        return 1;
    }
    if (k->phase == QSL_GWC_CLOSING) {
        shutdown(k->fd, SHUT_WR);
        k->phase = QSL_GWC_LINGER;
        qsl_gwc_set_deadline(l, k, qsl_clock_ms() + l->c->linger_ms);
    }
    return 0;
}


/* A deadline passed: a lingering connection is closed; one that owes nothing has
 * been idle and ends gracefully; one whose peer took no reply for stall_ms ends
 * too, and the replies it owed are counted, never dropped silently. */
static void conn_expire(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k, uint64_t now)
{
    qsl_gwc_set_deadline(l, k, 0);
    if (k->phase == QSL_GWC_LINGER) {
        qsl_gwc_discard_input(k->fd);   /* as in linger_close: no RST over replies the kernel holds */
        qsl_gwc_close(l, k);
        return;
    }
    uint32_t bound = owes(k) ? l->c->stall_ms : k->phase == QSL_GWC_OPEN ? l->c->idle_ms : 0;
    if (bound == 0 || now < k->active_at + bound) {
        qsl_gwc_timer(l, k);       /* what it owes changed since the deadline was set */
        return;
    }
    if (owes(k))
        l->st->closed_stalled += k->phase == QSL_GWC_OPEN;
    else
        l->st->closed_idle++;
    k->stalled = owes(k);
    k->phase = QSL_GWC_CLOSING;
    k->in_len = 0;
    if (l->ops->send_cancelled && l->ops->send_cancelled(l, k))
        return;                 /* its completion says what left */
    qsl_gwc_discard(l, k);
    l->ops->progress(l, k);
}


/* Deadlines: walks the open connections only, and only when one has a deadline. */
void qsl_gwc_sweep(struct qsl_gwc_loop *l)
{
    uint64_t now = qsl_clock_ms();
    for (struct qsl_gwc_conn *k = l->open, *next; k && l->timed > 0; k = next) {
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
int qsl_gwc_shed_one(struct qsl_gwc_loop *l)
{
    l->st->emfile++;
    if (l->reserve < 0)
        return 0;
    close(l->reserve);
    int fd = accept4(l->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
        close(fd);
        QSL_GWC_BUMP(l->st->refused);
    }
    l->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return fd >= 0;
}


/* Memory, buffers and a session for an accepted connection; NULL (closed and counted
 * as refused) over max_conns (closed ones the kernel still holds count) or short of memory. */
struct qsl_gwc_conn *qsl_gwc_open(struct qsl_gwc_loop *l, int fd)
{
    struct qsl_gwc_conn *k = NULL;
    if (l->st->active + l->zombies < l->c->max_conns)
        k = slot_take(l);
    if (!k) {
        close(fd);
        QSL_GWC_BUMP(l->st->refused);
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (l->c->conn_opts)
        qsl_sockopt_apply(fd, l->c->conn_opts, NULL, NULL);
    memset(k, 0, l->ops->conn_size);
    k->fd = fd;
    k->out = (uint8_t *)k + conn_head(l);
    k->in = k->out + l->c->out_bytes;
    qsl_session_init(&k->s, l->e);
    list_push(&l->open, k);
    return k;
}


/* Undo conn_open for a connection the loop could not take on. */
void qsl_gwc_unopen(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k)
{
    list_remove(&l->open, k);
    close(k->fd);
    slot_give(l, k);
    QSL_GWC_BUMP(l->st->refused);
}


void qsl_gwc_count(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k)
{
    QSL_GWC_BUMP(l->st->connections);
    k->id = (unsigned)l->st->connections;
    QSL_GWC_BUMP(l->st->active);
    if (l->st->active > l->st->active_max)
        l->st->active_max = l->st->active;
    qsl_gwc_touch(l, k);
    qsl_gwc_timer(l, k);
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
void qsl_gwc_drain_and_close(struct qsl_gwc_loop *l)
{
    uint64_t deadline = qsl_clock_ms() + 1000;
    for (int pending = 1; pending && qsl_clock_ms() < deadline;) {
        pending = 0;
        for (struct qsl_gwc_conn *k = l->open, *next; k; k = next) {
            next = k->next;
            if (k->out_off == k->out_len)
                continue;
            if (qsl_gwc_flush(l, k) != 0) {
                l->st->closed_at_stop++;
                qsl_gwc_close(l, k);
            } else {
                pending |= k->out_off < k->out_len;
            }
        }
        if (pending)
            nap_ms(1);
    }
    for (struct qsl_gwc_conn *k = l->open; k; k = k->next)
        shutdown(k->fd, SHUT_WR);
    for (int open = 1; open && qsl_clock_ms() < deadline;) {
        open = 0;
        for (struct qsl_gwc_conn *k = l->open, *next; k; k = next) {
            next = k->next;
            if (qsl_gwc_discard_input(k->fd) != 0) {
                l->st->closed_at_stop++;
                qsl_gwc_close(l, k);
            } else {
                open = 1;
            }
        }
        if (open)
            nap_ms(1);
    }
    while (l->open) {
        l->st->closed_at_stop++;
        qsl_gwc_close(l, l->open);
    }
}


/* Everything a loop holds, once its mode has let go of the kernel's references. */
void qsl_gwc_loop_free(struct qsl_gwc_loop *l)
{
    for (struct qsl_gwc_conn *k = l->closed; k; k = k->next)
        k->zombie = 0;
    qsl_gwc_free_closed(l);
    slots_free(l);
}

int qsl_gwc_always_available(char *why, size_t len)
{
    if (len)
        why[0] = '\0';
    return 0;
}

void qsl_gwc_loop_init(struct qsl_gwc_loop *l, int lfd, const struct qsl_gateway_config *c,
                       struct qsl_gateway_stats *st, struct qsl_engine *e,
                       const struct qsl_gwc_ops *ops, void *mode)
{
    memset(l, 0, sizeof *l);
    l->lfd = lfd;
    l->c = c;
    l->st = st;
    l->e = e;
    l->ops = ops;
    l->mode = mode;
    l->bounded = c->idle_ms || c->stall_ms;
    l->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (c->tcp_info && c->tcp_info_ms)
        l->next_sample = qsl_clock_ms() + c->tcp_info_ms;
    slots_init(l);
}

void qsl_gwc_sample(struct qsl_gwc_loop *l)
{
    const struct qsl_gateway_config *c = l->c;
    uint64_t now = qsl_clock_ms();
    if (!l->next_sample || now < l->next_sample)
        return;
    for (struct qsl_gwc_conn *k = l->open; k; k = k->next) {
        struct qsl_tcpinfo t;
        if (k->fd >= 0 && qsl_tcpinfo_read(k->fd, &t) == 0)
            c->tcp_info(c->tcp_info_ctx, k->id, qsl_clock_ns() - l->st->started_ns, 0, &t);
    }
    l->next_sample = now + c->tcp_info_ms;
}

int qsl_gwc_wait_ms(const struct qsl_gwc_loop *l)
{
    int ms = l->timed ? 20 : 100;
    if (l->next_sample) {
        uint64_t now = qsl_clock_ms();
        uint64_t left = l->next_sample > now ? l->next_sample - now : 0;
        if (left < (uint64_t)ms)
            ms = (int)left;
    }
    return ms;
}
