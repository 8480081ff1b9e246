/*
 * bench_ofloor.c - obook's loop through the minimal engine of bench_floor.h.
 *
 *   bench_ofloor [--runs R] [--ops N] [--once]
 *
 * Prints the line bench_engine prints for a workload, so tests/bench.sh reads both
 * alike; --once runs one repetition and prints nothing (callgrind's form). A binary of
 * its own: linked into bench_engine, its code moved the link-time inliner's choices for
 * the engine's workloads (make bench, callgrind: flow 285.5 -> 316.1, ocodec 92 -> 112).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_floor.h"

/* bench_engine's bench_run_obook with the floor's calls. The callback goes through unseen()
 * as well: the floor's entry points have this one caller, and the compiler would otherwise
 * call count_events directly, which the engine, called from everywhere, cannot. */
__attribute__((noinline)) void bench_run_ofloor(struct bench_floor *f, size_t n);
__attribute__((noinline)) void bench_run_ofloor(struct bench_floor *f, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t id = unseen(i + 1), symbol = unseen(0), price = unseen(100), qty = unseen(10),
                 side = unseen(QSL_BUY), type = unseen(QSL_LIMIT), tif = unseen(QSL_GTC),
                 price2 = unseen(101), qty2 = unseen(10);
        qsl_event_fn fn = (qsl_event_fn)(uintptr_t)unseen((uintptr_t)count_events);
        struct qsl_order_req r = {.order_id = id, .symbol = (qsl_symbol)symbol,
                                  .price = (qsl_price)price, .qty = (qsl_qty)qty,
                                  .side = (uint8_t)side, .order_type = (uint8_t)type,
                                  .tif = (uint8_t)tif};
        bad |= bench_floor_submit(f, &r, fn, NULL);
        bad |= bench_floor_modify(f, (qsl_symbol)symbol, id, (qsl_price)price2, (qsl_qty)qty2,
                                  fn, NULL);
        bad |= bench_floor_cancel(f, (qsl_symbol)symbol, id, fn, NULL);
    }
    if (bad) {
        fprintf(stderr, "bench_ofloor: an operation answered %d, not 0\n", bad);
        exit(1);
    }
}

static double run_ofloor(size_t n)
{
    struct bench_floor f;
    if (bench_floor_init(&f, 1, 1024, 100) != 0) {
        fprintf(stderr, "bench_ofloor: out of memory\n");
        exit(1);
    }
    double t0 = now_ns();
    bench_run_ofloor(&f, n);
    double t = now_ns() - t0;
    if (f.used != 0 || f.stats.canceled != n || f.stats.modified != n ||
        f.stats.top_of_book != 3 * n) {
        fprintf(stderr, "bench_ofloor: workload went wrong (resting %u, modified %llu, "
                "canceled %llu, top of book %llu)\n", f.used,
                (unsigned long long)f.stats.modified, (unsigned long long)f.stats.canceled,
                (unsigned long long)f.stats.top_of_book);
        exit(1);
    }
    bench_floor_free(&f);
    return t / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int runs = 7, once = 0;
    size_t n = 1000000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ops") && i + 1 < argc)
            n = (size_t)strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--once"))
            once = 1;
        else {
            fprintf(stderr, "usage: bench_ofloor [--runs R] [--ops N] [--once]\n");
            return 1;
        }
    }
    if (runs < 1 || runs > 1000 || n == 0) {
        fprintf(stderr, "bench_ofloor: --runs must be 1..1000 and --ops above 0\n");
        return 1;
    }
    if (once) {
        run_ofloor(n);
        return 0;
    }
    double t[1000];
    for (int r = 0; r < runs; r++)
        t[r] = run_ofloor(n);
    qsort(t, (size_t)runs, sizeof t[0], cmp_double);
    printf("%-8s %-62s min %7.1f  median %7.1f  max %7.1f  (%d runs x %zu ops)\n", "ofloor",
           "obook's work in a minimal engine (tests/bench_floor.c), ns/op", t[0], t[runs / 2],
           t[runs - 1], runs, n);
    return 0;
}
