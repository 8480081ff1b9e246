/*
 * uring.c - io_uring set-up shared by the gateway's and the subscriber's
 * io_uring modes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "uring.h"

#ifdef QSL_HAVE_URING
int qsl_uring_open(struct io_uring *ring, unsigned entries, unsigned cq_entries)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    p.cq_entries = cq_entries;
    int rc = io_uring_queue_init_params(entries, ring, &p);
    if (rc == -EINVAL) {        /* a kernel before 6.1 */
        memset(&p, 0, sizeof p);
        p.flags = IORING_SETUP_CQSIZE;
        p.cq_entries = cq_entries;
        rc = io_uring_queue_init_params(entries, ring, &p);
    }
    return rc;
}

uint8_t *qsl_uring_bufs_at(const struct qsl_uring_bufs *b, int bid)
{
    return b->mem + (size_t)bid * b->size;
}

void qsl_uring_bufs_recycle(struct qsl_uring_bufs *b, int bid)
{
    io_uring_buf_ring_add(b->br, qsl_uring_bufs_at(b, bid), (unsigned)b->size,
                          (unsigned short)bid, io_uring_buf_ring_mask(b->count), 0);
    io_uring_buf_ring_advance(b->br, 1);
}

void qsl_uring_bufs_free(struct qsl_uring_bufs *b)
{
    if (b->br && b->br != MAP_FAILED)
        munmap(b->br, b->count * sizeof(struct io_uring_buf));
    free(b->mem);
    memset(b, 0, sizeof *b);
}

int qsl_uring_bufs_init(struct io_uring *ring, struct qsl_uring_bufs *b, unsigned count,
                        size_t size, int group)
{
    memset(b, 0, sizeof *b);
    b->count = count;
    b->size = size;
    b->br = mmap(NULL, count * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
                 MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    b->mem = malloc(count * size);
    if (b->br == MAP_FAILED || !b->mem) {
        qsl_uring_bufs_free(b);
        return -ENOMEM;
    }
    memset(b->mem, 0, count * size);    /* fault the pages in now */
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (uint64_t)(uintptr_t)b->br;
    reg.ring_entries = count;
    reg.bgid = (uint16_t)group;
    int rc = io_uring_register_buf_ring(ring, &reg, 0);
    if (rc < 0) {
        qsl_uring_bufs_free(b);
        return rc;
    }
    io_uring_buf_ring_init(b->br);
    for (unsigned i = 0; i < count; i++)
        qsl_uring_bufs_recycle(b, (int)i);
    return 0;
}

/* On a thread of its own: a ring's teardown is finished by task work queued, with a
 * signal-like notification, on every thread that made or used it, and that notification
 * interrupts a blocking call in progress there (seen: a test's recv() failing with
 * EINTR). An ended thread gets none. */
static void *probe(void *arg)
{
    int *rc = arg;
    struct io_uring ring;
    struct qsl_uring_bufs b;
    *rc = qsl_uring_open(&ring, 8, 16);
    if (*rc != 0)
        return NULL;
    *rc = qsl_uring_bufs_init(&ring, &b, 8, 4096, 1);
    if (*rc == 0)
        qsl_uring_bufs_free(&b);
    io_uring_queue_exit(&ring);
    return NULL;
}

int qsl_uring_available(char *why, size_t len)
{
    int rc = -EAGAIN;
    pthread_t th;
    if (pthread_create(&th, NULL, probe, &rc) != 0) {
        snprintf(why, len, "no thread for the io_uring probe");
        return -EAGAIN;
    }
    pthread_join(th, NULL);
    if (rc == 0)
        return 0;
    char knob[16] = "";
    FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
    if (f) {
        if (!fgets(knob, sizeof knob, f))
            knob[0] = '\0';
        fclose(f);
        knob[strcspn(knob, "\n")] = '\0';
    }
    snprintf(why, len, "io_uring set-up failed: %s%s%s%s", strerror(-rc),
             knob[0] ? " (kernel.io_uring_disabled = " : "", knob, knob[0] ? ")" : "");
    return rc;
}
#else
int qsl_uring_available(char *why, size_t len)
{
    snprintf(why, len, "qsl was built without liburing (install liburing-dev, rebuild)");
    return -ENOSYS;
}
#endif
