/*
 * gateway.c - `qsl-run gateway`, `qsl-run load` and `qsl-run echo`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "echo.h"
#include "gateway.h"
#include "net.h"
#include "role.h"
#include "sockopt.h"
#include "wire.h"

static const char *const modes[] = {"epoll", "blocking", "io_uring", NULL};   /* enum qsl_gateway_mode */

/* ------------------------------------------------------------------ gateway */

struct gw_args {
    const char *bind, *sockopt;
    uint16_t port;
    int mode;
    uint32_t max_conns, backlog, symbols, capacity, max_quantity, idle_ms, stall_ms;
    uint64_t out_bytes, max_notional;
};

#define G struct gw_args
static const struct qsl_role_param gw_params[] = {
    QSL_ROLE_ADDR(G, bind, "127.0.0.1", "address to listen on (numeric; never a silent wildcard)"),
    QSL_ROLE_U(G, port, 0, 0, 65535, "", "port; 0 = the kernel picks (reported in the ready line)"),
    QSL_ROLE_WORD(G, mode, 0, modes, "epoll: many clients; io_uring: the same, by completions; blocking: one connection at a time"),
    QSL_ROLE_U(G, max_conns, 1024, 1, 1000000, "connections", "epoll: connections at once; more are refused"),
    QSL_ROLE_U(G, out_bytes, 65536, 128, 1u << 30, "bytes", "output bound per connection"),
    QSL_ROLE_U(G, backlog, 1024, 1, 65535, "connections", "listen backlog"),
    QSL_ROLE_U(G, symbols, 2, 1, 1u << 20, "", "symbols 0..N-1 (the original's gateway: 2)"),
    QSL_ROLE_U(G, capacity, 1u << 16, 1, 1u << 26, "orders", "resting-order pool"),
    QSL_ROLE_U(G, max_quantity, 1000000, 1, UINT32_MAX, "", "risk: largest order quantity"),
    QSL_ROLE_U(G, max_notional, 1000000000ull, 1, INT64_MAX, "", "risk: largest price x quantity"),
    QSL_ROLE_U(G, idle_ms, 0, 0, 86400000, "ms",
               "end a connection that owes no reply and sent no whole request for this long; "
               "0 = the mode's default (blocking 5000, epoll and io_uring never)"),
    QSL_ROLE_U(G, stall_ms, 0, 0, 86400000, "ms",
               "end a connection that owes replies and took none of their bytes for this long, "
               "counting the replies it could not deliver (replies_discarded); 0 = never"),
    QSL_ROLE_SOCKOPT(G),
    QSL_ROLE_END,
};
#undef G

static const struct qsl_role_field gw_ready[] = {
    {"port", QSL_ROLE_INTEGER, "", "the port it listens on"},
    {"mode", QSL_ROLE_TEXT, "", "epoll, io_uring or blocking"},
    {"max_conns", QSL_ROLE_INTEGER, "connections", "connections served at once"},
    {"out_bytes", QSL_ROLE_INTEGER, "bytes", "output bound per connection"},
    {"idle_ms", QSL_ROLE_INTEGER, "ms", "idle connections end after this (0: never)"},
    {"stall_ms", QSL_ROLE_INTEGER, "ms", "stalled connections end after this (0: never)"},
    QSL_ROLE_SOCKOPT_FIELD,
    QSL_ROLE_FIELDS_END,
};

#define COUNT(n, h) {n, QSL_ROLE_INTEGER, "connections", h}
#define FRAMES(n, u, h) {n, QSL_ROLE_INTEGER, u, h}
static const struct qsl_role_field gw_result[] = {
    COUNT("connections", "accepted and served"),
    COUNT("refused", "accepted and closed at once: over max_conns, or shed"),
    FRAMES("emfile", "events", "accept4 reported EMFILE/ENFILE"),
    COUNT("active_max", "most served at once"),
    COUNT("closed", "ended, for any reason: the sum of the eight closed_* below"),
    COUNT("closed_by_peer", "ended by the client"),
    COUNT("closed_malformed", "ended by a malformed frame"),
    COUNT("closed_unexpected", "ended by a type a client may not send"),
    COUNT("closed_output_limit", "ended by a response larger than the output bound"),
    COUNT("closed_error", "ended by a socket error"),
    COUNT("closed_at_stop", "still open at the stop"),
    COUNT("closed_idle", "ended after idle_ms, owing nothing"),
    COUNT("closed_stalled", "ended after stall_ms: owed replies its peer did not take"),
    FRAMES("replies_discarded", "frames", "replies owed but never sent, whole or in part: "
           "at stall_ms, at a stop that outlasted the drain, or on a socket error"),
    FRAMES("ring_enters", "calls", "io_uring mode: io_uring_enter calls (0 in the others)"),
    FRAMES("ring_completions", "completions", "io_uring mode: completions reaped"),
    FRAMES("frames_in", "frames", "requests decoded"),
    FRAMES("frames_out", "frames", "replies written"),
    FRAMES("bytes_in", "bytes", "read from clients"),
    FRAMES("bytes_out", "bytes", "written to clients"),
    FRAMES("new_orders", "requests", "NewOrders applied or rejected"),
    FRAMES("cancels", "requests", "CancelOrders"),
    FRAMES("heartbeats", "requests", "Heartbeats"),
    FRAMES("fills", "fills", "Fills sent"),
    FRAMES("rejects", "requests", "Rejects sent, all reasons"),
    FRAMES("reject_unknown_symbol", "requests", "Rejects: UnknownSymbol"),
    FRAMES("reject_invalid_price", "requests", "Rejects: InvalidPrice"),
    FRAMES("reject_invalid_quantity", "requests", "Rejects: InvalidQuantity"),
    FRAMES("reject_invalid_side", "requests", "Rejects: InvalidSide"),
    FRAMES("reject_max_quantity_exceeded", "requests", "Rejects: MaxQuantityExceeded"),
    FRAMES("reject_max_notional_exceeded", "requests", "Rejects: MaxNotionalExceeded"),
    FRAMES("reject_duplicate_order_id", "requests", "Rejects: DuplicateOrderId"),
    FRAMES("reject_unknown_order", "requests", "Rejects: UnknownOrder"),
    FRAMES("reject_storage_exhausted", "requests", "Rejects: StorageExhausted"),
    QSL_ROLE_FIELDS_END,
};

struct ready_ctx {
    uint16_t port;
    const char *mode;
    unsigned max_conns;
    uint64_t out_bytes;
    uint32_t idle_ms, stall_ms;
    const char *sockopt;
    int failed;
};

/* Printed from inside the gateway, once it serves: a parent counting its
 * descriptors from here on sees the server as it will stay. */
static void print_ready(void *ctx)
{
    struct ready_ctx *r = ctx;
    struct qsl_role_line l;
    qsl_role_line_start(&l, "ready", gw_ready);
    qsl_role_line_int(&l, "port", r->port);
    qsl_role_line_text(&l, "mode", r->mode);
    qsl_role_line_int(&l, "max_conns", r->max_conns);
    qsl_role_line_int(&l, "out_bytes", r->out_bytes);
    qsl_role_line_int(&l, "idle_ms", r->idle_ms);
    qsl_role_line_int(&l, "stall_ms", r->stall_ms);
    qsl_role_line_text(&l, "sockopt", r->sockopt);
    r->failed = qsl_role_line_end(&l) != 0;
}

static int run_gateway(const void *args)
{
    const struct gw_args *a = args;
    static volatile int stop;
    char why[200];
    if (qsl_gateway_mode_available((enum qsl_gateway_mode)a->mode, why, sizeof why) != 0) {
        fprintf(stderr, "qsl-run gateway: mode=%s is not available here: %s\n", modes[a->mode], why);
        return QSL_ROLE_EXIT_SKIPPED;
    }
    uint16_t port = a->port;
    int lfd = qsl_gateway_listen(a->bind, &port, (int)a->backlog);
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
    c.engine.capacity = a->capacity;
    c.engine.risk.max_quantity = a->max_quantity;
    c.engine.risk.max_notional = a->max_notional;
    c.idle_ms = a->idle_ms ? a->idle_ms : QSL_GATEWAY_IDLE_DEFAULT;
    c.stall_ms = a->stall_ms;
    struct ready_ctx rc_ready = {port,    modes[c.mode], c.max_conns, c.out_bytes,
                                 qsl_gateway_idle_ms(&c), c.stall_ms, granted, 0};
    c.on_ready = print_ready;
    c.ready_ctx = &rc_ready;
    qsl_role_stop_on_signals(&stop);
    struct qsl_gateway_stats st;
    int rc = qsl_gateway_run(lfd, &c, &st, &stop);
    close(lfd);
    if (rc != 0) {
        fprintf(stderr, "qsl-run gateway: %s\n", strerror(-rc));
        return 1;
    }
    uint64_t rejects = 0;
    for (int r = 0; r < QSL_REJECT_COUNT; r++)
        rejects += st.rejects[r];
    struct qsl_role_line l;
    qsl_role_line_start(&l, "result", gw_result);
    uint64_t closed = st.closed_by_peer + st.closed_malformed + st.closed_unexpected +
                      st.closed_output_limit + st.closed_error + st.closed_at_stop + st.closed_idle +
                      st.closed_stalled;
    const uint64_t v[] = {st.connections, st.refused, st.emfile, st.active_max, closed,
                          st.closed_by_peer, st.closed_malformed, st.closed_unexpected,
                          st.closed_output_limit, st.closed_error, st.closed_at_stop,
                          st.closed_idle, st.closed_stalled, st.replies_discarded, st.ring_enters, st.ring_completions, st.frames_in,
                          st.frames_out, st.bytes_in, st.bytes_out, st.new_orders, st.cancels,
                          st.heartbeats, st.fills, rejects};
    unsigned i = 0;
    for (; i < sizeof v / sizeof v[0]; i++)
        qsl_role_line_int(&l, gw_result[i].name, v[i]);
    for (int r = 1; r < QSL_REJECT_COUNT; r++, i++)     /* reject_<reason>, in reason order */
        qsl_role_line_int(&l, gw_result[i].name, st.rejects[r]);
    return qsl_role_line_end(&l) == 0 && !rc_ready.failed ? 0 : 1;
}

const struct qsl_role qsl_role_gateway = {
    "gateway", "the TCP order gateway (epoll, or one connection at a time); SIGTERM ends it",
    "SO_REUSEADDR on the listener; TCP_NODELAY=1 on every accepted connection (sockopt= comes after, so nodelay:0 turns it off)",
    gw_params, sizeof(struct gw_args), gw_ready, gw_result, run_gateway,
};

/* ------------------------------------------------------------------ load */

static const char *const patterns[] = {"persistent", "short", "echo", NULL};

struct load_args {
    const char *host, *sockopt;
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
    QSL_ROLE_SOCKOPT(L),
    QSL_ROLE_END,
};
#undef L

static const struct qsl_role_field load_ready[] = {
    {"pattern", QSL_ROLE_TEXT, "", "persistent, short or echo"},
    {"connections", QSL_ROLE_INTEGER, "connections", "connections"},
    {"depth", QSL_ROLE_INTEGER, "requests", "in flight per connection"},
    QSL_ROLE_SOCKOPT_FIELD,
    QSL_ROLE_FIELDS_END,
};

#define NS(n, h) {n, QSL_ROLE_INTEGER, "ns", h}
static const struct qsl_role_field load_result[] = {
    {"sent", QSL_ROLE_INTEGER, "round trips", "round trips started: one request (persistent, "
     "echo), or one connection's NewOrder + Heartbeat (short)"},
    {"completed", QSL_ROLE_INTEGER, "round trips", "round trips answered and verified"},
    {"recorded", QSL_ROLE_INTEGER, "round trips", "completed after the warm-up: in the histogram"},
    {"frames_sent", QSL_ROLE_INTEGER, "frames", "protocol frames sent, final_heartbeats "
     "included (0 in echo); without errors or a stop = acks + rejects + heartbeat_acks"},
    {"final_heartbeats", QSL_ROLE_INTEGER, "frames", "Heartbeats that end a connection's run "
     "(persistent: its reply proves every Fill arrived) or a round trip (short); not in sent"},
    {"acks", QSL_ROLE_INTEGER, "replies", "Acks"},
    {"rejects", QSL_ROLE_INTEGER, "replies", "Rejects"},
    {"fills", QSL_ROLE_INTEGER, "replies", "Fills (on top of the Ack of the order that traded)"},
    {"heartbeat_acks", QSL_ROLE_INTEGER, "replies", "HeartbeatAcks, final_heartbeats' included"},
    {"connects", QSL_ROLE_INTEGER, "connections", "connections made"},
    {"errors", QSL_ROLE_INTEGER, "", "wrong or missing replies (the first is on stderr)"},
    {"connect_seconds", QSL_ROLE_NUMBER, "s", "from the first connect to the last connection up "
     "(persistent, echo; short connects inside each round trip: 0); not in seconds"},
    {"seconds", QSL_ROLE_NUMBER, "s", "measured time: from the first connection up, after "
     "the warm-up, to the end"},
    {"throughput", QSL_ROLE_NUMBER, "round trips/s", "recorded over seconds"},
    NS("min_ns", "fastest round trip"),
    NS("p50_ns", "median round trip"),
    NS("p90_ns", "90th percentile"),
    NS("p99_ns", "99th percentile"),
    NS("p999_ns", "99.9th percentile"),
    NS("p9999_ns", "99.99th percentile"),
    NS("max_ns", "slowest round trip"),
    {"mean_ns", QSL_ROLE_NUMBER, "ns", "mean round trip"},
    {"stopped", QSL_ROLE_INTEGER, "", "1 when a signal cut the run short"},
    QSL_ROLE_FIELDS_END,
};

static int run_load(const void *args)
{
    const struct load_args *a = args;
    static volatile int stop;
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
    qsl_role_stop_on_signals(&stop);
    struct qsl_role_line l;
    qsl_role_line_start(&l, "ready", load_ready);
    qsl_role_line_text(&l, "pattern", patterns[c.pattern]);
    qsl_role_line_int(&l, "connections", c.connections);
    qsl_role_line_int(&l, "depth", c.depth);
    qsl_role_line_text(&l, "sockopt", granted);
    if (qsl_role_line_end(&l) != 0)
        return 1;
    struct qsl_load_stats *st = malloc(sizeof *st);
    if (!st)
        return 1;
    int rc = qsl_load_run(&c, st, &stop);
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
    qsl_role_line_start(&l, "result", load_result);
    qsl_role_line_int(&l, "sent", st->sent);
    qsl_role_line_int(&l, "completed", st->completed);
    qsl_role_line_int(&l, "recorded", st->recorded);
    qsl_role_line_int(&l, "frames_sent", st->frames_sent);
    qsl_role_line_int(&l, "final_heartbeats", st->final_heartbeats);
    qsl_role_line_int(&l, "acks", st->acks);
    qsl_role_line_int(&l, "rejects", st->rejects);
    qsl_role_line_int(&l, "fills", st->fills);
    qsl_role_line_int(&l, "heartbeat_acks", st->heartbeat_acks);
    qsl_role_line_int(&l, "connects", st->connects);
    qsl_role_line_int(&l, "errors", st->errors);
    qsl_role_line_num(&l, "connect_seconds", connect_secs);
    qsl_role_line_num(&l, "seconds", secs);
    qsl_role_line_num(&l, "throughput", secs > 0 ? (double)st->recorded / secs : 0);
    qsl_role_line_int(&l, "min_ns", h->count ? h->min : 0);
    qsl_role_line_int(&l, "p50_ns", qsl_hist_percentile(h, 50));
    qsl_role_line_int(&l, "p90_ns", qsl_hist_percentile(h, 90));
    qsl_role_line_int(&l, "p99_ns", qsl_hist_percentile(h, 99));
    qsl_role_line_int(&l, "p999_ns", qsl_hist_percentile(h, 99.9));
    qsl_role_line_int(&l, "p9999_ns", qsl_hist_percentile(h, 99.99));
    qsl_role_line_int(&l, "max_ns", h->max);
    qsl_role_line_num(&l, "mean_ns", qsl_hist_mean(h));
    qsl_role_line_int(&l, "stopped", (uint64_t)stop);
    int bad = qsl_role_line_end(&l) != 0 || st->errors != 0 || stop;
    free(st);
    return bad;
}

const struct qsl_role qsl_role_load = {
    "load", "drive a gateway: N connections, pipelined, every reply verified, latency histogram",
    "TCP_NODELAY=1 on every connection (sockopt= comes after); SO_RCVTIMEO/SO_SNDTIMEO of timeout_ms in pattern=short",
    load_params, sizeof(struct load_args), load_ready, load_result, run_load,
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

static const struct qsl_role_field echo_ready[] = {
    {"port", QSL_ROLE_INTEGER, "", "the port it listens on"},
    {"request", QSL_ROLE_INTEGER, "bytes", "bytes per request"},
    {"reply", QSL_ROLE_INTEGER, "bytes", "bytes per reply"},
    {"mode", QSL_ROLE_TEXT, "", "blocking or epoll"},
    QSL_ROLE_FIELDS_END,
};

static const struct qsl_role_field echo_result[] = {
    {"connections", QSL_ROLE_INTEGER, "connections", "connections served"},
    {"refused", QSL_ROLE_INTEGER, "connections", "closed at accept: over max_conns"},
    {"requests", QSL_ROLE_INTEGER, "requests", "requests answered"},
    {"bytes_in", QSL_ROLE_INTEGER, "bytes", "read from clients"},
    {"bytes_out", QSL_ROLE_INTEGER, "bytes", "written to clients"},
    QSL_ROLE_FIELDS_END,
};

static int run_echo(const void *args)
{
    const struct echo_args *a = args;
    static volatile int stop;
    uint16_t port = a->port;
    int lfd = qsl_gateway_listen(a->bind, &port, 128);
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
    struct qsl_role_line l;
    qsl_role_line_start(&l, "ready", echo_ready);
    qsl_role_line_int(&l, "port", port);
    qsl_role_line_int(&l, "request", c.request);
    qsl_role_line_int(&l, "reply", c.reply);
    qsl_role_line_text(&l, "mode", echo_modes[a->mode]);
    if (qsl_role_line_end(&l) != 0)
        return 1;
    struct qsl_echo_stats st;
    int rc = qsl_echo_serve(lfd, &c, &st, &stop);
    close(lfd);
    if (rc != 0) {
        fprintf(stderr, "qsl-run echo: %s\n", strerror(-rc));
        return 1;
    }
    qsl_role_line_start(&l, "result", echo_result);
    qsl_role_line_int(&l, "connections", st.connections);
    qsl_role_line_int(&l, "refused", st.refused);
    qsl_role_line_int(&l, "requests", st.requests);
    qsl_role_line_int(&l, "bytes_in", st.bytes_in);
    qsl_role_line_int(&l, "bytes_out", st.bytes_out);
    return qsl_role_line_end(&l) == 0 ? 0 : 1;
}

const struct qsl_role qsl_role_echo = {
    "echo", "a TCP server with no protocol: `request` bytes in, `reply` bytes out (the kernel's floor)",
    "SO_REUSEADDR on the listener; nothing on connections (the kernel's defaults)",
    echo_params, sizeof(struct echo_args), echo_ready, echo_result, run_echo,
};
