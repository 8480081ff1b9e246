/*
 * test_gateway.c - the epoll, io_uring and blocking gateways over loopback,
 * with the load driver and with hand-made hostile clients. A test of the
 * many-client modes runs once per mode (a loop test: _i indexes MANY); where
 * io_uring cannot run, its pass says why and checks nothing.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sched.h>
#include <time.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "gateway.h"
#include "gateway_harness.h"
#include "net.h"
#include "sockopt.h"
#include "suites.h"
#include "wire.h"

static const enum qsl_gateway_mode MANY[] = {QSL_GATEWAY_EPOLL, QSL_GATEWAY_IO_URING};
#define BLOCKING QSL_GATEWAY_BLOCKING

#define MANY_MODE(m)                                                                         \
    enum qsl_gateway_mode m = MANY[_i];                                                      \
    if (m == QSL_GATEWAY_IO_URING && !qsl_test_io_uring_runs(__func__))                      \
        return

static void start_idle(struct server *s, enum qsl_gateway_mode mode, unsigned max_conns,
                       size_t out_bytes, uint32_t idle_ms)
{
    qsl_test_server_init(s, mode);
    s->c.idle_ms = idle_ms;
    s->c.max_conns = max_conns;
    s->c.out_bytes = out_bytes;
    qsl_test_server_serve(s, 1024);
}

static void start(struct server *s, enum qsl_gateway_mode mode, unsigned max_conns,
                  size_t out_bytes)
{
    start_idle(s, mode, max_conns, out_bytes, QSL_GATEWAY_IDLE_DEFAULT);
}

#define finish qsl_test_server_finish
#define dial qsl_test_dial
#define ms_now qsl_test_ms

static void load(struct server *s, int pattern, unsigned conns, unsigned depth, uint64_t requests,
                 struct qsl_load_stats *st)
{
    struct qsl_load_config c;
    qsl_load_defaults(&c);
    ck_assert_int_eq(qsl_load_target(&c, "127.0.0.1", s->port), 0);
    c.pattern = pattern;
    c.connections = conns;
    c.depth = depth;
    c.requests = requests;
    c.timeout_ms = 20000;
    ck_assert_int_eq(qsl_load_run(&c, st, NULL), 0);
    ck_assert_msg(st->errors == 0, "load error: %s", st->error);
}

/* Read exactly n bytes (or fail the test). */
static void read_n(int fd, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, buf + got, n - got, 0);
        ck_assert_msg(r > 0, "recv: %zd (%s) after %zu of %zu", r, strerror(errno), got, n);
        got += (size_t)r;
    }
}

static int closed_by_server(int fd)
{
    uint8_t b[256];
    ssize_t r;
    while ((r = recv(fd, b, sizeof b, 0)) > 0)
        ;
    return r == 0 || (r < 0 && errno == ECONNRESET);
}

static size_t heartbeat(uint8_t *b, uint64_t token)
{
    struct qsl_wire_msg m = {.type = QSL_WIRE_HEARTBEAT, .u.heartbeat.token = token};
    return (size_t)qsl_wire_encode(&m, b, 64);
}

/* Poll a counter the server thread publishes until it reaches want (or fail after 5 s). */
static void wait_counter(const uint64_t *c, uint64_t want, const char *what)
{
    uint64_t deadline = ms_now() + 5000;
    while (__atomic_load_n(c, __ATOMIC_RELAXED) != want) {
        ck_assert_msg(ms_now() < deadline, "%s: %" PRIu64 ", waited for %" PRIu64, what,
                      __atomic_load_n(c, __ATOMIC_RELAXED), want);
        sched_yield();
    }
}

/* How a connection ended, seen from the client after reading everything: EOF (0),
 * a reset (ECONNRESET), or still open after ms (ETIMEDOUT). */
static int end_of(int fd, int ms, size_t *bytes)
{
    uint8_t b[4096];
    uint64_t deadline = ms_now() + (uint64_t)ms;
    *bytes = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int left = (int)(deadline > ms_now() ? deadline - ms_now() : 0);
        if (poll(&p, 1, left) <= 0)
            return ETIMEDOUT;
        ssize_t r = recv(fd, b, sizeof b, MSG_DONTWAIT);
        if (r > 0)
            *bytes += (size_t)r;
        else if (r == 0)
            return 0;
        else if (errno != EAGAIN && errno != EINTR)
            return errno;
    }
}

struct sender {
    int fd;
    const uint8_t *buf;
    size_t len;
    int shut;                   /* shutdown(SHUT_WR) after the last byte */
    size_t sent;
    pthread_t th;
};

static void *sender_main(void *arg)
{
    struct sender *w = arg;
    while (w->sent < w->len) {
        ssize_t r = send(w->fd, w->buf + w->sent, w->len - w->sent, MSG_NOSIGNAL);
        if (r <= 0)
            break;
        w->sent += (size_t)r;
    }
    if (w->shut)
        shutdown(w->fd, SHUT_WR);
    return NULL;
}

static size_t new_order(uint8_t *b, uint64_t id, uint32_t sym, int64_t px, uint32_t qty,
                        uint8_t side, uint8_t type, uint8_t tif)
{
    struct qsl_wire_msg m = {.type = QSL_WIRE_NEW_ORDER,
                             .u.new_order = {id, sym, px, qty, side, type, tif}};
    return (size_t)qsl_wire_encode(&m, b, 64);
}

START_TEST(test_many_pipelined_clients_every_reply_checked)
{
    struct server s;
    MANY_MODE(mode);
    struct qsl_load_stats *st = malloc(sizeof *st);
    start(&s, mode, 1024, 65536);
    load(&s, QSL_LOAD_PERSISTENT, 32, 16, 100000, st);
    ck_assert_uint_eq(st->completed, 100000);
    /* every request answered once, plus each connection's final Heartbeat */
    ck_assert_uint_eq(st->acks + st->rejects + st->heartbeat_acks, 100000 + 32);
    ck_assert_uint_gt(st->fills, 1000);
    wait_counter(&s.st.active, 0, "connections open");     /* the gateway saw every close */
    finish(&s);
    ck_assert_uint_eq(s.st.connections, 32);
    ck_assert_uint_eq(s.st.active_max, 32);
    ck_assert_uint_eq(s.st.frames_in, 100000 + 32);     /* + one final Heartbeat each */
    ck_assert_uint_eq(s.st.fills, st->fills);
    ck_assert_uint_eq(s.st.closed_by_peer, 32);
    free(st);
}
END_TEST

/* Connections live in slots of huge-page slabs (huge_pages on: 60 at once fill more than
 * two 2 MiB slabs) or malloc'd (off); closed ones' slots are reused. Every reply arrives
 * either way. */
START_TEST(test_connection_memory_with_and_without_huge_pages)
{
    MANY_MODE(mode);
    struct qsl_load_stats *st = malloc(sizeof *st);
    for (int huge = 1; huge >= 0; huge--) {
        struct server s;
        qsl_test_server_init(&s, mode);
        s.c.engine.huge_pages = (uint8_t)huge;
        qsl_test_server_serve(&s, 1024);
        load(&s, QSL_LOAD_PERSISTENT, 60, 4, 20000, st);
        ck_assert_uint_eq(st->completed, 20000);
        ck_assert_uint_eq(st->acks + st->rejects + st->heartbeat_acks, 20000 + 60);
        load(&s, QSL_LOAD_SHORT, 1, 1, 200, st);
        ck_assert_uint_eq(st->completed, 200);
        load(&s, QSL_LOAD_PERSISTENT, 60, 4, 5000, st);
        ck_assert_uint_eq(st->completed, 5000);
        finish(&s);
        ck_assert_uint_ge(s.st.connections, 120 + 200);
        ck_assert_uint_eq(s.st.refused, 0);
    }
    free(st);
}
END_TEST

START_TEST(test_blocking_mode_serves_one_at_a_time)
{
    struct server s;
    struct qsl_load_stats *st = malloc(sizeof *st);
    start(&s, BLOCKING, 1, 65536);
    load(&s, QSL_LOAD_PERSISTENT, 4, 4, 4000, st);
    ck_assert_uint_eq(st->completed, 4000);
    load(&s, QSL_LOAD_SHORT, 1, 1, 50, st);
    ck_assert_uint_eq(st->connects, 50);
    finish(&s);
    ck_assert_uint_eq(s.st.active_max, 1);
    ck_assert_uint_eq(s.st.connections, 54);
    free(st);
}
END_TEST

START_TEST(test_frames_split_across_writes)
{
    struct server s;
    MANY_MODE(mode);
    start(&s, mode, 16, 65536);
    int fd = dial(s.port);
    uint8_t req[64], reply[24];
    size_t n = heartbeat(req, 0xabcdef);
    for (size_t cut = 1; cut < n; cut++) {
        uint64_t before = __atomic_load_n(&s.st.bytes_in, __ATOMIC_RELAXED);
        ck_assert_int_eq(send(fd, req, cut, 0), (ssize_t)cut);
        wait_counter(&s.st.bytes_in, before + cut, "bytes read");   /* the first part alone */
        ck_assert_int_eq(send(fd, req + cut, n - cut, 0), (ssize_t)(n - cut));
        read_n(fd, reply, sizeof reply);
        struct qsl_wire_msg m;
        ck_assert_int_eq(qsl_wire_decode(reply, sizeof reply, &m, NULL), QSL_WIRE_OK);
        ck_assert_int_eq(m.type, QSL_WIRE_HEARTBEAT_ACK);
        ck_assert_uint_eq(m.u.heartbeat.token, 0xabcdef);
    }
    close(fd);
    finish(&s);
}
END_TEST

START_TEST(test_malformed_frame_closes_only_that_connection)
{
    struct server s;
    MANY_MODE(mode);
    start(&s, mode, 16, 65536);
    int good = dial(s.port), bad = dial(s.port);
    uint8_t req[64], reply[24];
    size_t n = heartbeat(req, 1);
    send(bad, req, n, 0);
    read_n(bad, reply, sizeof reply);               /* a good frame first is answered */
    qsl_be32_put(req + 4, 4097);                    /* then body_len 4097 */
    send(bad, req, QSL_WIRE_HEADER_SIZE, 0);
    ck_assert(closed_by_server(bad));
    n = heartbeat(req, 2);
    send(good, req, n, 0);                          /* the other connection goes on */
    read_n(good, reply, sizeof reply);
    close(good);
    close(bad);
    finish(&s);
    ck_assert_uint_eq(s.st.closed_malformed, 1);
}
END_TEST

START_TEST(test_peer_that_vanishes_mid_response)
{
    struct server s;
    MANY_MODE(mode);
    start(&s, mode, 16, 1 << 20);
    /* a thousand heartbeats, then reset (SO_LINGER 0) without reading a byte */
    int fd = dial(s.port);
    uint8_t req[24 * 1000];
    for (int i = 0; i < 1000; i++)
        heartbeat(req + 24 * i, (uint64_t)i);
    send(fd, req, sizeof req, 0);
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
    wait_counter(&s.st.active, 0, "connections open");     /* the gateway saw the reset */
    int again = dial(s.port);
    uint8_t reply[24];
    send(again, req, 24, 0);
    read_n(again, reply, sizeof reply);             /* still serving */
    close(again);
    finish(&s);
    ck_assert_uint_eq(s.st.connections, 2);
}
END_TEST

START_TEST(test_connection_cap_refuses_the_excess)
{
    struct server s;
    MANY_MODE(mode);
    start(&s, mode, 4, 65536);
    int fds[6];
    for (int i = 0; i < 6; i++)
        fds[i] = dial(s.port);
    wait_counter(&s.st.refused, 2, "refused");              /* all six seen */
    wait_counter(&s.st.connections, 4, "connections");
    uint8_t req[64], reply[24];
    size_t n = heartbeat(req, 5);
    int served = 0, refused = 0;
    for (int i = 0; i < 6; i++) {
        send(fds[i], req, n, MSG_NOSIGNAL);
        ssize_t r = recv(fds[i], reply, sizeof reply, MSG_WAITALL);
        served += r == (ssize_t)sizeof reply;
        refused += r <= 0;
    }
    ck_assert_int_eq(served, 4);
    ck_assert_int_eq(refused, 2);
    for (int i = 0; i < 6; i++)
        close(fds[i]);
    finish(&s);
    ck_assert_uint_eq(s.st.refused, 2);
    ck_assert_uint_eq(s.st.active_max, 4);
}
END_TEST

START_TEST(test_client_that_never_reads_is_bounded)
{
    struct server s;
    MANY_MODE(mode);
    start(&s, mode, 16, 4096);
    int fd = dial(s.port);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    uint8_t req[24 * 512];
    for (int i = 0; i < 512; i++)
        heartbeat(req + 24 * i, (uint64_t)i);
    /* send far more than the replies the gateway will hold, never reading */
    size_t sent = 0;
    for (int round = 0; round < 2000; round++) {
        struct pollfd p = {fd, POLLOUT, 0};
        if (poll(&p, 1, 200) <= 0)
            break;              /* the gateway stopped reading us: backpressure */
        ssize_t r = send(fd, req, sizeof req, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r < 0)
            break;
        sent += (size_t)r;
    }
    ck_assert_uint_lt(sent, 2000 * sizeof req);     /* it did push back */
    int other = dial(s.port);
    uint8_t reply[24];
    send(other, req, 24, 0);
    read_n(other, reply, sizeof reply);             /* others are served meanwhile */
    /* what the gateway holds for the silent client stays within its bounds: replies
     * in user space at most out_bytes, unanswered requests at most its input buffer */
    ck_assert_uint_le(__atomic_load_n(&s.st.out_queued_max, __ATOMIC_RELAXED), 4096);
    ck_assert_uint_le(__atomic_load_n(&s.st.in_held_max, __ATOMIC_RELAXED), 16384);
    ck_assert_uint_lt(__atomic_load_n(&s.st.bytes_in, __ATOMIC_RELAXED), sent);
    close(other);
    close(fd);
    finish(&s);
}
END_TEST

/*
 * Issue 10.1: a client pipelines orders, shuts down its write side, and only
 * then reads. Every order applied must have its Ack delivered, and the
 * connection must end with EOF, not a reset that discards unread Acks.
 */
static void half_close_then_read(enum qsl_gateway_mode mode)
{
    struct server s;
    start(&s, mode, 16, 65536);
    enum { N = 20000 };
    uint8_t *req = malloc((size_t)N * 43);
    size_t len = 0;
    for (uint64_t i = 0; i < N; i++)        /* sells at rising prices: each rests, one Ack */
        len += new_order(req + len, i + 1, (uint32_t)(i % 2), 100 + (int64_t)i, 1, QSL_SELL,
                         QSL_LIMIT, QSL_GTC);
    int fd = dial(s.port);
    struct sender w = {.fd = fd, .buf = req, .len = len, .shut = 1};
    pthread_create(&w.th, NULL, sender_main, &w);
    /* read nothing until the sender is done or stuck (the gateway stopped reading) */
    uint64_t until = ms_now() + 1000;
    while (__atomic_load_n(&s.st.bytes_in, __ATOMIC_RELAXED) < len && ms_now() < until)
        sched_yield();
    size_t got = 0;
    int end = end_of(fd, 10000, &got);
    pthread_join(w.th, NULL);
    ck_assert_uint_eq(w.sent, len);
    ck_assert_msg(end == 0, "the connection ended with %s, not EOF", strerror(end));
    ck_assert_uint_eq(got, (size_t)N * 32);          /* every Ack */
    close(fd);
    finish(&s);
    ck_assert_uint_eq(s.st.new_orders, N);
    ck_assert_uint_eq(s.st.closed_by_peer, 1);
    free(req);
}

START_TEST(test_half_close_gets_every_reply_many)
{
    MANY_MODE(mode);
    half_close_then_read(mode);
}
END_TEST

START_TEST(test_half_close_gets_every_reply_blocking)
{
    half_close_then_read(BLOCKING);
}
END_TEST

/* Issue 10.1: replies to the frames before a malformed one arrive, then EOF,
 * even with input still unread behind the bad frame. */
static void replies_before_malformed(enum qsl_gateway_mode mode)
{
    struct server s;
    start(&s, mode, 16, 65536);
    enum { K = 100, JUNK = 300000 };
    uint8_t *req = calloc(1, K * 24 + 16 + JUNK);
    size_t len = 0;
    for (int i = 0; i < K; i++)
        len += heartbeat(req + len, (uint64_t)i);
    heartbeat(req + len, 0);
    qsl_be16_put(req + len + 2, 9);         /* version 9: malformed */
    len += 16 + JUNK;
    int fd = dial(s.port);
    struct sender w = {.fd = fd, .buf = req, .len = len};
    pthread_create(&w.th, NULL, sender_main, &w);
    size_t got = 0;
    int end = end_of(fd, 10000, &got);
    pthread_join(w.th, NULL);
    ck_assert_msg(end == 0, "the connection ended with %s, not EOF", strerror(end));
    ck_assert_uint_eq(got, (size_t)K * 24);
    close(fd);
    finish(&s);
    ck_assert_uint_eq(s.st.closed_malformed, 1);
    free(req);
}

START_TEST(test_replies_before_a_malformed_frame_arrive_many)
{
    MANY_MODE(mode);
    replies_before_malformed(mode);
}
END_TEST

START_TEST(test_replies_before_a_malformed_frame_arrive_blocking)
{
    replies_before_malformed(BLOCKING);
}
END_TEST

/* Issue 10.2: blocking mode, heartbeats pipelined far past the reply buffer. */
/* n heartbeats pipelined on one connection, half-closed after the last, and every reply
 * read until EOF: fails unless the connection ends with EOF; the reply bytes read. */
static size_t pipeline_heartbeats(struct server *s, int n, int ms)
{
    uint8_t *req = malloc((size_t)n * 24);
    for (int i = 0; i < n; i++)
        heartbeat(req + 24 * i, (uint64_t)i);
    int fd = dial(s->port);
    struct sender w = {.fd = fd, .buf = req, .len = (size_t)n * 24, .shut = 1};
    pthread_create(&w.th, NULL, sender_main, &w);
    size_t got = 0;
    int end = end_of(fd, ms, &got);
    pthread_join(w.th, NULL);
    close(fd);
    free(req);
    ck_assert_msg(end == 0, "the connection ended with %s, not EOF", strerror(end));
    return got;
}

START_TEST(test_blocking_mode_takes_deep_pipelines)
{
    struct server s;
    start(&s, BLOCKING, 1, 65536);
    enum { N = 20000 };
    size_t got = pipeline_heartbeats(&s, N, 10000);
    finish(&s);
    ck_assert_uint_eq(got, (size_t)N * 24);
    ck_assert_uint_eq(s.st.heartbeats, N);
    ck_assert_uint_eq(s.st.closed_output_limit, 0);
}
END_TEST

/* Issue 10.3: blocking mode, a stop while a send is blocked on a client that never reads. */
START_TEST(test_blocking_mode_stops_while_a_send_is_blocked)
{
    struct server s;
    start_idle(&s, BLOCKING, 1, 65536, 0);     /* only the stop may end it */
    int fd = dial(s.port);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    uint8_t req[24 * 512];
    for (int i = 0; i < 512; i++)
        heartbeat(req + 24 * i, (uint64_t)i);
    /* until the gateway is stuck writing: it stops taking our bytes */
    uint64_t until = ms_now() + 5000;
    for (;;) {
        struct pollfd p = {fd, POLLOUT, 0};
        if (poll(&p, 1, 300) <= 0)
            break;
        ck_assert_int_gt(send(fd, req, sizeof req, MSG_DONTWAIT | MSG_NOSIGNAL), 0);
        ck_assert_msg(ms_now() < until, "the gateway never pushed back");
    }
    uint64_t t0 = ms_now();
    finish(&s);
    ck_assert_uint_lt(ms_now() - t0, 2000);         /* well within a role's grace period */
    ck_assert_uint_eq(s.st.closed_at_stop, 1);
    close(fd);
}
END_TEST

/* Issue 10.4: an idle client and a 1-byte dribbler do not lock out the next client. */
START_TEST(test_blocking_mode_idle_client_is_closed)
{
    struct server s;
    start_idle(&s, BLOCKING, 1, 65536, 300);
    int idle = dial(s.port);
    int drip = dial(s.port);
    int good = dial(s.port);
    uint8_t req[64], reply[24];
    size_t n = heartbeat(req, 77);
    for (int i = 0; i < 3; i++)             /* the dribbler: 3 bytes, never a whole frame */
        ck_assert_int_eq(send(drip, req + i, 1, MSG_NOSIGNAL), 1);
    ck_assert_int_eq(send(good, req, n, 0), (ssize_t)n);
    uint64_t t0 = ms_now();
    read_n(good, reply, sizeof reply);
    ck_assert_uint_lt(ms_now() - t0, 4000);         /* served after two idle periods */
    size_t b;
    ck_assert_int_eq(end_of(idle, 100, &b), 0);     /* closed: EOF */
    close(idle);
    close(drip);
    close(good);
    finish(&s);
    ck_assert_uint_eq(s.st.closed_idle, 2);
}
END_TEST

/* Issue 10.4: epoll mode takes idle_ms too; idle sockets are closed, busy ones not. */
START_TEST(test_many_mode_idle_connections_are_closed)
{
    struct server s;
    MANY_MODE(mode);
    start_idle(&s, mode, 64, 65536, 300);
    int fds[32];
    for (int i = 0; i < 32; i++)
        fds[i] = dial(s.port);
    int busy = dial(s.port);
    uint8_t req[64], reply[24];
    size_t n = heartbeat(req, 1);
    uint64_t until = ms_now() + 900;
    while (ms_now() < until) {              /* a request every 50 ms keeps it alive */
        send(busy, req, n, 0);
        read_n(busy, reply, sizeof reply);
        struct pollfd p = {busy, POLLIN, 0};
        poll(&p, 1, 50);
    }
    for (int i = 0; i < 32; i++) {
        size_t b;
        ck_assert_int_eq(end_of(fds[i], 2000, &b), 0);
        close(fds[i]);
    }
    send(busy, req, n, 0);
    read_n(busy, reply, sizeof reply);
    close(busy);
    finish(&s);
    ck_assert_uint_eq(s.st.closed_idle, 32);
}
END_TEST

START_TEST(test_load_driver_catches_a_wrong_reply)
{
    /* an echo-like fake server answering every frame with a HeartbeatAck of token 0 */
    uint16_t port = 0;
    int lfd = qsl_net_tcp_server("127.0.0.1", &port, 16);
    ck_assert_int_ge(lfd, 0);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = accept(lfd, NULL, NULL);
        uint8_t in[64], out[64];
        size_t n = heartbeat(out, 0);
        while (recv(fd, in, QSL_WIRE_HEADER_SIZE + 8, MSG_WAITALL) > 0)
            send(fd, out, n, MSG_NOSIGNAL);
        _exit(0);
    }
    struct qsl_load_config c;
    qsl_load_defaults(&c);
    qsl_load_target(&c, "127.0.0.1", port);
    c.mix_rest = c.mix_cross = c.mix_cancel = 0;
    c.mix_heartbeat = 100;
    c.requests = 10;
    c.timeout_ms = 2000;
    struct qsl_load_stats *st = malloc(sizeof *st);
    ck_assert_int_eq(qsl_load_run(&c, st, NULL), 0);
    ck_assert_uint_gt(st->errors, 0);
    ck_assert_ptr_nonnull(strstr(st->error, "expected the reply to a Heartbeat"));
    free(st);
    close(lfd);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}
END_TEST

struct load_thread {
    struct server *s;
    struct qsl_load_stats st;
    pthread_t th;
};

static void *load_main(void *arg)
{
    struct load_thread *t = arg;
    struct qsl_load_config c;
    qsl_load_defaults(&c);
    qsl_load_target(&c, "127.0.0.1", t->s->port);
    c.connections = 4;
    c.depth = 4;
    c.requests = 0;
    c.duration_ms = 1500;
    c.timeout_ms = 20000;
    if (qsl_load_run(&c, &t->st, NULL) != 0)
        t->st.errors = 1;
    return NULL;
}

/* Every hostile class at once, beside verified good clients: the good ones see
 * no error, every bad connection is closed and counted, nothing stays open. */
START_TEST(test_hostile_classes_beside_good_clients)
{
    struct server s;
    MANY_MODE(mode);
    start(&s, mode, 1024, 65536);
    struct load_thread good = {.s = &s};
    pthread_create(&good.th, NULL, load_main, &good);
    int idle[200];
    for (int i = 0; i < 200; i++)
        idle[i] = dial(s.port);
    unsigned seed = 5;
    uint8_t junk[4096];
    for (int i = 0; i < 20; i++) {                  /* random bytes */
        for (size_t k = 0; k < sizeof junk; k++)
            junk[k] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 16);
        junk[2] = 0x7f;                             /* never version 1: always malformed */
        int fd = dial(s.port);
        send(fd, junk, sizeof junk, MSG_NOSIGNAL);
        ck_assert(closed_by_server(fd));
        close(fd);
    }
    static const uint32_t huge[] = {4097, 0xffffffffu};
    for (int i = 0; i < 2; i++) {                   /* oversized bodies */
        uint8_t h[64];
        heartbeat(h, 1);
        qsl_be32_put(h + 4, huge[i]);
        int fd = dial(s.port);
        send(fd, h, QSL_WIRE_HEADER_SIZE, MSG_NOSIGNAL);
        ck_assert(closed_by_server(fd));
        close(fd);
    }
    for (int i = 0; i < 20; i++) {                  /* half a frame, then gone */
        uint8_t h[64];
        heartbeat(h, 1);
        int fd = dial(s.port);
        send(fd, h, 10, MSG_NOSIGNAL);
        close(fd);
    }
    for (int i = 0; i < 300; i++)                   /* connect and close */
        close(dial(s.port));
    for (int i = 0; i < 200; i++)
        close(idle[i]);
    pthread_join(good.th, NULL);
    ck_assert_msg(good.st.errors == 0, "good clients: %s", good.st.error);
    ck_assert_uint_gt(good.st.completed, 1000);
    wait_counter(&s.st.active, 0, "connections open");     /* the gateway saw the last closes */
    finish(&s);
    uint64_t closes = s.st.closed_by_peer + s.st.closed_malformed + s.st.closed_unexpected +
                      s.st.closed_output_limit + s.st.closed_error + s.st.closed_at_stop;
    ck_assert_uint_eq(s.st.connections, 4 + 200 + 20 + 2 + 20 + 300);
    ck_assert_uint_eq(closes, s.st.connections);
    ck_assert_uint_eq(s.st.closed_malformed, 22);
    ck_assert_uint_eq(s.st.closed_at_stop, 0);      /* nothing was still open at the end */
}
END_TEST

START_TEST(test_listen_refuses_a_name)
{
    uint16_t port = 0;
    ck_assert_int_eq(qsl_net_tcp_server("localhost", &port, 16), -EINVAL);
    ck_assert_int_eq(qsl_net_tcp_server("0.0.0.0.1", &port, 16), -EINVAL);
}
END_TEST

/* A client whose receive buffer is small from the start (set before connect, so the
 * window it advertises is small), for a gateway whose replies must back up. */
static int dial_small(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* start_idle, with a small send buffer on every connection and stall_ms. */
static struct qsl_sockopt_list small_sndbuf;

static void start_tight(struct server *s, enum qsl_gateway_mode mode, size_t out_bytes,
                        uint32_t idle_ms, uint32_t stall_ms)
{
    char err[128];
    ck_assert_int_eq(qsl_sockopt_parse_list("sndbuf:4096", 1, &small_sndbuf, err, sizeof err), 0);
    qsl_test_server_init(s, mode);
    s->c.max_conns = 16;
    s->c.out_bytes = out_bytes;
    s->c.idle_ms = idle_ms;
    s->c.stall_ms = stall_ms;
    s->c.conn_opts = &small_sndbuf;
    qsl_test_server_serve(s, 16);
}

/* Every mode, from the gateway's own list (io_uring, last, is cut where it cannot run);
 * test_slow_reader_gets_every_ack takes mode _i / 2, the idle bound 200 ms on odd _i. */
_Static_assert(QSL_GATEWAY_IO_URING == QSL_GATEWAY_MODE_COUNT - 1, "io_uring is the last mode");
#define ANY_MODE(m, i)                                                                       \
    enum qsl_gateway_mode m = (enum qsl_gateway_mode)(i);                                    \
    if (m == QSL_GATEWAY_IO_URING && !qsl_test_io_uring_runs(__func__))                      \
        return

/*
 * Issue 21.1: a client pipelines resting orders as fast as it can, reads its
 * replies slowly (it stops reading for longer than idle_ms once the gateway
 * pushes back), then half-closes. A connection that owes replies is not idle:
 * every order applied has its Ack delivered, in every mode, with and without
 * idle_ms, and nothing is counted as discarded.
 */
START_TEST(test_slow_reader_gets_every_ack)
{
    ANY_MODE(mode, _i / 2);
    uint32_t idle = _i % 2 ? 200 : QSL_GATEWAY_IDLE_DEFAULT;
    struct server s;
    start_tight(&s, mode, 65536, idle, 0);
    enum { N = 30000 };
    uint8_t *req = malloc((size_t)N * 43);
    size_t len = 0;
    for (uint64_t i = 0; i < N; i++)
        len += new_order(req + len, i + 1, (uint32_t)(i % 2), 100 + (int64_t)i, 1, QSL_SELL,
                         QSL_LIMIT, QSL_GTC);
    int fd = dial_small(s.port);
    struct sender w = {.fd = fd, .buf = req, .len = len, .shut = 1};
    pthread_create(&w.th, NULL, sender_main, &w);
    /* read nothing until the gateway stops taking our bytes, then nothing for 3 idle periods */
    uint64_t until = ms_now() + 3000, last = 0, still = ms_now();
    while (ms_now() < until && ms_now() - still < 600) {
        uint64_t in = __atomic_load_n(&s.st.bytes_in, __ATOMIC_RELAXED);
        if (in != last)
            last = in, still = ms_now();
        if (in == len)
            break;
        sched_yield();
    }
    ck_assert_uint_lt(last, len);                   /* it did push back: replies were owed */
    size_t got = 0;
    int end = end_of(fd, 20000, &got);
    pthread_join(w.th, NULL);
    ck_assert_uint_eq(w.sent, len);
    ck_assert_msg(end == 0, "the connection ended with %s, not EOF", strerror(end));
    close(fd);
    finish(&s);
    ck_assert_uint_eq(s.st.new_orders, N);
    ck_assert_uint_eq(got, (size_t)N * 32);          /* an Ack for every order applied */
    ck_assert_uint_eq(s.st.replies_discarded, 0);
    ck_assert_uint_eq(s.st.closed_idle, 0);
    ck_assert_uint_eq(s.st.closed_by_peer, 1);
    free(req);
}
END_TEST

/* The original's book grows: 70,000 resting orders on one connection are all Acked with
 * the default parameters (a fixed pool once refused those past 65,536), in every mode. */
START_TEST(test_seventy_thousand_resting_orders_all_acked)
{
    ANY_MODE(mode, _i);
    struct server s;
    start_idle(&s, mode, 1024, 65536, QSL_GATEWAY_IDLE_DEFAULT);
    enum { N = 70000 };
    uint8_t *req = malloc((size_t)N * 43);
    size_t len = 0;
    for (uint64_t i = 0; i < N; i++)
        len += new_order(req + len, i + 1, 0, 1000 - (int64_t)(i % 900), 1, QSL_BUY, QSL_LIMIT,
                         QSL_GTC);
    int fd = dial(s.port);
    struct sender w = {.fd = fd, .buf = req, .len = len, .shut = 1};
    pthread_create(&w.th, NULL, sender_main, &w);
    size_t got = 0;
    int end = end_of(fd, 20000, &got);
    pthread_join(w.th, NULL);
    ck_assert_msg(end == 0, "the connection ended with %s, not EOF", strerror(end));
    close(fd);
    finish(&s);
    ck_assert_uint_eq(s.st.new_orders, N);
    ck_assert_uint_eq(s.st.rejects[QSL_REJECT_STORAGE_EXHAUSTED], 0);
    ck_assert_uint_eq(got, (size_t)N * 32);          /* an Ack each, nothing else */
    free(req);
}
END_TEST

/*
 * Issue 21.1: when stall_ms forces a close, what the client got and what the
 * gateway counts as discarded add up to every reply it owed: heartbeats
 * answered == HeartbeatAcks received whole + replies_discarded.
 */
START_TEST(test_stalled_close_counts_every_discarded_reply)
{
    ANY_MODE(mode, _i);
    struct server s;
    start_tight(&s, mode, 4096, 0, 300);
    int fd = dial_small(s.port);
    uint8_t req[24 * 512];
    for (int i = 0; i < 512; i++)
        heartbeat(req + 24 * i, (uint64_t)i);
    for (int round = 0; round < 2000; round++) {    /* until the gateway stops taking them */
        struct pollfd p = {fd, POLLOUT, 0};
        if (poll(&p, 1, 100) <= 0 ||
            send(fd, req, sizeof req, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
            break;
    }
    uint64_t deadline = ms_now() + 5000;
    while (__atomic_load_n(&s.st.closed_stalled, __ATOMIC_RELAXED) == 0 && ms_now() < deadline)
        sched_yield();
    size_t got = 0;
    int end = end_of(fd, 10000, &got);
    ck_assert_msg(end == 0, "the connection ended with %s, not EOF", strerror(end));
    close(fd);
    finish(&s);
    ck_assert_uint_eq(s.st.closed_stalled, 1);
    ck_assert_uint_gt(s.st.replies_discarded, 0);
    ck_assert_uint_eq(s.st.heartbeats, got / 24 + s.st.replies_discarded);
}
END_TEST

/* Issue 21.5: a frame that waits for output room is counted once, when handled. */
START_TEST(test_frames_in_counts_a_frame_once)
{
    ANY_MODE(mode, _i);
    struct server s;
    start(&s, mode, 16, 128);       /* room for five HeartbeatAcks: frames pause often */
    enum { N = 21000 };
    size_t got = pipeline_heartbeats(&s, N, 20000);
    finish(&s);
    ck_assert_uint_eq(got, (size_t)N * 24);
    ck_assert_uint_eq(s.st.heartbeats, N);
    ck_assert_uint_eq(s.st.frames_in, N);
    ck_assert_uint_eq(s.st.frames_out, N);
}
END_TEST

/* What the gateway hands its tcp_info callback, by connection (from its thread). */
struct tcp_records {
    pthread_mutex_t mu;
    unsigned closing[4], samples[4], other;
};

static void on_tcpinfo(void *ctx, unsigned conn, uint64_t when_ns, int closing,
                       const struct qsl_tcpinfo *t)
{
    struct tcp_records *r = ctx;
    (void)when_ns;
    pthread_mutex_lock(&r->mu);
    if (conn >= 1 && conn < 4 && t->segs_in > 0)
        (closing ? r->closing : r->samples)[conn]++;
    else
        r->other++;
    pthread_mutex_unlock(&r->mu);
}

static unsigned samples_of(struct tcp_records *r, unsigned conn)
{
    pthread_mutex_lock(&r->mu);
    unsigned n = r->samples[conn];
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* Issue 22: every accepted connection's TCP_INFO as it closes, once, by its ordinal; with
 * tcp_info_ms, samples while it is open (the blocking mode's between reads too). */
START_TEST(test_tcp_info_of_every_connection_at_close_and_while_open)
{
    ANY_MODE(mode, _i);
    struct tcp_records r = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct server s;
    qsl_test_server_init(&s, mode);
    s.c.tcp_info = on_tcpinfo;
    s.c.tcp_info_ctx = &r;
    s.c.tcp_info_ms = 10;
    qsl_test_server_serve(&s, 16);
    for (unsigned conn = 1; conn <= 2; conn++) {
        int fd = dial(s.port);
        uint8_t req[64], reply[24];
        size_t n = heartbeat(req, conn);
        ck_assert_int_eq(send(fd, req, n, 0), (ssize_t)n);
        read_n(fd, reply, sizeof reply);
        uint64_t until = ms_now() + 5000;       /* open until sampled twice (or 5 s) */
        while (samples_of(&r, conn) < 2 && ms_now() < until)
            poll(NULL, 0, 5);
        close(fd);
    }
    finish(&s);
    ck_assert_uint_eq(s.st.connections, 2);
    ck_assert_uint_eq(s.st.tcp.connections, 2);
    for (unsigned conn = 1; conn <= 2; conn++) {
        ck_assert_uint_eq(r.closing[conn], 1);
        ck_assert_uint_ge(r.samples[conn], 2);
    }
    ck_assert_uint_eq(r.other, 0);
}
END_TEST

/* Issue 21.11: a stop that comes while the blocking server waits for a client, with
 * no signal to interrupt the wait, ends it within the wait's slice. */
START_TEST(test_blocking_mode_stop_between_clients)
{
    struct server s;
    start(&s, BLOCKING, 1, 65536);
    int fd = dial(s.port);          /* served and gone: the server is back waiting to accept */
    uint8_t req[64], reply[24];
    size_t n = heartbeat(req, 5);
    ck_assert_int_eq(send(fd, req, n, 0), (ssize_t)n);
    read_n(fd, reply, sizeof reply);
    close(fd);
    wait_counter(&s.st.active, 0, "connections open");
    uint64_t t0 = ms_now();
    s.stop = 1;                     /* no shutdown of the listener, no signal */
    int joined;
    while ((joined = pthread_tryjoin_np(s.th, NULL) == 0) == 0 && ms_now() - t0 < 3000) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    uint64_t took = ms_now() - t0;
    if (!joined) {                  /* release it before failing */
        shutdown(s.lfd, SHUT_RDWR);
        pthread_join(s.th, NULL);
    }
    close(s.lfd);
    ck_assert_msg(took < 1000, "the blocking server slept through its stop (%" PRIu64 " ms)", took);
}
END_TEST

static uint64_t thread_cpu_ms(pthread_t th)
{
    clockid_t id;
    struct timespec ts;
    pthread_getcpuclockid(th, &id);
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void on_ready_flag(void *ctx)
{
    __atomic_store_n((int *)ctx, 1, __ATOMIC_RELEASE);
}

/* Issue 21.14: memory and the idle sweep follow the connections that exist, not
 * max_conns: a million allowed, three idle clients, an idle bound to sweep for. */
START_TEST(test_cost_follows_connections_not_max_conns)
{
    MANY_MODE(mode);
    struct server s;
    int ready = 0;
    qsl_test_server_init(&s, mode);
    s.c.max_conns = 1000000;
    s.c.idle_ms = 60000;
    s.c.on_ready = on_ready_flag;
    s.c.ready_ctx = &ready;
    long before = rss_kb();
    qsl_test_server_serve(&s, 16);
    uint64_t deadline = ms_now() + 5000;
    while (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE) && ms_now() < deadline)
        sched_yield();
    ck_assert(ready);
    int fds[3];
    for (int i = 0; i < 3; i++)
        fds[i] = dial(s.port);
    wait_counter(&s.st.active, 3, "connections open");
    long grew = rss_kb() - before;
    uint64_t cpu0 = thread_cpu_ms(s.th), t0 = ms_now();
    while (ms_now() - t0 < 1000) {      /* the server sweeps on its own meanwhile */
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    uint64_t cpu = thread_cpu_ms(s.th) - cpu0;
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    finish(&s);
    ck_assert_msg(grew < 32 * 1024, "the gateway took %ld KiB for 3 connections", grew);
    ck_assert_msg(cpu < 100, "the sweep took %" PRIu64 " ms of CPU in a second", cpu);
}
END_TEST

/* Issue 21.6: the load driver's counts reconcile. Every protocol frame sent (final
 * Heartbeats included) is answered once: acks + rejects + heartbeat_acks == frames_sent. */
START_TEST(test_load_counts_reconcile)
{
    struct server s;
    start(&s, QSL_GATEWAY_EPOLL, 64, 65536);
    struct qsl_load_stats *st = malloc(sizeof *st);
    load(&s, QSL_LOAD_PERSISTENT, 4, 8, 4000, st);
    ck_assert_uint_eq(st->sent, 4000);
    ck_assert_uint_eq(st->completed, 4000);
    ck_assert_uint_eq(st->final_heartbeats, 4);
    ck_assert_uint_eq(st->frames_sent, 4000 + 4);
    ck_assert_uint_eq(st->acks + st->rejects + st->heartbeat_acks, st->frames_sent);
    load(&s, QSL_LOAD_SHORT, 1, 1, 50, st);
    ck_assert_uint_eq(st->sent, 50);
    ck_assert_uint_eq(st->completed, 50);
    ck_assert_uint_eq(st->final_heartbeats, 50);
    ck_assert_uint_eq(st->frames_sent, 100);
    ck_assert_uint_eq(st->acks + st->rejects + st->heartbeat_acks, st->frames_sent);
    finish(&s);
    /* and the gateway saw the same frames: both runs' frames, once each */
    ck_assert_uint_eq(s.st.frames_in, 4004 + 100);
    free(st);
}
END_TEST

/*
 * Issue 21.10: more connections than a one-at-a-time server's backlog. Each
 * connection starts its requests as soon as it is up, so the first one served
 * finishes and lets the next in: the run completes, no deadlock in a connect
 * phase, and the connect phase is reported on its own.
 */
START_TEST(test_load_against_a_serial_server_with_a_small_backlog)
{
    struct server s;
    qsl_test_server_init(&s, BLOCKING);
    qsl_test_server_serve(&s, 1);
    struct qsl_load_stats *st = malloc(sizeof *st);
    uint64_t t0 = ms_now();
    load(&s, QSL_LOAD_PERSISTENT, 6, 1, 600, st);
    ck_assert_uint_eq(st->completed, 600);
    ck_assert_uint_eq(st->connects, 6);
    ck_assert_uint_ge(st->connected_ns, st->connect_start_ns);
    ck_assert_uint_ge(st->start_ns, st->connect_start_ns);
    ck_assert_uint_lt(ms_now() - t0, 30000);
    finish(&s);
    ck_assert_uint_eq(s.st.connections, 6);
    free(st);
}
END_TEST

struct stopper {
    volatile int *flag;
    unsigned after_ms;
};

static void *stop_later(void *arg)
{
    struct stopper *x = arg;
    struct timespec ts = {0, (long)x->after_ms * 1000000L};
    nanosleep(&ts, NULL);
    *x->flag = 1;
    return NULL;
}

/* Issue 21.10: connects that cannot complete (a listener that never accepts, its
 * backlog full) end at a stop, promptly, in both patterns. */
START_TEST(test_load_connect_phase_is_stoppable)
{
    uint16_t port = 0;
    int lfd = qsl_net_tcp_server("127.0.0.1", &port, 0);
    ck_assert_int_ge(lfd, 0);
    int filler[4];
    for (int i = 0; i < 4; i++) {   /* fill the backlog: later SYNs are dropped */
        filler[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        connect(filler[i], (struct sockaddr *)&a, sizeof a);
    }
    for (int pattern = QSL_LOAD_PERSISTENT; pattern <= QSL_LOAD_SHORT; pattern++) {
        struct qsl_load_config c;
        qsl_load_defaults(&c);
        qsl_load_target(&c, "127.0.0.1", port);
        c.pattern = pattern;
        c.connections = pattern == QSL_LOAD_SHORT ? 1 : 8;
        c.requests = 100;
        c.timeout_ms = 600000;
        volatile int stop = 0;
        struct stopper x = {&stop, 300};
        pthread_t th;
        pthread_create(&th, NULL, stop_later, &x);
        struct qsl_load_stats *st = malloc(sizeof *st);
        uint64_t t0 = ms_now();
        ck_assert_int_eq(qsl_load_run(&c, st, &stop), 0);
        uint64_t took = ms_now() - t0;
        pthread_join(th, NULL);
        ck_assert_msg(took < 2000, "pattern %d: the load took %" PRIu64 " ms to see its stop",
                      pattern, took);
        ck_assert_uint_eq(st->completed, 0);
        free(st);
    }
    for (int i = 0; i < 4; i++)
        close(filler[i]);
    close(lfd);
}
END_TEST

Suite *gateway_suite(void)
{
    Suite *s = suite_create("gateway");
    TCase *tc = tcase_create("gateway");
    tcase_set_timeout(tc, 60);
    QSL_URING_LOOP(tc, test_many_pipelined_clients_every_reply_checked, 2, 1);
    QSL_URING_LOOP(tc, test_connection_memory_with_and_without_huge_pages, 2, 1);
    tcase_add_test(tc, test_blocking_mode_serves_one_at_a_time);
    QSL_URING_LOOP(tc, test_frames_split_across_writes, 2, 1);
    QSL_URING_LOOP(tc, test_malformed_frame_closes_only_that_connection, 2, 1);
    QSL_URING_LOOP(tc, test_peer_that_vanishes_mid_response, 2, 1);
    QSL_URING_LOOP(tc, test_connection_cap_refuses_the_excess, 2, 1);
    QSL_URING_LOOP(tc, test_client_that_never_reads_is_bounded, 2, 1);
    tcase_add_test(tc, test_load_driver_catches_a_wrong_reply);
    QSL_URING_LOOP(tc, test_hostile_classes_beside_good_clients, 2, 1);
    tcase_add_test(tc, test_listen_refuses_a_name);
    QSL_URING_LOOP(tc, test_half_close_gets_every_reply_many, 2, 1);
    tcase_add_test(tc, test_half_close_gets_every_reply_blocking);
    QSL_URING_LOOP(tc, test_replies_before_a_malformed_frame_arrive_many, 2, 1);
    tcase_add_test(tc, test_replies_before_a_malformed_frame_arrive_blocking);
    tcase_add_test(tc, test_blocking_mode_takes_deep_pipelines);
    tcase_add_test(tc, test_blocking_mode_stops_while_a_send_is_blocked);
    tcase_add_test(tc, test_blocking_mode_idle_client_is_closed);
    QSL_URING_LOOP(tc, test_many_mode_idle_connections_are_closed, 2, 1);
    QSL_URING_LOOP(tc, test_slow_reader_gets_every_ack, 2 * QSL_GATEWAY_MODE_COUNT, 2);
    QSL_URING_LOOP(tc, test_seventy_thousand_resting_orders_all_acked, QSL_GATEWAY_MODE_COUNT, 1);
    QSL_URING_LOOP(tc, test_stalled_close_counts_every_discarded_reply, QSL_GATEWAY_MODE_COUNT, 1);
    QSL_URING_LOOP(tc, test_frames_in_counts_a_frame_once, QSL_GATEWAY_MODE_COUNT, 1);
    QSL_URING_LOOP(tc, test_tcp_info_of_every_connection_at_close_and_while_open,
                   QSL_GATEWAY_MODE_COUNT, 1);
    tcase_add_test(tc, test_blocking_mode_stop_between_clients);
    QSL_URING_LOOP(tc, test_cost_follows_connections_not_max_conns, 2, 1);
    tcase_add_test(tc, test_load_counts_reconcile);
    tcase_add_test(tc, test_load_against_a_serial_server_with_a_small_backlog);
    tcase_add_test(tc, test_load_connect_phase_is_stoppable);
    suite_add_tcase(s, tc);
    return s;
}
