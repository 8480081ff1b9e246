/*
 * book.c - price-time order book: chunked pool, growing id index, price
 * ladders with an overflow, matching.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "book.h"

/* Out of line whatever calls it: the engine's cancel and modify are flattened (all they
 * call inlined), and these paths - rare ones (window moves, the overflow, a draining
 * index, the next level below a dropped best) and large ones (matching, its preview walk)
 * - would only crowd the common one
 * (make bench: flattened without this, the gateway's loop took 454 instructions a request,
 * with it 426). */
#define RARE __attribute__((noinline))

#define MOVED UINT32_MAX        /* an old table's slot whose entry was moved on */
#define DRAIN_STEP 8u           /* old slots moved per insert: done long before the new fills */
/* A new index: 1,024 slots (16 KB). Smaller, an engine resting a few hundred orders pays
 * four rounds of rehash and drain (make bench: the original's flow, a fresh engine per
 * 5,000 orders, 315.7 instructions an item from 64 slots, 296.8 from 1,024, 301.9 from
 * 4,096, whose zeroing costs more than the rounds it saves). */
#define INDEX_MIN 1024u

static inline int clz(uint64_t x) { return __builtin_clzll(x); }
static inline int ctz(uint64_t x) { return __builtin_ctzll(x); }

/* ------------------------------------------------------------------ index */

#define home_of qsl_book_home
#define table_find qsl_book_table_find

_Static_assert(sizeof(struct qsl_order) == 32, "an order is half a cache line");
_Static_assert(QSL_BOOK_SLAB_CHUNKS * QSL_BOOK_CHUNK * sizeof(struct qsl_order) ==
               QSL_HUGEMEM_PAGE, "a slab is 2 MiB of chunks");

static size_t table_bytes(const struct qsl_index_table *t)
{
    return ((size_t)t->mask + 1) * sizeof *t->slot;
}

/* huge: a table of QSL_BOOK_HUGE_TABLE bytes or more gets a 2 MiB mapping of its own */
static int table_alloc(struct qsl_index_table *t, uint32_t nslots, int huge)
{
    size_t bytes = (size_t)nslots * sizeof *t->slot;
    t->huge = huge && bytes >= QSL_BOOK_HUGE_TABLE;
    t->slot = t->huge ? qsl_hugemem_map(bytes) : calloc(nslots, sizeof *t->slot);
    if (!t->slot)
        return -ENOMEM;
    t->mask = nslots - 1;
    t->shift = 64;
    for (uint32_t b = nslots; b > 1; b >>= 1)
        t->shift--;
    return 0;
}

static void table_free(struct qsl_index_table *t)
{
    if (t->huge)
        qsl_hugemem_unmap(t->slot, table_bytes(t));
    else
        free(t->slot);
    t->slot = NULL;
}

static inline void table_put(struct qsl_index_table *t, const struct qsl_index_slot *e)
{
    uint32_t i = home_of(t, e->symbol, e->id);
    while (t->slot[i].ref != 0)
        i = (i + 1) & t->mask;
    t->slot[i] = *e;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void table_delete(struct qsl_index_table *t, uint32_t i)
{
    for (uint32_t j = i;;) {
        j = (j + 1) & t->mask;
        const struct qsl_index_slot *s = &t->slot[j];
        if (s->ref == 0)
            break;
        uint32_t home = home_of(t, s->symbol, s->id);
        int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            t->slot[i] = *s;
            i = j;
        }
    }
    t->slot[i].ref = 0;
}

/* While the old table drains, an entry is in one of the two. */
uint32_t qsl_book_pool_find_draining(const struct qsl_book_pool *p, qsl_symbol symbol,
                                     qsl_order_id id)
{
    uint32_t i = table_find(&p->index, symbol, id);
    if (i != QSL_NIL)
        return p->index.slot[i].ref - 1;
    if (p->old.slot && (i = table_find(&p->old, symbol, id)) != QSL_NIL)
        return p->old.slot[i].ref - 1;
    return QSL_NIL;
}

/* Move up to n of the old table's slots into the new one; free the old when done. */
RARE static void drain(struct qsl_book_pool *p, uint32_t n)
{
    while (p->old.slot && n-- > 0) {
        if (p->drained > p->old.mask) {
            table_free(&p->old);
            break;
        }
        struct qsl_index_slot *s = &p->old.slot[p->drained++];
        if (s->ref != 0 && s->ref != MOVED) {
            table_put(&p->index, s);
            s->ref = MOVED;
        }
    }
}

static inline void index_insert(struct qsl_book_pool *p, uint32_t idx, qsl_symbol symbol,
                                qsl_order_id id)
{
    if (p->old.slot)
        drain(p, DRAIN_STEP);
    struct qsl_index_slot e = {.id = id, .symbol = symbol, .ref = idx + 1};
    table_put(&p->index, &e);
}

/* The entry of order o goes; at is its slot in the current table when the caller
 * knows it (QSL_NIL: look it up). */
static inline void index_delete(struct qsl_book_pool *p, const struct qsl_order *o, uint32_t at)
{
    uint32_t i = at != QSL_NIL ? at : table_find(&p->index, o->symbol, o->id);
    if (i != QSL_NIL)
        table_delete(&p->index, i);
    else                        /* not moved yet: the old table only loses it */
        p->old.slot[table_find(&p->old, o->symbol, o->id)].ref = MOVED;
}

/* Room for one more entry at a load of at most 1/2. Past it the table doubles,
 * and the old one drains DRAIN_STEP slots per insert: with S old slots it is
 * empty after S/8 inserts, when the new one (2S slots) holds at most 5S/8. */
static int index_reserve(struct qsl_book_pool *p)
{
    uint64_t slots = (uint64_t)p->index.mask + 1;
    if (((uint64_t)p->used + 1) * 2 <= slots)
        return 0;
    if (p->old.slot)
        drain(p, UINT32_MAX);
    struct qsl_index_table t;
    if (slots * 2 > (1ull << 31) || table_alloc(&t, (uint32_t)(slots * 2), p->huge) != 0)
        return -ENOMEM;
    p->old = p->index;
    p->index = t;
    p->drained = 0;
    return 0;
}

/* ------------------------------------------------------------------ pool */

int qsl_book_pool_init(struct qsl_book_pool *p, uint32_t max_orders, int huge)
{
    memset(p, 0, sizeof *p);
    if (max_orders > QSL_BOOK_ORDERS_MAX)
        return -EINVAL;
    p->max_orders = max_orders;
    p->free_head = QSL_NIL;
    p->huge = huge != 0;
    qsl_hugemem_slabs_init(&p->slabs, QSL_BOOK_CHUNK * sizeof(struct qsl_order));
    return table_alloc(&p->index, INDEX_MIN, 0);
}

void qsl_book_pool_free(struct qsl_book_pool *p)
{
    for (uint32_t c = 0; c < p->heap_chunks; c++)
        free(p->chunk[c]);
    qsl_hugemem_slabs_free(&p->slabs);
    free(p->chunk);
    table_free(&p->index);
    if (p->old.slot)
        table_free(&p->old);
    memset(p, 0, sizeof *p);
}

static size_t table_held(const struct qsl_index_table *t)
{
    return t->huge ? qsl_hugemem_size(table_bytes(t)) : table_bytes(t);
}

size_t qsl_book_pool_bytes(const struct qsl_book_pool *p)
{
    size_t n = (size_t)p->heap_chunks * QSL_BOOK_CHUNK * sizeof(struct qsl_order) +
               qsl_hugemem_slabs_bytes(&p->slabs) +
               (size_t)p->chunk_cap * sizeof *p->chunk + table_held(&p->index);
    if (p->old.slot)
        n += table_held(&p->old);
    return n;
}

/* One more chunk of free slots; the ones before it stay where they are. */
static int pool_grow(struct qsl_book_pool *p)
{
    if ((uint64_t)(p->chunks + 1) * QSL_BOOK_CHUNK > QSL_BOOK_ORDERS_MAX)
        return -ENOMEM;
    if (p->chunks == p->chunk_cap) {
        uint32_t cap = p->chunk_cap ? p->chunk_cap * 2 : 8;
        struct qsl_order **dir = realloc(p->chunk, (size_t)cap * sizeof *dir);
        if (!dir)
            return -ENOMEM;
        p->chunk = dir;
        p->chunk_cap = cap;
    }
    /* every chunk after the first from the slabs: chunks heap_chunks .. chunks - 1 are
     * theirs, in order */
    int from_slab = p->huge && p->chunks > 0;
    struct qsl_order *c = from_slab ? qsl_hugemem_carve(&p->slabs)
                                    : malloc(QSL_BOOK_CHUNK * sizeof *c);
    if (!c)
        return -ENOMEM;
    p->heap_chunks += !from_slab;
    uint32_t first = p->chunks * QSL_BOOK_CHUNK;
    for (uint32_t i = 0; i < QSL_BOOK_CHUNK; i++)
        c[i].next = i + 1 < QSL_BOOK_CHUNK ? first + i + 1 : p->free_head;
    p->chunk[p->chunks++] = c;
    p->free_head = first;
    return 0;
}

/* A free slot and its index entry for one more order, unless the bound is
 * reached (then only an order that leaves first makes room). */
static int pool_reserve(struct qsl_book_pool *p)
{
    if (qsl_book_pool_full(p))
        return 0;
    int rc = p->free_head == QSL_NIL ? pool_grow(p) : 0;
    return rc ? rc : index_reserve(p);
}

/* A free slot: its index, and the order there in *o. */
static inline uint32_t pool_take(struct qsl_book_pool *p, struct qsl_order **o)
{
    uint32_t idx = p->free_head;
    *o = qsl_book_order(p, idx);
    p->free_head = (*o)->next;
    p->used++;
    return idx;
}

/* Order idx (o) leaves the pool; at as for index_delete. */
static inline void pool_release(struct qsl_book_pool *p, uint32_t idx, struct qsl_order *o,
                                uint32_t at)
{
    index_delete(p, o, at);
    o->next = p->free_head;
    p->free_head = idx;
    p->used--;
}

/* ------------------------------------------------------------------ bitmap */

/*
 * A window of w slots needs only the levels of summary its size has: up to 64 slots the
 * bottom word alone, up to 4,096 one summary word. The summaries it does not need are held
 * at 1 (bit_fixed) - "look at word 0" - so the searches below read them unchanged, and a
 * level's bit in a window of up to 64 slots (every new book's) is one word to set or clear;
 * in one of up to 4,096, at most two to clear (a set still writes the top word, held at 1).
 * The searches run only while the window holds a level (near > 0), so a summary held at 1
 * never points at an empty word for them.
 */
static void bit_fixed(struct qsl_book_side *s)
{
    if (s->w <= 4096)
        s->top = 1;
    if (s->w <= 64)
        s->mid[0] = 1;
}

static inline void bit_set(struct qsl_book_side *s, uint32_t i)
{
    s->bits[i >> 6] |= 1ull << (i & 63);
    if (s->w <= 64)
        return;
    s->mid[i >> 12] |= 1ull << ((i >> 6) & 63);
    s->top |= 1ull << (i >> 12);
}

static inline void bit_clear(struct qsl_book_side *s, uint32_t i)
{
    uint64_t *b = &s->bits[i >> 6];
    if ((*b &= ~(1ull << (i & 63))) != 0 || s->w <= 64)
        return;
    uint64_t *m = &s->mid[i >> 12];
    if ((*m &= ~(1ull << ((i >> 6) & 63))) != 0 || s->w <= 4096)
        return;
    s->top &= ~(1ull << (i >> 12));
}

/* The highest (descend) or lowest (ascend) set bit under summary word k. */
static inline uint32_t descend(const struct qsl_book_side *s, uint32_t k)
{
    uint32_t j = k * 64u + 63u - (uint32_t)clz(s->mid[k]);
    return j * 64u + 63u - (uint32_t)clz(s->bits[j]);
}

static inline uint32_t ascend(const struct qsl_book_side *s, uint32_t k)
{
    uint32_t j = k * 64u + (uint32_t)ctz(s->mid[k]);
    return j * 64u + (uint32_t)ctz(s->bits[j]);
}

/* The highest set bit; the side must have a level in its window. */
static uint32_t bit_last(const struct qsl_book_side *s)
{
    return descend(s, 63u - (uint32_t)clz(s->top));
}

/* The lowest set bit; the side must have a level in its window. */
static uint32_t bit_first(const struct qsl_book_side *s)
{
    return ascend(s, (uint32_t)ctz(s->top));
}

/* The highest set bit below i, -1 when none. */
RARE static int64_t bit_below(const struct qsl_book_side *s, uint32_t i)
{
    uint32_t j = i >> 6, k = i >> 12;
    uint64_t x = s->bits[j] & ((1ull << (i & 63)) - 1);
    if (x)
        return (int64_t)(j * 64u + 63u - (uint32_t)clz(x));
    x = s->mid[k] & ((1ull << (j & 63)) - 1);
    if (x) {
        j = k * 64u + 63u - (uint32_t)clz(x);
        return (int64_t)(j * 64u + 63u - (uint32_t)clz(s->bits[j]));
    }
    x = s->top & ((1ull << k) - 1);
    return x ? (int64_t)descend(s, 63u - (uint32_t)clz(x)) : -1;
}

/* The lowest set bit above i, -1 when none. */
static int64_t bit_above(const struct qsl_book_side *s, uint32_t i)
{
    uint32_t j = i >> 6, k = i >> 12;
    uint64_t x = (i & 63) == 63 ? 0 : s->bits[j] & (~0ull << ((i & 63) + 1));
    if (x)
        return (int64_t)(j * 64u + (uint32_t)ctz(x));
    x = (j & 63) == 63 ? 0 : s->mid[k] & (~0ull << ((j & 63) + 1));
    if (x) {
        j = k * 64u + (uint32_t)ctz(x);
        return (int64_t)(j * 64u + (uint32_t)ctz(s->bits[j]));
    }
    x = k == 63 ? 0 : s->top & (~0ull << (k + 1));
    return x ? (int64_t)ascend(s, (uint32_t)ctz(x)) : -1;
}

static size_t words0(uint32_t w) { return w / 64; }
static size_t words1(uint32_t w) { return w > 4096 ? w / 4096 : 1; }

/* The summaries from the bottom words, after the bottom words moved. */
static void bit_summarize(struct qsl_book_side *s)
{
    memset(s->mid, 0, words1(s->w) * sizeof *s->mid);
    s->top = 0;
    bit_fixed(s);
    for (size_t j = 0; j < words0(s->w); j++)
        if (s->bits[j]) {
            s->mid[j >> 6] |= 1ull << (j & 63);
            s->top |= 1ull << (j >> 6);
        }
}

/* Bit i moves to i - d (d > 0) or i + |d| (d < 0); bits that leave the window are lost
 * (the caller has moved their levels out first). */
static void bit_shift(struct qsl_book_side *s, int64_t d)
{
    size_t n = words0(s->w);
    uint64_t *b = s->bits;
    uint64_t a = (uint64_t)(d < 0 ? -d : d);
    size_t q = (size_t)(a >> 6);
    unsigned r = (unsigned)(a & 63);
    if (d > 0) {
        for (size_t j = 0; j < n; j++) {
            uint64_t lo = j + q < n ? b[j + q] >> r : 0;
            uint64_t hi = r && j + q + 1 < n ? b[j + q + 1] << (64 - r) : 0;
            b[j] = lo | hi;
        }
    } else {
        for (size_t j = n; j-- > 0;) {
            uint64_t hi = j >= q ? b[j - q] << r : 0;
            uint64_t lo = r && j >= q + 1 ? b[j - q - 1] >> (64 - r) : 0;
            b[j] = lo | hi;
        }
    }
    bit_summarize(s);
}

/* ------------------------------------------------------------------ ladder */

static inline int in_window(const struct qsl_book_side *s, uint64_t key)
{
    return key - s->base < s->w;
}

static inline struct qsl_level *slot_of(const struct qsl_book_side *s, uint64_t key)
{
    return &s->lv[key & (s->w - 1)];
}

/* A window of w slots holding keys lo .. hi: hi a quarter below its top when
 * there is room (the best price moves up without a move), never past the
 * largest key. */
static uint64_t place(uint64_t lo, uint64_t hi, uint32_t w)
{
    uint64_t below = w - w / 4 - 1;
    uint64_t nb = hi >= below ? hi - below : 0;
    if (nb > lo)
        nb = lo;
    if (nb > UINT64_MAX - (w - 1))
        nb = UINT64_MAX - (w - 1);
    return nb;
}

/* First far level whose key is >= key (nfar when none). */
RARE static uint32_t far_find(const struct qsl_book_side *s, uint64_t key)
{
    uint32_t lo = 0, n = s->nfar;
    while (n > 0) {
        uint32_t half = n / 2;
        if (s->far[lo + half].key < key) {
            lo += half + 1;
            n -= half + 1;
        } else {
            n = half;
        }
    }
    return lo;
}

/* The far levels at or above the window's base come into it. */
RARE static void pull(struct qsl_book_side *s)
{
    while (s->nfar > 0 && s->far[s->nfar - 1].key >= s->base) {
        const struct qsl_far_level *f = &s->far[--s->nfar];
        *slot_of(s, f->key) = f->l;
        bit_set(s, (uint32_t)(f->key - s->base));
        s->near++;
    }
    if (s->near)
        s->hi = bit_last(s);
}

/*
 * Move the window (same size) to start at nb. Levels below nb go to the far
 * end of the overflow (they are above every key there); overflow levels at
 * or above nb come in. No level may be at or above nb + w. Never allocates:
 * the overflow has room for every level of the side (qsl_book_reserve).
 */
RARE static void rebase(struct qsl_book_side *s, uint64_t nb)
{
    if (s->near == 0) {
        s->base = nb;
        pull(s);
        return;
    }
    if (nb > s->base) {
        uint64_t d = nb - s->base;
        for (int64_t i = bit_first(s); i >= 0 && (uint64_t)i < d; i = bit_above(s, (uint32_t)i)) {
            uint64_t key = s->base + (uint64_t)i;
            struct qsl_level *l = slot_of(s, key);
            s->far[s->nfar++] = (struct qsl_far_level){.key = key, .l = *l};
            l->count = 0;
            s->near--;
        }
    }
    if (s->near == 0) {
        memset(s->bits, 0, words0(s->w) * sizeof *s->bits);
        bit_summarize(s);
    } else {
        bit_shift(s, (int64_t)(nb - s->base));
    }
    s->base = nb;
    pull(s);
}

/* A new window of w slots starting at nb with the levels of the old one. */
RARE static int regrow(struct qsl_book_side *s, uint32_t w, uint64_t nb)
{
    struct qsl_level *lv = calloc(w, sizeof *lv);
    uint64_t *bits = calloc(words0(w) + words1(w), sizeof *bits);
    if (!lv || !bits) {
        free(lv);
        free(bits);
        return -ENOMEM;
    }
    struct qsl_book_side n = *s;
    n.lv = lv;
    n.bits = bits;
    n.mid = bits + words0(w);
    n.top = 0;
    n.w = w;
    n.base = nb;
    bit_fixed(&n);
    if (s->w)
        for (int64_t i = s->near ? (int64_t)bit_first(s) : -1; i >= 0; i = bit_above(s, (uint32_t)i)) {
            uint64_t key = s->base + (uint64_t)i;
            *slot_of(&n, key) = *slot_of(s, key);
            bit_set(&n, (uint32_t)(key - nb));
        }
    free(s->lv);
    free(s->bits);
    *s = n;
    pull(s);
    return 0;
}

/*
 * Make key fit the window where that is cheap: move the window when the
 * side's levels and the key span no more than it, or double it while the
 * levels would still fill 1 slot in 16 (any size up to QSL_LADDER_FREE).
 * Otherwise leave it: a rest then moves the window up for a better key,
 * pushing the levels it leaves into the overflow, or puts a worse key there.
 */
static int fit(struct qsl_book_side *s, uint64_t key)
{
    if (s->near == 0) {
        rebase(s, place(key, key, s->w));
        return 0;
    }
    uint64_t lo = s->base + bit_first(s), hi = s->base + s->hi;
    if (key < lo)
        lo = key;
    if (key > hi)
        hi = key;
    uint64_t span = hi - lo;            /* one less than the keys it covers */
    if (span < s->w) {
        rebase(s, place(lo, hi, s->w));
        return 0;
    }
    if (span >= QSL_LADDER_MAX)
        return 0;
    uint32_t w = s->w * 2;
    while (w < QSL_LADDER_MAX && w <= span + span / 4)
        w *= 2;
    uint64_t levels = (uint64_t)s->near + s->nfar + 1;
    if (w > QSL_LADDER_FREE && w > 16 * levels)
        return 0;
    return regrow(s, w, place(lo, hi, w));
}

static int far_reserve(struct qsl_book_side *s)
{
    uint64_t need = (uint64_t)s->near + s->nfar + 1;
    if (s->far_cap >= need)
        return 0;
    uint64_t cap = s->far_cap ? (uint64_t)s->far_cap * 2 : 16;
    while (cap < need)
        cap *= 2;
    if (cap > UINT32_MAX)
        return -ENOMEM;
    struct qsl_far_level *f = realloc(s->far, (size_t)cap * sizeof *f);
    if (!f)
        return -ENOMEM;
    s->far = f;
    s->far_cap = (uint32_t)cap;
    return 0;
}

RARE int qsl_book_reserve_slow(struct qsl_book *b, enum qsl_side side, qsl_price price,
                               int slot)
{
    struct qsl_book_side *s = &b->side[side];
    uint64_t key = qsl_book_key(side, price);
    int rc = 0;
    if (s->w == 0)
        rc = regrow(s, QSL_LADDER_MIN, place(key, key, QSL_LADDER_MIN));
    else if (!in_window(s, key))
        rc = fit(s, key);
    if (rc == 0)
        rc = far_reserve(s);
    return rc || !slot ? rc : pool_reserve(b->pool);
}

/* ------------------------------------------------------------------ levels */

static const struct qsl_level empty_level = {0, QSL_NIL, QSL_NIL, 0};

/* A new level for a key outside the window (reserved: nothing allocates). */
RARE static struct qsl_level *far_level(struct qsl_book_side *s, uint64_t key)
{
    if (s->near == 0 || key > s->base) {       /* not in the window: above it */
        rebase(s, place(key, key, s->w));
        return NULL;            /* now in the window */
    }
    uint32_t at = far_find(s, key);
    if (at < s->nfar && s->far[at].key == key)
        return &s->far[at].l;
    memmove(&s->far[at + 1], &s->far[at], (size_t)(s->nfar - at) * sizeof *s->far);
    s->nfar++;
    s->far[at] = (struct qsl_far_level){.key = key, .l = empty_level};
    return &s->far[at].l;
}

/* The level for a key, created (empty) when missing. */
static inline struct qsl_level *level_get(struct qsl_book *b, struct qsl_book_side *s,
                                          uint64_t key)
{
    uint64_t off = key - s->base;
    if (__builtin_expect(off >= s->w, 0)) {
        struct qsl_level *l = far_level(s, key);
        if (l)
            return l;
        off = key - s->base;    /* the window moved to take it */
    }
    struct qsl_level *l = slot_of(s, key);
    if (l->count == 0) {
        uint32_t i = (uint32_t)off;
        if (s->near++ == 0 || i > s->hi) {
            s->hi = i;
            b->best_moved |= s->moved;
        }
        bit_set(s, i);          /* its fields are level_append's to write */
    }
    return l;
}

/* Level bit i of the window emptied: the next best is the bitmap's next bit down,
 * and a window left empty takes the best overflow levels. */
static inline void drop_near(struct qsl_book *b, struct qsl_book_side *s, uint32_t i)
{
    bit_clear(s, i);
    if (--s->near == 0) {
        b->best_moved |= s->moved;
        if (s->nfar > 0) {
            uint64_t best = s->far[s->nfar - 1].key;
            rebase(s, place(best, best, s->w));
        }
    } else if (i == s->hi) {
        b->best_moved |= s->moved;
        s->hi = (uint32_t)bit_below(s, i);
    }
}

/* The level a resting order's key is at. */
static inline struct qsl_level *level_of(struct qsl_book_side *s, uint64_t key)
{
    if (in_window(s, key))
        return slot_of(s, key);
    return &s->far[far_find(s, key)].l;
}

/* Order idx (o) joins the back of level l: the last in time priority there. A level
 * with no order (count 0: just made) has nothing else worth reading. */
static inline void level_append(struct qsl_book_pool *p, struct qsl_level *l, uint32_t idx,
                                struct qsl_order *o, qsl_qty qty)
{
    o->next = QSL_NIL;
    if (l->count++ == 0) {
        o->prev = QSL_NIL;
        l->head = idx;
        l->total = qty;
    } else {
        o->prev = l->tail;
        qsl_book_order(p, l->tail)->next = idx;
        l->total += qty;
    }
    l->tail = idx;
}

static inline void level_unlink(struct qsl_book_pool *p, struct qsl_level *l,
                                const struct qsl_order *o)
{
    if (o->prev != QSL_NIL)
        qsl_book_order(p, o->prev)->next = o->next;
    else
        l->head = o->next;
    if (o->next != QSL_NIL)
        qsl_book_order(p, o->next)->prev = o->prev;
    else
        l->tail = o->prev;
    l->count--;
    l->total -= o->qty;
}

/* ------------------------------------------------------------------ book */

void qsl_book_init(struct qsl_book *b, struct qsl_book_pool *p, qsl_symbol symbol)
{
    memset(b, 0, sizeof *b);
    b->pool = p;
    b->symbol = symbol;
    b->side[QSL_BUY].moved = 1u << QSL_BUY;
    b->side[QSL_SELL].moved = 1u << QSL_SELL;
}

void qsl_book_free(struct qsl_book *b)
{
    for (int i = 0; i < 2; i++) {
        free(b->side[i].lv);
        free(b->side[i].bits);
        free(b->side[i].far);
    }
    memset(b, 0, sizeof *b);
}

size_t qsl_book_bytes(const struct qsl_book *b)
{
    size_t n = 0;
    for (int i = 0; i < 2; i++) {
        const struct qsl_book_side *s = &b->side[i];
        if (s->w)
            n += (size_t)s->w * sizeof *s->lv + (words0(s->w) + words1(s->w)) * sizeof *s->bits;
        n += (size_t)s->far_cap * sizeof *s->far;
    }
    return n;
}

int qsl_book_rest(struct qsl_book *b, qsl_order_id id, enum qsl_side side, qsl_price price,
                  qsl_qty qty)
{
    if (qsl_book_pool_full(b->pool))
        return -ENOSPC;
    int rc = qsl_book_reserve(b, side, price);
    if (rc)
        return rc;
    qsl_book_rest_reserved(b, id, side, price, qty);
    return 0;
}

QSL_HOT void qsl_book_rest_reserved(struct qsl_book *b, qsl_order_id id, enum qsl_side side,
                                    qsl_price price, qsl_qty qty)
{
    struct qsl_book_pool *p = b->pool;
    uint64_t key = qsl_book_key(side, price);
    struct qsl_level *l = level_get(b, &b->side[side], key);
    struct qsl_order *o;
    uint32_t idx = pool_take(p, &o);
    o->id = id;
    o->key = key;
    o->qty = qty;
    o->symbol = b->symbol;
    o->side = (uint8_t)side;
    level_append(p, l, idx, o, qty);
    index_insert(p, idx, b->symbol, id);
}

/* Order o leaves an overflow level, which goes when it empties. */
RARE static void unlink_far(struct qsl_book_side *s, struct qsl_book_pool *p,
                            const struct qsl_order *o)
{
    uint32_t at = far_find(s, o->key);
    level_unlink(p, &s->far[at].l, o);
    if (s->far[at].l.count == 0) {
        memmove(&s->far[at], &s->far[at + 1], (size_t)(s->nfar - at - 1) * sizeof *s->far);
        s->nfar--;
    }
}

/* Order o leaves its level, which goes when it empties. */
static inline void unlink_order(struct qsl_book *b, const struct qsl_order *o)
{
    struct qsl_book_side *s = &b->side[o->side];
    uint64_t i = o->key - s->base;
    if (__builtin_expect(i >= s->w, 0)) {
        unlink_far(s, b->pool, o);
        return;
    }
    struct qsl_level *l = slot_of(s, o->key);
    level_unlink(b->pool, l, o);
    if (l->count == 0)
        drop_near(b, s, (uint32_t)i);
}

void qsl_book_unlink(struct qsl_book *b, struct qsl_order *o)
{
    unlink_order(b, o);
}

void qsl_book_release(struct qsl_book *b, uint32_t idx, struct qsl_order *o)
{
    pool_release(b->pool, idx, o, QSL_NIL);
}

void qsl_book_remove(struct qsl_book *b, uint32_t idx)
{
    qsl_book_remove_at(b, idx, qsl_book_order(b->pool, idx), QSL_NIL);
}

void qsl_book_remove_at(struct qsl_book *b, uint32_t idx, struct qsl_order *o, uint32_t at)
{
    unlink_order(b, o);
    pool_release(b->pool, idx, o, at);
}

void qsl_book_relink(struct qsl_book *b, uint32_t idx, struct qsl_order *o, qsl_price price,
                     qsl_qty qty)
{
    struct qsl_book_pool *p = b->pool;
    uint64_t key = qsl_book_key(o->side, price);
    struct qsl_level *l = level_get(b, &b->side[o->side], key);
    o->key = key;
    o->qty = qty;
    level_append(p, l, idx, o, qty);
}

void qsl_book_reduce(struct qsl_book *b, struct qsl_order *o, qsl_qty qty)
{
    level_of(&b->side[o->side], o->key)->total -= o->qty - qty;
    o->qty = qty;
}

/* ------------------------------------------------------------------ matching */

static inline int crosses(enum qsl_side taker, qsl_price limit, int market, qsl_price maker_price)
{
    if (market)
        return 1;
    return taker == QSL_BUY ? maker_price <= limit : maker_price >= limit;
}

RARE QSL_HOT qsl_qty
qsl_book_match(struct qsl_book *b, enum qsl_side side, qsl_price limit, int market, qsl_qty qty,
               qsl_order_id taker, qsl_trade_fn fn, void *ctx)
{
    struct qsl_book_pool *p = b->pool;
    enum qsl_side other = side == QSL_BUY ? QSL_SELL : QSL_BUY;
    struct qsl_book_side *s = &b->side[other];
    while (qty > 0 && s->near > 0) {
        uint32_t i = s->hi;
        uint64_t key = s->base + i;
        qsl_price price = qsl_book_price(other, key);
        if (!crosses(side, limit, market, price))
            break;
        struct qsl_level *l = slot_of(s, key);
        while (qty > 0 && l->head != QSL_NIL) {
            uint32_t idx = l->head;
            struct qsl_order *m = qsl_book_order(p, idx);
            qsl_qty q = m->qty < qty ? m->qty : qty;
            struct qsl_trade t = {.taker_id = taker, .maker_id = m->id, .price = price,
                                  .qty = q, .taker_side = (uint8_t)side};
            qty -= q;
            m->qty -= q;
            l->total -= q;
            if (m->qty == 0) {
                l->head = m->next;
                if (l->head != QSL_NIL)
                    qsl_book_order(p, l->head)->prev = QSL_NIL;
                else
                    l->tail = QSL_NIL;
                l->count--;
                pool_release(p, idx, m, QSL_NIL);
            }
            if (fn)
                fn(ctx, &t);
        }
        if (l->count == 0)
            drop_near(b, s, i);
    }
    return qty;
}

/* Visit a side's levels from the best until fn returns 0. */
static void walk(const struct qsl_book_side *s, int (*fn)(void *, uint64_t, const struct qsl_level *),
                 void *ctx)
{
    for (int64_t i = s->near ? (int64_t)s->hi : -1; i >= 0;
         i = i > 0 ? bit_below(s, (uint32_t)i) : -1) {
        uint64_t key = s->base + (uint64_t)i;
        if (!fn(ctx, key, slot_of(s, key)))
            return;
    }
    for (uint32_t n = s->nfar; n > 0; n--)
        if (!fn(ctx, s->far[n - 1].key, &s->far[n - 1].l))
            return;
}

struct preview_walk {
    const struct qsl_book_pool *p;
    struct qsl_book_preview *out;
    enum qsl_side side, other;
    qsl_price limit;
    int market;
    qsl_qty qty;
};

static int preview_level(void *ctx, uint64_t key, const struct qsl_level *l)
{
    struct preview_walk *w = ctx;
    if (!crosses(w->side, w->limit, w->market, qsl_book_price(w->other, key)))
        return 0;
    for (uint32_t idx = l->head; w->qty > 0 && idx != QSL_NIL;
         idx = qsl_book_order(w->p, idx)->next) {
        qsl_qty mq = qsl_book_order(w->p, idx)->qty;
        w->out->fills++;
        if (mq <= w->qty)
            w->out->makers_emptied++;
        w->qty -= mq < w->qty ? mq : w->qty;
    }
    return w->qty > 0;
}

RARE void qsl_book_preview(const struct qsl_book *b, enum qsl_side side, qsl_price limit,
                      int market, qsl_qty qty, struct qsl_book_preview *out)
{
    enum qsl_side other = side == QSL_BUY ? QSL_SELL : QSL_BUY;
    struct preview_walk w = {b->pool, out, side, other, limit, market, qty};
    *out = (struct qsl_book_preview){0};
    if (qty > 0)
        walk(&b->side[other], preview_level, &w);
    out->remaining = w.qty;
}

/* ------------------------------------------------------------------ queries */

struct user_walk {
    enum qsl_side side;
    qsl_level_fn fn;
    void *ctx;
};

static int user_level(void *ctx, uint64_t key, const struct qsl_level *l)
{
    const struct user_walk *w = ctx;
    return w->fn(w->ctx, qsl_book_price(w->side, key), l->total, l->count);
}

void qsl_book_walk(const struct qsl_book *b, enum qsl_side side, qsl_level_fn fn, void *ctx)
{
    struct user_walk w = {side, fn, ctx};
    walk(&b->side[side], user_level, &w);
}

struct nth_walk {
    uint32_t left;
    uint64_t key;
    const struct qsl_level *l;
};

static int nth_level(void *ctx, uint64_t key, const struct qsl_level *l)
{
    struct nth_walk *w = ctx;
    if (w->left-- > 0)
        return 1;
    w->key = key;
    w->l = l;
    return 0;
}

int qsl_book_level(const struct qsl_book *b, enum qsl_side side, uint32_t i, qsl_price *price,
                   uint64_t *total, uint32_t *count)
{
    const struct qsl_book_side *s = &b->side[side];
    if (i >= s->near + s->nfar)
        return 0;
    struct nth_walk w = {i, 0, NULL};
    if (i >= s->near) {                         /* straight to the overflow */
        w.key = s->far[s->nfar - 1 - (i - s->near)].key;
        w.l = &s->far[s->nfar - 1 - (i - s->near)].l;
    } else {
        walk(s, nth_level, &w);
    }
    if (price)
        *price = qsl_book_price(side, w.key);
    if (total)
        *total = w.l->total;
    if (count)
        *count = w.l->count;
    return 1;
}
