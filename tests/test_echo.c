/*
 * test_echo.c - the echo floor: request bytes in, reply bytes out, however the
 * requests are split across writes; many connections at once in epoll mode; a
 * client that never reads does not stop the others; a stop closes everyone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "echo.h"
#include "gateway.h"
#include "net.h"
#include "suites.h"

struct server {
    struct qsl_echo_config c;
    struct qsl_echo_stats st;
    volatile int stop;
    int lfd, rc;
    uint16_t port;
    pthread_t t;
};

static void *serve(void *arg)
{
    struct server *s = arg;
    s->rc = qsl_echo_serve(s->lfd, &s->c, &s->st, &s->stop);
    return NULL;
}

static void start(struct server *s, enum qsl_echo_mode mode, unsigned request, unsigned reply)
{
    memset(s, 0, sizeof *s);
    qsl_echo_defaults(&s->c);
    s->c.mode = mode;
    s->c.request = request;
    s->c.reply = reply;
    s->lfd = qsl_net_tcp_server("127.0.0.1", &s->port, 16);
    ck_assert_int_ge(s->lfd, 0);
    ck_assert_int_eq(pthread_create(&s->t, NULL, serve, s), 0);
}

static void finish(struct server *s)
{
    s->stop = 1;
    shutdown(s->lfd, SHUT_RDWR);        /* wakes a blocking accept */
    ck_assert_int_eq(pthread_join(s->t, NULL), 0);
    close(s->lfd);
    ck_assert_int_eq(s->rc, 0);
}

static int client(uint16_t port)
{
    int fd = qsl_net_socket_for("127.0.0.1", SOCK_STREAM);
    ck_assert_int_ge(fd, 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ck_assert_int_eq(qsl_net_connect(fd, "127.0.0.1", port), 0);
    return fd;
}

/* Read exactly n bytes (all zeros), or fail the test. */
static void expect_reply(int fd, size_t n)
{
    char b[4096];
    while (n > 0) {
        ssize_t r = recv(fd, b, n < sizeof b ? n : sizeof b, 0);
        ck_assert_int_gt(r, 0);
        for (ssize_t i = 0; i < r; i++)
            ck_assert_int_eq(b[i], 0);
        n -= (size_t)r;
    }
}

static void nothing_more(int fd)
{
    char b[8];
    ck_assert_int_eq(recv(fd, b, sizeof b, MSG_DONTWAIT), -1);
    ck_assert_int_eq(errno, EAGAIN);
}

static void split_requests(enum qsl_echo_mode mode)
{
    struct server s;
    start(&s, mode, 10, 7);
    int fd = client(s.port);
    char req[25] = {0};
    /* 2.5 requests: two replies; the half waits for its other half */
    ck_assert_int_eq(send(fd, req, 25, 0), 25);
    expect_reply(fd, 14);
    ck_assert_int_eq(send(fd, req, 5, 0), 5);
    expect_reply(fd, 7);
    nothing_more(fd);
    close(fd);
    finish(&s);
    ck_assert_uint_eq(s.st.requests, 3);
    ck_assert_uint_eq(s.st.bytes_in, 30);
    ck_assert_uint_eq(s.st.bytes_out, 21);
}

START_TEST(test_blocking_answers_whole_requests_only)
{
    split_requests(QSL_ECHO_BLOCKING);
}
END_TEST

START_TEST(test_epoll_answers_whole_requests_only)
{
    split_requests(QSL_ECHO_EPOLL);
}
END_TEST

START_TEST(test_epoll_serves_many_and_a_stop_closes_them)
{
    struct server s;
    start(&s, QSL_ECHO_EPOLL, 43, 100);
    int fd[3];
    char req[43 * 4] = {0};
    for (int i = 0; i < 3; i++)
        fd[i] = client(s.port);
    for (int i = 2; i >= 0; i--)            /* all open at once, served out of order */
        ck_assert_int_eq(send(fd[i], req, sizeof req, 0), (ssize_t)sizeof req);
    for (int i = 0; i < 3; i++)
        expect_reply(fd[i], 400);
    finish(&s);
    ck_assert_uint_eq(s.st.connections, 3);
    ck_assert_uint_eq(s.st.requests, 12);
    for (int i = 0; i < 3; i++) {
        char b[1];
        ck_assert_int_eq(recv(fd[i], b, 1, 0), 0);     /* the stop closed it */
        close(fd[i]);
    }
}
END_TEST

/* A client that sends without reading: the server stops reading it once it owes
 * owed_max, and another client is still answered meanwhile. */
START_TEST(test_a_client_that_never_reads_holds_no_more)
{
    struct server s;
    start(&s, QSL_ECHO_EPOLL, 1, 4096);
    int hog = client(s.port);
    int one = 1 << 16;
    setsockopt(hog, SOL_SOCKET, SO_RCVBUF, &one, sizeof one);
    static char req[1 << 16];
    int sent = 0;
    for (int i = 0; i < 64; i++) {
        ssize_t n = send(hog, req, sizeof req, MSG_DONTWAIT);
        if (n > 0)
            sent += (int)n;
    }
    int fd = client(s.port);
    ck_assert_int_eq(send(fd, req, 2, 0), 2);
    expect_reply(fd, 2 * 4096);
    close(fd);
    finish(&s);
    /* what it was answered is bounded by its buffers and owed_max, not by what it sent */
    ck_assert_int_gt(sent, 0);
    ck_assert_uint_lt(s.st.requests - 2, (uint64_t)sent);
    close(hog);
}
END_TEST

START_TEST(test_a_bad_config_is_refused)
{
    struct qsl_echo_config c;
    struct qsl_echo_stats st;
    volatile int stop = 1;
    qsl_echo_defaults(&c);
    c.request = 0;
    ck_assert_int_eq(qsl_echo_serve(-1, &c, &st, &stop), -EINVAL);
    qsl_echo_defaults(&c);
    c.reply = 1 << 20;
    ck_assert_int_eq(qsl_echo_serve(-1, &c, &st, &stop), -EINVAL);
}
END_TEST

/* Issue 21.11: a stop while the blocking echo waits for a client, with no signal and
 * no shutdown of the listener to wake it, ends it within the wait's slice. */
START_TEST(test_blocking_stop_while_waiting_for_a_client)
{
    struct server s;
    start(&s, QSL_ECHO_BLOCKING, 4, 4);
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, NULL);           /* let it reach its wait: the race's far side */
    s.stop = 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int joined = 0;
    for (int i = 0; i < 300 && !joined; i++) {
        joined = pthread_tryjoin_np(s.t, NULL) == 0;
        struct timespec nap = {0, 10000000};
        if (!joined)
            nanosleep(&nap, NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!joined) {
        shutdown(s.lfd, SHUT_RDWR);
        pthread_join(s.t, NULL);
    }
    close(s.lfd);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    ck_assert_msg(joined && ms < 1000, "the blocking echo slept through its stop (%.0f ms)", ms);
}
END_TEST

Suite *echo_suite(void)
{
    Suite *s = suite_create("echo");
    TCase *tc = tcase_create("echo");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_blocking_answers_whole_requests_only);
    tcase_add_test(tc, test_epoll_answers_whole_requests_only);
    tcase_add_test(tc, test_epoll_serves_many_and_a_stop_closes_them);
    tcase_add_test(tc, test_a_client_that_never_reads_holds_no_more);
    tcase_add_test(tc, test_a_bad_config_is_refused);
    tcase_add_test(tc, test_blocking_stop_while_waiting_for_a_client);
    suite_add_tcase(s, tc);
    return s;
}
