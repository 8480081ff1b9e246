/*
 * mt64.h - MT19937-64, the generator of the original's std::mt19937_64.
 *
 * The original's flow draws `rng() % n` from it, so reproducing its streams
 * byte for byte needs this exact generator (seeding, twist and tempering as
 * the C++ standard specifies them), not merely a good one.
 */
#ifndef QSL_MT64_H
#define QSL_MT64_H

#include <stdint.h>

#define QSL_MT64_N 312u

struct qsl_mt64 {
    uint64_t x[QSL_MT64_N];
    uint32_t i;                 /* next word to temper; N: twist first */
};

#define QSL_MT64_DEFAULT_SEED 5489u

void qsl_mt64_seed(struct qsl_mt64 *m, uint64_t seed);
uint64_t qsl_mt64_next(struct qsl_mt64 *m);

#endif
