/*
 * gateway_conn.h - the gateway's connection steps that every event-loop mode shares
 * (epoll, io_uring), and the parts of a reply stream the blocking mode shares too.
 * Internal to the gateway: gateway.h is its face. A mode is a file of its own
 * (gateway_epoll.c, gateway_uring.c, gateway_blocking.c) that keeps its own state per
 * loop (qsl_gwc_loop.mode) and per connection (a struct whose first member is a
 * qsl_gwc_conn, its size in qsl_gwc_ops.conn_size), and gives the shared steps the
 * three things only it knows how to do (qsl_gwc_ops). No shared step asks which mode
 * it runs in.
 */
#ifndef QSL_GATEWAY_CONN_H
#define QSL_GATEWAY_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "gateway.h"
#include "hugemem.h"
#include "session.h"

#define QSL_GWC_IN_CAP 16384u   /* input a connection holds while its session waits for room */

/* Counters a test thread watches while the server runs: stored whole, so a
 * concurrent reader never sees a torn value. */
#define QSL_GWC_BUMP(x) __atomic_store_n(&(x), (x) + 1, __ATOMIC_RELAXED)

enum qsl_gwc_phase {
    QSL_GWC_OPEN,               /* serving */
    QSL_GWC_CLOSING,            /* the session ended: flush, then shut down */
    QSL_GWC_LINGER              /* shut down for writing: drop input until EOF or linger_ms */
};

/* One accepted connection: allocated at accept, freed after it closes (a closed one
 * is freed at the end of the round, so an event later in the same batch, or an
 * io_uring completion still to come, never points at freed memory). */
struct qsl_gwc_conn {
    int fd;                     /* -1: closed */
    enum qsl_gwc_phase phase;
    int peer_eof;               /* the peer shut down its side: finish, then close */
    struct qsl_gwc_conn *prev, *next;   /* the loop's open list, or its closed list */
    struct qsl_session s;
    uint8_t *out, *in;          /* one allocation: out_bytes, then QSL_GWC_IN_CAP */
    size_t out_len, out_off, in_len;
    size_t out_head;            /* a reply frame boundary in out (qsl_gwc_replies_unsent) */
    uint64_t active_at;         /* last whole request handled or reply byte taken */
    uint64_t deadline;          /* idle/stall (open, closing) or linger deadline; 0 none */
    unsigned id;                /* its ordinal: 1 for the first accepted (tcp_info) */
    uint8_t zombie;             /* closed, but the kernel still holds its memory */
    uint8_t stalled;            /* stall_ms passed: what is unsent is discarded, counted */
};

struct qsl_gwc_loop;

/* What only a mode knows: how a connection's bytes move on, and how it lets go. */
struct qsl_gwc_ops {
    size_t conn_size;           /* the mode's per-connection struct, a qsl_gwc_conn first */
    /* the connection is closing: stop watching it (and, where the kernel holds its
     * buffers, keep them: set zombie until they come back) */
    void (*closing)(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k);
    /* write what is pending, feed the session what room allows, end it when done */
    void (*progress)(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k);
    /* stalled with a send in flight: 1 when its completion will say what left (NULL: none) */
    int (*send_cancelled)(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k);
};

/* Where connections live: each in one slot (the mode's struct, then out_bytes, then
 * QSL_GWC_IN_CAP). With the engine's huge_pages the slots are carved from 2 MiB slabs
 * advised for huge pages, as the order pool's are (docs/engine.md#storage): every system
 * call empties the TLB, and a read touches its connection's struct and both buffers. A
 * freed slot is reused; the slabs stay until the loop ends. Without, each is malloc'd. */
struct qsl_gwc_slots {
    size_t size;                /* bytes a slot, a multiple of 64 */
    struct qsl_hugemem_slabs slabs;
    void *free;                 /* freed slots, linked through their first bytes */
    int huge;
};

struct qsl_gwc_loop {
    int lfd, reserve;
    const struct qsl_gateway_config *c;
    struct qsl_gateway_stats *st;
    struct qsl_engine *e;
    const struct qsl_gwc_ops *ops;
    void *mode;                 /* the mode's own loop state */
    struct qsl_gwc_conn *open;  /* open connections, newest first */
    struct qsl_gwc_conn *closed;        /* closed, to be freed once nothing refers to them */
    unsigned zombies;           /* closed ones the kernel still holds */
    unsigned timed;             /* connections with a deadline */
    int bounded;                /* idle_ms or stall_ms: activity times are kept */
    uint64_t next_sample;       /* tcp_info_ms: when the open connections are sampled next */
    struct qsl_gwc_slots slots;
};

/* A mode: whether it runs here, its server loop (qsl_gateway_run's contract), and the
 * idle bound it takes when none is given (QSL_GATEWAY_IDLE_DEFAULT; 0: never). */
struct qsl_gateway_backend {
    int (*available)(char *why, size_t len);
    int (*run)(int lfd, struct qsl_engine *e, const struct qsl_gateway_config *c,
               struct qsl_gateway_stats *st, qsl_stop_flag *stop);
    uint32_t default_idle_ms;
};

/* available() of a mode that runs wherever qsl runs. */
int qsl_gwc_always_available(char *why, size_t len);
extern const struct qsl_gateway_backend qsl_gateway_epoll_backend, qsl_gateway_blocking_backend,
    qsl_gateway_uring_backend;

/* The reply stream (every mode) */
uint64_t qsl_gwc_replies_unsent(const uint8_t *b, size_t head, size_t off, size_t len);
void qsl_gwc_account(struct qsl_gateway_stats *st, const struct qsl_session *s);
int qsl_gwc_discard_input(int fd);

/* The connection steps (epoll, io_uring) */
void qsl_gwc_loop_init(struct qsl_gwc_loop *l, int lfd, const struct qsl_gateway_config *c,
                       struct qsl_gateway_stats *st, struct qsl_engine *e,
                       const struct qsl_gwc_ops *ops, void *mode);
void qsl_gwc_set_deadline(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k, uint64_t at);
void qsl_gwc_discard(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k);
void qsl_gwc_close(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k);
/* A connection's TCP_INFO as it closes (every mode): summed into st->tcp and handed to the
 * config's tcp_info, conn its ordinal. */
void qsl_gwc_tcpinfo(const struct qsl_gateway_config *c, struct qsl_gateway_stats *st, int fd,
                     unsigned conn);
void qsl_gwc_free_closed(struct qsl_gwc_loop *l);
/* tcp_info_ms: every open connection's TCP_INFO, when due. */
void qsl_gwc_sample(struct qsl_gwc_loop *l);
/* How long a mode may wait for events: its sweep period, or less to the next sample. */
int qsl_gwc_wait_ms(const struct qsl_gwc_loop *l);
void qsl_gwc_touch(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k);
void qsl_gwc_timer(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k);
int qsl_gwc_flush(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k);
int qsl_gwc_may_read(const struct qsl_gwc_loop *l, const struct qsl_gwc_conn *k);
void qsl_gwc_feed(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k);
int qsl_gwc_settle(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k, int input_done);
void qsl_gwc_sweep(struct qsl_gwc_loop *l);
int qsl_gwc_shed_one(struct qsl_gwc_loop *l);
struct qsl_gwc_conn *qsl_gwc_open(struct qsl_gwc_loop *l, int fd);
void qsl_gwc_unopen(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k);
void qsl_gwc_count(struct qsl_gwc_loop *l, struct qsl_gwc_conn *k);
void qsl_gwc_drain_and_close(struct qsl_gwc_loop *l);
void qsl_gwc_loop_free(struct qsl_gwc_loop *l);

#endif
