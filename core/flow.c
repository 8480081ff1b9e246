/*
 * flow.c - the seeded synthetic order flow.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "flow.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t next64(struct qsl_flow *f)
{
    uint64_t *s = f->s;
    uint64_t r = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* Rejection sampling: exactly uniform, so the stream's odds are the stated ones. */
uint64_t qsl_flow_below(struct qsl_flow *f, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do
        r = next64(f);
    while (r >= limit);
    return r % n;
}

static int64_t between(struct qsl_flow *f, int64_t lo, int64_t hi)
{
    return lo + (int64_t)qsl_flow_below(f, (uint64_t)(hi - lo + 1));
}

static int chance(struct qsl_flow *f, unsigned percent)
{
    return qsl_flow_below(f, 100) < percent;
}

const char *const qsl_flow_gen_names[] = {"original", "drift", NULL};

int qsl_flow_gen_parse(const char *s)
{
    for (int i = 0; qsl_flow_gen_names[i]; i++)
        if (strcmp(s, qsl_flow_gen_names[i]) == 0)
            return i;
    return -1;
}

int qsl_flow_init(struct qsl_flow *f, enum qsl_flow_gen gen, uint64_t seed, uint32_t symbols)
{
    if (symbols == 0 || symbols > QSL_FLOW_MAX_SYMBOLS ||
        (gen != QSL_FLOW_ORIGINAL && gen != QSL_FLOW_DRIFT))
        return -EINVAL;
    memset(f, 0, sizeof *f);
    f->gen = gen;
    f->next_id = 1;
    f->symbols = symbols;
    if (gen == QSL_FLOW_ORIGINAL) {
        qsl_mt64_seed(&f->mt, seed);
        return 0;
    }
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        f->s[i] = splitmix64(&x);
    for (uint32_t i = 0; i < symbols; i++)
        f->mid[i] = (QSL_FLOW_MID_MIN + QSL_FLOW_MID_MAX) / 2;
    return 0;
}

static int still_resting(const struct qsl_flow *f, const struct qsl_engine *eng, uint32_t at)
{
    return !eng || qsl_book_pool_find(&eng->pool, f->live[at].symbol, f->live[at].id) != QSL_NIL;
}

static void forget(struct qsl_flow *f, uint32_t at)
{
    f->live[at] = f->live[--f->live_n];
}

/* Drop remembered orders that have left the engine's book. */
static void prune(struct qsl_flow *f, const struct qsl_engine *eng)
{
    for (uint32_t i = f->live_n; i-- > 0;)
        if (!still_resting(f, eng, i))
            forget(f, i);
}

static void remember(struct qsl_flow *f, const struct qsl_engine *eng,
                     const struct qsl_order_req *r)
{
    if (f->live_n == QSL_FLOW_LIVE && eng)
        prune(f, eng);
    uint32_t at = f->live_n < QSL_FLOW_LIVE ? f->live_n++ : (uint32_t)qsl_flow_below(f, QSL_FLOW_LIVE);
    f->live[at].id = r->order_id;
    f->live[at].symbol = r->symbol;
    f->live[at].side = r->side;
}

static void new_limit(struct qsl_flow *f, const struct qsl_engine *eng, struct qsl_order_req *r,
                      qsl_price mid)
{
    int cross = chance(f, 18);
    int64_t ticks = cross ? between(f, 1, 4) : between(f, 1, 3);
    int toward = (r->side == QSL_BUY) == cross;      /* buy crosses up, sell crosses down */
    r->order_type = QSL_LIMIT;
    r->price = toward ? mid + ticks : mid - ticks;
    r->qty = (qsl_qty)between(f, 1, 12);
    r->tif = chance(f, cross ? 35 : 8) ? QSL_IOC : QSL_GTC;
    if (r->tif == QSL_GTC)
        remember(f, eng, r);
}

/* Pick a remembered order still resting; 0 when there is none. */
static int pick_live(struct qsl_flow *f, const struct qsl_engine *eng, uint32_t *at)
{
    while (f->live_n > 0) {
        *at = (uint32_t)qsl_flow_below(f, f->live_n);
        if (still_resting(f, eng, *at))
            return 1;
        forget(f, *at);
    }
    return 0;
}

/* The original's generate_flow, draw for draw (plain modulo, as it has it). */
static void next_original(struct qsl_flow *f, struct qsl_flow_item *it)
{
    struct qsl_mt64 *m = &f->mt;
    struct qsl_order_req *r = &it->req;
    memset(it, 0, sizeof *it);
    r->symbol = (qsl_symbol)(qsl_mt64_next(m) % f->symbols);
    r->side = qsl_mt64_next(m) % 2 == 0 ? QSL_BUY : QSL_SELL;
    r->price = 95 + (qsl_price)(qsl_mt64_next(m) % 11);
    r->qty = 1 + (qsl_qty)(qsl_mt64_next(m) % 10);
    uint64_t pick = qsl_mt64_next(m) % 10;
    if (pick <= 6) {
        it->kind = QSL_FLOW_NEW;
        r->order_id = f->next_id++;
        r->order_type = pick == 6 ? QSL_MARKET : QSL_LIMIT;
        r->tif = QSL_GTC;
        return;
    }
    it->kind = pick == 9 ? QSL_FLOW_MODIFY : QSL_FLOW_CANCEL;
    r->order_id = 1 + qsl_mt64_next(m) % f->next_id;
}

void qsl_flow_next(struct qsl_flow *f, const struct qsl_engine *eng, struct qsl_flow_item *it)
{
    if (f->gen == QSL_FLOW_ORIGINAL) {
        next_original(f, it);
        return;
    }
    qsl_symbol sym = (qsl_symbol)qsl_flow_below(f, f->symbols);
    qsl_price mid = f->mid[sym] + between(f, -1, 1);
    mid = mid < QSL_FLOW_MID_MIN ? QSL_FLOW_MID_MIN : mid > QSL_FLOW_MID_MAX ? QSL_FLOW_MID_MAX : mid;
    f->mid[sym] = mid;

    memset(it, 0, sizeof *it);
    struct qsl_order_req *r = &it->req;
    r->symbol = sym;
    uint64_t draw = qsl_flow_below(f, 100);
    uint32_t at;
    if (draw >= 58 + 12 && draw < 58 + 12 + 16) {
        it->kind = QSL_FLOW_CANCEL;
        if (chance(f, 10) || !pick_live(f, eng, &at)) {
            r->order_id = f->next_id++;     /* an id that was never sent */
            return;
        }
        r->order_id = f->live[at].id;
        r->symbol = f->live[at].symbol;
        forget(f, at);
        return;
    }
    if (draw >= 58 + 12 + 16 && pick_live(f, eng, &at)) {
        it->kind = QSL_FLOW_MODIFY;
        r->order_id = f->live[at].id;
        r->symbol = f->live[at].symbol;
        r->side = f->live[at].side;
        int64_t away = between(f, 1, 3);
        r->price = r->side == QSL_BUY ? f->mid[r->symbol] - away : f->mid[r->symbol] + away;
        r->qty = (qsl_qty)between(f, 1, 12);
        return;
    }
    it->kind = QSL_FLOW_NEW;
    r->order_id = f->next_id++;
    r->side = (uint8_t)qsl_flow_below(f, 2);
    if (draw < 58 || draw >= 58 + 12 + 16) {        /* a modify with nothing to modify rests */
        new_limit(f, eng, r, mid);
        return;
    }
    r->order_type = QSL_MARKET;
    r->qty = (qsl_qty)between(f, 1, 12);
}

enum qsl_reject qsl_flow_apply(struct qsl_engine *e, const struct qsl_flow_item *it,
                               qsl_event_fn fn, void *ctx)
{
    const struct qsl_order_req *r = &it->req;
    switch (it->kind) {
    case QSL_FLOW_CANCEL:
        return qsl_engine_cancel(e, r->symbol, r->order_id, fn, ctx);
    case QSL_FLOW_MODIFY:
        return qsl_engine_modify(e, r->symbol, r->order_id, r->price, r->qty, fn, ctx);
    default:
        return qsl_engine_submit(e, r, fn, ctx);
    }
}

int qsl_flow_format(const struct qsl_flow_item *it, char *buf, unsigned long cap)
{
    const struct qsl_order_req *r = &it->req;
    switch (it->kind) {
    case QSL_FLOW_CANCEL:
        return snprintf(buf, cap, "C %" PRIu32 " %" PRIu64, r->symbol, r->order_id);
    case QSL_FLOW_MODIFY:
        return snprintf(buf, cap, "D %" PRIu32 " %" PRIu64 " %" PRId64 " %" PRIu32, r->symbol,
                        r->order_id, r->price, r->qty);
    default:
        if (r->order_type != QSL_LIMIT)
            return snprintf(buf, cap, "M %" PRIu32 " %" PRIu64 " %u %" PRIu32, r->symbol,
                            r->order_id, r->side, r->qty);
        return snprintf(buf, cap, "L %" PRIu32 " %" PRIu64 " %u %" PRId64 " %" PRIu32 " %u",
                        r->symbol, r->order_id, r->side, r->price, r->qty, r->tif);
    }
}
