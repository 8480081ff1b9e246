/*
 * echo.h - the kernel's floor for a TCP request/reply server: every `request`
 * bytes read are answered with `reply` bytes (zeros), no protocol and no engine.
 *
 * Blocking: one connection at a time, recv then send, as the simplest server.
 * Epoll: many connections at once, the same structure as the gateway's epoll
 * mode - one recv per readable connection per round, then one send of every
 * reply owed - so measured next to the gateway with the same connections, depth
 * and bytes per request, the difference is the session and the engine. The
 * replies are a count of bytes owed, sent from one zero buffer: nothing is
 * copied or allocated per request, and reading stops while more than
 * owed_max bytes are owed (a client that never reads holds no more).
 */
#ifndef QSL_ECHO_H
#define QSL_ECHO_H

#include <stdint.h>

#include "stop.h"

enum qsl_echo_mode { QSL_ECHO_BLOCKING, QSL_ECHO_EPOLL };

struct qsl_echo_config {
    enum qsl_echo_mode mode;
    unsigned request, reply;        /* bytes, each at least 1 */
    unsigned max_conns;             /* epoll: more are accepted and closed at once */
    uint64_t owed_max;              /* epoll: stop reading a connection owing more */
};

struct qsl_echo_stats {
    uint64_t connections, refused, requests, bytes_in, bytes_out;
};

void qsl_echo_defaults(struct qsl_echo_config *c);

/* Serve the listening socket lfd until *stop. 0, or -errno (-EINVAL for a bad config,
 * -ENOMEM, or epoll's own failure); a client's error closes only its connection. */
int qsl_echo_serve(int lfd, const struct qsl_echo_config *c, struct qsl_echo_stats *st,
                   qsl_stop_flag *stop);

#endif
