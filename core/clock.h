/*
 * clock.h - the one clock of qsl's core: CLOCK_MONOTONIC, in nanoseconds or
 * milliseconds. Every deadline, duration and latency in core/ is read from it.
 */
#ifndef QSL_CLOCK_H
#define QSL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t qsl_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t qsl_clock_ms(void)
{
    return qsl_clock_ns() / 1000000u;
}

#endif
