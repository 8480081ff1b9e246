/*
 * kernel.c - drops by the kernel's reason (see kernel.h): loads core/bpf/drops.bpf.c
 * through its bpftool skeleton, names reasons from the kernel's BTF.
 */
#define _GNU_SOURCE
#include "drops.skel.h"                 /* QSL_HAVE_BPF and the skeleton, or neither */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel.h"

int qsl_kernel_netns_of(pid_t pid, uint32_t *inode)
{
    char path[64];
    struct stat st;
    if (pid < 0)
        return -EINVAL;
    if (pid == 0)
        snprintf(path, sizeof path, "/proc/self/ns/net");
    else
        snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
    if (stat(path, &st) != 0)
        return -errno;
    *inode = (uint32_t)st.st_ino;
    return 0;
}

#ifndef QSL_HAVE_BPF

int qsl_kernel_drops_open(struct qsl_kernel_drops **out, char *why, size_t why_len)
{
    *out = NULL;
    snprintf(why, why_len, "built without libbpf: make nobpf, or libbpf-dev, bpftool or clang absent at build");
    return -ENOSYS;
}

void qsl_kernel_drops_close(struct qsl_kernel_drops *k) { (void)k; }

int qsl_kernel_drops_watch(struct qsl_kernel_drops *k, uint32_t netns)
{
    (void)k, (void)netns;
    return -ENOSYS;
}

int qsl_kernel_drops_unwatch(struct qsl_kernel_drops *k, uint32_t netns)
{
    (void)k, (void)netns;
    return -ENOSYS;
}

int qsl_kernel_drops_read(struct qsl_kernel_drops *k, uint32_t netns,
                          struct qsl_kernel_drop *out, size_t cap)
{
    (void)k, (void)netns, (void)out, (void)cap;
    return -ENOSYS;
}

uint64_t qsl_kernel_drops_overflow(const struct qsl_kernel_drops *k)
{
    (void)k;
    return 0;
}

int qsl_kernel_drops_misses(const struct qsl_kernel_drops *k, uint64_t *misses)
{
    (void)k, (void)misses;
    return -ENOSYS;
}

const char *qsl_kernel_drop_reason_name(const struct qsl_kernel_drops *k, uint32_t reason,
                                        char *buf, size_t len)
{
    (void)k;
    snprintf(buf, len, "REASON_%u", reason);
    return buf;
}

int qsl_kernel_drop_reason_value(const struct qsl_kernel_drops *k, const char *name,
                                 uint32_t *value)
{
    (void)k, (void)name, (void)value;
    return -ENOSYS;
}

int qsl_kernel_audit_open(struct qsl_kernel_drops *k, const uint32_t *reasons, size_t n,
                          struct qsl_kernel_audit **out, char *why, size_t why_len)
{
    (void)k, (void)reasons, (void)n;
    *out = NULL;
    snprintf(why, why_len, "built without libbpf");
    return -ENOSYS;
}

int qsl_kernel_audit_read(struct qsl_kernel_audit *a, struct qsl_kernel_audit_count *out,
                          size_t n)
{
    (void)a, (void)out, (void)n;
    return -ENOSYS;
}

void qsl_kernel_audit_close(struct qsl_kernel_audit *a) { (void)a; }

#else

#include <arpa/inet.h>
#include <linux/perf_event.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/btf.h>

#include "bpf/drops_map.h"

#define NAMES_MAX 1024                  /* core reasons are < 256 today; subsystems apart */

struct qsl_kernel_drops {
    struct drops_bpf *skel;
    int drops_fd, watched_fd;
    char *names[NAMES_MAX];             /* the kernel's enum, by value; NULL: none */
    bool rx_sk;                         /* kfree_skb passes the receiving socket (6.11+) */
};

/* libbpf's first warning, to say why a load failed (the later ones only repeat that it
 * did): a verifier or relocation error. For EPERM its guesses (memlock, kernel config) are
 * wrong here and left out. The core itself never prints. */
static char libbpf_first[256];

static int keep_first_warning(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    if (level == LIBBPF_WARN && !libbpf_first[0]) {
        char line[sizeof libbpf_first];
        vsnprintf(line, sizeof line, fmt, ap);
        line[strcspn(line, "\n")] = '\0';
        const char *text = strncmp(line, "libbpf: ", 8) == 0 ? line + 8 : line;
        if (!strstr(text, "RLIMIT_MEMLOCK"))    /* its guess when unprivileged: misleading */
            memmove(libbpf_first, text, strlen(text) + 1);
    }
    return 0;
}

/* A tracepoint's arguments: its btf_trace_NAME typedef is a pointer to a function whose
 * first parameter is the context, then the tracepoint's own. -1 when not found. */
static int tracepoint_args(const struct btf *btf, const char *typedef_name)
{
    int id = btf__find_by_name_kind(btf, typedef_name, BTF_KIND_TYPEDEF);
    if (id < 0)
        return -1;
    const struct btf_type *t = btf__type_by_id(btf, (uint32_t)id);
    for (int hops = 0; t && hops < 4 && !btf_is_func_proto(t); hops++)
        t = btf__type_by_id(btf, t->type);   /* typedef -> pointer -> function */
    return t && btf_is_func_proto(t) ? btf_vlen(t) - 1 : -1;
}

/* The kernel's own names: enum skb_drop_reason in its BTF, prefixes dropped; and whether
 * kfree_skb names the receiving socket (rx_sk). */
static int load_names(struct qsl_kernel_drops *k)
{
    struct btf *btf = btf__load_vmlinux_btf();
    if (!btf)
        return -errno;
    int id = btf__find_by_name_kind(btf, "skb_drop_reason", BTF_KIND_ENUM);
    if (id < 0) {
        btf__free(btf);
        return -ENOENT;
    }
    const struct btf_type *t = btf__type_by_id(btf, (uint32_t)id);
    const struct btf_enum *e = btf_enum(t);
    for (int i = 0; i < btf_vlen(t); i++, e++) {
        const char *name = btf__name_by_offset(btf, e->name_off);
        if (!name || e->val < 0 || e->val >= NAMES_MAX)
            continue;
        if (strncmp(name, "SKB_DROP_REASON_", 16) == 0)
            name += 16;
        else if (strncmp(name, "SKB_", 4) == 0)
            name += 4;
        free(k->names[e->val]);
        k->names[e->val] = strdup(name);
    }
    k->rx_sk = tracepoint_args(btf, "btf_trace_kfree_skb") >= 4;
    btf__free(btf);
    return 0;
}

static int fail(struct qsl_kernel_drops *k, int rc, char *why, size_t len, const char *what)
{
    char lock[160] = "";
    FILE *f = fopen("/sys/kernel/security/lockdown", "r");
    if (f) {                            /* "none [integrity] confidentiality" */
        char line[128];
        if (fgets(line, sizeof line, f) && !strstr(line, "[none]"))
            snprintf(lock, sizeof lock, "; kernel lockdown: %s", line);
        fclose(f);
        lock[strcspn(lock, "\n")] = '\0';
    }
    snprintf(why, len, "%s: %s%s%s%s%s", what, strerror(-rc),
             rc == -EPERM ? " (needs CAP_BPF + CAP_PERFMON, or CAP_SYS_ADMIN)" : "", lock,
             libbpf_first[0] && rc != -EPERM ? "; libbpf: " : "",
             rc != -EPERM ? libbpf_first : "");
    qsl_kernel_drops_close(k);
    return rc;
}

int qsl_kernel_drops_open(struct qsl_kernel_drops **out, char *why, size_t why_len)
{
    *out = NULL;
    libbpf_first[0] = '\0';
    libbpf_set_print(keep_first_warning);
    if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
        snprintf(why, why_len, "no kernel BTF (/sys/kernel/btf/vmlinux: %s)", strerror(errno));
        return -ENOENT;
    }
    struct qsl_kernel_drops *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(why, why_len, "out of memory");
        return -ENOMEM;
    }
    int rc = load_names(k);
    if (rc != 0)
        return fail(k, rc, why, why_len, "reading enum skb_drop_reason from the kernel's BTF");
    k->skel = drops_bpf__open();
    if (!k->skel)
        return fail(k, -errno, why, why_len, "opening the BPF object");
    bpf_program__set_autoload(k->skel->progs.on_kfree_skb, !k->rx_sk);
    bpf_program__set_autoload(k->skel->progs.on_kfree_skb_rx_sk, k->rx_sk);
    if ((rc = drops_bpf__load(k->skel)) != 0)
        return fail(k, rc, why, why_len, "loading the BPF program");
    if ((rc = drops_bpf__attach(k->skel)) != 0)
        return fail(k, rc, why, why_len, "attaching to tp_btf/kfree_skb");
    k->drops_fd = bpf_map__fd(k->skel->maps.drops);
    k->watched_fd = bpf_map__fd(k->skel->maps.watched);
    *out = k;
    return 0;
}

void qsl_kernel_drops_close(struct qsl_kernel_drops *k)
{
    if (!k)
        return;
    drops_bpf__destroy(k->skel);
    for (size_t i = 0; i < NAMES_MAX; i++)
        free(k->names[i]);
    free(k);
}

int qsl_kernel_drops_watch(struct qsl_kernel_drops *k, uint32_t netns)
{
    __u8 on = 1;
    if (bpf_map_update_elem(k->watched_fd, &netns, &on, BPF_ANY) != 0)
        return errno == E2BIG ? -ENOSPC : -errno;
    return 0;
}

/* Every key of the drops map (a snapshot: the program may add more meanwhile). */
static int all_keys(struct qsl_kernel_drops *k, struct qsl_drops_key **keys, size_t *n)
{
    struct qsl_drops_key *ks = malloc(QSL_DROPS_MAX_KEYS * sizeof *ks), cur, next;
    if (!ks)
        return -ENOMEM;
    size_t got = 0;
    const void *prev = NULL;
    while (got < QSL_DROPS_MAX_KEYS && bpf_map_get_next_key(k->drops_fd, prev, &next) == 0) {
        ks[got++] = next;
        cur = next;
        prev = &cur;
    }
    *keys = ks;
    *n = got;
    return 0;
}

int qsl_kernel_drops_unwatch(struct qsl_kernel_drops *k, uint32_t netns)
{
    if (bpf_map_delete_elem(k->watched_fd, &netns) != 0 && errno != ENOENT)
        return -errno;
    struct qsl_drops_key *keys;
    size_t n;
    int rc = all_keys(k, &keys, &n);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (keys[i].netns == netns)
            bpf_map_delete_elem(k->drops_fd, &keys[i]);
    free(keys);
    return 0;
}

int qsl_kernel_drops_read(struct qsl_kernel_drops *k, uint32_t netns,
                          struct qsl_kernel_drop *out, size_t cap)
{
    struct qsl_drops_key *keys;
    size_t n, found = 0;
    int rc = all_keys(k, &keys, &n);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        __u64 count;
        if (keys[i].netns != netns || bpf_map_lookup_elem(k->drops_fd, &keys[i], &count) != 0)
            continue;
        if (found < cap)
            out[found] = (struct qsl_kernel_drop){.netns = netns, .reason = keys[i].reason,
                                                  .protocol = ntohs(keys[i].protocol),
                                                  .ip_proto = keys[i].ip_proto, .count = count};
        found++;
    }
    free(keys);
    return (int)found;
}

uint64_t qsl_kernel_drops_overflow(const struct qsl_kernel_drops *k)
{
    return k->skel->bss->overflow;
}

int qsl_kernel_drops_misses(const struct qsl_kernel_drops *k, uint64_t *misses)
{
    struct bpf_prog_info info;
    __u32 len = sizeof info;

    memset(&info, 0, sizeof info);
    if (bpf_obj_get_info_by_fd(bpf_program__fd(k->rx_sk ? k->skel->progs.on_kfree_skb_rx_sk
                                                      : k->skel->progs.on_kfree_skb), &info, &len))
        return -errno;
    *misses = info.recursion_misses;
    return 0;
}

const char *qsl_kernel_drop_reason_name(const struct qsl_kernel_drops *k, uint32_t reason,
                                        char *buf, size_t len)
{
    if (reason < NAMES_MAX && k && k->names[reason])
        return k->names[reason];
    if (reason >> 16)
        snprintf(buf, len, "SUBSYS_%u_REASON_%u", reason >> 16, reason & 0xffff);
    else
        snprintf(buf, len, "REASON_%u", reason);
    return buf;
}


int qsl_kernel_drop_reason_value(const struct qsl_kernel_drops *k, const char *name,
                                 uint32_t *value)
{
    for (uint32_t i = 0; i < NAMES_MAX; i++)
        if (k->names[i] && strcmp(k->names[i], name) == 0) {
            *value = i;
            return 0;
        }
    return -ENOENT;
}

struct qsl_kernel_audit {
    struct qsl_kernel_drops *k;
    size_t n, cpus;
    uint32_t reasons[QSL_KERNEL_AUDIT_MAX];
    struct qsl_kernel_audit_count base[QSL_KERNEL_AUDIT_MAX];
    int *fds;                           /* [reason * cpus + cpu], -1 where a CPU is absent */
};

#define TRACEFS "/sys/kernel/tracing"

/* A tracepoint id file's number: 0, or -ENOENT (absent, unreadable, or not a number).
 * open and read only: the private mount below calls it in a forked child. */
static int read_id(const char *path, uint64_t *id)
{
    char buf[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -ENOENT;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    uint64_t v = 0;
    ssize_t i = 0;
    for (; i < n && buf[i] >= '0' && buf[i] <= '9' && v < UINT64_MAX / 10 - 9; i++)
        v = v * 10 + (uint64_t)(buf[i] - '0');
    if (i == 0 || (i < n && buf[i] != '\n'))
        return -ENOENT;
    *id = v;
    return 0;
}

/*
 * Where no tracefs is mounted, a child mounts one in a mount namespace of its own, reads
 * the id and hands it back through a pipe: the host's mounts stay as they were, and the
 * child is reaped here. Needs CAP_SYS_ADMIN; the negative errno of the step that failed,
 * -ENODATA when the mount has no such id.
 */
static int tracepoint_id_private(const char *path, uint64_t *id)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int rc = -errno;
        close(p[0]);
        close(p[1]);
        return rc;
    }
    if (pid == 0) {
        /* single-threaded now, whatever the parent is: only system calls from here */
        int32_t rc = 0;
        uint64_t v = 0;
        if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
            mount("nodev", TRACEFS, "tracefs", 0, NULL) != 0)
            rc = -errno;
        else if (read_id(path, &v) != 0)
            rc = -ENODATA;      /* mounted: this kernel has no such tracepoint */
        struct { int32_t rc; uint64_t v; } out = {rc, v};
        _exit(write(p[1], &out, sizeof out) == (ssize_t)sizeof out ? 0 : 1);
    }
    close(p[1]);
    struct { int32_t rc; uint64_t v; } in = {-EIO, 0};
    ssize_t n;
    do
        n = read(p[0], &in, sizeof in);
    while (n < 0 && errno == EINTR);
    close(p[0]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof in)
        return -EIO;
    if (in.rc == 0)
        *id = in.v;
    return in.rc;
}

/* The tracepoint's id, from tracefs (where mounted), debugfs's copy of it, or a private
 * mount of tracefs: 0; -ENODATA when a tracefs has no such event; else the private
 * mount's negative errno. */
static int tracepoint_id(const char *event, uint64_t *id)
{
    static const char *const roots[] = {TRACEFS, "/sys/kernel/debug/tracing"};
    char path[160];
    int mounted = 0;
    for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++) {
        snprintf(path, sizeof path, "%s/events/%s/id", roots[i], event);
        if (read_id(path, id) == 0)
            return 0;
        snprintf(path, sizeof path, "%s/events", roots[i]);
        mounted |= access(path, F_OK) == 0;
    }
    if (mounted)
        return -ENODATA;
    snprintf(path, sizeof path, "%s/events/%s/id", TRACEFS, event);
    return tracepoint_id_private(path, id);
}

static int open_counter(uint64_t id, int cpu, uint32_t reason)
{
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.type = PERF_TYPE_TRACEPOINT;
    attr.size = sizeof attr;
    attr.config = id;
    int fd = (int)syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (reason != QSL_KERNEL_AUDIT_ALL) {
        char filter[32];
        snprintf(filter, sizeof filter, "reason == %u", reason);
        if (ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter) != 0) {
            int rc = -errno;
            close(fd);
            return rc;
        }
    }
    return fd;
}

/* The program's runs: by reason (a slot per core reason; the rest share the last) or, for
 * QSL_KERNEL_AUDIT_ALL, all of them. */
static int ran_count(struct qsl_kernel_drops *k, uint32_t reason, uint64_t *out)
{
    int fd = bpf_map__fd(k->skel->maps.ran);
    *out = 0;
    for (uint32_t slot = 0; slot < QSL_DROPS_RAN_SLOTS; slot++) {
        if (reason != QSL_KERNEL_AUDIT_ALL && slot != qsl_drops_ran_slot(reason))
            continue;
        __u64 v;
        if (bpf_map_lookup_elem(fd, &slot, &v) != 0)
            return -errno;
        *out += v;
    }
    return 0;
}

static int audit_counts(struct qsl_kernel_audit *a, struct qsl_kernel_audit_count *out)
{
    for (size_t r = 0; r < a->n; r++) {
        out[r] = (struct qsl_kernel_audit_count){.reason = a->reasons[r]};
        /* ran first, then fired: a drop between the two reads counts as fired only, so
         * an audit errs towards finding a skip, never towards hiding one */
        int rc = ran_count(a->k, a->reasons[r], &out[r].ran);
        if (rc != 0)
            return rc;
        for (size_t c = 0; c < a->cpus; c++) {
            uint64_t v;
            int fd = a->fds[r * a->cpus + c];
            if (fd >= 0 && read(fd, &v, sizeof v) == (ssize_t)sizeof v)
                out[r].fired += v;
            else if (fd >= 0)
                return errno ? -errno : -EIO;
        }
    }
    return 0;
}

void qsl_kernel_audit_close(struct qsl_kernel_audit *a)
{
    if (!a)
        return;
    for (size_t i = 0; a->fds && i < a->n * a->cpus; i++)
        if (a->fds[i] >= 0)
            close(a->fds[i]);
    free(a->fds);
    free(a);
}

int qsl_kernel_audit_open(struct qsl_kernel_drops *k, const uint32_t *reasons, size_t n,
                          struct qsl_kernel_audit **out, char *why, size_t why_len)
{
    *out = NULL;
    if (n == 0 || n > QSL_KERNEL_AUDIT_MAX) {
        snprintf(why, why_len, "an audit follows 1 to %d reasons, not %zu", QSL_KERNEL_AUDIT_MAX, n);
        return -E2BIG;
    }
    uint64_t id;
    int rc = tracepoint_id("skb/kfree_skb", &id);
    if (rc == -ENODATA) {
        snprintf(why, why_len, "skb:kfree_skb: tracefs has no events/skb/kfree_skb (this "
                 "kernel lacks the tracepoint)");
        return -ENOENT;
    }
    if (rc != 0) {
        snprintf(why, why_len, "skb:kfree_skb's id: no tracefs at " TRACEFS ", and a private "
                 "mount of one failed: %s (mount -t tracefs nodev " TRACEFS ")", strerror(-rc));
        return -ENOENT;
    }
    long conf = sysconf(_SC_NPROCESSORS_CONF);
    struct qsl_kernel_audit *a = calloc(1, sizeof *a);
    if (!a || conf < 1 || !(a->fds = malloc(n * (size_t)conf * sizeof *a->fds))) {
        free(a);
        snprintf(why, why_len, "out of memory");
        return -ENOMEM;
    }
    a->k = k, a->n = n, a->cpus = (size_t)conf;
    memcpy(a->reasons, reasons, n * sizeof *reasons);
    for (size_t i = 0; i < n * a->cpus; i++)
        a->fds[i] = -1;
    size_t opened = 0;
    for (size_t r = 0; r < n; r++)
        for (size_t c = 0; c < a->cpus; c++) {
            int fd = open_counter(id, (int)c, reasons[r]);
            if (fd == -ENODEV)          /* that CPU is offline */
                continue;
            if (fd < 0) {
                snprintf(why, why_len, "perf_event_open(skb:kfree_skb, cpu %zu): %s%s", c,
                         strerror(-fd), fd == -EPERM || fd == -EACCES ?
                         " (needs CAP_PERFMON or CAP_SYS_ADMIN)" : "");
                qsl_kernel_audit_close(a);
                return fd;
            }
            a->fds[r * a->cpus + c] = fd;
            opened++;
        }
    rc = opened ? audit_counts(a, a->base) : -ENODEV;
    if (rc != 0) {
        snprintf(why, why_len, "reading the audit's counters: %s", strerror(-rc));
        qsl_kernel_audit_close(a);
        return rc;
    }
    *out = a;
    return 0;
}

int qsl_kernel_audit_read(struct qsl_kernel_audit *a, struct qsl_kernel_audit_count *out,
                          size_t n)
{
    if (n < a->n)
        return -ENOSPC;
    int rc = audit_counts(a, out);
    if (rc != 0)
        return rc;
    for (size_t r = 0; r < a->n; r++) {
        out[r].fired -= a->base[r].fired;
        out[r].ran -= a->base[r].ran;
    }
    return (int)a->n;
}

#endif
