/*
 * feed.h - the UDP market-data feed: publisher, subscriber, sequence tracking.
 *
 * Single mode: one framed message of the original protocol per datagram, the
 * market-data sequence in the frame header (starting at 1), so the original
 * subscriber decodes it. Packed mode: MoldUDP64 framing - a 10-byte session
 * name, the first message's sequence (u64), a message count (u16), then each
 * message as a u16 length and the protocol frame - so one datagram carries
 * many messages; with UDP GSO (UDP_SEGMENT) one send carries many datagrams.
 * All integers big-endian.
 */
#ifndef QSL_FEED_H
#define QSL_FEED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "engine.h"
#include "hist.h"
#include "stop.h"
#include "wire.h"

#define QSL_FEED_SESSION "QSLFEED001"           /* 10 bytes, the packed session name */
#define QSL_FEED_PACKED_HEADER 20u
#define QSL_FEED_MSG_MAX 38u                    /* MdTopOfBook frame, the largest */
#define QSL_FEED_DGRAM_MAX 65507u

/* ------------------------------------------------------------------ sequence tracking */

/*
 * What arrived, by market-data sequence number. A bitmap over 1..capacity
 * tells a first arrival from a duplicate. Every counter is of messages:
 *   received       distinct sequence numbers seen
 *   duplicates     arrivals of a number already seen
 *   reordered      first arrivals below the highest number seen so far
 *   interior_gaps  numbers below the highest seen that never arrived
 *   tail_loss      expected - highest seen (when the expected count is known):
 *                  losses at the end of the stream, which no gap can reveal
 *   out_of_range   numbers 0 or above capacity (not counted anywhere else)
 */
struct qsl_seqtrack {
    uint64_t *seen;
    uint64_t capacity;
    uint64_t received, duplicates, reordered, out_of_range;
    uint64_t highest;
};

int qsl_seqtrack_init(struct qsl_seqtrack *t, uint64_t capacity);
void qsl_seqtrack_free(struct qsl_seqtrack *t);
void qsl_seqtrack_reset(struct qsl_seqtrack *t);
void qsl_seqtrack_add(struct qsl_seqtrack *t, uint64_t seq);
/* add() of first, first + 1, ..., first + count - 1, a word of the bitmap at a time: the
 * same counters and bitmap as adding them one by one (a packed datagram's numbers). A run
 * past UINT64_MAX is ignored: the decoder refuses such a datagram first. */
void qsl_seqtrack_add_run(struct qsl_seqtrack *t, uint64_t first, uint64_t count);
static inline uint64_t qsl_seqtrack_interior_gaps(const struct qsl_seqtrack *t)
{
    return t->highest - t->received;
}
static inline uint64_t qsl_seqtrack_tail_loss(const struct qsl_seqtrack *t, uint64_t expected)
{
    return expected > t->highest ? expected - t->highest : 0;
}

/* ------------------------------------------------------------------ datagram decoding */

/*
 * The reference decoder: one datagram of either format fully decoded (qsl_wire_decode
 * on every frame), fn called per message; the number of messages, or -1 when the
 * datagram is malformed (then no message of it is reported: a datagram is trusted whole
 * or not at all). Nothing on a hot path uses it: it is the rule qsl_feed_decode_run (the
 * subscriber's) is held to, frame by frame in tests/test_feed.c and on every input of
 * the feed fuzzer (tests/fuzz).
 */
typedef void (*qsl_feed_msg_fn)(void *ctx, const struct qsl_wire_msg *m);
int qsl_feed_decode(const uint8_t *d, size_t len, qsl_feed_msg_fn fn, void *ctx);

/* The most messages one datagram can carry (the smallest market-data frame, 32 bytes,
 * plus its 2-byte length, after the packed header). */
#define QSL_FEED_DGRAM_MSGS_MAX ((QSL_FEED_DGRAM_MAX - QSL_FEED_PACKED_HEADER) / 34u)

/* The subscriber's decoder: the reference's verdict, each message checked once and none
 * decoded: a valid datagram's messages are numbered first, first + 1, ... (a packed
 * datagram's are consecutive by rule); their count with *first set, or -1. */
int qsl_feed_decode_run(const uint8_t *d, size_t len, uint64_t *first);

/* ------------------------------------------------------------------ publisher */

struct qsl_feed_pub_config {
    uint64_t seed, orders;
    uint32_t symbols;
    uint32_t max_orders;        /* the engine's bound on resting orders; 0: none */
    uint8_t huge_pages;         /* the engine's pool in 2 MiB mappings past 1,024 orders */
    int flow;                   /* enum qsl_flow_gen: original (default) or drift */
    double rate;                /* messages per second; 0 = unpaced burst */
    int catch_up;               /* paced: 1 (default) keeps the absolute schedule, sending what
                                 * is overdue after a stall at once; 0 moves the schedule on when
                                 * more than a batch of messages is overdue (counted) */
    unsigned batch;             /* datagrams per sendmmsg (single and packed) */
    int packed;
    unsigned datagram_bytes;    /* packed: bytes per datagram at most */
    int gso;                    /* packed: equal-size datagrams, several per send (UDP_SEGMENT) */
    int raw;                    /* baseline: messages made first (untimed), then sent bare:
                                 * 1 one send() each (the original's floor), 2 sendmmsg with
                                 * batch datagrams a call (the floor of the batching publisher) */
};

struct qsl_feed_pub_stats {
    uint64_t messages;          /* published: every message the flow produced */
    uint64_t datagrams;         /* datagrams attempted */
    uint64_t send_failures;     /* datagrams the kernel refused (counted, not retried) */
    uint64_t failed_messages;   /* messages inside those datagrams */
    uint64_t send_calls;
    int last_errno;
    uint64_t start_ns, end_ns;  /* first and last send (CLOCK_MONOTONIC) */
    uint64_t burst_max;         /* most datagrams sent with no pacing wait between them */
    uint64_t schedule_moved;    /* catch_up 0: times the schedule moved on after a stall */
    uint64_t late_ns;           /* ... and the time it moved by, in all */
};

void qsl_feed_pub_defaults(struct qsl_feed_pub_config *c);

/* Publish the flow to a connected UDP socket. 0, or -errno for set-up failures
 * (-ENOMEM, -EINVAL for a bad config, -ENOPROTOOPT when GSO is not available). */
int qsl_feed_publish(int fd, const struct qsl_feed_pub_config *c, struct qsl_feed_pub_stats *st,
                     qsl_stop_flag *stop);

/* ------------------------------------------------------------------ subscriber */

struct qsl_feed_sub_stats {
    uint64_t datagrams, messages, malformed;
    uint64_t kernel_drops;      /* SO_MEMINFO: every datagram the kernel dropped on the socket */
    uint64_t rxq_ovfl;          /* highest SO_RXQ_OVFL value seen: drops before a later arrival */
    uint64_t first_ns, last_ns;
    int ended_by;               /* QSL_FEED_END_* */
    /* with rx->timestamps: per datagram, from the kernel's software receive timestamp
     * (SO_TIMESTAMPING) to the read that returned it, ns; datagrams without a stamp */
    struct qsl_hist socket_wait;
    uint64_t unstamped;
};

enum { QSL_FEED_END_COUNT = 1, QSL_FEED_END_IDLE, QSL_FEED_END_DEADLINE, QSL_FEED_END_STOP,
       QSL_FEED_END_FIRST };

/*
 * Receive buffers, allocated and touched before the subscriber says it is
 * ready: a page fault in the middle of a burst is a drop the experiment
 * would blame on the socket buffer.
 */
/*
 * The subscriber's receive modes, listed once: X(ENUM, file, name, help). The enum, the
 * names the subscribe role takes (qsl_feed_rx_mode_names), their help and each mode's
 * backend (feed_FILE.c's qsl_feed_rx_FILE_backend) derive from it.
 */
#define QSL_FEED_RX_MODES(X)                                                                \
    X(RECVMMSG, recvmmsg, "recvmmsg", "poll, then up to 64 datagrams a call")              \
    X(IO_URING, uring, "io_uring", "a multishot recvmsg into a ring of provided buffers")  \
    X(RAW, raw, "raw", "recvmmsg counting datagrams only (no decode, no sequence "          \
      "tracking): a receive path's floor")

enum qsl_feed_rx_mode {
#define QSL_FEED_RX_ENUM(e, file, name, help) QSL_FEED_RX_##e,
    QSL_FEED_RX_MODES(QSL_FEED_RX_ENUM)
#undef QSL_FEED_RX_ENUM
    QSL_FEED_RX_MODE_COUNT
};

/* The receive modes' names and help, in enum order, NULL-terminated. */
extern const char *const qsl_feed_rx_mode_names[];
extern const char *const qsl_feed_rx_mode_helps[];

struct qsl_feed_rx {
    enum qsl_feed_rx_mode mode;
    uint8_t *bufs;
    void *ring;                 /* io_uring mode */
    unsigned work_ns;           /* busy work per message (a slow consumer); set after init */
    unsigned first_ms;          /* no datagram at all this long after the call: end (0: only
                                 * the deadline bounds the wait for the first); set after init */
    int timestamps;             /* ask for software receive timestamps: socket_wait */
    /* each message decoded, as it is received (a verbose subscriber: it slows the
     * consumer); NULL: none. Not in the count-only mode. */
    qsl_feed_msg_fn on_message;
    void *on_message_ctx;
};
/* 0, or -errno with why filled (io_uring refused by the kernel, or a build without
 * liburing: -ENOSYS). */
int qsl_feed_rx_init(struct qsl_feed_rx *rx, enum qsl_feed_rx_mode mode, char *why, size_t len);
void qsl_feed_rx_free(struct qsl_feed_rx *rx);
/* 0 when the receive mode can run here; else -errno and why. */
int qsl_feed_rx_mode_available(enum qsl_feed_rx_mode mode, char *why, size_t len);

/*
 * Receive until `expected` distinct messages were seen (0: unknown), or no
 * datagram came for idle_ms after the last one, or none at all within
 * rx->first_ms of the call (idle_ms does not apply before the first), or
 * deadline_ms passed since the call, or *stop.
 * Drains with recvmmsg or io_uring (rx's mode), with the same accounting; fills t
 * and st. 0, or -errno.
 */
/* The socket options the receive reads (SO_RXQ_OVFL; SO_TIMESTAMPING with rx->timestamps),
 * set before the subscriber says it is ready: a datagram queued before them would come
 * without its count or stamp. qsl_feed_subscribe sets them too. 0, or -errno. */
int qsl_feed_rx_prepare(int fd, const struct qsl_feed_rx *rx);
int qsl_feed_subscribe(int fd, struct qsl_feed_rx *rx, uint64_t expected, unsigned idle_ms,
                       unsigned deadline_ms, struct qsl_seqtrack *t, struct qsl_feed_sub_stats *st,
                       qsl_stop_flag *stop);

#endif
