/*
 * hugemem.c - 2 MiB-aligned anonymous mappings advised for huge pages.
 */
#include <errno.h>
#include <stdint.h>
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
