/*
 * feed.c - `qsl-run publish` and `qsl-run subscribe`: the two ends of the UDP
 * market-data feed, each its own process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "book.h"
#include "feed.h"
#include "flow.h"
#include "net.h"
#include "oneshot.h"
#include "role.h"
#include "sockopt.h"

static int fail(const char *role, const char *what, int rc)
{
    fprintf(stderr, "qsl-run %s: %s: %s\n", role, what, strerror(rc < 0 ? -rc : errno));
    return 1;
}

/* ------------------------------------------------------------------ publish */

struct pub_args {
    const char *host, *sockopt, *iface;
    uint16_t port;
    uint64_t seed, orders, rate;
    uint32_t symbols, batch, datagram_bytes, sndbuf, ttl, loop, max_orders;
    int packed, gso, raw, flow, catch_up, huge_pages;
};

#define P struct pub_args
static const struct qsl_role_param pub_params[] = {
    QSL_ROLE_ADDR(P, host, "127.0.0.1", "subscriber address, or a multicast group (then iface=)"),
    QSL_ROLE_U(P, port, 0, 1, 65535, "", "subscriber port (required: the subscriber's ready line has it)"),
    QSL_ROLE_STR(P, iface, "", "multicast: the interface to send the group's datagrams on"),
    QSL_ROLE_U(P, ttl, 1, 1, 255, "hops", "multicast: the hop limit (IP_MULTICAST_TTL, IPV6_MULTICAST_HOPS)"),
    QSL_ROLE_U(P, loop, 1, 0, 1, "", "multicast: 1 = members on the sending host hear it too (IP_MULTICAST_LOOP)"),
    QSL_ROLE_U(P, seed, 42, 0, UINT64_MAX, "", "flow seed"),
    QSL_ROLE_U(P, orders, 20000, 1, 100000000, "orders", "orders of the flow"),
    QSL_ROLE_U(P, symbols, 3, 1, 64, "", "symbols"),
    QSL_ROLE_ENGINE_MEMORY(P),
    QSL_ROLE_U(P, rate, 0, 0, 100000000, "msg/s", "messages per second; 0 = unpaced burst"),
    QSL_ROLE_U(P, catch_up, 1, 0, 1, "",
               "paced: 1 keeps the absolute schedule (after a stall, what is overdue leaves at "
               "once, in batches); 0 moves the schedule on when more than a batch of messages "
               "is overdue (schedule_moved, late_ms)"),
    QSL_ROLE_U(P, batch, 64, 1, 1024, "datagrams", "datagrams (GSO sends) per sendmmsg"),
    QSL_ROLE_U(P, packed, 0, 0, 1, "", "1: many messages per datagram (MoldUDP64 framing)"),
    QSL_ROLE_U(P, datagram_bytes, 1472, 80, 65507, "bytes", "packed: bytes per datagram at most"),
    QSL_ROLE_U(P, gso, 0, 0, 1, "", "packed: UDP_SEGMENT, many equal datagrams per send"),
    QSL_ROLE_U(P, raw, 0, 0, 2, "",
               "baseline: messages made first, then 1: one send() each; 2: sendmmsg, batch= "
               "datagrams a call (the publisher's own batching, nothing else)"),
    QSL_ROLE_U(P, sndbuf, 0, 0, 1u << 30, "bytes", "SO_SNDBUF request; 0 = default"),
    QSL_ROLE_WORD(P, flow, QSL_FLOW_ORIGINAL, qsl_flow_gen_names,
                  "order flow generator: the original's (its exact datagrams), or qsl's drifting mid"),
    QSL_ROLE_SOCKOPT(P),
    QSL_ROLE_END,
};
#undef P

struct pub_ready_line {
    uint64_t granted_sndbuf;
    const char *sockopt;
};

static const struct qsl_role_field pub_ready[] = {
    QSL_ROLE_F(struct pub_ready_line, granted_sndbuf, "bytes", "SO_SNDBUF as the kernel granted it"),
    QSL_ROLE_SOCKOPT_FIELD(struct pub_ready_line),
    QSL_ROLE_FIELDS_END,
};

struct pub_result_line {
    uint64_t messages, datagrams, send_failures, failed_messages, send_calls, duration_ns;
    double msgs_per_s, dgrams_per_s;
    uint64_t last_errno, stopped, burst_max, schedule_moved;
    double late_ms;
};

#define P struct pub_result_line
static const struct qsl_role_field pub_result[] = {
    QSL_ROLE_F(P, messages, "messages", "published: every message the flow produced"),
    QSL_ROLE_F(P, datagrams, "datagrams", "datagrams attempted"),
    QSL_ROLE_F(P, send_failures, "datagrams", "datagrams the kernel refused (counted, not retried)"),
    QSL_ROLE_F(P, failed_messages, "messages", "messages inside those datagrams"),
    QSL_ROLE_F(P, send_calls, "calls", "sendmmsg/send calls"),
    QSL_ROLE_F(P, duration_ns, "ns", "first send to last"),
    QSL_ROLE_F(P, msgs_per_s, "msg/s", "messages over the duration"),
    QSL_ROLE_F(P, dgrams_per_s, "datagram/s", "datagrams over the duration"),
    QSL_ROLE_F(P, last_errno, "", "errno of the last refused send; 0 none"),
    QSL_ROLE_F(P, stopped, "", "1 when a signal cut the run short"),
    QSL_ROLE_F(P, burst_max, "datagrams", "most datagrams sent with no pacing wait between them"),
    QSL_ROLE_F(P, schedule_moved, "", "catch_up=0: times a stall moved the schedule on"),
    QSL_ROLE_F(P, late_ms, "ms", "catch_up=0: the time it moved by, in all"),
    QSL_ROLE_FIELDS_END,
};
#undef P

/* The interface a multicast role names: its index, or why not (1 when it printed why). */
static int multicast_iface(const char *role, const char *addr, const char *iface, unsigned *ifindex)
{
    int group = qsl_net_is_multicast(addr);
    if (!group && *iface) {
        fprintf(stderr, "qsl-run %s: iface= is for a multicast group; %s is not one\n", role, addr);
        return 1;
    }
    if (!group)
        return 0;
    int rc = qsl_net_ifindex(iface, ifindex);
    if (rc == -ENODEV)
        fprintf(stderr, "qsl-run %s: iface=%s: no such interface here\n", role, iface);
    else if (rc != 0)
        fprintf(stderr, "qsl-run %s: %s is a multicast group: iface= must name the interface "
                "(at most %d characters)\n", role, addr, IF_NAMESIZE - 1);
    return rc != 0;
}

static int run_publish(const void *args)
{
    const struct pub_args *a = args;
    static qsl_stop_flag stop;
    if (a->port == 0) {
        fprintf(stderr, "qsl-run publish: port= is required (the subscriber's ready line has it)\n");
        return 1;
    }
    struct qsl_feed_pub_config c;
    qsl_feed_pub_defaults(&c);
    c.seed = a->seed;
    c.orders = a->orders;
    c.symbols = a->symbols;
    c.max_orders = a->max_orders;
    c.huge_pages = (uint8_t)a->huge_pages;
    c.rate = (double)a->rate;
    c.catch_up = a->catch_up;
    c.batch = a->batch;
    c.packed = a->packed;
    c.datagram_bytes = a->datagram_bytes;
    c.gso = a->gso;
    c.raw = a->raw;
    c.flow = a->flow;
    unsigned ifindex = 0;
    if (multicast_iface("publish", a->host, a->iface, &ifindex) != 0)
        return 1;
    int fd = qsl_net_socket_for(a->host, SOCK_DGRAM);
    if (fd < 0)
        return fail("publish", "socket", fd);
    int granted = 0;
    const struct qsl_sockopt *sndbuf = qsl_sockopt_find("sndbuf");
    if (a->sndbuf && qsl_sockopt_set(fd, sndbuf, (int)a->sndbuf) != 0)
        return fail("publish", "SO_SNDBUF", 0);
    qsl_sockopt_get(fd, sndbuf, &granted);
    char opts[256];
    if (qsl_role_sockopts("publish", a->sockopt, 0, fd, NULL, opts, sizeof opts) != 0)
        return 1;
    int rc = ifindex ? qsl_net_multicast_connect(fd, a->host, a->port, ifindex, (int)a->ttl,
                                                 (int)a->loop)
                     : qsl_net_connect(fd, a->host, a->port);
    if (rc != 0)
        return fail("publish", ifindex ? "multicast connect" : "connect", rc);
    /* pacing sleeps to the microsecond, not to the default 50 us timer slack */
    prctl(PR_SET_TIMERSLACK, 1UL);
    qsl_role_stop_on_signals(&stop);
    struct pub_ready_line ready = {(uint64_t)granted, opts};
    if (qsl_role_print("ready", pub_ready, &ready, sizeof ready) != 0)
        return 1;
    struct qsl_feed_pub_stats st;
    rc = qsl_feed_publish(fd, &c, &st, &stop);
    close(fd);
    if (rc != 0) {
        fprintf(stderr, "qsl-run publish: %s\n",
                rc == -ENOPROTOOPT ? "UDP GSO (UDP_SEGMENT) is not available on this kernel"
                : rc == -EINVAL    ? "invalid combination: gso needs packed; raw excludes packed and rate"
                                   : strerror(-rc));
        return rc == -ENOPROTOOPT ? 2 : 1;
    }
    uint64_t dur = st.end_ns > st.start_ns ? st.end_ns - st.start_ns : 0;
    double secs = dur ? (double)dur / 1e9 : 0;
    struct pub_result_line res = {st.messages, st.datagrams, st.send_failures,
                                  st.failed_messages, st.send_calls, dur,
                                  secs > 0 ? (double)st.messages / secs : 0,
                                  secs > 0 ? (double)st.datagrams / secs : 0,
                                  (uint64_t)st.last_errno, (uint64_t)stop, st.burst_max,
                                  st.schedule_moved, (double)st.late_ns / 1e6};
    return qsl_role_print("result", pub_result, &res, sizeof res) == 0 ? 0 : 1;
}

const struct qsl_role qsl_role_publish = {
    "publish", "publish the flow's market data over UDP (burst or paced; single, packed, GSO)",
    "SO_SNDBUF only when sndbuf= is given; PR_SET_TIMERSLACK 1 us (paced sends wake on time)",
    pub_params, sizeof(struct pub_args), pub_ready, pub_result, sizeof(struct pub_ready_line),
    sizeof(struct pub_result_line), run_publish,
};

/* ------------------------------------------------------------------ subscribe */

struct sub_args {
    const char *bind, *sockopt, *iface;
    uint16_t port;
    uint32_t rcvbuf, idle_ms, deadline_ms, first_ms, work_ns;
    int force, mode, timestamps, print;
    uint64_t expected;
};


#define S struct sub_args
static const struct qsl_role_param sub_params[] = {
    QSL_ROLE_ADDR(S, bind, "127.0.0.1", "address to bind; a multicast group is joined (then iface=)"),
    QSL_ROLE_U(S, port, 0, 0, 65535, "", "port; 0 = the kernel picks (reported in the ready line)"),
    QSL_ROLE_STR(S, iface, "", "multicast: the interface to join the group on"),
    QSL_ROLE_U(S, work_ns, 0, 0, 10000000, "ns",
               "busy work per message received: a slow consumer (not in mode=raw)"),
    QSL_ROLE_U(S, rcvbuf, 0, 0, 1u << 30, "bytes", "SO_RCVBUF request; 0 = the OS default"),
    QSL_ROLE_U(S, force, 0, 0, 1, "", "1: SO_RCVBUFFORCE (CAP_NET_ADMIN), past net.core.rmem_max"),
    QSL_ROLE_U(S, expected, 0, 0, 1ull << 34, "messages", "messages the publisher will send; 0 = unknown"),
    QSL_ROLE_U(S, idle_ms, 200, 1, 600000, "ms", "end this long after the last datagram "
               "(it starts at the first: with nothing at all, first_ms or deadline_ms ends the wait)"),
    QSL_ROLE_U(S, first_ms, 0, 0, 3600000, "ms", "end when no datagram at all came this long "
               "after the start (ended_by=first); 0 = only deadline_ms bounds that wait"),
    QSL_ROLE_U(S, deadline_ms, 60000, 1, 3600000, "ms", "end after this long in any case"),
    QSL_ROLE_WORDS(S, mode, 0, qsl_feed_rx_mode_names, qsl_feed_rx_mode_helps,
                   "how the subscriber receives"),
    QSL_ROLE_U(S, timestamps, 0, 0, 1, "", "1: the kernel stamps each datagram as it receives "
               "it (SO_TIMESTAMPING, software) and socket_wait times its wait in the socket "
               "until read (not in mode=raw)"),
    QSL_ROLE_U(S, print, 0, 0, 1, "", "1: print each message decoded, a line each, with a "
               "mark where sequence numbers were skipped, as the original's subscriber does: for "
               "looking, not for measuring (printing slows the consumer; not in mode=raw)"),
    QSL_ROLE_SOCKOPT(S),
    QSL_ROLE_END,
};
#undef S

struct sub_ready_line {
    uint64_t port, requested_rcvbuf, granted_rcvbuf;
    const char *mode, *sockopt;
};

#define R struct sub_ready_line
static const struct qsl_role_field sub_ready[] = {
    QSL_ROLE_F(R, port, "", "the port bound"),
    QSL_ROLE_F(R, requested_rcvbuf, "bytes", "SO_RCVBUF asked for"),
    QSL_ROLE_F(R, granted_rcvbuf, "bytes", "SO_RCVBUF as the kernel granted it (read back)"),
    QSL_ROLE_F(R, mode, "", "recvmmsg, io_uring or raw"),
    QSL_ROLE_SOCKOPT_FIELD(R),
    QSL_ROLE_FIELDS_END,
};
#undef R

struct sub_result_line {
    uint64_t datagrams, messages, received, duplicates, reordered, interior_gaps, tail_loss;
    uint64_t highest_seq, malformed, out_of_range, kernel_drops, rxq_ovfl, duration_ns;
    const char *ended_by;
    uint64_t socket_wait_count, socket_wait_p50_ns, socket_wait_p99_ns, socket_wait_p999_ns;
    uint64_t socket_wait_max_ns, unstamped;
};

#define R struct sub_result_line
static const struct qsl_role_field sub_result[] = {
    QSL_ROLE_F(R, datagrams, "datagrams", "datagrams received"),
    QSL_ROLE_F(R, messages, "messages", "messages in them"),
    QSL_ROLE_F(R, received, "messages", "distinct sequence numbers seen"),
    QSL_ROLE_F(R, duplicates, "messages", "arrivals of a number already seen"),
    QSL_ROLE_F(R, reordered, "messages", "first arrivals below the highest seen"),
    QSL_ROLE_F(R, interior_gaps, "messages", "numbers below the highest seen that never came"),
    QSL_ROLE_F(R, tail_loss, "messages", "expected - highest seen: losses no gap can show"),
    QSL_ROLE_F(R, highest_seq, "", "the highest sequence number seen"),
    QSL_ROLE_F(R, malformed, "datagrams", "datagrams refused whole"),
    QSL_ROLE_F(R, out_of_range, "messages", "sequence 0 or past the expected count"),
    QSL_ROLE_F(R, kernel_drops, "datagrams", "SO_MEMINFO: every datagram the kernel dropped on the socket"),
    QSL_ROLE_F(R, rxq_ovfl, "datagrams", "SO_RXQ_OVFL: drops before a later arrival (never the tail)"),
    QSL_ROLE_F(R, duration_ns, "ns", "first datagram to last"),
    QSL_ROLE_F(R, ended_by, "", "count, idle, deadline, stop, or first (nothing within first_ms)"),
    QSL_ROLE_F(R, socket_wait_count, "datagrams", "timestamps=1: datagrams timed in the socket"),
    QSL_ROLE_F(R, socket_wait_p50_ns, "ns", "median time from the kernel's receive to the read"),
    QSL_ROLE_F(R, socket_wait_p99_ns, "ns", "99th percentile of it"),
    QSL_ROLE_F(R, socket_wait_p999_ns, "ns", "99.9th percentile of it"),
    QSL_ROLE_F(R, socket_wait_max_ns, "ns", "the longest a datagram waited in the socket"),
    QSL_ROLE_F(R, unstamped, "datagrams", "timestamps=1: datagrams that came without a stamp"),
    QSL_ROLE_FIELDS_END,
};
#undef R

static const char *ended_name(int e)
{
    static const char *const n[] = {"?", "count", "idle", "deadline", "stop", "first"};
    return e >= 0 && e <= QSL_FEED_END_FIRST ? n[e] : "?";
}

/* print=1: each message on a line, and a mark where the sequence skipped forward (or
 * went back: a duplicate or a late one). */
struct printer {
    uint64_t next;              /* the sequence number expected next; 0 before the first */
};

static void print_message(void *ctx, const struct qsl_wire_msg *m)
{
    struct printer *p = ctx;
    char text[200];
    if (m->seq > p->next && p->next != 0)
        printf("gap: %" PRIu64 " missing (seq %" PRIu64 "..%" PRIu64 ")\n", m->seq - p->next,
               p->next, m->seq - 1);
    else if (p->next == 0 && m->seq > 1)
        printf("gap: %" PRIu64 " missing before the first (seq 1..%" PRIu64 ")\n", m->seq - 1,
               m->seq - 1);
    qsl_oneshot_format(m, text, sizeof text);
    printf("%s%s\n", text, m->seq < p->next ? " (behind: a duplicate or late)" : "");
    if (m->seq >= p->next)
        p->next = m->seq + 1;
}

static int run_subscribe(const void *args)
{
    const struct sub_args *a = args;
    static qsl_stop_flag stop;
    struct qsl_feed_rx rx;
    char why[200];
    int rc = qsl_feed_rx_init(&rx, (enum qsl_feed_rx_mode)a->mode, why, sizeof why);
    if (rc == -ENOMEM) {
        fprintf(stderr, "qsl-run subscribe: out of memory for the receive buffers\n");
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "qsl-run subscribe: mode=%s is not available here: %s\n",
                qsl_feed_rx_mode_names[a->mode], why);
        return QSL_ROLE_EXIT_SKIPPED;
    }
    rx.work_ns = a->work_ns;
    rx.first_ms = a->first_ms;
    rx.timestamps = a->timestamps;
    static struct printer printer;
    if (a->print) {
        rx.on_message = print_message;
        rx.on_message_ctx = &printer;
    }
    unsigned ifindex = 0;
    if (multicast_iface("subscribe", a->bind, a->iface, &ifindex) != 0) {
        qsl_feed_rx_free(&rx);
        return 1;
    }
    int fd = qsl_net_socket_for(a->bind, SOCK_DGRAM);
    if (fd < 0)
        return fail("subscribe", "socket", fd);
    const struct qsl_sockopt *opt = qsl_sockopt_find(a->force ? "rcvbufforce" : "rcvbuf");
    rc = a->rcvbuf ? qsl_sockopt_set(fd, opt, (int)a->rcvbuf) : 0;
    if (rc != 0)
        return fail("subscribe", a->force ? "SO_RCVBUFFORCE (needs CAP_NET_ADMIN)" : "SO_RCVBUF", rc);
    int granted = 0;
    qsl_sockopt_get(fd, opt, &granted);
    char opts[256];
    if (qsl_role_sockopts("subscribe", a->sockopt, 0, fd, NULL, opts, sizeof opts) != 0)
        return 1;
    uint16_t port = a->port;
    rc = ifindex ? qsl_net_multicast_bind(fd, a->bind, port, ifindex) : qsl_net_bind(fd, a->bind, port);
    if (rc != 0 || (rc = qsl_net_local_port(fd, &port)) != 0)
        return fail("subscribe", ifindex ? "bind and join the group" : "bind", rc);
    struct qsl_seqtrack t;
    if (qsl_seqtrack_init(&t, a->expected ? a->expected : 1u << 24) != 0) {
        fprintf(stderr, "qsl-run subscribe: out of memory for the sequence map\n");
        return 1;
    }
    if ((rc = qsl_feed_rx_prepare(fd, &rx)) != 0)
        return fail("subscribe", "SO_TIMESTAMPING", rc);
    qsl_role_stop_on_signals(&stop);
    struct sub_ready_line ready = {port, a->rcvbuf, (uint64_t)granted, qsl_feed_rx_mode_names[a->mode], opts};
    if (qsl_role_print("ready", sub_ready, &ready, sizeof ready) != 0)
        return 1;
    static struct qsl_feed_sub_stats st;       /* its histogram is 29 KiB */
    rc = qsl_feed_subscribe(fd, &rx, a->expected, a->idle_ms, a->deadline_ms, &t, &st, &stop);
    close(fd);
    qsl_feed_rx_free(&rx);
    if (rc != 0) {
        fprintf(stderr, "qsl-run subscribe: receive: %s\n", strerror(-rc));
        qsl_seqtrack_free(&t);
        return 1;
    }
    struct sub_result_line res = {
        st.datagrams, st.messages, t.received, t.duplicates, t.reordered,
        qsl_seqtrack_interior_gaps(&t), qsl_seqtrack_tail_loss(&t, a->expected), t.highest,
        st.malformed, t.out_of_range, st.kernel_drops, st.rxq_ovfl,
        st.last_ns > st.first_ns ? st.last_ns - st.first_ns : 0, ended_name(st.ended_by),
        st.socket_wait.count, qsl_hist_percentile(&st.socket_wait, 50),
        qsl_hist_percentile(&st.socket_wait, 99), qsl_hist_percentile(&st.socket_wait, 99.9),
        st.socket_wait.max, st.unstamped};
    qsl_seqtrack_free(&t);
    return qsl_role_print("result", sub_result, &res, sizeof res) == 0 ? 0 : 1;
}

const struct qsl_role qsl_role_subscribe = {
    "subscribe", "receive market data on UDP: sequence tracking and the kernel's drop count",
    "SO_RCVBUF (or SO_RCVBUFFORCE with force=1) only when rcvbuf= is given; receive buffers (recvmmsg's, or the io_uring ring's) faulted in before ready",
    sub_params, sizeof(struct sub_args), sub_ready, sub_result, sizeof(struct sub_ready_line),
    sizeof(struct sub_result_line), run_subscribe,
};
