/*
 * gateway_harness.c - see gateway_harness.h.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "clock.h"
#include "gateway_harness.h"
#include "net.h"

static void *serve(void *arg)
{
    struct server *s = arg;
    s->rc = qsl_gateway_run(s->lfd, &s->c, &s->st, &s->stop);
    return NULL;
}

void qsl_test_server_init(struct server *s, enum qsl_gateway_mode mode)
{
    memset(s, 0, sizeof *s);
    qsl_gateway_defaults(&s->c);
    s->c.mode = mode;
}

void qsl_test_server_serve(struct server *s, int backlog)
{
    s->lfd = qsl_net_tcp_server("127.0.0.1", &s->port, backlog);
    ck_assert_int_ge(s->lfd, 0);
    ck_assert_uint_gt(s->port, 0);
    ck_assert_int_eq(pthread_create(&s->th, NULL, serve, s), 0);
}

void qsl_test_server_finish(struct server *s)
{
    s->stop = 1;                /* every mode sees it within its 100 ms wait */
    shutdown(s->lfd, SHUT_RDWR);
    pthread_join(s->th, NULL);
    close(s->lfd);
    ck_assert_int_eq(s->rc, 0);
}

int qsl_test_dial(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

uint64_t qsl_test_ms(void)
{
    return qsl_clock_ms();
}
