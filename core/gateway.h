/*
 * gateway.h - the TCP order gateway around core/session.
 *
 * epoll mode: one event loop, non-blocking accept4, a session and a bounded
 * output buffer per connection, writes flushed on EPOLLOUT, many clients at
 * once. io_uring mode: the same connections and rules, with multishot accept,
 * one receive per connection into a provided-buffer ring and one send per
 * connection in flight, all submitted in one io_uring_enter per round.
 * blocking mode: the original's one connection at a time, kept for
 * side-by-side comparison. All three survive what clients and the kernel throw at
 * a server: EINTR, ECONNABORTED, EMFILE/ENFILE (the pending connection is
 * accepted and closed with a reserved descriptor, and serving goes on),
 * peers that vanish mid-frame or mid-write (no SIGPIPE: MSG_NOSIGNAL),
 * malformed frames (that connection closes), and a connection cap (excess
 * connections are accepted and closed at once, counted as refused). A
 * connection's memory is taken when it is accepted and given back when it
 * closes: max_conns is a bound, not an allocation.
 */
#ifndef QSL_GATEWAY_H
#define QSL_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "sockopt.h"
#include "stop.h"
#include "tcpinfo.h"

#define QSL_GATEWAY_IDLE_DEFAULT UINT32_MAX   /* idle_ms: the mode's default */
#define QSL_GATEWAY_BLOCKING_IDLE_MS 5000u    /* blocking mode: one idle client holds everyone */

/*
 * The modes, listed once: X(ENUM, file, name, help). The enum, the names the gateway
 * role takes (qsl_gateway_mode_names), their help, the backend each runs
 * (gateway_FILE.c's qsl_gateway_FILE_backend) and the tests' loops all derive from it.
 */
#define QSL_GATEWAY_MODES(X)                                                                \
    X(EPOLL, epoll, "epoll", "one event loop, many connections")                           \
    X(BLOCKING, blocking, "blocking", "one connection at a time: the original's server")   \
    X(IO_URING, uring, "io_uring", "epoll's rules, bytes moved by io_uring completions")

enum qsl_gateway_mode {
#define QSL_GATEWAY_ENUM(e, file, name, help) QSL_GATEWAY_##e,
    QSL_GATEWAY_MODES(QSL_GATEWAY_ENUM)
#undef QSL_GATEWAY_ENUM
    QSL_GATEWAY_MODE_COUNT
};

/* The modes' names and help, in enum order, NULL-terminated. */
extern const char *const qsl_gateway_mode_names[];
extern const char *const qsl_gateway_mode_helps[];

struct qsl_gateway_config {
    enum qsl_gateway_mode mode;
    unsigned max_conns;         /* epoll: connections served at once */
    size_t out_bytes;           /* per-connection output bound */
    /* a connection that owes nothing (every reply sent, no request waiting) and
     * sent no complete request for this long is ended (0: never);
     * QSL_GATEWAY_IDLE_DEFAULT: 5 s blocking, never epoll. A connection that owes
     * replies is never idle. */
    uint32_t idle_ms;
    /* a connection that owes replies and whose peer took none of their bytes for
     * this long is ended anyway, and the replies it could not deliver are counted
     * in replies_discarded (0: never, the default: a client that reads slowly
     * gets every reply) */
    uint32_t stall_ms;
    /* after the server ends a connection (shutdown for writing), how long its
     * input is read and dropped waiting for the peer's close, so no RST
     * discards replies the peer has not read */
    unsigned linger_ms;
    /* set on every accepted connection after the gateway's own TCP_NODELAY=1 (NULL: none) */
    const struct qsl_sockopt_list *conn_opts;
    struct qsl_engine_config engine;
    /* called once everything is allocated and the loop is about to serve */
    void (*on_ready)(void *ctx);
    void *ready_ctx;
    /* Each accepted connection's TCP_INFO as it closes (closing = 1) and, with
     * tcp_info_ms, every that many ms while it is open (closing = 0; the blocking mode
     * samples between reads): conn its ordinal (1: the first accepted), when_ns since the
     * run began. NULL: only the sums in qsl_gateway_stats.tcp. */
    void (*tcp_info)(void *ctx, unsigned conn, uint64_t when_ns, int closing,
                     const struct qsl_tcpinfo *t);
    void *tcp_info_ctx;
    unsigned tcp_info_ms;
};

struct qsl_gateway_stats {
    uint64_t connections, refused, emfile, active, active_max;
    uint64_t closed_by_peer, closed_malformed, closed_unexpected, closed_output_limit,
        closed_error, closed_at_stop, closed_idle, closed_stalled;
    /* replies (whole or partly unsent frames) a connection owed when it was closed:
     * after stall_ms, at a stop that outlasted the drain, or on a socket error */
    uint64_t replies_discarded;
    uint64_t frames_in, frames_out, bytes_out;
    uint64_t bytes_in;          /* read from clients while serving; updated as it happens */
    uint64_t out_queued_max;    /* epoll: most reply bytes one connection held in user space */
    uint64_t in_held_max;       /* epoll: most request bytes one connection held unanswered */
    uint64_t new_orders, cancels, heartbeats, fills;
    /* io_uring: io_uring_enter calls and completions reaped (its work is not syscalls) */
    uint64_t ring_enters, ring_completions;
    uint64_t rejects[QSL_REJECT_COUNT];
    struct qsl_tcpinfo_sum tcp;     /* every accepted connection's TCP_INFO as it closed */
    uint64_t started_ns;            /* qsl_clock_ns() as the run began (tcp_info's when) */
};

void qsl_gateway_defaults(struct qsl_gateway_config *c);

/* 0 when the mode can serve here; else -errno and why (-ENOSYS: built without
 * liburing; the kernel's refusal otherwise: kernel.io_uring_disabled, seccomp, too old). */
int qsl_gateway_mode_available(enum qsl_gateway_mode mode, char *why, size_t len);

/* The idle bound c applies, its mode's default resolved (0: never). */
uint32_t qsl_gateway_idle_ms(const struct qsl_gateway_config *c);

/*
 * Serve until *stop becomes non-zero (a signal handler sets it; blocking
 * calls are interrupted). Then: stop accepting, flush what is pending (up to
 * a second), close everything. The listening socket stays the caller's.
 * 0, or -errno for a set-up failure.
 */
int qsl_gateway_run(int listen_fd, const struct qsl_gateway_config *c,
                    struct qsl_gateway_stats *st, qsl_stop_flag *stop);

#endif
