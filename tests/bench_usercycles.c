/*
 * bench_usercycles.c - a preloaded library (LD_PRELOAD) that counts a server's time in
 * user space as the TSC cycles between leaving one system call and entering the next.
 *
 * On a host where every system call empties the TLB, a server's user time is what it
 * pays after each call: schedstat's on-CPU time mixes that with the kernel's TCP work
 * and moves with it; tick accounting cannot see a few hundred cycles. This wraps the
 * calls an epoll server makes per round (recv, send, read, write, writev, sendmsg,
 * recvmsg, epoll_wait) and, at exit, appends to the file named by QSL_USERCYCLES_OUT:
 *
 *   user_cycles=N calls=N dropped=N
 *
 * dropped counts gaps of 200,000 cycles or more (the process was preempted, or waited
 * outside these calls), which are left out of user_cycles. tests/bench.sh divides by
 * the requests answered. Not a qsl module: a measuring tool for make bench.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <x86intrin.h>

#define GAP_MAX 200000u

static uint64_t left_at, user, calls, dropped;
static int counting;

static inline void enter(void)
{
    uint64_t t = __rdtsc();
    if (counting) {
        uint64_t d = t - left_at;
        if (d < GAP_MAX)
            user += d;
        else
            dropped++;
    }
    calls++;
}

static inline void leave(void)
{
    left_at = __rdtsc();
    counting = 1;
}

/* resolved on first use, outside the counted interval */
#define WRAP(ret, name, proto, args)                                                 \
    ret name proto                                                                   \
    {                                                                                \
        static ret(*real) proto;                                                     \
        if (!real)                                                                   \
            *(void **)&real = dlsym(RTLD_NEXT, #name);                               \
        enter();                                                                     \
        ret r = real args;                                                           \
        leave();                                                                     \
        return r;                                                                    \
    }

WRAP(ssize_t, recv, (int fd, void *b, size_t n, int f), (fd, b, n, f))
WRAP(ssize_t, send, (int fd, const void *b, size_t n, int f), (fd, b, n, f))
WRAP(ssize_t, read, (int fd, void *b, size_t n), (fd, b, n))
WRAP(ssize_t, write, (int fd, const void *b, size_t n), (fd, b, n))
WRAP(ssize_t, writev, (int fd, const struct iovec *v, int n), (fd, v, n))
WRAP(ssize_t, sendmsg, (int fd, const struct msghdr *m, int f), (fd, m, f))
WRAP(ssize_t, recvmsg, (int fd, struct msghdr *m, int f), (fd, m, f))
WRAP(int, epoll_wait, (int e, struct epoll_event *ev, int n, int t), (e, ev, n, t))

__attribute__((destructor)) static void report(void)
{
    const char *path = getenv("QSL_USERCYCLES_OUT");
    FILE *f = path ? fopen(path, "a") : NULL;
    if (!f)
        return;
    fprintf(f, "user_cycles=%llu calls=%llu dropped=%llu\n", (unsigned long long)user,
            (unsigned long long)calls, (unsigned long long)dropped);
    fclose(f);
}
