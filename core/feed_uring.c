/*
 * feed_uring.c - the subscriber's io_uring mode: one multishot recvmsg fills a ring of
 * provided buffers, each completion one datagram with its control data
 * (SO_RXQ_OVFL); the accounting is recvmmsg mode's (qsl_feed_sub_datagram). For UDP a
 * multishot receive is what is wanted: a datagram the subscriber has no
 * buffer for stays in the socket, and what the socket drops is the
 * measurement. The buffers are touched before the subscriber says it is ready.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "feed_sub.h"
#include "uring.h"

#ifdef QSL_HAVE_URING

#define FR_BUFS 64u
#define FR_BUF (QSL_FEED_SUB_DGRAM + 256u)   /* io_uring_recvmsg_out, control, a whole datagram */
#define FR_GROUP 1

struct feed_ring {
    struct io_uring ring;
    struct qsl_uring_bufs b;
};

static int fr_setup(struct feed_ring **out)
{
    struct feed_ring *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    int rc = qsl_uring_open(&r->ring, 64, 256);
    if (rc == 0) {
        rc = qsl_uring_bufs_init(&r->ring, &r->b, FR_BUFS, FR_BUF, FR_GROUP);
        if (rc != 0)
            io_uring_queue_exit(&r->ring);
    }
    if (rc != 0) {
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

static void fr_teardown(struct feed_ring *r)
{
    io_uring_queue_exit(&r->ring);
    qsl_uring_bufs_free(&r->b);
    free(r);
}

static int fr_init(struct qsl_feed_rx *rx, char *why, size_t len)
{
    struct feed_ring *r = NULL;
    int rc = fr_setup(&r);
    if (rc != 0) {
        snprintf(why, len, "io_uring set-up failed: %s", strerror(-rc));
        return rc;
    }
    rx->ring = r;
    return 0;
}

static void fr_free(struct qsl_feed_rx *rx)
{
    if (rx->ring)
        fr_teardown(rx->ring);
    rx->ring = NULL;
}

static void fr_arm(struct feed_ring *r, int fd, struct msghdr *mh)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    io_uring_prep_recvmsg_multishot(sqe, fd, mh, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = FR_GROUP;
}

/* One completion: a datagram in a buffer (then recycled), or the end of the multishot
 * receive (0: re-arm it; -errno: a failure to report). */
static int fr_complete(struct feed_ring *r, struct qsl_feed_sub *s, struct msghdr *mh,
                       const struct io_uring_cqe *cqe, int *armed)
{
    if (!(cqe->flags & IORING_CQE_F_MORE))
        *armed = 0;
    if (cqe->res < 0)
        return cqe->res == -ENOBUFS || cqe->res == -ECANCELED ? 0 : cqe->res;
    if (!(cqe->flags & IORING_CQE_F_BUFFER))
        return 0;
    int bid = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    uint8_t *buf = qsl_uring_bufs_at(&r->b, bid);
    struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, cqe->res, mh);
    if (o) {
        struct qsl_feed_sub_ctl cx = {0};
        for (struct cmsghdr *c = io_uring_recvmsg_cmsg_firsthdr(o, mh); c;
             c = io_uring_recvmsg_cmsg_nexthdr(o, mh, c))
            qsl_feed_sub_parse_ctl(c, &cx);
        qsl_feed_sub_datagram(s, io_uring_recvmsg_payload(o, mh),
                     io_uring_recvmsg_payload_length(o, cqe->res, mh),
                     (o->flags & MSG_TRUNC) != 0, &cx);
    } else {
        qsl_feed_sub_datagram(s, NULL, 0, 1, NULL);      /* no room for even its header: malformed */
    }
    qsl_uring_bufs_recycle(&r->b, bid);
    return 0;
}

static int fr_subscribe(int fd, struct qsl_feed_rx *rx, struct qsl_feed_sub *s, uint64_t expected,
                        unsigned idle_ms, uint64_t deadline, qsl_stop_flag *stop)
{
    struct feed_ring *r = rx->ring;
    if (!r)
        return -EINVAL;
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_controllen = QSL_FEED_SUB_CTL;
    int armed = 0, rc = 0;
    for (int wait_ms; rc == 0 && (wait_ms = qsl_feed_sub_wait_ms(s, expected, idle_ms, deadline, stop)) >= 0;) {
        if (!armed) {
            fr_arm(r, fd, &mh);
            armed = 1;
        }
        struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = (long)wait_ms * 1000000L};
        struct io_uring_cqe *cqe;
        int w = io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, &ts, NULL);
        if (w < 0 && w != -ETIME && w != -EINTR)
            return w;
        unsigned head, n = 0;
        uint64_t before = s->st->datagrams;
        qsl_feed_sub_read(s);
        io_uring_for_each_cqe(&r->ring, head, cqe)
        {
            if (rc == 0)
                rc = fr_complete(r, s, &mh, cqe, &armed);
            n++;
        }
        io_uring_cq_advance(&r->ring, n);
        if (s->st->datagrams != before)
            qsl_feed_sub_arrived(s);
    }
    return rc;
}

const struct qsl_feed_rx_backend qsl_feed_rx_uring_backend = {0, qsl_uring_available, fr_init, fr_free,
                                                              fr_subscribe};

#else /* built without liburing: the mode says why it cannot run */

static void fr_free(struct qsl_feed_rx *rx)
{
    (void)rx;
}

static int fr_subscribe(int fd, struct qsl_feed_rx *rx, struct qsl_feed_sub *s, uint64_t expected,
                        unsigned idle_ms, uint64_t deadline, qsl_stop_flag *stop)
{
    (void)fd, (void)rx, (void)s, (void)expected, (void)idle_ms, (void)deadline, (void)stop;
    return -ENOSYS;
}

static int fr_init(struct qsl_feed_rx *rx, char *why, size_t len)
{
    (void)rx;
    return qsl_uring_available(why, len);      /* says it was built without liburing */
}

const struct qsl_feed_rx_backend qsl_feed_rx_uring_backend = {0, qsl_uring_available, fr_init, fr_free,
                                                              fr_subscribe};

#endif
