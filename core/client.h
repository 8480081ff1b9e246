/*
 * client.h - the load driver: N connections to a gateway, pipelined
 * requests, every reply verified, round trips in a histogram.
 *
 * Patterns:
 *   persistent  N connections, each keeping up to `depth` requests in flight
 *               (closed loop), or sending on a schedule (open loop, `rate`):
 *               then latency runs from each request's scheduled time, not its
 *               actual send, so a stalled server cannot hide its stall
 *               (coordinated omission).
 *   short       the original's: connect, NewOrder + Heartbeat, read the
 *               replies, close - sequentially; one round trip per connection.
 *   echo        raw bytes: `echo_request` out, `echo_reply` back (a baseline
 *               against a trivial TCP server, not the protocol).
 * Every reply is checked against the request it answers: a wrong type, a
 * wrong id, a Fill for an order that is not the taker, or silence longer than
 * the timeout is an error that ends the run - never a statistic.
 */
#ifndef QSL_CLIENT_H
#define QSL_CLIENT_H

#include <stdint.h>
#include <sys/socket.h>

#include "hist.h"
#include "sockopt.h"
#include "stop.h"
#include "tcpinfo.h"

enum qsl_load_pattern { QSL_LOAD_PERSISTENT, QSL_LOAD_SHORT, QSL_LOAD_ECHO };

struct qsl_load_config {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int pattern;
    unsigned connections;
    unsigned depth;             /* requests in flight per connection */
    uint64_t requests;          /* in all; 0 = run for duration_ms */
    unsigned duration_ms;
    unsigned warmup_ms;         /* replies completing before this are not recorded */
    double rate;                /* requests/s in all; 0 = closed loop */
    unsigned mix_rest, mix_cross, mix_cancel, mix_heartbeat;    /* percent, sum 100 */
    uint32_t symbols;
    uint64_t seed;
    unsigned echo_request, echo_reply;
    unsigned timeout_ms;        /* no reply, or no connection, for this long: error */
    int split_writes;           /* each request in two writes: header, then body */
    /* set on every connection after qsl's TCP_NODELAY=1 (NULL: none) */
    const struct qsl_sockopt_list *conn_opts;
    /* Each connection's TCP_INFO as it closes (closing = 1), and with tcp_info_ms every
     * that many ms while it is open (persistent, echo); when_ns: since the first connect.
     * NULL: only the sums in qsl_load_stats.tcp. */
    void (*tcp_info)(void *ctx, unsigned conn, uint64_t when_ns, int closing,
                     const struct qsl_tcpinfo *t);
    void *tcp_info_ctx;
    unsigned tcp_info_ms;
};

/*
 * What is counted. A round trip is what the histogram times: one request
 * (persistent, echo), or one connection's NewOrder + Heartbeat (short). Every
 * protocol frame sent is answered by exactly one Ack, Reject or HeartbeatAck
 * (Fills come on top), so a run that ends without error and without a stop has
 * acks + rejects + heartbeat_acks == frames_sent. frames_sent includes the
 * final Heartbeats: one per connection in persistent mode (its reply proves
 * every Fill before it has arrived), the pair's second frame in short mode.
 */
struct qsl_load_stats {
    uint64_t sent, completed, recorded;     /* round trips started, answered, in the histogram */
    uint64_t frames_sent, final_heartbeats; /* protocol frames; 0 in echo */
    uint64_t acks, rejects, fills, heartbeat_acks;
    uint64_t connects;
    uint64_t errors;
    char error[200];            /* the first error, for the report */
    uint64_t connect_start_ns;  /* the first connect started */
    uint64_t start_ns, measure_ns, end_ns;  /* the first connection up, end of warm-up, end */
    uint64_t connected_ns;      /* the last connection up (persistent, echo) */
    struct qsl_hist hist;       /* round-trip ns of recorded replies */
    struct qsl_tcpinfo_sum tcp; /* every connection's TCP_INFO, read as it closes */
};

void qsl_load_defaults(struct qsl_load_config *c);
/* Parse "127.0.0.1" / "::1" and a port into c->addr. -EINVAL if not numeric. */
int qsl_load_target(struct qsl_load_config *c, const char *host, uint16_t port);
/* 0, or -errno for a set-up failure; protocol errors are in st->errors. */
int qsl_load_run(const struct qsl_load_config *c, struct qsl_load_stats *st, qsl_stop_flag *stop);

#endif
