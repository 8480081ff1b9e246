/*
 * mt64.c - MT19937-64 (Matsumoto and Nishimura), parameters as std::mt19937_64.
 */
#include "mt64.h"

#define MM 156u
#define MATRIX_A 0xB5026F5AA96619E9ull
#define UPPER 0xFFFFFFFF80000000ull     /* the top 33 bits */
#define LOWER 0x000000007FFFFFFFull

void qsl_mt64_seed(struct qsl_mt64 *m, uint64_t seed)
{
    m->x[0] = seed;
    for (uint32_t i = 1; i < QSL_MT64_N; i++)
        m->x[i] = 6364136223846793005ull * (m->x[i - 1] ^ (m->x[i - 1] >> 62)) + i;
    m->i = QSL_MT64_N;
}

static uint64_t twist_word(uint64_t hi, uint64_t lo, uint64_t far)
{
    uint64_t y = (hi & UPPER) | (lo & LOWER);
    return far ^ (y >> 1) ^ ((y & 1u) ? MATRIX_A : 0);
}

/* Regenerate all N words at once: the loop splits where i + MM wraps. */
static void twist(struct qsl_mt64 *m)
{
    uint64_t *x = m->x;
    uint32_t i = 0;
    for (; i < QSL_MT64_N - MM; i++)
        x[i] = twist_word(x[i], x[i + 1], x[i + MM]);
    for (; i < QSL_MT64_N - 1; i++)
        x[i] = twist_word(x[i], x[i + 1], x[i + MM - QSL_MT64_N]);
    x[i] = twist_word(x[i], x[0], x[MM - 1]);
    m->i = 0;
}

uint64_t qsl_mt64_next(struct qsl_mt64 *m)
{
    if (m->i >= QSL_MT64_N)
        twist(m);
    uint64_t y = m->x[m->i++];
    y ^= (y >> 29) & 0x5555555555555555ull;
    y ^= (y << 17) & 0x71D67FFFEDA60000ull;
    y ^= (y << 37) & 0xFFF7EEE000000000ull;
    y ^= y >> 43;
    return y;
}
