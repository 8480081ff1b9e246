/*
 * bench.h - what bench_engine.c and bench_ofloor.c share: the clock, unseen() and the
 * event sink their loops hand the engine.
 */
#ifndef QSL_BENCH_H
#define QSL_BENCH_H

#include <stdint.h>
#include <time.h>

#include "engine.h"

static inline double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* x, from where the compiler cannot see it: as a value read off the wire would be. The
 * loops that give the engine, the book or the encoder constants pass them through this:
 * with link-time optimisation the compiler would otherwise fold them into what it inlines
 * (the risk checks on a known price and quantity, a known key, the id's hash
 * strength-reduced to an add, a known message's checks and byte order), a saving no caller
 * with real values has (callgrind, the constants seen at 965d417 and unseen at 3e78d7a, the
 * same library code: obook 764 and 831, book 450 and 487, ocodec 65 and 92). */
static inline uint64_t unseen(uint64_t x)
{
    __asm__ volatile("" : "+r"(x));
    return x;
}

/* The callback every loop gives the engine: it reads each event, as a caller would. */
static uint64_t sink_count;
static void count_events(void *ctx, const struct qsl_event *ev)
{
    (void)ctx;
    sink_count += ev->kind;
}

#endif
