/*
 * stop.h - the one stop flag: what a signal handler sets (SIGTERM, SIGINT) to end a
 * serving or measuring loop, and what every such loop in core/ watches. A loop that
 * waits looks at it at least every 100 ms (qsl_net_wait), so a stop is never slept
 * through.
 */
#ifndef QSL_STOP_H
#define QSL_STOP_H

#include <signal.h>

typedef volatile sig_atomic_t qsl_stop_flag;

#endif
