/*
 * procfs.h - parsers for /proc files, and small readers around them.
 *
 * The parsers take the text (so tests and fuzzers feed them anything) and
 * never read past it; the readers open the file for a pid. All return 0 or a
 * negative errno: -ENOENT/-EACCES from the file system, -EINVAL for text
 * that does not have the expected shape, -E2BIG for a file too large to be
 * the one we asked for.
 */
#ifndef QSL_PROCFS_H
#define QSL_PROCFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct qsl_proc_stat {
    int pid;
    char comm[64];              /* as the kernel gives it (at most 15 bytes today) */
    char state;
    int ppid;
    uint64_t minflt, majflt;
    uint64_t utime, stime;      /* clock ticks (qsl_procfs_clock_ticks per second) */
    int64_t num_threads;
    uint64_t starttime;         /* clock ticks after boot */
    uint64_t vsize;             /* bytes */
    int64_t rss;                /* pages */
    int processor;              /* CPU last run on */
};

/* /proc/PID/stat: comm may hold spaces and ')' so fields are read after the LAST ')'. */
int qsl_procfs_parse_stat(const char *text, size_t len, struct qsl_proc_stat *out);

/* /proc/PID/schedstat: on-CPU ns, run-queue wait ns, timeslices. */
struct qsl_proc_schedstat {
    uint64_t cpu_ns, wait_ns, timeslices;
};
int qsl_procfs_parse_schedstat(const char *text, size_t len, struct qsl_proc_schedstat *out);

/*
 * "Key:<spaces>value" lines (/proc/PID/status, /proc/meminfo). fn is called
 * per line with the key and the trimmed value (NUL-terminated copies valid
 * during the call). A line without ':' is -EINVAL.
 */
typedef int (*qsl_procfs_kv_fn)(void *ctx, const char *key, const char *value);
int qsl_procfs_parse_kv(const char *text, size_t len, qsl_procfs_kv_fn fn, void *ctx);

/*
 * /proc/net/snmp and /proc/net/netstat: pairs of lines "Proto: names..." and
 * "Proto: values...". fn gets (proto, name, value) per counter. A value line
 * that does not match its header (other proto, other count, not a number)
 * is -EINVAL.
 */
typedef int (*qsl_procfs_counter_fn)(void *ctx, const char *proto, const char *name,
                                     int64_t value);
int qsl_procfs_parse_snmp(const char *text, size_t len, qsl_procfs_counter_fn fn, void *ctx);

/*
 * /proc/net/snmp6: one "Proto6Name<spaces>value" line per counter (Ip6InReceives,
 * Udp6RcvbufErrors, Icmp6InType134). fn gets the proto up to its first '6' ("Udp6") and
 * the rest ("RcvbufErrors"), as snmp's names are. A line with no '6', nothing after it,
 * or no number is -EINVAL.
 */
int qsl_procfs_parse_snmp6(const char *text, size_t len, qsl_procfs_counter_fn fn, void *ctx);

/* Read a whole (small) file into buf (NUL-terminated); returns length or -errno. */
long qsl_procfs_read(const char *path, char *buf, size_t cap);

int qsl_procfs_stat(pid_t pid, struct qsl_proc_stat *out);
int qsl_procfs_schedstat(pid_t pid, struct qsl_proc_schedstat *out);
/* Open descriptors of a process: entries of /proc/PID/fd. */
long qsl_procfs_fd_count(pid_t pid);
/* A sysctl by its dotted name ("net.core.rmem_max"), as an integer. */
int qsl_procfs_sysctl(const char *name, int64_t *value);
long qsl_procfs_clock_ticks(void);

#endif
