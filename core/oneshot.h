/*
 * oneshot.h - one client's few requests to a server, each answer decoded: `qsl-run
 * client`, the original's qsl-client, for looking at a server by hand.
 *
 * Requests as text, items separated by ';':
 *   new ID SYMBOL buy|sell PRICE QUANTITY [limit|market] [gtc|ioc]
 *   cancel ID SYMBOL
 *   heartbeat TOKEN
 * Sent one at a time, each after the previous one's answer (Ack, Reject or
 * HeartbeatAck); the Fills an order causes follow its Ack. After the last answer a
 * fence Heartbeat (token QSL_ONESHOT_FENCE) is sent and read back, so every Fill the
 * last order caused is in before the run ends - exactly, not after a guessed wait.
 */
#ifndef QSL_ONESHOT_H
#define QSL_ONESHOT_H

#include <stddef.h>
#include <stdint.h>

#include "stop.h"
#include "types.h"
#include "wire.h"

#define QSL_ONESHOT_MAX 64                      /* requests one run sends */
#define QSL_ONESHOT_FENCE UINT64_C(0x716c73666e6365)     /* "qslfnce" */

struct qsl_oneshot_stats {
    uint64_t requests, answered, acks, rejects, fills, heartbeat_acks;
};

/* The requests in text into out[cap]: how many, or -1 with err naming the item and the
 * word that is wrong. */
int qsl_oneshot_parse(const char *text, struct qsl_wire_msg *out, size_t cap, char *err,
                      size_t errlen);

/* A frame as text: NewOrder(oid=1,sym=0,buy,px=100,qty=10,limit,gtc), Ack(oid=1,seq=1),
 * Reject(oid=2,reason=UnknownOrder), Fill(taker=4,maker=1,px=100,qty=5,seq=5),
 * HeartbeatAck(token=42). Its length, as snprintf. */
int qsl_oneshot_format(const struct qsl_wire_msg *m, char *buf, size_t cap);

/* Each request as sent (sent = 1) and each reply as read (sent = 0), formatted. */
typedef void (*qsl_oneshot_line)(void *ctx, int sent, const struct qsl_wire_msg *m);

/*
 * Sends reqs[n] on the connected fd as above, reading replies with timeout_ms for each
 * wait. 0 when every request and the fence were answered; -ETIMEDOUT (no answer in
 * time), -ECONNRESET (the server closed first), -EPROTO (a malformed reply, or one that
 * answers no request: its text in why), or another negative errno. st counts either way.
 */
int qsl_oneshot_run(int fd, const struct qsl_wire_msg *reqs, size_t n, unsigned timeout_ms,
                    qsl_oneshot_line line, void *ctx, struct qsl_oneshot_stats *st,
                    qsl_stop_flag *stop, char *why, size_t whylen);

#endif
