/*
 * role_gateway.c - `qsl-run gateway`, `qsl-run load` and `qsl-run echo`.
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
#include "gateway.h"
#include "roles.h"
#include "wire.h"

int qsl_role_gateway(const union qsl_role_value *v);
int qsl_role_load(const union qsl_role_value *v);
int qsl_role_echo(const union qsl_role_value *v);

static const char *const modes[] = {"epoll", "blocking", NULL};

/* "UnknownOrder" -> "unknown_order": line keys are lower case */
static void snake(const char *camel, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *c = camel; *c && n + 2 < cap; c++) {
        if (*c >= 'A' && *c <= 'Z') {
            if (c != camel)
                out[n++] = '_';
            out[n++] = (char)(*c - 'A' + 'a');
        } else {
            out[n++] = *c;
        }
    }
    out[n] = '\0';
}

/* ------------------------------------------------------------------ gateway */

const struct qsl_role_param qsl_role_gateway_params[] = {
    {"bind", 0, 0, 0, "address to listen on (numeric; never a silent wildcard)", "127.0.0.1", NULL},
    {"port", 0, 0, 65535, "port; 0 = the kernel picks (reported in the ready line)", NULL, NULL},
    {"mode", 0, 0, 1, "epoll: many clients; blocking: one connection at a time", NULL, modes},
    {"max_conns", 1024, 1, 1000000, "epoll: connections at once; more are refused", NULL, NULL},
    {"out_bytes", 65536, 128, 1u << 30, "output bound per connection", NULL, NULL},
    {"backlog", 1024, 1, 65535, "listen backlog", NULL, NULL},
    {"symbols", 2, 1, 1u << 20, "symbols 0..N-1 (the original's gateway: 2)", NULL, NULL},
    {"capacity", 1u << 16, 1, 1u << 26, "resting-order pool", NULL, NULL},
    {"max_quantity", 1000000, 1, UINT32_MAX, "risk: largest order quantity", NULL, NULL},
    {"max_notional", 1000000000ull, 1, INT64_MAX, "risk: largest price x quantity", NULL, NULL},
    {"idle_ms", 0, 0, 86400000,
     "end a connection that sent no whole request and took no reply for this long; "
     "0 = the mode's default (blocking 5000, epoll never)", NULL, NULL},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};

struct ready_line {
    uint16_t port;
    const char *mode;
    unsigned max_conns;
};

/* Printed from inside the gateway, once it serves: a parent counting its
 * descriptors from here on sees the server as it will stay. */
static void print_ready(void *ctx)
{
    const struct ready_line *r = ctx;
    qsl_role_line("ready", "port=%u mode=%s max_conns=%u", r->port, r->mode, r->max_conns);
}

int qsl_role_gateway(const union qsl_role_value *v)
{
    static volatile int stop;
    uint16_t port = (uint16_t)v[1].u;
    int lfd = qsl_gateway_listen(v[0].s, &port, (int)v[5].u);
    if (lfd < 0) {
        fprintf(stderr, "qsl-run gateway: listen on %s port %u: %s\n", v[0].s, (unsigned)v[1].u,
                strerror(-lfd));
        return 1;
    }
    struct qsl_gateway_config c;
    qsl_gateway_defaults(&c);
    c.blocking = (int)v[2].u;
    c.max_conns = (unsigned)v[3].u;
    c.out_bytes = (size_t)v[4].u;
    c.engine.symbols = (uint32_t)v[6].u;
    c.engine.capacity = (uint32_t)v[7].u;
    c.engine.risk.max_quantity = (uint32_t)v[8].u;
    c.engine.risk.max_notional = v[9].u;
    c.idle_ms = v[10].u ? (uint32_t)v[10].u : QSL_GATEWAY_IDLE_DEFAULT;
    struct ready_line rl = {port, modes[c.blocking], c.max_conns};
    c.on_ready = print_ready;
    c.ready_ctx = &rl;
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
    char by_reason[512] = "";
    for (int r = 1; r < QSL_REJECT_COUNT; r++) {
        char one[64], key[40];
        snake(qsl_wire_reject_name((unsigned)r), key, sizeof key);
        snprintf(one, sizeof one, " reject_%s=%" PRIu64, key, st.rejects[r]);
        strncat(by_reason, one, sizeof by_reason - strlen(by_reason) - 1);
    }
    qsl_role_line("result",
                  "connections=%" PRIu64 " refused=%" PRIu64 " emfile=%" PRIu64
                  " active_max=%" PRIu64 " closed_by_peer=%" PRIu64 " closed_malformed=%" PRIu64
                  " closed_unexpected=%" PRIu64 " closed_output_limit=%" PRIu64
                  " closed_error=%" PRIu64 " closed_at_stop=%" PRIu64 " closed_idle=%" PRIu64
                  " frames_in=%" PRIu64
                  " frames_out=%" PRIu64 " bytes_in=%" PRIu64 " bytes_out=%" PRIu64
                  " new_orders=%" PRIu64 " cancels=%" PRIu64 " heartbeats=%" PRIu64
                  " fills=%" PRIu64 " rejects=%" PRIu64 "%s",
                  st.connections, st.refused, st.emfile, st.active_max, st.closed_by_peer,
                  st.closed_malformed, st.closed_unexpected, st.closed_output_limit,
                  st.closed_error, st.closed_at_stop, st.closed_idle, st.frames_in, st.frames_out, st.bytes_in,
                  st.bytes_out, st.new_orders, st.cancels, st.heartbeats, st.fills, rejects,
                  by_reason);
    return 0;
}

/* ------------------------------------------------------------------ load */

static const char *const patterns[] = {"persistent", "short", "echo", NULL};

const struct qsl_role_param qsl_role_load_params[] = {
    {"host", 0, 0, 0, "gateway address", "127.0.0.1", NULL},
    {"port", 0, 1, 65535, "gateway port (required)", NULL, NULL},
    {"pattern", 0, 0, 2, "persistent connections, the original's short ones, or raw echo", NULL, patterns},
    {"connections", 1, 1, 65535, "connections (short: sequential, so 1)", NULL, NULL},
    {"depth", 1, 1, 4096, "requests in flight per connection", NULL, NULL},
    {"requests", 10000, 1, UINT64_MAX, "requests in all (unless duration_ms is given)", NULL, NULL},
    {"duration_ms", 0, 0, 3600000, "run for this long instead of a request count", NULL, NULL},
    {"warmup_ms", 0, 0, 3600000, "replies before this are not recorded", NULL, NULL},
    {"rate", 0, 0, 100000000, "requests/s in all (open loop); 0 = closed loop", NULL, NULL},
    {"rest", 40, 0, 100, "percent resting NewOrders", NULL, NULL},
    {"cross", 20, 0, 100, "percent crossing IOC NewOrders", NULL, NULL},
    {"cancel", 30, 0, 100, "percent cancels of own resting orders", NULL, NULL},
    {"heartbeat", 10, 0, 100, "percent heartbeats", NULL, NULL},
    {"symbols", 2, 1, 1u << 20, "symbols to spread orders over (a default gateway has 2)", NULL, NULL},
    {"seed", 1, 0, UINT64_MAX, "request mix seed", NULL, NULL},
    {"timeout_ms", 5000, 1, 600000, "no reply for this long is an error", NULL, NULL},
    {"echo_request", 43, 1, 4096, "echo: bytes per request", NULL, NULL},
    {"echo_reply", 32, 1, 4096, "echo: bytes per reply", NULL, NULL},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};

int qsl_role_load(const union qsl_role_value *v)
{
    static volatile int stop;
    struct qsl_load_config c;
    qsl_load_defaults(&c);
    if (qsl_load_target(&c, v[0].s, (uint16_t)v[1].u) != 0 || v[1].u == 0) {
        fprintf(stderr, "qsl-run load: port= is required (the gateway's ready line has it)\n");
        return 1;
    }
    c.pattern = (int)v[2].u;
    c.connections = (unsigned)v[3].u;
    c.depth = (unsigned)v[4].u;
    c.duration_ms = (unsigned)v[6].u;
    c.requests = c.duration_ms ? 0 : v[5].u;
    c.warmup_ms = (unsigned)v[7].u;
    c.rate = (double)v[8].u;
    c.mix_rest = (unsigned)v[9].u;
    c.mix_cross = (unsigned)v[10].u;
    c.mix_cancel = (unsigned)v[11].u;
    c.mix_heartbeat = (unsigned)v[12].u;
    c.symbols = (uint32_t)v[13].u;
    c.seed = v[14].u;
    c.timeout_ms = (unsigned)v[15].u;
    c.echo_request = (unsigned)v[16].u;
    c.echo_reply = (unsigned)v[17].u;
    if (c.pattern == QSL_LOAD_SHORT && c.connections != 1) {
        fprintf(stderr, "qsl-run load: pattern=short runs its connections one after another: connections=1\n");
        return 1;
    }
    qsl_role_stop_on_signals(&stop);
    qsl_role_line("ready", "pattern=%s connections=%u depth=%u", patterns[c.pattern],
                  c.connections, c.depth);
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
    if (st->errors)
        fprintf(stderr, "qsl-run load: %" PRIu64 " error(s); the first: %s\n", st->errors, st->error);
    uint64_t from = st->measure_ns > st->start_ns ? st->measure_ns : st->start_ns;
    double secs = st->end_ns > from ? (double)(st->end_ns - from) / 1e9 : 0;
    const struct qsl_hist *h = &st->hist;
    qsl_role_line("result",
                  "sent=%" PRIu64 " completed=%" PRIu64 " recorded=%" PRIu64 " acks=%" PRIu64
                  " rejects=%" PRIu64 " fills=%" PRIu64 " heartbeat_acks=%" PRIu64
                  " connects=%" PRIu64 " errors=%" PRIu64 " seconds=%.6f throughput=%.1f"
                  " min_ns=%" PRIu64 " p50_ns=%" PRIu64 " p90_ns=%" PRIu64 " p99_ns=%" PRIu64
                  " p999_ns=%" PRIu64 " p9999_ns=%" PRIu64 " max_ns=%" PRIu64 " mean_ns=%.0f"
                  " stopped=%d",
                  st->sent, st->completed, st->recorded, st->acks, st->rejects, st->fills,
                  st->heartbeat_acks, st->connects, st->errors, secs,
                  secs > 0 ? (double)st->recorded / secs : 0, h->count ? h->min : 0,
                  qsl_hist_percentile(h, 50), qsl_hist_percentile(h, 90),
                  qsl_hist_percentile(h, 99), qsl_hist_percentile(h, 99.9),
                  qsl_hist_percentile(h, 99.99), h->max, qsl_hist_mean(h), stop);
    int bad = st->errors != 0 || stop;
    free(st);
    return bad;
}

/* ------------------------------------------------------------------ echo */

const struct qsl_role_param qsl_role_echo_params[] = {
    {"bind", 0, 0, 0, "address to listen on", "127.0.0.1", NULL},
    {"port", 0, 0, 65535, "port; 0 = the kernel picks", NULL, NULL},
    {"request", 43, 1, 4096, "bytes that make a request", NULL, NULL},
    {"reply", 32, 1, 4096, "bytes sent back per request", NULL, NULL},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};

int qsl_role_echo(const union qsl_role_value *v)
{
    static volatile int stop;
    uint16_t port = (uint16_t)v[1].u;
    int lfd = qsl_gateway_listen(v[0].s, &port, 128);
    if (lfd < 0) {
        fprintf(stderr, "qsl-run echo: listen: %s\n", strerror(-lfd));
        return 1;
    }
    size_t req = (size_t)v[2].u, rep = (size_t)v[3].u;
    uint8_t in[65536], out[4096];
    memset(out, 0, sizeof out);
    uint64_t conns = 0, requests = 0;
    qsl_role_stop_on_signals(&stop);
    qsl_role_line("ready", "port=%u request=%zu reply=%zu", port, req, rep);
    while (!stop) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        conns++;
        size_t have = 0;
        for (;;) {
            ssize_t n = recv(fd, in, sizeof in, 0);
            if (n <= 0 && !(n < 0 && errno == EINTR && !stop))
                break;
            if (n <= 0)
                continue;
            have += (size_t)n;
            int ok = 1;
            for (; have >= req && ok; have -= req, requests++)
                ok = send(fd, out, rep, MSG_NOSIGNAL) == (ssize_t)rep;
            if (!ok)
                break;
        }
        close(fd);
    }
    close(lfd);
    qsl_role_line("result", "connections=%" PRIu64 " requests=%" PRIu64, conns, requests);
    return 0;
}
