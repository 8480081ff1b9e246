/*
 * feed_sub.h - what the subscriber's receive modes share (feed.c): one datagram's
 * accounting, however it was received, and when a subscription is over. Internal to the
 * feed: feed.h is its face. A mode is a file of its own (feed_recvmmsg.c, feed_uring.c)
 * behind struct qsl_feed_rx_backend; adding one is a file and a row in QSL_FEED_RX_MODES.
 */
#ifndef QSL_FEED_SUB_H
#define QSL_FEED_SUB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "feed.h"
#include "stop.h"

#define QSL_FEED_SUB_DGRAM 65536        /* the largest datagram a receive takes whole */
/* Control space a receive needs: SO_RXQ_OVFL's count and SO_TIMESTAMPING's three stamps. */
#define QSL_FEED_SUB_CTL (CMSG_SPACE(sizeof(uint32_t)) + CMSG_SPACE(3 * sizeof(struct timespec)))

struct qsl_feed_sub {
    struct qsl_seqtrack *t;
    struct qsl_feed_sub_stats *st;
    uint64_t last;              /* when the last datagram came */
    int raw;                    /* count datagrams only: no decode, no sequence tracking */
    unsigned work_ns;           /* per message: the slow consumer's busy work */
    uint64_t first_by;          /* no datagram by then: end (UINT64_MAX: never) */
    int timestamps;             /* the socket stamps each datagram as the kernel receives it */
    uint64_t read_rt;           /* CLOCK_REALTIME ns when the receive in hand returned */
    qsl_feed_msg_fn on_message; /* each message decoded (qsl_feed_rx.on_message) */
    void *on_message_ctx;
};

struct qsl_feed_rx_backend {
    int count_only;             /* the mode counts datagrams and nothing else (raw) */
    int (*available)(char *why, size_t len);
    int (*init)(struct qsl_feed_rx *rx, char *why, size_t len);
    void (*free)(struct qsl_feed_rx *rx);
    int (*subscribe)(int fd, struct qsl_feed_rx *rx, struct qsl_feed_sub *s, uint64_t expected,
                     unsigned idle_ms, uint64_t deadline, qsl_stop_flag *stop);
};
extern const struct qsl_feed_rx_backend qsl_feed_rx_recvmmsg_backend, qsl_feed_rx_uring_backend,
    qsl_feed_rx_raw_backend;

/* What a datagram's control messages said: SO_RXQ_OVFL's count, the kernel's software
 * receive time (CLOCK_REALTIME ns; 0: none). */
struct qsl_feed_sub_ctl {
    uint32_t ovfl;
    int has_ovfl;
    uint64_t rx_rt;
};
void qsl_feed_sub_parse_ctl(struct cmsghdr *c, struct qsl_feed_sub_ctl *out);

/* One datagram, however it was received: count, track, decode, time its wait. */
void qsl_feed_sub_datagram(struct qsl_feed_sub *s, const uint8_t *d, size_t len, int truncated,
                           const struct qsl_feed_sub_ctl *ctl);
/* A receive returned (before its datagrams are counted): the time they were read. */
void qsl_feed_sub_read(struct qsl_feed_sub *s);
/* A receive brought datagrams: the idle bound starts again. */
void qsl_feed_sub_arrived(struct qsl_feed_sub *s);
/* How long to wait for more (at most 100 ms, so a stop is seen), or -1 when the
 * subscription is over (ended_by set): count, stop, deadline, idle, nothing at first. */
int qsl_feed_sub_wait_ms(struct qsl_feed_sub *s, uint64_t expected, unsigned idle_ms,
                         uint64_t deadline, qsl_stop_flag *stop);

#endif
