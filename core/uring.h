/*
 * uring.h - what the io_uring modes share (gateway_uring.c, feed_uring.c): a
 * ring set up for one thread, a ring of provided buffers, and the probe that
 * says whether io_uring runs here. Only with liburing (QSL_HAVE_URING).
 */
#ifndef QSL_URING_H
#define QSL_URING_H

#include <stddef.h>
#include <stdint.h>

#ifdef QSL_HAVE_URING
#include <liburing.h>

/* A ring used by the calling thread alone: completions run inside io_uring_enter
 * (DEFER_TASKRUN), falling back to a plain ring on a kernel before 6.1. 0 or -errno. */
int qsl_uring_open(struct io_uring *ring, unsigned entries, unsigned cq_entries);

/* count buffers of size bytes in group, touched (no page fault mid-burst) and handed
 * to the kernel. 0 or -errno (nothing left allocated). */
struct qsl_uring_bufs {
    struct io_uring_buf_ring *br;
    uint8_t *mem;
    unsigned count;
    size_t size;
};
int qsl_uring_bufs_init(struct io_uring *ring, struct qsl_uring_bufs *b, unsigned count,
                        size_t size, int group);
uint8_t *qsl_uring_bufs_at(const struct qsl_uring_bufs *b, int bid);
void qsl_uring_bufs_recycle(struct qsl_uring_bufs *b, int bid);
void qsl_uring_bufs_free(struct qsl_uring_bufs *b);
#endif

/* 0 when a ring with provided buffers can be set up here; else -errno and why (-ENOSYS:
 * built without liburing; the kernel's refusal, with kernel.io_uring_disabled). */
int qsl_uring_available(char *why, size_t len);

#endif
