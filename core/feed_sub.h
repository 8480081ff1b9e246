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

#include "feed.h"
#include "stop.h"

#define QSL_FEED_SUB_DGRAM 65536        /* the largest datagram a receive takes whole */

struct qsl_feed_sub {
    struct qsl_seqtrack *t;
    struct qsl_feed_sub_stats *st;
    uint64_t last;              /* when the last datagram came */
    int raw;                    /* count datagrams only: no decode, no sequence tracking */
    unsigned work_ns;           /* per message: the slow consumer's busy work */
    uint64_t first_by;          /* no datagram by then: end (UINT64_MAX: never) */
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

/* One datagram, however it was received: count, track, decode. */
void qsl_feed_sub_datagram(struct qsl_feed_sub *s, const uint8_t *d, size_t len, int truncated,
                           const uint32_t *ovfl);
/* A receive brought datagrams: the idle bound starts again. */
void qsl_feed_sub_arrived(struct qsl_feed_sub *s);
/* How long to wait for more (at most 100 ms, so a stop is seen), or -1 when the
 * subscription is over (ended_by set): count, stop, deadline, idle, nothing at first. */
int qsl_feed_sub_wait_ms(struct qsl_feed_sub *s, uint64_t expected, unsigned idle_ms,
                         uint64_t deadline, qsl_stop_flag *stop);
/* SO_RXQ_OVFL's count from a control message, or NULL when c is another. */
uint32_t *qsl_feed_sub_rxq_ovfl(struct cmsghdr *c, uint32_t *v);

#endif
