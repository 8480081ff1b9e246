/*
 * test_tcpinfo.c - TCP_INFO read from a real loopback connection, and summed.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "suites.h"
#include "tcpinfo.h"

/* A connected pair over 127.0.0.1: *c the client, *s the server's accepted end. */
static void tcp_pair(int *c, int *s)
{
    int l = qsl_net_socket(AF_INET, SOCK_STREAM);
    uint16_t port;
    ck_assert_int_ge(l, 0);
    ck_assert_int_eq(qsl_net_bind(l, "127.0.0.1", 0), 0);
    ck_assert_int_eq(qsl_net_listen(l, 4), 0);
    ck_assert_int_eq(qsl_net_local_port(l, &port), 0);
    *c = qsl_net_socket(AF_INET, SOCK_STREAM);
    ck_assert_int_ge(*c, 0);
    ck_assert_int_eq(qsl_net_connect(*c, "127.0.0.1", port), 0);
    *s = accept(l, NULL, NULL);
    ck_assert_int_ge(*s, 0);
    close(l);
}

START_TEST(test_a_connection_reads_its_segments_and_rtt)
{
    int c, s;
    tcp_pair(&c, &s);
    char buf[1000] = {0};
    for (int i = 0; i < 20; i++) {     /* request and reply: each side samples an rtt */
        ck_assert_int_eq(send(c, buf, 100, 0), 100);
        ck_assert_int_eq(recv(s, buf, 100, MSG_WAITALL), 100);
        ck_assert_int_eq(send(s, buf, 100, 0), 100);
        ck_assert_int_eq(recv(c, buf, 100, MSG_WAITALL), 100);
    }
    struct qsl_tcpinfo t;
    ck_assert_int_eq(qsl_tcpinfo_read(c, &t), 0);
    ck_assert_uint_ge(t.segs_out, 20);
    ck_assert_uint_ge(t.segs_in, 20);
    ck_assert_uint_gt(t.rtt_us, 0);
    ck_assert_uint_le(t.min_rtt_us, t.rtt_us + t.rttvar_us);
    ck_assert_uint_gt(t.snd_cwnd, 0);
    ck_assert_uint_eq(t.total_retrans, 0);  /* loopback loses nothing */

    struct qsl_tcpinfo_sum sum;
    qsl_tcpinfo_sum_init(&sum);
    ck_assert_int_eq(qsl_tcpinfo_account(&sum, c, &t), 0);
    ck_assert_int_eq(qsl_tcpinfo_account(&sum, s, &t), 0);
    ck_assert_uint_eq(sum.connections, 2);
    ck_assert_uint_eq(sum.rtt.count, 2);
    ck_assert_uint_ge(sum.segs_out, 40);
    ck_assert_uint_gt(sum.min_rtt_us, 0);
    close(c);
    close(s);
}
END_TEST

START_TEST(test_what_is_not_a_tcp_socket_is_counted_unread)
{
    struct qsl_tcpinfo t;
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_lt(qsl_tcpinfo_read(u, &t), 0);
    ck_assert_int_eq(qsl_tcpinfo_read(-1, &t), -EBADF);
    struct qsl_tcpinfo_sum sum;
    qsl_tcpinfo_sum_init(&sum);
    ck_assert_int_ne(qsl_tcpinfo_account(&sum, u, &t), 0);
    ck_assert_uint_eq(sum.unread, 1);
    ck_assert_uint_eq(sum.connections, 0);
    close(u);
}
END_TEST

START_TEST(test_sums_and_extremes)
{
    struct qsl_tcpinfo_sum s;
    qsl_tcpinfo_sum_init(&s);
    struct qsl_tcpinfo a = {.rtt_us = 100, .rttvar_us = 50, .min_rtt_us = 20, .snd_cwnd = 10,
                            .total_retrans = 3, .lost = 1, .delivery_rate = 1000,
                            .busy_us = 7, .segs_out = 5, .segs_in = 4, .notsent_bytes = 9};
    struct qsl_tcpinfo b = {.rtt_us = 300, .rttvar_us = 10, .min_rtt_us = UINT32_MAX,
                            .snd_cwnd = 4, .total_retrans = 2, .delivery_rate = 50};
    qsl_tcpinfo_add(&s, &a);
    qsl_tcpinfo_add(&s, &b);
    ck_assert_uint_eq(s.connections, 2);
    ck_assert_uint_eq(s.total_retrans, 5);
    ck_assert_uint_eq(s.lost, 1);
    ck_assert_uint_eq(s.min_rtt_us, 20);       /* b never sampled one: not a zero */
    ck_assert_uint_eq(s.rttvar_max_us, 50);
    ck_assert_uint_eq(s.cwnd_min, 4);
    ck_assert_uint_eq(s.delivery_rate_max, 1000);
    ck_assert_uint_eq(s.notsent_max, 9);
    ck_assert_uint_eq(s.rtt.max, 300000);      /* ns */
    ck_assert_uint_eq(s.rtt.min, 100000);
}
END_TEST

Suite *tcpinfo_suite(void)
{
    Suite *s = suite_create("tcpinfo");
    TCase *tc = tcase_create("tcpinfo");
    tcase_add_test(tc, test_a_connection_reads_its_segments_and_rtt);
    tcase_add_test(tc, test_what_is_not_a_tcp_socket_is_counted_unread);
    tcase_add_test(tc, test_sums_and_extremes);
    suite_add_tcase(s, tc);
    return s;
}
