/*
 * session.h - one connection's byte stream in, response frames out; no sockets.
 *
 * Bytes may arrive in any chunking: a frame split across reads is held (in a
 * fixed buffer: every frame a client may send is at most 52 bytes) until it is
 * complete. A NewOrder is answered by Reject, or by Ack then one Fill per
 * trade; a CancelOrder by Ack or Reject; a Heartbeat by HeartbeatAck.
 *
 * A malformed frame, or a frame of a type a client may not send, closes the
 * session (the connection only). A header whose body_len is not its type's
 * size closes at once: there is no reason to wait for a body that cannot be
 * valid. Output is bounded by the caller's buffer, and a request is applied
 * only when its whole response fits, so a client never sees a partial
 * response and the book never changes without an answer: a response that
 * does not fit what is left pauses the session (the caller drains its output
 * and feeds again); one larger than the whole bound closes it.
 */
#ifndef QSL_SESSION_H
#define QSL_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "wire.h"

enum qsl_session_state {
    QSL_SESSION_OPEN = 0,
    QSL_SESSION_MALFORMED,      /* decode error: see wire_err */
    QSL_SESSION_UNEXPECTED,     /* a type a client may not send */
    QSL_SESSION_OUTPUT_LIMIT    /* the response would not fit the output bound */
};

struct qsl_session_stats {
    uint64_t bytes_in, frames_in, frames_out, bytes_out;
    uint64_t new_orders, cancels, heartbeats, fills;
    uint64_t rejects[QSL_REJECT_COUNT];
};

struct qsl_session {
    struct qsl_engine *engine;
    enum qsl_session_state state;
    enum qsl_wire_err wire_err;
    uint16_t bad_type;
    uint32_t held;                          /* bytes of a partial frame in hold[] */
    int paused;                             /* the last feed stopped for output room */
    uint8_t hold[QSL_WIRE_MAX_FRAME];
    struct qsl_session_stats stats;
};

/* Output buffer owned by the caller: responses are appended at out[*len]. */
struct qsl_session_out {
    uint8_t *buf;
    size_t len, cap;
};

void qsl_session_init(struct qsl_session *s, struct qsl_engine *engine);

/*
 * Feed bytes. Returns the number of input bytes consumed: all of them while
 * the session stays open and has room (a partial frame is held inside); when
 * it closes, the bytes before the point of closing (the rest is never looked
 * at); when it pauses (qsl_session_paused), the bytes before the frame whose
 * response did not fit: drain the output, then feed the rest again (feeding
 * 0 bytes retries a frame that paused inside the hold).
 */
size_t qsl_session_feed(struct qsl_session *s, const uint8_t *in, size_t n,
                        struct qsl_session_out *out);

static inline int qsl_session_closed(const struct qsl_session *s)
{
    return s->state != QSL_SESSION_OPEN;
}

static inline int qsl_session_paused(const struct qsl_session *s)
{
    return s->paused;
}


#endif
