/*
 * test_procfs.c - /proc parsers on hostile text, and readers on real processes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"
#include "suites.h"

/* fields 3..52 of a real stat line after the comm */
#define TAIL " S 1 100 100 0 -1 4194560 1234 0 5 0 77 33 0 0 20 0 3 0 4242 123456789 987 " \
             "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"

START_TEST(test_stat_fields_after_the_last_paren)
{
    const char *t = "4321 (a) b) (c d)" TAIL;
    struct qsl_proc_stat st;
    ck_assert_int_eq(qsl_procfs_parse_stat(t, strlen(t), &st), 0);
    ck_assert_int_eq(st.pid, 4321);
    ck_assert_str_eq(st.comm, "a) b) (c d");
    ck_assert_int_eq(st.state, 'S');
    ck_assert_int_eq(st.ppid, 1);
    ck_assert_uint_eq(st.minflt, 1234);
    ck_assert_uint_eq(st.majflt, 5);
    ck_assert_uint_eq(st.utime, 77);
    ck_assert_uint_eq(st.stime, 33);
    ck_assert_int_eq(st.num_threads, 3);
    ck_assert_uint_eq(st.starttime, 4242);
    ck_assert_uint_eq(st.vsize, 123456789);
    ck_assert_int_eq(st.rss, 987);
    ck_assert_int_eq(st.processor, 1);
}
END_TEST

START_TEST(test_stat_rejects_malformed)
{
    struct qsl_proc_stat st;
    static const char *bad[] = {
        "", "4321 no parens" TAIL, "4321 (x", "x (y)" TAIL, "4321 (x) S 1 2 3\n", "-5 (x)" TAIL,
        "4321 (x)S" TAIL,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(qsl_procfs_parse_stat(bad[i], strlen(bad[i]), &st) == -EINVAL, "case %zu", i);
}
END_TEST

START_TEST(test_stat_of_this_process)
{
    struct qsl_proc_stat st;
    ck_assert_int_eq(qsl_procfs_stat(getpid(), &st), 0);
    ck_assert_int_eq(st.pid, getpid());
    ck_assert_int_eq(st.ppid, getppid());
    ck_assert_int_eq(qsl_procfs_stat(0x7ffffff0, &st), -ENOENT);
}
END_TEST

START_TEST(test_schedstat)
{
    struct qsl_proc_schedstat s;
    ck_assert_int_eq(qsl_procfs_parse_schedstat("123 456 7\n", 10, &s), 0);
    ck_assert_uint_eq(s.cpu_ns, 123);
    ck_assert_uint_eq(s.timeslices, 7);
    ck_assert_int_eq(qsl_procfs_parse_schedstat("123 456\n", 8, &s), -EINVAL);
    ck_assert_int_eq(qsl_procfs_parse_schedstat("1 2 3 4\n", 8, &s), -EINVAL);
    /* the kernel folds in a running task's time when it is descheduled, so a
     * fresh test process may read 0; the runner that forked us has run */
    ck_assert_int_eq(qsl_procfs_schedstat(getpid(), &s), 0);
    ck_assert_int_eq(qsl_procfs_schedstat(getppid(), &s), 0);
    ck_assert_uint_gt(s.cpu_ns, 0);
}
END_TEST

static int count_kv(void *ctx, const char *k, const char *v)
{
    (void)v;
    if (!strcmp(k, "VmHWM"))
        ++*(int *)ctx;
    return 0;
}

START_TEST(test_status_key_values)
{
    const char *t = "Name:\tx y\nVmHWM:\t  3712 kB\n\nThreads:\t1\n";
    int seen = 0;
    ck_assert_int_eq(qsl_procfs_parse_kv(t, strlen(t), count_kv, &seen), 0);
    ck_assert_int_eq(seen, 1);
    ck_assert_int_eq(qsl_procfs_parse_kv("no colon here\n", 14, count_kv, &seen), -EINVAL);
}
END_TEST

struct snmp_probe {
    int64_t rcvbuf_errors, in_datagrams;
    int n;
};

static int snmp_cb(void *ctx, const char *proto, const char *name, int64_t v)
{
    struct snmp_probe *p = ctx;
    p->n++;
    if (!strcmp(proto, "Udp") && !strcmp(name, "RcvbufErrors"))
        p->rcvbuf_errors = v;
    if (!strcmp(proto, "Udp") && !strcmp(name, "InDatagrams"))
        p->in_datagrams = v;
    return 0;
}

START_TEST(test_snmp_pairs)
{
    const char *t = "Ip: Forwarding DefaultTTL\nIp: 1 64\n"
                    "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors\n"
                    "Udp: 10 0 996 10 996\n";
    struct snmp_probe p = {0};
    ck_assert_int_eq(qsl_procfs_parse_snmp(t, strlen(t), snmp_cb, &p), 0);
    ck_assert_int_eq(p.n, 7);
    ck_assert_int_eq(p.rcvbuf_errors, 996);
    const char *mismatch = "Udp: A B\nTcp: 1 2\n";
    ck_assert_int_eq(qsl_procfs_parse_snmp(mismatch, strlen(mismatch), snmp_cb, &p), -EINVAL);
    const char *short_values = "Udp: A B\nUdp: 1\n";
    ck_assert_int_eq(qsl_procfs_parse_snmp(short_values, strlen(short_values), snmp_cb, &p), -EINVAL);
    const char *no_values = "Udp: A B\n";
    ck_assert_int_eq(qsl_procfs_parse_snmp(no_values, 8, snmp_cb, &p), -EINVAL);
    const char *nan = "Udp: A\nUdp: x\n";
    ck_assert_int_eq(qsl_procfs_parse_snmp(nan, strlen(nan), snmp_cb, &p), -EINVAL);
}
END_TEST

static int snmp6_cb(void *ctx, const char *proto, const char *name, int64_t v)
{
    struct snmp_probe *p = ctx;
    p->n++;
    if (!strcmp(proto, "Udp6") && !strcmp(name, "RcvbufErrors"))
        p->rcvbuf_errors = v;
    if (!strcmp(proto, "Udp6") && !strcmp(name, "InDatagrams"))
        p->in_datagrams = v;
    ck_assert(strchr(proto, '6') == proto + strlen(proto) - 1);
    return 0;
}

START_TEST(test_snmp6_lines)
{
    const char *t = "Ip6InReceives                   \t321669\n"
                    "Icmp6InType134                  \t7\n\n"
                    "Udp6InDatagrams                 \t10\n"
                    "Udp6RcvbufErrors                \t996\n";
    struct snmp_probe p = {0};
    ck_assert_int_eq(qsl_procfs_parse_snmp6(t, strlen(t), snmp6_cb, &p), 0);
    ck_assert_int_eq(p.n, 4);
    ck_assert_int_eq(p.rcvbuf_errors, 996);
    ck_assert_int_eq(p.in_datagrams, 10);
    const char *bad[] = { "UdpInDatagrams 1\n", "Udp6 1\n", "6x 1\n", "Udp6InDatagrams\n",
                          "Udp6InDatagrams x\n", "Udp6InDatagrams 1 2\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(qsl_procfs_parse_snmp6(bad[i], strlen(bad[i]), snmp6_cb, &p) == -EINVAL,
                      "accepted %s", bad[i]);
}
END_TEST

/* A real counters file parses whole and has UDP's two counters (the Lua books read them). */
static void real_counters(const char *path,
                          int (*parse)(const char *, size_t, qsl_procfs_counter_fn, void *),
                          qsl_procfs_counter_fn cb)
{
    static char buf[65536];
    long n = qsl_procfs_read(path, buf, sizeof buf);
    ck_assert_msg(n > 0, "%s: %ld", path, n);
    struct snmp_probe p = {-1, -1, 0};
    ck_assert_int_eq(parse(buf, (size_t)n, cb, &p), 0);
    ck_assert_msg(p.rcvbuf_errors >= 0 && p.in_datagrams >= 0, "%s lacks a UDP counter", path);
}

START_TEST(test_real_snmp_has_udp_counters)
{
    real_counters("/proc/net/snmp", qsl_procfs_parse_snmp, snmp_cb);
    real_counters("/proc/net/snmp6", qsl_procfs_parse_snmp6, snmp6_cb);
}
END_TEST

START_TEST(test_sysctl_by_dotted_name_only)
{
    int64_t v;
    ck_assert_int_eq(qsl_procfs_sysctl("net.core.rmem_max", &v), 0);
    ck_assert_int_gt(v, 0);
    ck_assert_int_eq(qsl_procfs_sysctl("../../etc/passwd", &v), -EINVAL);
    ck_assert_int_eq(qsl_procfs_sysctl("net/core/rmem_max", &v), -EINVAL);
    ck_assert_int_eq(qsl_procfs_sysctl("net.no.such_thing", &v), -ENOENT);
    ck_assert_int_eq(qsl_procfs_sysctl("net.ipv4.tcp_rmem", &v), -EINVAL);   /* three numbers */
}
END_TEST

START_TEST(test_fd_count_and_read_limits)
{
    long n = qsl_procfs_fd_count(getpid());
    ck_assert_int_ge(n, 3);
    char small[8];
    ck_assert_int_eq(qsl_procfs_read("/proc/self/status", small, sizeof small), -E2BIG);
    ck_assert_int_eq(qsl_procfs_read("/nonexistent", small, sizeof small), -ENOENT);
    ck_assert_int_gt(qsl_procfs_clock_ticks(), 0);
}
END_TEST

/* found by fuzz_procfs: a NUL inside a line made an empty key */
START_TEST(test_nul_bytes_are_not_proc_text)
{
    static const char kv[] = "\0\0Ip:\0\0 1\n";
    int seen = 0;
    ck_assert_int_eq(qsl_procfs_parse_kv(kv, sizeof kv - 1, count_kv, &seen), -EINVAL);
    struct snmp_probe p = {0};
    static const char snmp[] = "Udp: A\0B\nUdp: 1\n";
    ck_assert_int_eq(qsl_procfs_parse_snmp(snmp, sizeof snmp - 1, snmp_cb, &p), -EINVAL);
    /* and a protocol with no name: ":" alone (fuzz_procfs again) */
    static const char noname[] = ": A\n: 1\n";
    ck_assert_int_eq(qsl_procfs_parse_snmp(noname, sizeof noname - 1, snmp_cb, &p), -EINVAL);
    struct qsl_proc_stat st;
    static const char stat[] = "1 (a\0b)" TAIL;
    ck_assert_int_eq(qsl_procfs_parse_stat(stat, sizeof stat - 1, &st), -EINVAL);
    struct qsl_proc_schedstat ss;
    ck_assert_int_eq(qsl_procfs_parse_schedstat("1 2 3\0", 6, &ss), -EINVAL);
}
END_TEST

Suite *procfs_suite(void)
{
    Suite *s = suite_create("procfs");
    TCase *tc = tcase_create("procfs");
    tcase_add_test(tc, test_stat_fields_after_the_last_paren);
    tcase_add_test(tc, test_stat_rejects_malformed);
    tcase_add_test(tc, test_stat_of_this_process);
    tcase_add_test(tc, test_schedstat);
    tcase_add_test(tc, test_status_key_values);
    tcase_add_test(tc, test_snmp_pairs);
    tcase_add_test(tc, test_real_snmp_has_udp_counters);
    tcase_add_test(tc, test_snmp6_lines);
    tcase_add_test(tc, test_sysctl_by_dotted_name_only);
    tcase_add_test(tc, test_fd_count_and_read_limits);
    tcase_add_test(tc, test_nul_bytes_are_not_proc_text);
    suite_add_tcase(s, tc);
    return s;
}
