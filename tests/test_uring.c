/*
 * test_uring.c - the io_uring set-up shared by the io_uring modes: the probe
 * answers with a reason when it says no, and a ring of provided buffers
 * carries a datagram into the buffer the completion names.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "suites.h"
#include "uring.h"

START_TEST(test_probe_says_yes_or_why_not)
{
    char why[200] = "unset";
    int rc = qsl_uring_available(why, sizeof why);
    if (rc == 0)
        return;
    ck_assert_int_lt(rc, 0);
    ck_assert_msg(strstr(why, "io_uring set-up failed") || strstr(why, "without liburing"),
                  "no reason given: %s", why);
}
END_TEST

#ifdef QSL_HAVE_URING
START_TEST(test_provided_buffer_receives_a_datagram)
{
    struct io_uring ring;
    struct qsl_uring_bufs b;
    ck_assert_int_eq(qsl_uring_open(&ring, 8, 16), 0);
    ck_assert_int_eq(qsl_uring_bufs_init(&ring, &b, 4, 2048, 3), 0);
    ck_assert_ptr_eq(qsl_uring_bufs_at(&b, 3), qsl_uring_bufs_at(&b, 0) + 3 * 2048);
    int rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    ck_assert_int_eq(bind(rx, (struct sockaddr *)&a, sizeof a), 0);
    getsockname(rx, (struct sockaddr *)&a, &len);
    for (int round = 0; round < 6; round++) {   /* more rounds than buffers: recycling works */
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
        io_uring_prep_recv(sqe, rx, NULL, 2048, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = 3;
        ck_assert_int_eq(io_uring_submit(&ring), 1);
        char msg[32];
        int n = snprintf(msg, sizeof msg, "datagram %d", round);
        ck_assert_int_eq(sendto(rx, msg, (size_t)n, 0, (struct sockaddr *)&a, sizeof a), n);
        struct io_uring_cqe *cqe;
        ck_assert_int_eq(io_uring_wait_cqe(&ring, &cqe), 0);
        ck_assert_int_eq(cqe->res, n);
        ck_assert(cqe->flags & IORING_CQE_F_BUFFER);
        int bid = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        ck_assert_int_lt(bid, 4);
        ck_assert_int_eq(memcmp(qsl_uring_bufs_at(&b, bid), msg, (size_t)n), 0);
        io_uring_cqe_seen(&ring, cqe);
        qsl_uring_bufs_recycle(&b, bid);
    }
    close(rx);
    qsl_uring_bufs_free(&b);
    io_uring_queue_exit(&ring);
}
END_TEST
#endif

Suite *uring_suite(void)
{
    Suite *s = suite_create("uring");
    TCase *tc = tcase_create("uring");
    tcase_add_test(tc, test_probe_says_yes_or_why_not);
#ifdef QSL_HAVE_URING
    qsl_test_add_uring(tc, test_provided_buffer_receives_a_datagram,
                       "test_provided_buffer_receives_a_datagram");
#endif
    suite_add_tcase(s, tc);
    return s;
}
