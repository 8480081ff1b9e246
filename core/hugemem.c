/*
 * hugemem.c - 2 MiB-aligned anonymous mappings advised for huge pages.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hugemem.h"

void *qsl_hugemem_map(size_t bytes)
{
    if (bytes == 0 || bytes > SIZE_MAX / 2 - QSL_HUGEMEM_PAGE) {
        errno = EINVAL;
        return NULL;
    }
    size_t size = qsl_hugemem_size(bytes);
    /* mmap aligns to 4 KiB only: map one page more and trim both ends to the boundary */
    uint8_t *m = mmap(NULL, size + QSL_HUGEMEM_PAGE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    uintptr_t a = ((uintptr_t)m + QSL_HUGEMEM_PAGE - 1) & ~(uintptr_t)(QSL_HUGEMEM_PAGE - 1);
    uint8_t *p = (uint8_t *)a;
    size_t head = (size_t)(p - m), tail = QSL_HUGEMEM_PAGE - head;
    if (head > 0)
        munmap(m, head);
    if (tail > 0)
        munmap(p + size, tail);
#ifdef MADV_HUGEPAGE
    /* EINVAL on a kernel without transparent huge pages: 4 KiB pages then, same memory */
    (void)madvise(p, size, MADV_HUGEPAGE);
#endif
    QSL_HUGEMEM_POISON(p + bytes, size - bytes);
    return p;
}

void qsl_hugemem_unmap(void *p, size_t bytes)
{
    if (p) {
        /* a later mapping at these addresses starts clean */
        QSL_HUGEMEM_UNPOISON(p, qsl_hugemem_size(bytes));
        munmap(p, qsl_hugemem_size(bytes));
    }
}

static size_t slab_bytes(const struct qsl_hugemem_slabs *s)
{
    return (size_t)s->per_slab * s->piece;
}

void qsl_hugemem_slabs_init(struct qsl_hugemem_slabs *s, size_t piece)
{
    memset(s, 0, sizeof *s);
    s->piece = piece;
    s->per_slab = piece < QSL_HUGEMEM_PAGE ? (uint32_t)(QSL_HUGEMEM_PAGE / piece) : 1;
}

void *qsl_hugemem_carve(struct qsl_hugemem_slabs *s)
{
    if (s->slabs == 0 || s->carved == s->per_slab) {
        if (s->slabs == s->cap) {
            uint32_t cap = s->cap ? s->cap * 2 : 4;
            unsigned char **a = realloc(s->slab, (size_t)cap * sizeof *a);
            if (!a)
                return NULL;
            s->slab = a;
            s->cap = cap;
        }
        unsigned char *m = qsl_hugemem_map(slab_bytes(s));
        if (!m)
            return NULL;
        QSL_HUGEMEM_POISON(m, slab_bytes(s));
        s->slab[s->slabs++] = m;
        s->carved = 0;
    }
    unsigned char *p = s->slab[s->slabs - 1] + (size_t)s->carved++ * s->piece;
    QSL_HUGEMEM_UNPOISON(p, s->piece);
    return p;
}

size_t qsl_hugemem_slabs_bytes(const struct qsl_hugemem_slabs *s)
{
    return (size_t)s->slabs * qsl_hugemem_size(slab_bytes(s)) + (size_t)s->cap * sizeof *s->slab;
}

void qsl_hugemem_slabs_free(struct qsl_hugemem_slabs *s)
{
    for (uint32_t i = 0; i < s->slabs; i++)
        qsl_hugemem_unmap(s->slab[i], slab_bytes(s));
    free(s->slab);
    qsl_hugemem_slabs_init(s, s->piece);
}
