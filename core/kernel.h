/*
 * kernel.h - the kernel's own account of a run: every packet it drops, with the reason
 * it gives (enum skb_drop_reason, from a BPF program on skb:kfree_skb), per network
 * namespace.
 *
 * Optional twice: at build (without libbpf, or `make nobpf`, open says so) and at run
 * time (no CAP_BPF, lockdown, no BTF: open says which). A caller shows "n/a" and the
 * reason, never a zero.
 */
#ifndef QSL_KERNEL_H
#define QSL_KERNEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct qsl_kernel_drops;

/* One count: drops in netns with this reason and protocol (an ethertype, host order) and
 * IP protocol (17 UDP, 6 TCP, 2 IGMP, 58 ICMPv6...; 0 when the packet had no IP header). */
struct qsl_kernel_drop {
    uint32_t netns;
    uint32_t reason;
    uint16_t protocol;
    uint8_t ip_proto;
    uint64_t count;
};

/* Loads and attaches the program (once per process is enough). 0, or a negative errno
 * with why[] saying what failed: -ENOSYS built without BPF, -ENOENT no kernel BTF or
 * tracepoint, -EPERM no privilege (or lockdown). */
int qsl_kernel_drops_open(struct qsl_kernel_drops **out, char *why, size_t why_len);
void qsl_kernel_drops_close(struct qsl_kernel_drops *k);

/* Count drops in a namespace from now on (watching one twice is one watch); -ENOSPC when
 * QSL_KERNEL_MAX_WATCHED are watched. Unwatch forgets its counts too. */
#define QSL_KERNEL_MAX_WATCHED 256
int qsl_kernel_drops_watch(struct qsl_kernel_drops *k, uint32_t netns);
int qsl_kernel_drops_unwatch(struct qsl_kernel_drops *k, uint32_t netns);

/* The counts of netns into out[cap]: how many there are (more than cap: only cap are
 * filled; call again with room), or a negative errno. */
int qsl_kernel_drops_read(struct qsl_kernel_drops *k, uint32_t netns,
                          struct qsl_kernel_drop *out, size_t cap);

/* Drops the map had no room to count (never expected; a caller shows it if not 0). */
uint64_t qsl_kernel_drops_overflow(const struct qsl_kernel_drops *k);

/* Times the kernel did not run the program because it was already running on that CPU
 * (a drop in an interrupt of the program's own run: bpf_prog_info.recursion_misses),
 * each a drop in some namespace that went uncounted; a negative errno when unreadable. */
int qsl_kernel_drops_misses(const struct qsl_kernel_drops *k, uint64_t *misses);

/* The kernel's name of a reason, from its BTF, without the SKB_DROP_REASON_ prefix
 * ("SOCKET_RCVBUFF"); a reason this kernel's enum lacks gets "REASON_<n>" in buf. */
const char *qsl_kernel_drop_reason_name(const struct qsl_kernel_drops *k, uint32_t reason,
                                        char *buf, size_t len);

/* The value of a reason by its name ("SOCKET_RCVBUFF"); -ENOENT when this kernel's enum
 * has no such reason. */
int qsl_kernel_drop_reason_value(const struct qsl_kernel_drops *k, const char *name,
                                 uint32_t *value);

/*
 * The audit: how often the kernel fired skb:kfree_skb with a reason (perf's own counter of
 * the tracepoint, on every CPU, filtered by reason) against how often the program ran
 * for it (in every namespace). fired - ran are drops the kernel made but never showed
 * the program, with no recursion miss to say so: observed on 6.18 over veth, a few in a
 * thousand trials' worth. QSL_KERNEL_AUDIT_ALL as a reason counts every reason.
 */
#define QSL_KERNEL_AUDIT_ALL UINT32_MAX
#define QSL_KERNEL_AUDIT_MAX 16          /* reasons one audit follows */
struct qsl_kernel_audit;
struct qsl_kernel_audit_count {
    uint32_t reason;
    uint64_t fired;                     /* the tracepoint's own count (perf) */
    uint64_t ran;                       /* the program's runs for that reason */
};
/* 0, or a negative errno with why[]: -ENOENT no id for the tracepoint (tracefs shows it;
 * where none is mounted a child mounts one in a mount namespace of its own, which needs
 * CAP_SYS_ADMIN; or this kernel lacks the tracepoint), -EPERM
 * perf_event_open refused (needs CAP_PERFMON or CAP_SYS_ADMIN), -E2BIG too many reasons. */
int qsl_kernel_audit_open(struct qsl_kernel_drops *k, const uint32_t *reasons, size_t n,
                          struct qsl_kernel_audit **out, char *why, size_t why_len);
/* The counts since the audit opened, one per reason in the order given: how many, or a
 * negative errno (-ENOSPC: n too small). */
int qsl_kernel_audit_read(struct qsl_kernel_audit *a, struct qsl_kernel_audit_count *out,
                          size_t n);
void qsl_kernel_audit_close(struct qsl_kernel_audit *a);

/* The inode of a process's network namespace (pid 0: this process's). */
int qsl_kernel_netns_of(pid_t pid, uint32_t *inode);

#endif
