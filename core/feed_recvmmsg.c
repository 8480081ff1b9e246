/*
 * feed_recvmmsg.c - the subscriber's recvmmsg modes: poll, then up to 64 datagrams a
 * call into buffers touched before the subscriber is ready; raw is the same loop with
 * the accounting cut to a count (a receive path's floor).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "feed_sub.h"

#define SUB_VLEN 64

static int rm_available(char *why, size_t len)
{
    if (len)
        why[0] = '\0';
    return 0;
}

static int rm_init(struct qsl_feed_rx *rx, char *why, size_t len)
{
    (void)why, (void)len;
    rx->bufs = malloc((size_t)SUB_VLEN * QSL_FEED_SUB_DGRAM);
    if (!rx->bufs)
        return -ENOMEM;
    memset(rx->bufs, 0, (size_t)SUB_VLEN * QSL_FEED_SUB_DGRAM);      /* fault the pages in now */
    return 0;
}

static void rm_free(struct qsl_feed_rx *rx)
{
    free(rx->bufs);
    rx->bufs = NULL;
}

static int sub_recvmmsg(int fd, struct qsl_feed_rx *rx, struct qsl_feed_sub *s, uint64_t expected,
                        unsigned idle_ms, uint64_t deadline, qsl_stop_flag *stop)
{
    uint8_t *bufs = rx->bufs;
    _Alignas(struct cmsghdr) char ctl[SUB_VLEN][QSL_FEED_SUB_CTL];
    struct mmsghdr mm[SUB_VLEN];
    struct iovec iov[SUB_VLEN];
    if (!bufs)
        return -ENOMEM;
    for (int wait_ms; (wait_ms = qsl_feed_sub_wait_ms(s, expected, idle_ms, deadline, stop)) >= 0;) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int pr = poll(&pf, 1, wait_ms);
        if (pr < 0 && errno != EINTR)
            return -errno;
        if (pr <= 0)
            continue;
        for (unsigned i = 0; i < SUB_VLEN; i++) {
            iov[i] = (struct iovec){bufs + (size_t)i * QSL_FEED_SUB_DGRAM, QSL_FEED_SUB_DGRAM};
            memset(&mm[i], 0, sizeof mm[i]);
            mm[i].msg_hdr.msg_iov = &iov[i];
            mm[i].msg_hdr.msg_iovlen = 1;
            mm[i].msg_hdr.msg_control = ctl[i];
            mm[i].msg_hdr.msg_controllen = sizeof ctl[i];
        }
        int r = recvmmsg(fd, mm, SUB_VLEN, MSG_DONTWAIT, NULL);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            return -errno;
        }
        qsl_feed_sub_read(s);
        qsl_feed_sub_arrived(s);
        for (int i = 0; i < r; i++) {
            struct msghdr *h = &mm[i].msg_hdr;
            struct qsl_feed_sub_ctl cx = {0};
            for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c))
                qsl_feed_sub_parse_ctl(c, &cx);
            qsl_feed_sub_datagram(s, bufs + (size_t)i * QSL_FEED_SUB_DGRAM, mm[i].msg_len,
                         (h->msg_flags & MSG_TRUNC) != 0, &cx);
        }
    }
    return 0;
}

const struct qsl_feed_rx_backend qsl_feed_rx_recvmmsg_backend = {0, rm_available, rm_init, rm_free,
                                                                 sub_recvmmsg};
const struct qsl_feed_rx_backend qsl_feed_rx_raw_backend = {1, rm_available, rm_init, rm_free,
                                                            sub_recvmmsg};
