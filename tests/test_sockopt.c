/*
 * test_sockopt.c - named options, granted values, and the kernel's drop count.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockopt.h"
#include "suites.h"

static int udp_bound(struct sockaddr_in *a)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)a, sizeof *a), 0);
    socklen_t len = sizeof *a;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)a, &len), 0);
    return fd;
}

START_TEST(test_rcvbuf_granted_is_double_the_request)
{
    struct sockaddr_in a;
    int fd = udp_bound(&a);
    const struct qsl_sockopt *o = qsl_sockopt_find("rcvbuf");
    ck_assert_ptr_nonnull(o);
    int v;
    ck_assert_int_eq(qsl_sockopt_set(fd, o, 65536), 0);
    ck_assert_int_eq(qsl_sockopt_get(fd, o, &v), 0);
    ck_assert_int_eq(v, 2 * 65536);         /* Linux doubles it (below rmem_max) */
    close(fd);
}
END_TEST

START_TEST(test_unknown_and_read_only_options)
{
    ck_assert_ptr_null(qsl_sockopt_find("rcvbuff"));
    struct sockaddr_in a;
    int fd = udp_bound(&a);
    const struct qsl_sockopt *o = qsl_sockopt_find("type");
    ck_assert_int_eq(qsl_sockopt_set(fd, o, 1), -EINVAL);
    int v;
    ck_assert_int_eq(qsl_sockopt_get(fd, o, &v), 0);
    ck_assert_int_eq(v, SOCK_DGRAM);
    /* a TCP option on a UDP socket is the kernel's error, passed through */
    ck_assert_int_lt(qsl_sockopt_set(fd, qsl_sockopt_find("nodelay"), 1), 0);
    close(fd);
    unsigned n = 0;
    while (qsl_sockopt_at(n))
        n++;
    ck_assert_uint_ge(n, 10);
}
END_TEST

START_TEST(test_received_plus_kernel_drops_is_sent)
{
    struct sockaddr_in a;
    int rx = udp_bound(&a);
    int small = 4096;
    ck_assert_int_eq(setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    int tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    char dgram[64] = {0};
    const int sent = 1000;
    for (int i = 0; i < sent; i++)
        ck_assert_int_eq(sendto(tx, dgram, sizeof dgram, 0, (struct sockaddr *)&a, sizeof a), 64);
    int received = 0;
    char buf[128];
    while (recv(rx, buf, sizeof buf, MSG_DONTWAIT) == 64)
        received++;
    uint32_t drops = 0;
    ck_assert_int_eq(qsl_sockopt_drops(rx, &drops), 0);
    ck_assert_int_lt(received, sent);        /* the buffer really overflowed */
    ck_assert_int_eq(received + (int)drops, sent);   /* tail drops included */
    close(tx);
    close(rx);
}
END_TEST

Suite *sockopt_suite(void)
{
    Suite *s = suite_create("sockopt");
    TCase *tc = tcase_create("sockopt");
    tcase_add_test(tc, test_rcvbuf_granted_is_double_the_request);
    tcase_add_test(tc, test_unknown_and_read_only_options);
    tcase_add_test(tc, test_received_plus_kernel_drops_is_sent);
    suite_add_tcase(s, tc);
    return s;
}
