/*
 * role_feed.c - `qsl-run publish` and `qsl-run subscribe`: the two ends of
 * the UDP market-data feed, each its own process.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "feed.h"
#include "flow.h"
#include "roles.h"
#include "sockopt.h"

/* ------------------------------------------------------------------ addresses */

/* qsl_role_parse admits numeric literals only, so this cannot fail */
static socklen_t make_addr(const char *host, uint16_t port, struct sockaddr_storage *ss)
{
    socklen_t len = 0;
    qsl_sockopt_addr(host, port, ss, &len);
    return len;
}

static int fail(const char *role, const char *what)
{
    fprintf(stderr, "qsl-run %s: %s: %s\n", role, what, strerror(errno));
    return 1;
}

/* ------------------------------------------------------------------ publish */

const struct qsl_role_param qsl_role_publish_params[] = {
    {"host", 0, 0, 0, "subscriber address", "127.0.0.1", NULL},
    {"port", 0, 1, 65535, "subscriber port (required)", NULL, NULL},
    {"seed", 42, 0, UINT64_MAX, "flow seed", NULL, NULL},
    {"orders", 20000, 1, 100000000, "orders of the flow", NULL, NULL},
    {"symbols", 3, 1, 64, "symbols", NULL, NULL},
    {"rate", 0, 0, 100000000, "messages per second; 0 = unpaced burst", NULL, NULL},
    {"batch", 64, 1, 1024, "datagrams (GSO sends) per sendmmsg", NULL, NULL},
    {"packed", 0, 0, 1, "1: many messages per datagram (MoldUDP64 framing)", NULL, NULL},
    {"datagram_bytes", 1472, 80, 65507, "packed: bytes per datagram at most", NULL, NULL},
    {"gso", 0, 0, 1, "packed: UDP_SEGMENT, many equal datagrams per send", NULL, NULL},
    {"raw", 0, 0, 1, "baseline: messages made first, then one send() each", NULL, NULL},
    {"sndbuf", 0, 0, 1u << 30, "SO_SNDBUF request; 0 = default", NULL, NULL},
    {"flow", QSL_FLOW_ORIGINAL, 0, 0, "order flow generator: the original's, or qsl's drifting mid",
     NULL, qsl_flow_gen_names},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};

int qsl_role_publish(const union qsl_role_value *v);
int qsl_role_publish(const union qsl_role_value *v)
{
    static volatile int stop;
    if (v[1].u == 0) {
        fprintf(stderr, "qsl-run publish: port= is required (the subscriber's ready line has it)\n");
        return 1;
    }
    struct qsl_feed_pub_config c;
    qsl_feed_pub_defaults(&c);
    c.seed = v[2].u;
    c.orders = v[3].u;
    c.symbols = (uint32_t)v[4].u;
    c.rate = (double)v[5].u;
    c.batch = (unsigned)v[6].u;
    c.packed = (int)v[7].u;
    c.datagram_bytes = (unsigned)v[8].u;
    c.gso = (int)v[9].u;
    c.raw = (int)v[10].u;
    c.flow = (int)v[12].u;
    struct sockaddr_storage ss;
    socklen_t len = make_addr(v[0].s, (uint16_t)v[1].u, &ss);
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail("publish", "socket");
    int granted = 0;
    const struct qsl_sockopt *sndbuf = qsl_sockopt_find("sndbuf");
    if (v[11].u && qsl_sockopt_set(fd, sndbuf, (int)v[11].u) != 0)
        return fail("publish", "SO_SNDBUF");
    qsl_sockopt_get(fd, sndbuf, &granted);
    if (connect(fd, (struct sockaddr *)&ss, len) != 0)
        return fail("publish", "connect");
    /* pacing sleeps to the microsecond, not to the default 50 us timer slack */
    prctl(PR_SET_TIMERSLACK, 1UL);
    qsl_role_stop_on_signals(&stop);
    qsl_role_line("ready", "granted_sndbuf=%d", granted);
    struct qsl_feed_pub_stats st;
    int rc = qsl_feed_publish(fd, &c, &st, &stop);
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
    qsl_role_line("result",
                  "messages=%" PRIu64 " datagrams=%" PRIu64 " send_failures=%" PRIu64
                  " failed_messages=%" PRIu64 " send_calls=%" PRIu64 " duration_ns=%" PRIu64
                  " msgs_per_s=%.0f dgrams_per_s=%.0f last_errno=%d stopped=%d",
                  st.messages, st.datagrams, st.send_failures, st.failed_messages, st.send_calls,
                  dur, secs > 0 ? (double)st.messages / secs : 0,
                  secs > 0 ? (double)st.datagrams / secs : 0, st.last_errno, stop);
    return 0;
}

/* ------------------------------------------------------------------ subscribe */

const struct qsl_role_param qsl_role_subscribe_params[] = {
    {"bind", 0, 0, 0, "address to bind", "127.0.0.1", NULL},
    {"port", 0, 0, 65535, "port; 0 = the kernel picks (reported in the ready line)", NULL, NULL},
    {"rcvbuf", 0, 0, 1u << 30, "SO_RCVBUF request; 0 = the OS default", NULL, NULL},
    {"force", 0, 0, 1, "1: SO_RCVBUFFORCE (CAP_NET_ADMIN), past net.core.rmem_max", NULL, NULL},
    {"expected", 0, 0, 1ull << 34, "messages the publisher will send; 0 = unknown", NULL, NULL},
    {"idle_ms", 200, 1, 600000, "end this long after the last datagram", NULL, NULL},
    {"deadline_ms", 60000, 1, 3600000, "end after this long in any case", NULL, NULL},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};

static const char *ended_name(int e)
{
    static const char *const n[] = {"?", "count", "idle", "deadline", "stop"};
    return e >= 0 && e <= QSL_FEED_END_STOP ? n[e] : "?";
}

int qsl_role_subscribe(const union qsl_role_value *v);
int qsl_role_subscribe(const union qsl_role_value *v)
{
    static volatile int stop;
    struct sockaddr_storage ss;
    socklen_t len = make_addr(v[0].s, (uint16_t)v[1].u, &ss);
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail("subscribe", "socket");
    uint64_t requested = v[2].u, expected = v[4].u;
    const struct qsl_sockopt *opt = qsl_sockopt_find(v[3].u ? "rcvbufforce" : "rcvbuf");
    if (requested && qsl_sockopt_set(fd, opt, (int)requested) != 0)
        return fail("subscribe", v[3].u ? "SO_RCVBUFFORCE (needs CAP_NET_ADMIN)" : "SO_RCVBUF");
    int granted = 0;
    qsl_sockopt_get(fd, opt, &granted);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0)
        return fail("subscribe", "bind");
    struct sockaddr_storage got;
    socklen_t glen = sizeof got;
    getsockname(fd, (struct sockaddr *)&got, &glen);
    unsigned port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                    : ((struct sockaddr_in *)&got)->sin_port);
    struct qsl_seqtrack t;
    struct qsl_feed_rx rx;
    if (qsl_seqtrack_init(&t, expected ? expected : 1u << 24) != 0 || qsl_feed_rx_init(&rx) != 0) {
        fprintf(stderr, "qsl-run subscribe: out of memory for the sequence map or buffers\n");
        return 1;
    }
    qsl_role_stop_on_signals(&stop);
    qsl_role_line("ready", "port=%u requested_rcvbuf=%" PRIu64 " granted_rcvbuf=%d", port,
                  requested, granted);
    struct qsl_feed_sub_stats st;
    int rc = qsl_feed_subscribe(fd, &rx, expected, (unsigned)v[5].u, (unsigned)v[6].u, &t, &st,
                                &stop);
    close(fd);
    qsl_feed_rx_free(&rx);
    if (rc != 0) {
        fprintf(stderr, "qsl-run subscribe: receive: %s\n", strerror(-rc));
        qsl_seqtrack_free(&t);
        return 1;
    }
    qsl_role_line("result",
                  "datagrams=%" PRIu64 " messages=%" PRIu64 " received=%" PRIu64
                  " duplicates=%" PRIu64 " reordered=%" PRIu64 " interior_gaps=%" PRIu64
                  " tail_loss=%" PRIu64 " highest_seq=%" PRIu64 " malformed=%" PRIu64
                  " out_of_range=%" PRIu64 " kernel_drops=%" PRIu64 " rxq_ovfl=%" PRIu64
                  " duration_ns=%" PRIu64 " ended_by=%s",
                  st.datagrams, st.messages, t.received, t.duplicates, t.reordered,
                  qsl_seqtrack_interior_gaps(&t), qsl_seqtrack_tail_loss(&t, expected), t.highest,
                  st.malformed, t.out_of_range, st.kernel_drops, st.rxq_ovfl,
                  st.last_ns - st.first_ns, ended_name(st.ended_by));
    qsl_seqtrack_free(&t);
    return 0;
}
