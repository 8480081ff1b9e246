/*
 * hugemem.h - memory in mappings the kernel may back with 2 MiB pages.
 *
 * Every system call on a kernel with page-table isolation and no PCID
 * (pti=on, as on the machines qsl is measured on) empties the TLB, so a
 * server that touches its index and orders after each read pays a page walk
 * per 4 KiB page it reaches. A mapping aligned to 2 MiB and advised
 * MADV_HUGEPAGE lets the kernel use one TLB entry for the whole 2 MiB. The
 * advice is only advice: with transparent huge pages off, or none free, the
 * same mapping works with 4 KiB pages. What the kernel granted is in
 * /proc/PID/smaps_rollup (AnonHugePages), not here.
 */
#ifndef QSL_HUGEMEM_H
#define QSL_HUGEMEM_H

#include <stddef.h>

#define QSL_HUGEMEM_PAGE ((size_t)2 << 20)

/* AddressSanitizer cannot see into memory it did not allocate: what hands parts of a
 * mapping out says which bytes are in use (unpoison) and which are not (poison), so an
 * overrun still stops at the part's end. Nothing in a build without it. */
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define QSL_HUGEMEM_ASAN 1
#define QSL_HUGEMEM_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define QSL_HUGEMEM_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define QSL_HUGEMEM_ASAN 0
#define QSL_HUGEMEM_POISON(p, n) ((void)(p), (void)(n))
#define QSL_HUGEMEM_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* bytes rounded up to whole 2 MiB pages */
static inline size_t qsl_hugemem_size(size_t bytes)
{
    return (bytes + QSL_HUGEMEM_PAGE - 1) & ~(QSL_HUGEMEM_PAGE - 1);
}

/*
 * A zeroed mapping of qsl_hugemem_size(bytes) bytes at a 2 MiB boundary,
 * advised for huge pages; NULL (errno set) when it cannot be had or bytes is
 * 0 or too large. Nothing is touched, so nothing is resident yet. Under
 * AddressSanitizer the rounding past bytes is poisoned.
 */
void *qsl_hugemem_map(size_t bytes);
/* Unmap what qsl_hugemem_map(bytes) returned (NULL: nothing). */
void qsl_hugemem_unmap(void *p, size_t bytes);

/*
 * Equal pieces carved in order from slabs, each a qsl_hugemem_map of as many
 * pieces as 2 MiB holds (one, when a piece is larger): memory taken often and
 * given back only all at once (qsl_hugemem_slabs_free). A carved piece is
 * unpoisoned under AddressSanitizer, the rest of its slab poisoned.
 */
struct qsl_hugemem_slabs {
    size_t piece;               /* bytes a piece */
    uint32_t per_slab, carved;  /* pieces a slab; carved from the newest one */
    unsigned char **slab;
    uint32_t slabs, cap;
};
void qsl_hugemem_slabs_init(struct qsl_hugemem_slabs *s, size_t piece);
/* The next piece, mapping a new slab when the newest is used up; NULL without memory. */
void *qsl_hugemem_carve(struct qsl_hugemem_slabs *s);
/* Bytes the slabs hold (each counted whole, resident or not) and their list. */
size_t qsl_hugemem_slabs_bytes(const struct qsl_hugemem_slabs *s);
void qsl_hugemem_slabs_free(struct qsl_hugemem_slabs *s);

#endif
