/*
 * test_net.c - numeric addresses only, the family checks, a TCP server on port 0, and
 * multicast: the group test, interface names, and a group with two members on lo in a
 * network namespace of the test's own (made in a child, so nothing here is changed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net.h"
#include "suites.h"

START_TEST(test_numeric_literals_only)
{
    struct sockaddr_storage ss;
    socklen_t len;
    ck_assert_int_eq(qsl_net_addr("127.0.0.1", 9, &ss, &len), 0);
    ck_assert_int_eq(ss.ss_family, AF_INET);
    ck_assert_int_eq(qsl_net_addr("::1", 9, &ss, &len), 0);
    ck_assert_int_eq(ss.ss_family, AF_INET6);
    ck_assert_int_eq(qsl_net_addr("localhost", 9, &ss, &len), -EINVAL);
    ck_assert_int_eq(qsl_net_addr("", 9, &ss, &len), -EINVAL);
    ck_assert_int_eq(qsl_net_socket_for("example.com", SOCK_DGRAM), -EINVAL);
    /* an address of the other family than the socket's is refused, not converted */
    int fd = qsl_net_socket_for("127.0.0.1", SOCK_DGRAM);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(qsl_net_bind(fd, "::1", 0), -EINVAL);
    close(fd);
}
END_TEST

START_TEST(test_tcp_server_reports_the_port_it_got)
{
    uint16_t port = 0;
    int fd = qsl_net_tcp_server("127.0.0.1", &port, 8);
    ck_assert_int_ge(fd, 0);
    ck_assert_uint_ne(port, 0);
    int c = qsl_net_socket_for("127.0.0.1", SOCK_STREAM);
    ck_assert_int_eq(qsl_net_connect(c, "127.0.0.1", port), 0);
    close(c);
    close(fd);
}
END_TEST

START_TEST(test_multicast_groups_and_interfaces)
{
    ck_assert_int_eq(qsl_net_is_multicast("239.77.0.1"), 1);
    ck_assert_int_eq(qsl_net_is_multicast("224.0.0.1"), 1);
    ck_assert_int_eq(qsl_net_is_multicast("ff15::77"), 1);
    ck_assert_int_eq(qsl_net_is_multicast("223.255.255.255"), 0);
    ck_assert_int_eq(qsl_net_is_multicast("240.0.0.1"), 0);
    ck_assert_int_eq(qsl_net_is_multicast("fe80::1"), 0);
    ck_assert_int_eq(qsl_net_is_multicast("not an address"), 0);
    unsigned idx = 0;
    ck_assert_int_eq(qsl_net_ifindex("lo", &idx), 0);
    ck_assert_uint_ne(idx, 0);
    ck_assert_int_eq(qsl_net_ifindex("", &idx), -EINVAL);
    ck_assert_int_eq(qsl_net_ifindex("0123456789abcdef", &idx), -EINVAL);   /* 16: too long */
    ck_assert_int_eq(qsl_net_ifindex("nosuchif0", &idx), -ENODEV);
    /* a unicast address is not a group to join or send to */
    int fd = qsl_net_socket_for("127.0.0.1", SOCK_DGRAM);
    ck_assert_int_eq(qsl_net_multicast_bind(fd, "127.0.0.1", 0, idx), -EINVAL);
    ck_assert_int_eq(qsl_net_multicast_connect(fd, "127.0.0.1", 9, idx, 1, 1), -EINVAL);
    close(fd);
}
END_TEST

static int lo_multicast_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    int rc = s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) != 0;
    ifr.ifr_flags |= IFF_UP | IFF_MULTICAST;
    rc = rc || ioctl(s, SIOCSIFFLAGS, &ifr) != 0;
    if (s >= 0)
        close(s);
    return rc ? -1 : 0;
}

/* In the child: 0 when both members got the three datagrams once each; else a step. */
static int two_members_hear_the_group(void)
{
    if (unshare(CLONE_NEWNET) != 0)
        return 100;                 /* no privilege: the parent skips */
    unsigned lo;
    if (lo_multicast_up() != 0 || qsl_net_ifindex("lo", &lo) != 0)
        return 1;
    int m[2];
    uint16_t port = 0;
    for (int i = 0; i < 2; i++) {
        m[i] = qsl_net_socket_for("239.77.0.1", SOCK_DGRAM);
        if (m[i] < 0 || qsl_net_multicast_bind(m[i], "239.77.0.1", port, lo) != 0 ||
            qsl_net_local_port(m[i], &port) != 0)
            return 2;
    }
    int tx = qsl_net_socket_for("239.77.0.1", SOCK_DGRAM);
    if (qsl_net_multicast_connect(tx, "239.77.0.1", port, lo, 1, 1) != 0)
        return 3;
    for (int i = 0; i < 3; i++)
        if (send(tx, "qsl", 3, 0) != 3)
            return 4;
    for (int i = 0; i < 2; i++) {
        char b[8];
        for (int n = 0; n < 3; n++)
            if (recv(m[i], b, sizeof b, MSG_DONTWAIT) != 3)
                return 5;
        if (recv(m[i], b, sizeof b, MSG_DONTWAIT) != -1 || errno != EAGAIN)
            return 6;               /* a fourth: a duplicate */
    }
    return 0;
}

START_TEST(test_two_members_of_a_group_on_lo)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(two_members_hear_the_group());
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

Suite *net_suite(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("net");
    tcase_add_test(tc, test_numeric_literals_only);
    tcase_add_test(tc, test_tcp_server_reports_the_port_it_got);
    tcase_add_test(tc, test_multicast_groups_and_interfaces);
    if (qsl_test_netns_runs())
        tcase_add_test(tc, test_two_members_of_a_group_on_lo);
    else
        qsl_test_skip("test_two_members_of_a_group_on_lo", "no network namespace can be made here");
    suite_add_tcase(s, tc);
    return s;
}
