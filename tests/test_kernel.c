/*
 * test_kernel.c - the kernel's own account of drops: namespaces by inode, reason names from
 * the kernel's BTF, and a full receive buffer counted as SOCKET_RCVBUFF exactly as often as
 * SO_MEMINFO counts drops, in a network namespace of the test's own (made in a child). Where
 * BPF cannot run (built without it, no privilege), the checks that need it are reported as
 * skipped with the reason. Where no tracefs is mounted, the audit mounts one of its own in a
 * private mount namespace (a child), which a test checks with both unmounted from its view.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel.h"
#include "suites.h"

#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif

START_TEST(test_netns_by_inode)
{
    uint32_t self, same, init;
    ck_assert_int_eq(qsl_kernel_netns_of(0, &self), 0);
    ck_assert_int_eq(qsl_kernel_netns_of(getpid(), &same), 0);
    ck_assert_uint_eq(self, same);
    ck_assert_uint_ne(self, 0);
    ck_assert_int_eq(qsl_kernel_netns_of(-1, &init), -EINVAL);
    ck_assert_int_eq(qsl_kernel_netns_of(0x7ffffffe, &init), -ENOENT);
}
END_TEST

START_TEST(test_unknown_reasons_are_named_by_number)
{
    char buf[48];
    /* whatever the kernel's enum holds, a subsystem's reason is named by its parts */
    ck_assert_str_eq(qsl_kernel_drop_reason_name(NULL, 0x30005, buf, sizeof buf),
                     "SUBSYS_3_REASON_5");
    ck_assert_str_eq(qsl_kernel_drop_reason_name(NULL, 5000, buf, sizeof buf), "REASON_5000");
}
END_TEST

static int lo_up(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    int rc = fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) != 0 ? -1 : 0;
    ifr.ifr_flags |= IFF_UP;
    if (rc == 0)
        rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* A receiver on lo with the smallest buffer takes 300 datagrams it never reads; mem: its
 * SO_MEMINFO after. 0, or the step that failed (2 to 4). The socket stays open (a child's,
 * closed at its exit) so its drops stay the kernel's to count. */
static int overflow_lo(uint32_t mem[SK_MEMINFO_VARS])
{
    int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &one, sizeof one) != 0 ||
        bind(rx, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(rx, (struct sockaddr *)&a, &len) != 0)
        return 2;
    char payload[1000] = {0};
    for (int i = 0; i < 300; i++)
        if (sendto(tx, payload, sizeof payload, 0, (struct sockaddr *)&a, sizeof a) < 0)
            return 3;
    len = SK_MEMINFO_VARS * sizeof mem[0];
    if (getsockopt(rx, SOL_SOCKET, SO_MEMINFO, mem, &len) != 0 || mem[SK_MEMINFO_DROPS] == 0)
        return 4;
    return 0;
}

/* In the child, in a namespace of its own: a receiver with the smallest buffer takes 300
 * datagrams it never reads. 0 when the kernel's SOCKET_RCVBUFF count (IPv4) is exactly
 * SO_MEMINFO's drops, the namespace shows no other reason, unwatching forgets it, and the
 * program's recursion misses can be read. */
static int overflow_is_counted(struct qsl_kernel_drops *k)
{
    uint32_t ns;
    if (unshare(CLONE_NEWNET) != 0)
        return 100;
    if (lo_up() != 0 || qsl_kernel_netns_of(0, &ns) != 0 || qsl_kernel_drops_watch(k, ns) != 0)
        return 1;
    uint32_t mem[SK_MEMINFO_VARS];
    int rc = overflow_lo(mem);
    if (rc != 0)
        return rc;
    struct qsl_kernel_drop d[16];
    int n = qsl_kernel_drops_read(k, ns, d, 16);
    char buf[48];
    if (n != 1 || d[0].netns != ns || d[0].protocol != 0x0800 || d[0].ip_proto != IPPROTO_UDP)
        return 5;
    if (strcmp(qsl_kernel_drop_reason_name(k, d[0].reason, buf, sizeof buf), "SOCKET_RCVBUFF"))
        return 6;
    if (d[0].count != mem[SK_MEMINFO_DROPS])
        return 7;
    if (qsl_kernel_drops_unwatch(k, ns) != 0 || qsl_kernel_drops_read(k, ns, d, 16) != 0)
        return 8;
    if (qsl_kernel_drops_overflow(k) != 0)
        return 9;
    uint64_t misses;
    if (qsl_kernel_drops_misses(k, &misses) != 0)
        return 10;
    return 0;
}

static void run_in_child(struct qsl_kernel_drops *k, int (*step)(struct qsl_kernel_drops *))
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(step(k));
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    ck_assert_msg(WEXITSTATUS(st) == 0, "step %d failed", WEXITSTATUS(st));
}

START_TEST(test_a_full_receive_buffer_is_counted_with_its_reason)
{
    struct qsl_kernel_drops *k;
    char why[512];
    ck_assert_msg(qsl_kernel_drops_open(&k, why, sizeof why) == 0, "%s", why);
    uint32_t outside;
    ck_assert_int_eq(qsl_kernel_netns_of(0, &outside), 0);
    run_in_child(k, overflow_is_counted);
    /* our namespace was never watched: nothing of it is counted */
    struct qsl_kernel_drop d[4];
    ck_assert_int_eq(qsl_kernel_drops_read(k, outside, d, 4), 0);
    qsl_kernel_drops_close(k);
}
END_TEST

/* In the child, in a namespace of its own: the same overflow under an audit. 0 when the
 * tracepoint fired at least as often as SO_MEMINFO counted drops, every drop the program
 * did not count in the namespace is one the kernel skipped it for (fired - ran), and the
 * count of every reason is at least that of one. */
static int audit_accounts(struct qsl_kernel_drops *k)
{
    uint32_t ns, reasons[2] = {0, QSL_KERNEL_AUDIT_ALL};
    char why[256];
    struct qsl_kernel_audit *a;
    if (unshare(CLONE_NEWNET) != 0)
        return 100;
    if (lo_up() != 0 || qsl_kernel_netns_of(0, &ns) != 0 || qsl_kernel_drops_watch(k, ns) != 0 ||
        qsl_kernel_drop_reason_value(k, "SOCKET_RCVBUFF", &reasons[0]) != 0)
        return 1;
    if (qsl_kernel_audit_open(k, reasons, 0, &a, why, sizeof why) != -E2BIG || a)
        return 12;
    if (qsl_kernel_audit_open(k, reasons, 2, &a, why, sizeof why) != 0)
        return 13;
    uint32_t mem[SK_MEMINFO_VARS];
    struct qsl_kernel_drop d[16];
    struct qsl_kernel_audit_count c[2];
    int rc = overflow_lo(mem);
    if (rc != 0)
        return rc;
    if (qsl_kernel_drops_read(k, ns, d, 16) != 1)
        return 6;
    if (qsl_kernel_audit_read(a, c, 1) != -ENOSPC || qsl_kernel_audit_read(a, c, 2) != 2)
        return 7;
    qsl_kernel_audit_close(a);
    if (c[0].reason != reasons[0] || c[0].fired < mem[SK_MEMINFO_DROPS] || c[0].fired < c[0].ran)
        return 8;
    if (mem[SK_MEMINFO_DROPS] - d[0].count > c[0].fired - c[0].ran)
        return 9;
    if (c[1].fired < c[0].fired)
        return 10;
    return 0;
}

/* step in a child, given the program loaded here */
static void with_drops_in_child(int (*step)(struct qsl_kernel_drops *))
{
    struct qsl_kernel_drops *k;
    char why[512];
    ck_assert_msg(qsl_kernel_drops_open(&k, why, sizeof why) == 0, "%s", why);
    run_in_child(k, step);
    qsl_kernel_drops_close(k);
}

START_TEST(test_the_audit_sees_every_drop_the_program_missed)
{
    with_drops_in_child(audit_accounts);
}
END_TEST

/* Both ways to the tracepoint's id gone from this child's view: tracefs and debugfs unmounted
 * in a mount namespace of its own (the host's mounts untouched). 0, or 30 when they are
 * still there. */
static int without_tracefs(void)
{
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return 30;
    umount2("/sys/kernel/tracing", MNT_DETACH);     /* EINVAL where nothing is mounted */
    umount2("/sys/kernel/debug", MNT_DETACH);
    return access("/sys/kernel/tracing/events", F_OK) == 0 ||
           access("/sys/kernel/debug/tracing/events", F_OK) == 0 ? 30 : 0;
}

/* In the child, where nothing shows the tracepoint's id: the audit mounts a tracefs of its
 * own (in a further child) and counts; a tracefs without the event is named as such;
 * without CAP_SYS_ADMIN it cannot mount one, and says so. */
static int audit_mounts_its_own(struct qsl_kernel_drops *k)
{
    uint32_t all = QSL_KERNEL_AUDIT_ALL;
    struct qsl_kernel_audit *a;
    struct qsl_kernel_audit_count c;
    char why[256];
    if (without_tracefs() != 0)
        return 30;
    if (qsl_kernel_audit_open(k, &all, 1, &a, why, sizeof why) != 0)
        return 31;
    int rc = qsl_kernel_audit_read(a, &c, 1) == 1 && c.reason == all ? 0 : 32;
    qsl_kernel_audit_close(a);
    if (rc || access("/sys/kernel/tracing/events", F_OK) == 0)
        return rc ? rc : 33;            /* the mount stayed in its own child's namespace */
    /* a tracefs without the event (a tmpfs standing in for it): named as such */
    if (mount("none", "/sys/kernel/tracing", "tmpfs", 0, NULL) != 0 ||
        mkdir("/sys/kernel/tracing/events", 0755) != 0)
        return 37;
    if (qsl_kernel_audit_open(k, &all, 1, &a, why, sizeof why) != -ENOENT || a ||
        !strstr(why, "this kernel lacks the tracepoint"))
        return 38;
    if (umount2("/sys/kernel/tracing", MNT_DETACH) != 0)
        return 39;
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) != 0)
        return 34;
    d[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
    if (syscall(SYS_capset, &h, d) != 0)
        return 35;
    if (qsl_kernel_audit_open(k, &all, 1, &a, why, sizeof why) != -ENOENT || a ||
        !strstr(why, "private mount of one failed: Operation not permitted"))
        return 36;
    return 0;
}

START_TEST(test_with_no_tracefs_the_audit_mounts_its_own)
{
    with_drops_in_child(audit_mounts_its_own);
}
END_TEST

START_TEST(test_unavailable_says_why)
{
    struct qsl_kernel_drops *k;
    char why[512] = "";
    int rc = qsl_kernel_drops_open(&k, why, sizeof why);
    if (rc == 0) {
        qsl_kernel_drops_close(k);
        return;                         /* available: nothing to say (the test above runs) */
    }
    ck_assert_ptr_null(k);
    ck_assert_msg(strlen(why) > 10, "no reason given for %d", rc);
}
END_TEST

Suite *kernel_suite(void)
{
    Suite *s = suite_create("kernel");
    TCase *tc = tcase_create("drops");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_netns_by_inode);
    tcase_add_test(tc, test_unknown_reasons_are_named_by_number);
    tcase_add_test(tc, test_unavailable_says_why);
    /* decided here, in the runner: a skip inside a forked test would pass unseen */
    struct qsl_kernel_drops *k;
    char why[512];
    if (qsl_kernel_drops_open(&k, why, sizeof why) != 0)
        qsl_test_skip("test_a_full_receive_buffer_is_counted_with_its_reason", why);
    else if (!qsl_test_netns_runs())
        qsl_test_skip("test_a_full_receive_buffer_is_counted_with_its_reason",
                      "no network namespace can be made here");
    else {
        tcase_add_test(tc, test_a_full_receive_buffer_is_counted_with_its_reason);
        uint32_t all = QSL_KERNEL_AUDIT_ALL;
        struct qsl_kernel_audit *a;
        if (qsl_kernel_audit_open(k, &all, 1, &a, why, sizeof why) != 0) {
            qsl_test_skip("test_the_audit_sees_every_drop_the_program_missed", why);
            qsl_test_skip("test_with_no_tracefs_the_audit_mounts_its_own", why);
        } else {
            tcase_add_test(tc, test_the_audit_sees_every_drop_the_program_missed);
            tcase_add_test(tc, test_with_no_tracefs_the_audit_mounts_its_own);
        }
        qsl_kernel_audit_close(a);
    }
    qsl_kernel_drops_close(k);
    suite_add_tcase(s, tc);
    return s;
}
