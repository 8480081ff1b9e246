/*
 * gateway.c - `qsl-run gateway`, `qsl-run load` and `qsl-run echo`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "clock.h"
#include "echo.h"
#include "gateway.h"
#include "net.h"
#include "oneshot.h"
#include "role.h"
#include "sockopt.h"
#include "wire.h"

/* TCP_INFO of every connection as it closed, summed (the gateway's and the load's). */
struct tcp_fields {
    uint64_t connections, unread, retrans, lost, rtt_p50_us, rtt_max_us, min_rtt_us;
    uint64_t rttvar_max_us, cwnd_min, delivery_rate_max, busy_us, rwnd_limited_us;
    uint64_t sndbuf_limited_us, segs_out, segs_in, notsent_max;
};

static struct tcp_fields tcp_fields_of(const struct qsl_tcpinfo_sum *t)
{
    return (struct tcp_fields){
        .connections = t->connections, .unread = t->unread, .retrans = t->total_retrans,
        .lost = t->lost, .rtt_p50_us = qsl_hist_percentile(&t->rtt, 50) / 1000,
        .rtt_max_us = t->rtt.max / 1000, .min_rtt_us = t->min_rtt_us,
        .rttvar_max_us = t->rttvar_max_us, .cwnd_min = t->cwnd_min,
        .delivery_rate_max = t->delivery_rate_max, .busy_us = t->busy_us,
        .rwnd_limited_us = t->rwnd_limited_us, .sndbuf_limited_us = t->sndbuf_limited_us,
        .segs_out = t->segs_out, .segs_in = t->segs_in, .notsent_max = t->notsent_max,
    };
}

#define TCP_F(S, f, unit, help) QSL_ROLE_F_AT(S, "tcp_" #f, tcp.f, unit, help)
#define TCP_FIELDS(S, whose) \
    TCP_F(S, connections, "connections", "TCP_INFO read as " whose " closed"), \
    TCP_F(S, unread, "connections", whose ": closed without a readable TCP_INFO"), \
    TCP_F(S, retrans, "segments", "retransmitted, summed over " whose " (tcpi_total_retrans)"), \
    TCP_F(S, lost, "segments", "thought lost at close, summed (tcpi_lost)"), \
    TCP_F(S, rtt_p50_us, "us", "TCP's smoothed rtt, median over " whose " (tcpi_rtt)"), \
    TCP_F(S, rtt_max_us, "us", "TCP's smoothed rtt, the largest of " whose), \
    TCP_F(S, min_rtt_us, "us", "the least rtt any of " whose " saw (tcpi_min_rtt)"), \
    TCP_F(S, rttvar_max_us, "us", "the largest rtt variation (tcpi_rttvar)"), \
    TCP_F(S, cwnd_min, "segments", "the smallest congestion window at close"), \
    TCP_F(S, delivery_rate_max, "bytes/s", "the largest delivery rate sample at close"), \
    TCP_F(S, busy_us, "us", "time sending data, summed (tcpi_busy_time)"), \
    TCP_F(S, rwnd_limited_us, "us", "of it held by the peer's receive window, summed"), \
    TCP_F(S, sndbuf_limited_us, "us", "of it held by the send buffer, summed"), \
    TCP_F(S, segs_out, "segments", "sent, summed"), \
    TCP_F(S, segs_in, "segments", "received, summed"), \
    TCP_F(S, notsent_max, "bytes", "the most written and not yet sent at close")

/* tcp_info=: one line per sample, key=value, the names qsl_tcpinfo's. */
static void write_tcpinfo(void *ctx, unsigned conn, uint64_t when_ns, int closing,
                          const struct qsl_tcpinfo *t)
{
    fprintf(ctx, "conn=%u t_ms=%.3f closing=%d rtt_us=%" PRIu32 " rttvar_us=%" PRIu32
            " min_rtt_us=%" PRIu32 " snd_cwnd=%" PRIu32 " retransmits=%" PRIu32
            " total_retrans=%" PRIu32 " lost=%" PRIu32 " delivery_rate=%" PRIu64
            " busy_us=%" PRIu64 " rwnd_limited_us=%" PRIu64 " sndbuf_limited_us=%" PRIu64
            " segs_out=%" PRIu32 " segs_in=%" PRIu32 " notsent_bytes=%" PRIu32 "\n",
            conn, (double)when_ns / 1e6, closing, t->rtt_us, t->rttvar_us,
            t->min_rtt_us == UINT32_MAX ? 0 : t->min_rtt_us, t->snd_cwnd, t->retransmits,
            t->total_retrans, t->lost, t->delivery_rate, t->busy_us, t->rwnd_limited_us,
            t->sndbuf_limited_us, t->segs_out, t->segs_in, t->notsent_bytes);
}

/* ------------------------------------------------------------------ gateway */

struct gw_args {
    const char *bind, *sockopt, *tcp_info;
    uint16_t port;
    int mode, huge_pages;
    uint32_t tcp_info_ms, max_conns, backlog, symbols, max_orders, max_quantity, idle_ms, stall_ms;
    uint64_t out_bytes, max_notional;
};

#define G struct gw_args
static const struct qsl_role_param gw_params[] = {
    QSL_ROLE_ADDR(G, bind, "127.0.0.1", "address to listen on (numeric; never a silent wildcard)"),
    QSL_ROLE_U(G, port, 0, 0, 65535, "", "port; 0 = the kernel picks (reported in the ready line)"),
    QSL_ROLE_WORDS(G, mode, 0, qsl_gateway_mode_names, qsl_gateway_mode_helps, "the gateway's mode"),
    QSL_ROLE_U(G, max_conns, 1024, 1, 1000000, "connections", "epoll: connections at once; more are refused"),
    QSL_ROLE_U(G, out_bytes, 65536, 128, 1u << 30, "bytes", "output bound per connection"),
    QSL_ROLE_U(G, backlog, 1024, 1, 65535, "connections", "listen backlog"),
    QSL_ROLE_U(G, symbols, 2, 1, 1u << 20, "", "symbols 0..N-1 (the original's gateway: 2)"),
    QSL_ROLE_ENGINE_MEMORY(G),
    QSL_ROLE_U(G, max_quantity, 1000000, 1, UINT32_MAX, "", "risk: largest order quantity"),
    QSL_ROLE_U(G, max_notional, 1000000000ull, 1, INT64_MAX, "", "risk: largest price x quantity"),
    QSL_ROLE_U(G, idle_ms, QSL_GATEWAY_IDLE_DEFAULT, 0, QSL_GATEWAY_IDLE_DEFAULT, "ms",
               "end a connection that owes no reply and sent no whole request for this long; "
               "0 = never, as in the core; 4294967295 (the default) = the mode's own: "
               "blocking 5000, epoll and io_uring never"),
    QSL_ROLE_U(G, stall_ms, 0, 0, 86400000, "ms",
               "end a connection that owes replies and took none of their bytes for this long, "
               "counting the replies it could not deliver (replies_discarded); 0 = never"),
    QSL_ROLE_STR(G, tcp_info, "", "a file to write every accepted connection's TCP_INFO to, "
                 "a line each as it closes (and every tcp_info_ms while open): conn (1: the "
                 "first accepted), t_ms (since it began serving), closing, rtt_us, rttvar_us, "
                 "... as the load's (empty: none)"),
    QSL_ROLE_U(G, tcp_info_ms, 0, 0, 600000, "ms", "with tcp_info: sample every open "
               "connection this often (blocking: between reads); 0 = only as each closes"),
    QSL_ROLE_SOCKOPT(G),
    QSL_ROLE_END,
};
#undef G

/* The ready line, as printed. */
struct gw_ready_line {
    uint64_t port;
    const char *mode;
    uint64_t max_conns, out_bytes, idle_ms, stall_ms;
    const char *sockopt;
};

#define R struct gw_ready_line
static const struct qsl_role_field gw_ready[] = {
    QSL_ROLE_F(R, port, "", "the port it listens on"),
    QSL_ROLE_F(R, mode, "", "epoll, io_uring or blocking"),
    QSL_ROLE_F(R, max_conns, "connections", "connections served at once"),
    QSL_ROLE_F(R, out_bytes, "bytes", "output bound per connection"),
    QSL_ROLE_F(R, idle_ms, "ms", "idle connections end after this (0: never)"),
    QSL_ROLE_F(R, stall_ms, "ms", "stalled connections end after this (0: never)"),
    QSL_ROLE_SOCKOPT_FIELD(R),
    QSL_ROLE_FIELDS_END,
};
#undef R

/* The result line: the gateway's counters, and what is summed from them. */
struct gw_result_line {
    struct qsl_gateway_stats st;
    uint64_t closed, rejects;
    struct tcp_fields tcp;
};

#define G struct gw_result_line
#define STAT(f, unit, help) QSL_ROLE_F_AT(G, #f, st.f, unit, help)
#define REJECT(name, r, wire) \
    QSL_ROLE_F_AT(G, "reject_" name, st.rejects[QSL_REJECT_##r], "requests", "Rejects: " wire)
static const struct qsl_role_field gw_result[] = {
    STAT(connections, "connections", "accepted and served"),
    STAT(refused, "connections", "accepted and closed at once: over max_conns, or shed"),
    STAT(emfile, "events", "accept4 reported EMFILE/ENFILE"),
    STAT(active_max, "connections", "most served at once"),
    QSL_ROLE_F(G, closed, "connections",
               "ended, for any reason: the sum of the eight closed_* below"),
    STAT(closed_by_peer, "connections", "ended by the client"),
    STAT(closed_malformed, "connections", "ended by a malformed frame"),
    STAT(closed_unexpected, "connections", "ended by a type a client may not send"),
    STAT(closed_output_limit, "connections", "ended by a response larger than the output bound"),
    STAT(closed_error, "connections", "ended by a socket error"),
    STAT(closed_at_stop, "connections", "still open at the stop"),
    STAT(closed_idle, "connections", "ended after idle_ms, owing nothing"),
    STAT(closed_stalled, "connections", "ended after stall_ms: owed replies its peer did not take"),
    STAT(replies_discarded, "frames", "replies owed but never sent, whole or in part: "
         "at stall_ms, at a stop that outlasted the drain, or on a socket error"),
    STAT(ring_enters, "calls", "io_uring mode: io_uring_enter calls (0 in the others)"),
    STAT(ring_completions, "completions", "io_uring mode: completions reaped"),
    STAT(frames_in, "frames", "requests decoded"),
    STAT(frames_out, "frames", "replies written"),
    STAT(bytes_in, "bytes", "read from clients"),
    STAT(bytes_out, "bytes", "written to clients"),
    STAT(new_orders, "requests", "NewOrders applied or rejected"),
    STAT(cancels, "requests", "CancelOrders"),
    STAT(heartbeats, "requests", "Heartbeats"),
    STAT(fills, "fills", "Fills sent"),
    QSL_ROLE_F(G, rejects, "requests", "Rejects sent, all reasons"),
    REJECT("unknown_symbol", UNKNOWN_SYMBOL, "UnknownSymbol"),
    REJECT("invalid_price", INVALID_PRICE, "InvalidPrice"),
    REJECT("invalid_quantity", INVALID_QUANTITY, "InvalidQuantity"),
    REJECT("invalid_side", INVALID_SIDE, "InvalidSide"),
    REJECT("max_quantity_exceeded", MAX_QUANTITY_EXCEEDED, "MaxQuantityExceeded"),
    REJECT("max_notional_exceeded", MAX_NOTIONAL_EXCEEDED, "MaxNotionalExceeded"),
    REJECT("duplicate_order_id", DUPLICATE_ORDER_ID, "DuplicateOrderId"),
    REJECT("unknown_order", UNKNOWN_ORDER, "UnknownOrder"),
    REJECT("storage_exhausted", STORAGE_EXHAUSTED, "StorageExhausted"),
    TCP_FIELDS(G, "its accepted connections"),
    QSL_ROLE_FIELDS_END,
};
#undef REJECT
#undef STAT
#undef G

struct ready_ctx {
    struct gw_ready_line line;
    int failed;
};

/* Printed from inside the gateway, once it serves: a parent counting its
 * descriptors from here on sees the server as it will stay. */
static void print_ready(void *ctx)
{
    struct ready_ctx *r = ctx;
    r->failed = qsl_role_print("ready", gw_ready, &r->line, sizeof r->line) != 0;
}

static int run_gateway(const void *args)
{
    const struct gw_args *a = args;
    static qsl_stop_flag stop;
    char why[200];
    if (qsl_gateway_mode_available((enum qsl_gateway_mode)a->mode, why, sizeof why) != 0) {
        fprintf(stderr, "qsl-run gateway: mode=%s is not available here: %s\n", qsl_gateway_mode_names[a->mode], why);
        return QSL_ROLE_EXIT_SKIPPED;
    }
    uint16_t port = a->port;
    int lfd = qsl_net_tcp_server(a->bind, &port, (int)a->backlog);
    if (lfd < 0) {
        fprintf(stderr, "qsl-run gateway: listen on %s port %u: %s\n", a->bind, (unsigned)a->port,
                strerror(-lfd));
        return 1;
    }
    struct qsl_sockopt_list opts;
    char granted[256];
    /* checked on the listener (buffer sizes carry over to accepted connections) */
    if (qsl_role_sockopts("gateway", a->sockopt, 1, lfd, &opts, granted, sizeof granted) != 0) {
        close(lfd);
        return 1;
    }
    struct qsl_gateway_config c;
    qsl_gateway_defaults(&c);
    c.conn_opts = &opts;
    c.mode = (enum qsl_gateway_mode)a->mode;
    c.max_conns = a->max_conns;
    c.out_bytes = (size_t)a->out_bytes;
    c.engine.symbols = a->symbols;
    c.engine.max_orders = a->max_orders;
    c.engine.huge_pages = (uint8_t)a->huge_pages;
    c.engine.risk.max_quantity = a->max_quantity;
    c.engine.risk.max_notional = a->max_notional;
    c.idle_ms = a->idle_ms;     /* the same meaning as the core's: 0 never, the sentinel the mode's */
    c.stall_ms = a->stall_ms;
    struct ready_ctx rc_ready = {{port, qsl_gateway_mode_names[c.mode], c.max_conns, c.out_bytes,
                                  qsl_gateway_idle_ms(&c), c.stall_ms, granted}, 0};
    c.on_ready = print_ready;
    c.ready_ctx = &rc_ready;
    FILE *tcp_log = NULL;
    if (a->tcp_info[0] && !(tcp_log = fopen(a->tcp_info, "w"))) {
        fprintf(stderr, "qsl-run gateway: tcp_info=%s: %s\n", a->tcp_info, strerror(errno));
        close(lfd);
        return 1;
    }
    if (!tcp_log && a->tcp_info_ms) {
        fprintf(stderr, "qsl-run gateway: tcp_info_ms= needs tcp_info= (the file to write to)\n");
        close(lfd);
        return 1;
    }
    c.tcp_info = tcp_log ? write_tcpinfo : NULL;
    c.tcp_info_ctx = tcp_log;
    c.tcp_info_ms = a->tcp_info_ms;
    qsl_role_stop_on_signals(&stop);
    struct qsl_gateway_stats st;
    int rc = qsl_gateway_run(lfd, &c, &st, &stop);
    close(lfd);
    if (tcp_log && fclose(tcp_log) != 0 && rc == 0) {
        fprintf(stderr, "qsl-run gateway: tcp_info=%s: %s\n", a->tcp_info, strerror(errno));
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "qsl-run gateway: %s\n", strerror(-rc));
        return 1;
    }
    struct gw_result_line res = {.st = st, .tcp = tcp_fields_of(&st.tcp)};
    for (int r = 0; r < QSL_REJECT_COUNT; r++)
        res.rejects += st.rejects[r];
    res.closed = st.closed_by_peer + st.closed_malformed + st.closed_unexpected +
                 st.closed_output_limit + st.closed_error + st.closed_at_stop + st.closed_idle +
                 st.closed_stalled;
    return qsl_role_print("result", gw_result, &res, sizeof res) == 0 && !rc_ready.failed ? 0 : 1;
}

const struct qsl_role qsl_role_gateway = {
    "gateway", "the TCP order gateway (epoll, or one connection at a time); SIGTERM ends it",
    "SO_REUSEADDR on the listener; TCP_NODELAY=1 on every accepted connection (sockopt= comes after, so nodelay:0 turns it off)",
    gw_params, sizeof(struct gw_args), gw_ready, gw_result, sizeof(struct gw_ready_line),
    sizeof(struct gw_result_line), run_gateway,
};

/* ------------------------------------------------------------------ load */

static const char *const patterns[] = {"persistent", "short", "echo", NULL};

struct load_args {
    const char *host, *sockopt, *tcp_info;
    uint32_t tcp_info_ms;
    int split;
    uint16_t port;
    int pattern;
    uint32_t connections, depth, duration_ms, warmup_ms, rest, cross, cancel, heartbeat;
    uint32_t symbols, timeout_ms, echo_request, echo_reply;
    uint64_t requests, rate, seed;
};

#define L struct load_args
static const struct qsl_role_param load_params[] = {
    QSL_ROLE_ADDR(L, host, "127.0.0.1", "gateway address"),
    QSL_ROLE_U(L, port, 0, 1, 65535, "", "gateway port (required: the gateway's ready line has it)"),
    QSL_ROLE_WORD(L, pattern, 0, patterns,
                  "persistent connections, the original's short ones, or raw echo"),
    QSL_ROLE_U(L, connections, 1, 1, 65535, "connections", "connections (short: sequential, so 1)"),
    QSL_ROLE_U(L, depth, 1, 1, 4096, "requests", "requests in flight per connection"),
    QSL_ROLE_U(L, requests, 10000, 1, UINT64_MAX, "requests", "requests in all (unless duration_ms is given)"),
    QSL_ROLE_U(L, duration_ms, 0, 0, 3600000, "ms", "run for this long instead of a request count"),
    QSL_ROLE_U(L, warmup_ms, 0, 0, 3600000, "ms", "replies before this are not recorded"),
    QSL_ROLE_U(L, rate, 0, 0, 100000000, "requests/s", "requests/s in all (open loop); 0 = closed loop"),
    QSL_ROLE_U(L, rest, 40, 0, 100, "%", "resting NewOrders"),
    QSL_ROLE_U(L, cross, 20, 0, 100, "%", "crossing IOC NewOrders"),
    QSL_ROLE_U(L, cancel, 30, 0, 100, "%", "cancels of own resting orders"),
    QSL_ROLE_U(L, heartbeat, 10, 0, 100, "%", "heartbeats"),
    QSL_ROLE_U(L, symbols, 2, 1, 1u << 20, "", "symbols to spread orders over (a default gateway has 2)"),
    QSL_ROLE_U(L, seed, 1, 0, UINT64_MAX, "", "request mix seed"),
    QSL_ROLE_U(L, timeout_ms, 5000, 1, 600000, "ms", "no reply for this long is an error"),
    QSL_ROLE_U(L, echo_request, 43, 1, 4096, "bytes", "echo: bytes per request"),
    QSL_ROLE_U(L, echo_reply, 32, 1, 4096, "bytes", "echo: bytes per reply"),
    QSL_ROLE_U(L, split, 0, 0, 1, "", "1: each request in two writes, header then body " \
               "(what Nagle's algorithm and delayed ACKs act on)"),
    QSL_ROLE_STR(L, tcp_info, "", "a file to write every connection's TCP_INFO to, a line "
                 "each as it closes (and every tcp_info_ms while open): conn, t_ms, closing, "
                 "rtt_us, rttvar_us, ... (empty: none)"),
    QSL_ROLE_U(L, tcp_info_ms, 0, 0, 600000, "ms", "with tcp_info: sample every open "
               "connection this often (persistent, echo); 0 = only as each closes"),
    QSL_ROLE_SOCKOPT(L),
    QSL_ROLE_END,
};
#undef L

struct load_ready_line {
    const char *pattern;
    uint64_t connections, depth;
    const char *sockopt;
};

#define R struct load_ready_line
static const struct qsl_role_field load_ready[] = {
    QSL_ROLE_F(R, pattern, "", "persistent, short or echo"),
    QSL_ROLE_F(R, connections, "connections", "connections"),
    QSL_ROLE_F(R, depth, "requests", "in flight per connection"),
    QSL_ROLE_SOCKOPT_FIELD(R),
    QSL_ROLE_FIELDS_END,
};
#undef R

struct load_result_line {
    uint64_t sent, completed, recorded, frames_sent, final_heartbeats;
    uint64_t acks, rejects, fills, heartbeat_acks, connects, errors;
    double connect_seconds, seconds, throughput;
    uint64_t min_ns, p50_ns, p90_ns, p99_ns, p999_ns, p9999_ns, max_ns;
    double mean_ns;
    uint64_t stopped;
    struct tcp_fields tcp;
};

#define L struct load_result_line
#define NS(f, h) QSL_ROLE_F(L, f, "ns", h)
static const struct qsl_role_field load_result[] = {
    QSL_ROLE_F(L, sent, "round trips", "round trips started: one request (persistent, echo), or "
               "one connection's NewOrder + Heartbeat (short)"),
    QSL_ROLE_F(L, completed, "round trips", "round trips answered and verified"),
    QSL_ROLE_F(L, recorded, "round trips", "completed after the warm-up: in the histogram"),
    QSL_ROLE_F(L, frames_sent, "frames", "protocol frames sent, final_heartbeats included (0 in "
               "echo); without errors or a stop = acks + rejects + heartbeat_acks"),
    QSL_ROLE_F(L, final_heartbeats, "frames", "Heartbeats that end a connection's run "
               "(persistent: its reply proves every Fill arrived) or a round trip (short); not in sent"),
    QSL_ROLE_F(L, acks, "replies", "Acks"),
    QSL_ROLE_F(L, rejects, "replies", "Rejects"),
    QSL_ROLE_F(L, fills, "replies", "Fills (on top of the Ack of the order that traded)"),
    QSL_ROLE_F(L, heartbeat_acks, "replies", "HeartbeatAcks, final_heartbeats' included"),
    QSL_ROLE_F(L, connects, "connections", "connections made"),
    QSL_ROLE_F(L, errors, "", "wrong or missing replies (the first is on stderr)"),
    QSL_ROLE_F(L, connect_seconds, "s", "from the first connect to the last connection up "
               "(persistent, echo; short connects inside each round trip: 0); not in seconds"),
    QSL_ROLE_F(L, seconds, "s", "measured time: from the first connection up, after the "
               "warm-up, to the end"),
    QSL_ROLE_F(L, throughput, "round trips/s", "recorded over seconds"),
    NS(min_ns, "fastest round trip"),
    NS(p50_ns, "median round trip"),
    NS(p90_ns, "90th percentile"),
    NS(p99_ns, "99th percentile"),
    NS(p999_ns, "99.9th percentile"),
    NS(p9999_ns, "99.99th percentile"),
    NS(max_ns, "slowest round trip"),
    QSL_ROLE_F(L, mean_ns, "ns", "mean round trip"),
    QSL_ROLE_F(L, stopped, "", "1 when a signal cut the run short"),
    TCP_FIELDS(L, "its connections"),
    QSL_ROLE_FIELDS_END,
};
#undef NS
#undef L

static int run_load(const void *args)
{
    const struct load_args *a = args;
    static qsl_stop_flag stop;
    struct qsl_load_config c;
    qsl_load_defaults(&c);
    if (a->port == 0) {
        fprintf(stderr, "qsl-run load: port= is required (the gateway's ready line has it)\n");
        return 1;
    }
    if (qsl_load_target(&c, a->host, a->port) != 0) {
        fprintf(stderr, "qsl-run load: host=%s: not a numeric address\n", a->host);
        return 1;
    }
    c.pattern = a->pattern;
    c.connections = a->connections;
    c.depth = a->depth;
    c.duration_ms = a->duration_ms;
    c.requests = c.duration_ms ? 0 : a->requests;
    c.warmup_ms = a->warmup_ms;
    c.rate = (double)a->rate;
    c.mix_rest = a->rest;
    c.mix_cross = a->cross;
    c.mix_cancel = a->cancel;
    c.mix_heartbeat = a->heartbeat;
    c.symbols = a->symbols;
    c.seed = a->seed;
    c.timeout_ms = a->timeout_ms;
    c.echo_request = a->echo_request;
    c.echo_reply = a->echo_reply;
    c.split_writes = a->split;
    /* checked, and read back, on a socket like the ones the connections will have */
    struct qsl_sockopt_list opts;
    char granted[256];
    int probe = qsl_net_socket(c.addr.ss_family, SOCK_STREAM);
    if (probe < 0 || qsl_role_sockopts("load", a->sockopt, 1, probe, &opts, granted,
                                   sizeof granted) != 0) {
        if (probe >= 0)
            close(probe);
        return 1;
    }
    close(probe);
    c.conn_opts = &opts;
    if (c.pattern == QSL_LOAD_SHORT && c.connections != 1) {
        fprintf(stderr, "qsl-run load: pattern=short runs its connections one after another: connections=1\n");
        return 1;
    }
    FILE *tcp_log = NULL;
    if (a->tcp_info[0]) {
        if (!(tcp_log = fopen(a->tcp_info, "w"))) {
            fprintf(stderr, "qsl-run load: tcp_info=%s: %s\n", a->tcp_info, strerror(errno));
            return 1;
        }
        c.tcp_info = write_tcpinfo;
        c.tcp_info_ctx = tcp_log;
        c.tcp_info_ms = a->tcp_info_ms;
    } else if (a->tcp_info_ms) {
        fprintf(stderr, "qsl-run load: tcp_info_ms= needs tcp_info= (the file to write to)\n");
        return 1;
    }
    qsl_role_stop_on_signals(&stop);
    struct load_ready_line ready = {patterns[c.pattern], c.connections, c.depth, granted};
    if (qsl_role_print("ready", load_ready, &ready, sizeof ready) != 0)
        return 1;
    struct qsl_load_stats *st = malloc(sizeof *st);
    if (!st)
        return 1;
    int rc = qsl_load_run(&c, st, &stop);
    if (tcp_log && fclose(tcp_log) != 0 && rc == 0) {
        fprintf(stderr, "qsl-run load: tcp_info=%s: %s\n", a->tcp_info, strerror(errno));
        free(st);
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "qsl-run load: %s\n",
                rc == -EINVAL ? "invalid parameters (the mix must add up to 100)" : strerror(-rc));
        free(st);
        return 1;
    }
    uint64_t answered = st->acks + st->rejects + st->heartbeat_acks;
    if (!st->errors && !stop && answered != st->frames_sent) {
        st->errors++;           /* a count that does not reconcile is a bug, never a result */
        snprintf(st->error, sizeof st->error, "%" PRIu64 " frames sent but %" PRIu64
                 " answered (acks + rejects + heartbeat_acks)", st->frames_sent, answered);
    }
    if (st->errors)
        fprintf(stderr, "qsl-run load: %" PRIu64 " error(s); the first: %s\n", st->errors, st->error);
    uint64_t from = st->measure_ns > st->start_ns ? st->measure_ns : st->start_ns;
    double secs = st->end_ns > from ? (double)(st->end_ns - from) / 1e9 : 0;
    double connect_secs = c.pattern != QSL_LOAD_SHORT && st->connected_ns > st->connect_start_ns
                              ? (double)(st->connected_ns - st->connect_start_ns) / 1e9 : 0;
    const struct qsl_hist *h = &st->hist;
    struct load_result_line res = {
        .sent = st->sent, .completed = st->completed, .recorded = st->recorded,
        .frames_sent = st->frames_sent, .final_heartbeats = st->final_heartbeats,
        .acks = st->acks, .rejects = st->rejects, .fills = st->fills,
        .heartbeat_acks = st->heartbeat_acks, .connects = st->connects, .errors = st->errors,
        .connect_seconds = connect_secs, .seconds = secs,
        .throughput = secs > 0 ? (double)st->recorded / secs : 0,
        .min_ns = h->count ? h->min : 0, .p50_ns = qsl_hist_percentile(h, 50),
        .p90_ns = qsl_hist_percentile(h, 90), .p99_ns = qsl_hist_percentile(h, 99),
        .p999_ns = qsl_hist_percentile(h, 99.9), .p9999_ns = qsl_hist_percentile(h, 99.99),
        .max_ns = h->max, .mean_ns = qsl_hist_mean(h), .stopped = (uint64_t)stop,
        .tcp = tcp_fields_of(&st->tcp),
    };
    int bad = qsl_role_print("result", load_result, &res, sizeof res) != 0 || st->errors != 0 ||
              stop;
    free(st);
    return bad;
}

const struct qsl_role qsl_role_load = {
    "load", "drive a gateway: N connections, pipelined, every reply verified, latency histogram",
    "TCP_NODELAY=1 on every connection (sockopt= comes after); SO_RCVTIMEO/SO_SNDTIMEO of timeout_ms in pattern=short",
    load_params, sizeof(struct load_args), load_ready, load_result,
    sizeof(struct load_ready_line), sizeof(struct load_result_line), run_load,
};

/* ------------------------------------------------------------------ echo */

struct echo_args {
    const char *bind;
    uint16_t port;
    uint32_t request, reply, max_conns;
    int mode;
};

static const char *const echo_modes[] = {"blocking", "epoll", NULL};   /* qsl_echo_mode */

static const struct qsl_role_param echo_params[] = {
    QSL_ROLE_ADDR(struct echo_args, bind, "127.0.0.1", "address to listen on"),
    QSL_ROLE_U(struct echo_args, port, 0, 0, 65535, "", "port; 0 = the kernel picks"),
    QSL_ROLE_U(struct echo_args, request, 43, 1, 4096, "bytes", "bytes that make a request"),
    QSL_ROLE_U(struct echo_args, reply, 32, 1, 65536, "bytes", "bytes sent back per request"),
    QSL_ROLE_WORD(struct echo_args, mode, QSL_ECHO_BLOCKING, echo_modes,
                  "blocking: one connection at a time; epoll: many at once, one receive and "
                  "one send per ready connection per round, as the gateway's epoll mode"),
    QSL_ROLE_U(struct echo_args, max_conns, 1024, 1, 65536, "connections",
               "epoll: connections served at once (more are closed at accept)"),
    QSL_ROLE_END,
};

struct echo_ready_line {
    uint64_t port, request, reply;
    const char *mode;
};

#define R struct echo_ready_line
static const struct qsl_role_field echo_ready[] = {
    QSL_ROLE_F(R, port, "", "the port it listens on"),
    QSL_ROLE_F(R, request, "bytes", "bytes per request"),
    QSL_ROLE_F(R, reply, "bytes", "bytes per reply"),
    QSL_ROLE_F(R, mode, "", "blocking or epoll"),
    QSL_ROLE_FIELDS_END,
};
#undef R

#define E struct qsl_echo_stats
static const struct qsl_role_field echo_result[] = {
    QSL_ROLE_F(E, connections, "connections", "connections served"),
    QSL_ROLE_F(E, refused, "connections", "closed at accept: over max_conns"),
    QSL_ROLE_F(E, requests, "requests", "requests answered"),
    QSL_ROLE_F(E, bytes_in, "bytes", "read from clients"),
    QSL_ROLE_F(E, bytes_out, "bytes", "written to clients"),
    QSL_ROLE_FIELDS_END,
};
#undef E

static int run_echo(const void *args)
{
    const struct echo_args *a = args;
    static qsl_stop_flag stop;
    uint16_t port = a->port;
    int lfd = qsl_net_tcp_server(a->bind, &port, 128);
    if (lfd < 0) {
        fprintf(stderr, "qsl-run echo: listen: %s\n", strerror(-lfd));
        return 1;
    }
    struct qsl_echo_config c;
    qsl_echo_defaults(&c);
    c.mode = (enum qsl_echo_mode)a->mode;
    c.request = a->request;
    c.reply = a->reply;
    c.max_conns = a->max_conns;
    c.owed_max = a->reply > c.owed_max ? a->reply : c.owed_max;
    qsl_role_stop_on_signals(&stop);
    struct echo_ready_line ready = {port, c.request, c.reply, echo_modes[a->mode]};
    if (qsl_role_print("ready", echo_ready, &ready, sizeof ready) != 0)
        return 1;
    struct qsl_echo_stats st;
    int rc = qsl_echo_serve(lfd, &c, &st, &stop);
    close(lfd);
    if (rc != 0) {
        fprintf(stderr, "qsl-run echo: %s\n", strerror(-rc));
        return 1;
    }
    return qsl_role_print("result", echo_result, &st, sizeof st) == 0 ? 0 : 1;
}

const struct qsl_role qsl_role_echo = {
    "echo", "a TCP server with no protocol: `request` bytes in, `reply` bytes out (the kernel's floor)",
    "SO_REUSEADDR on the listener; TCP_NODELAY=1 on every accepted connection, as the gateway",
    echo_params, sizeof(struct echo_args), echo_ready, echo_result,
    sizeof(struct echo_ready_line), sizeof(struct qsl_echo_stats), run_echo,
};

/* ------------------------------------------------------------------ client */

/* Its exit when every request was answered and some were rejected: an outcome, not an
 * error (1), so a script can tell the two apart. */
#define CLIENT_EXIT_REJECTED 4

struct client_args {
    const char *host, *send;
    uint16_t port;
    uint32_t timeout_ms;
};

#define C struct client_args
static const struct qsl_role_param client_params[] = {
    QSL_ROLE_ADDR(C, host, "127.0.0.1", "the server's address (numeric)"),
    QSL_ROLE_U(C, port, 0, 1, 65535, "", "the server's port"),
    QSL_ROLE_STR(C, send, "new 1 0 buy 100 10; heartbeat 42", "requests, ';' between them: "
                 "new ID SYMBOL buy|sell PRICE QUANTITY [limit|market] [gtc|ioc]; cancel ID "
                 "SYMBOL; heartbeat TOKEN"),
    QSL_ROLE_U(C, timeout_ms, 5000, 1, 600000, "ms", "the longest wait for a connection or an "
               "answer"),
    QSL_ROLE_END,
};
#undef C

struct client_ready_line {
    uint64_t port, requests;
};

#define R struct client_ready_line
static const struct qsl_role_field client_ready[] = {
    QSL_ROLE_F(R, port, "", "the server's port, connected"),
    QSL_ROLE_F(R, requests, "requests", "to send"),
    QSL_ROLE_FIELDS_END,
};
#undef R

#define S struct qsl_oneshot_stats
static const struct qsl_role_field client_result[] = {
    QSL_ROLE_F(S, requests, "requests", "sent"),
    QSL_ROLE_F(S, answered, "requests", "answered by Ack, Reject or HeartbeatAck"),
    QSL_ROLE_F(S, acks, "frames", "Acks"),
    QSL_ROLE_F(S, rejects, "frames", "Rejects"),
    QSL_ROLE_F(S, fills, "frames", "Fills"),
    QSL_ROLE_F(S, heartbeat_acks, "frames", "HeartbeatAcks"),
    QSL_ROLE_FIELDS_END,
};
#undef S

/* Each request and reply on a line of its own: "> " sent, "< " received. */
static void client_line(void *ctx, int sent, const struct qsl_wire_msg *m)
{
    char text[200];
    (void)ctx;
    qsl_oneshot_format(m, text, sizeof text);
    printf("%s %s\n", sent ? ">" : "<", text);
    fflush(stdout);
}

static int run_client(const void *args)
{
    const struct client_args *a = args;
    static struct qsl_wire_msg reqs[QSL_ONESHOT_MAX];
    static qsl_stop_flag stop;
    char why[256];
    int n = qsl_oneshot_parse(a->send, reqs, QSL_ONESHOT_MAX, why, sizeof why);
    if (n < 0) {
        fprintf(stderr, "qsl-run client: send=: %s\n", why);
        return 1;
    }
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = qsl_net_addr(a->host, a->port, &ss, &len);
    int fd = rc == 0 ? socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
    qsl_role_stop_on_signals(&stop);
    if (fd >= 0)
        rc = qsl_net_connect_until(fd, &ss, len, qsl_clock_ms() + a->timeout_ms, &stop);
    if (rc != 0 || fd < 0) {
        fprintf(stderr, "qsl-run client: connect to %s port %u: %s\n", a->host,
                (unsigned)a->port, strerror(rc ? -rc : errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct client_ready_line ready = {a->port, (uint64_t)n};
    if (qsl_role_print("ready", client_ready, &ready, sizeof ready) != 0) {
        close(fd);
        return 1;
    }
    struct qsl_oneshot_stats st;
    why[0] = '\0';
    rc = qsl_oneshot_run(fd, reqs, (size_t)n, a->timeout_ms, client_line, NULL, &st, &stop,
                         why, sizeof why);
    close(fd);
    if (rc != 0)
        fprintf(stderr, "qsl-run client: after %" PRIu64 " of %" PRIu64 " answers: %s\n",
                st.answered, st.requests,
                rc == -EPROTO ? why : rc == -ECONNRESET ? "the server closed the connection"
                : rc == -ETIMEDOUT ? "no answer within timeout_ms" : strerror(-rc));
    if (qsl_role_print("result", client_result, &st, sizeof st) != 0)
        return 1;
    return rc != 0 ? 1 : st.rejects ? CLIENT_EXIT_REJECTED : 0;
}

const struct qsl_role qsl_role_client = {
    "client", "one connection, a few requests, every reply decoded and printed (the original's "
    "qsl-client, for a server by hand): exit 0 all answered, 4 answered with a Reject, 1 not "
    "all answered (no connection, a close, a timeout, a malformed or stray reply)",
    "TCP_NODELAY=1; a fence Heartbeat after the last answer, so every Fill is in before it ends",
    client_params, sizeof(struct client_args), client_ready, client_result,
    sizeof(struct client_ready_line), sizeof(struct qsl_oneshot_stats), run_client,
};
