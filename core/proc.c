/*
 * proc.c - spawn, watch, stop and reap child processes.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "proc.h"
#include "procfs.h"

static struct qsl_proc *live;       /* the registry: started, not yet reaped */

static void registry_remove(struct qsl_proc *p)
{
    for (struct qsl_proc **pp = &live; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            return;
        }
}

static double now_ms(void)
{
    return (double)qsl_clock_ns() / 1e6;
}

void qsl_proc_init(struct qsl_proc *p)
{
    memset(p, 0, sizeof *p);
    p->pid = p->target = -1;
    p->reaped = 1;
    p->pidfd = p->out_fd = p->err_fd = p->in_fd = -1;
}

/* ------------------------------------------------------------------ reaping */

/* Whoever reaps a child keeps what it wrote: its result line may still be in the pipe. */
static void reaped(struct qsl_proc *p, int status, const struct rusage *ru)
{
    qsl_proc_read(p);
    p->reaped = 1;
    p->status = status;
    p->ru = *ru;
    registry_remove(p);
    if (p->pidfd >= 0) {
        close(p->pidfd);
        p->pidfd = -1;
    }
}

int qsl_proc_try_reap(struct qsl_proc *p)
{
    if (p->reaped)
        return 1;
    int status;
    struct rusage ru;
    if (wait4(p->pid, &status, WNOHANG, &ru) == p->pid) {
        reaped(p, status, &ru);
        return 1;
    }
    return 0;
}

static void kill_group(struct qsl_proc *p)
{
    if (p->reaped)
        return;
    kill(p->target, SIGKILL);
    kill(-p->pid, SIGKILL);     /* the child's process group: wrapper, tracee, helpers */
    kill(p->pid, SIGKILL);
    p->killed = 1;
}

static void reap_blocking(struct qsl_proc *p)
{
    int status;
    struct rusage ru;
    while (!p->reaped) {
        pid_t r = wait4(p->pid, &status, 0, &ru);
        if (r == p->pid) {
            reaped(p, status, &ru);
        } else if (r < 0 && errno != EINTR) {
            p->reaped = 1;      /* not our child any more: nothing left to wait for */
            registry_remove(p);
        }
    }
}

void qsl_proc_kill(struct qsl_proc *p)
{
    kill_group(p);
    reap_blocking(p);
}

static void janitor_finish(void);

void qsl_proc_reap_all(void)
{
    while (live)
        qsl_proc_kill(live);
    janitor_finish();
}

/* ------------------------------------------------------------------ output */

/* Room for 4 KiB more, or -1 when the kept output is at its cap. */
static int grow_out(struct qsl_proc *p)
{
    if (p->out_cap - p->out_len >= 4096)
        return 0;
    size_t cap = p->out_cap ? p->out_cap * 2 : 8192;
    if (cap > QSL_PROC_OUT_MAX + 4096)
        cap = QSL_PROC_OUT_MAX + 4096;
    char *o = cap > p->out_cap ? realloc(p->out, cap) : NULL;
    if (!o)
        return -1;
    p->out = o;
    p->out_cap = cap;
    return 0;
}

void qsl_proc_read(struct qsl_proc *p)
{
    while (p->out_fd >= 0) {
        char sink[4096];
        int keep = grow_out(p) == 0;    /* full: keep the stream flowing, drop the excess */
        char *to = keep ? p->out + p->out_len : sink;
        size_t room = keep ? p->out_cap - p->out_len - 1 : sizeof sink;
        ssize_t n = read(p->out_fd, to, room);
        if (n > 0) {
            if (keep) {
                p->out_len += (size_t)n;
                p->out[p->out_len] = '\0';
            }
        } else if (n < 0 && errno == EAGAIN) {
            return;
        } else if (n == 0 || errno != EINTR) {
            close(p->out_fd);
            p->out_fd = -1;
        }
    }
}

static const char *next_line(struct qsl_proc *p, size_t *from, const char *word, size_t *len)
{
    size_t wl = strlen(word);
    while (*from < p->out_len) {
        char *line = p->out + *from;
        char *nl = memchr(line, '\n', p->out_len - *from);
        if (!nl)
            return NULL;
        *from = (size_t)(nl - p->out) + 1;
        if (strncmp(line, word, wl) == 0 && (line[wl] == ' ' || line + wl == nl)) {
            *len = (size_t)(nl - line);
            return line;
        }
    }
    return NULL;
}

const char *qsl_proc_take_line(struct qsl_proc *p, const char *word, size_t *len)
{
    return next_line(p, &p->scan, word, len);
}

const char *qsl_proc_last_line(struct qsl_proc *p, const char *word, size_t *len)
{
    size_t from = 0, l;
    const char *last = NULL, *line;
    while ((line = next_line(p, &from, word, &l)) != NULL) {
        last = line;
        *len = l;
    }
    return last;
}

size_t qsl_proc_err_tail(const struct qsl_proc *p, char *buf, size_t cap)
{
    ssize_t n = 0;
    if (p->err_fd >= 0 && cap > 1) {
        off_t size = lseek(p->err_fd, 0, SEEK_END);
        off_t from = size > (off_t)(cap - 1) ? size - (off_t)(cap - 1) : 0;
        n = pread(p->err_fd, buf, cap - 1, from);
        n = n < 0 ? 0 : n;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        n--;
    if (cap > 0)
        buf[n] = '\0';
    return (size_t)n;
}

int qsl_proc_fields(const char *line, size_t len, struct qsl_proc_field *f, int max)
{
    const char *p = memchr(line, ' ', len), *end = line + len;
    int n = 0;
    while (p && p < end) {
        while (p < end && *p == ' ')
            p++;
        const char *e = p;
        while (e < end && *e != ' ')
            e++;
        if (e == p)
            break;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        int ok = eq && eq > p && n < max;
        for (const char *k = p; ok && k < eq; k++)
            ok = (*k >= 'a' && *k <= 'z') || *k == '_' || (k > p && *k >= '0' && *k <= '9');
        if (!ok)
            return -1 - n;
        f[n++] = (struct qsl_proc_field){p, eq + 1, (size_t)(eq - p), (size_t)(e - eq - 1)};
        p = e;
    }
    return n;
}

/* ------------------------------------------------------------------ waiting */

enum qsl_proc_wait qsl_proc_wait(struct qsl_proc *p, double timeout_ms, const char *word,
                                 qsl_proc_stop_fn stop, void *ctx)
{
    double deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        qsl_proc_read(p);
        size_t from = p->scan, len;
        if (word && next_line(p, &from, word, &len))
            return QSL_PROC_LINE;
        if (qsl_proc_try_reap(p)) {
            qsl_proc_read(p);
            return QSL_PROC_EXITED;
        }
        if (stop && stop(ctx))
            return QSL_PROC_STOPPED;
        double left = deadline < 0 ? 50 : deadline - now_ms();
        if (left <= 0)
            return QSL_PROC_TIMEOUT;
        struct pollfd fds[2];
        nfds_t n = 0;
        if (p->out_fd >= 0)
            fds[n++] = (struct pollfd){.fd = p->out_fd, .events = POLLIN};
        if (p->pidfd >= 0)
            fds[n++] = (struct pollfd){.fd = p->pidfd, .events = POLLIN};
        int slice = left > 50 ? 50 : (int)left + 1;
        if (p->pidfd < 0 && slice > 5)
            slice = 5;          /* no pidfd: poll for the exit in short steps */
        if (poll(fds, n, slice) < 0 && errno != EINTR)
            return QSL_PROC_TIMEOUT;
    }
}

void qsl_proc_close_stdin(struct qsl_proc *p)
{
    if (p->in_fd >= 0)
        close(p->in_fd);
    p->in_fd = -1;
}

void qsl_proc_stop(struct qsl_proc *p, double grace_ms, qsl_proc_stop_fn stop, void *ctx)
{
    if (p->reaped) {
        qsl_proc_close_stdin(p);
        return;
    }
    if (p->in_fd >= 0) {
        qsl_proc_close_stdin(p);
        if (qsl_proc_wait(p, grace_ms, NULL, stop, ctx) == QSL_PROC_EXITED)
            return;
    }
    kill(p->target, SIGTERM);
    if (qsl_proc_wait(p, grace_ms, NULL, stop, ctx) != QSL_PROC_EXITED) {
        kill_group(p);
        qsl_proc_wait(p, 5000, NULL, NULL, NULL);
        reap_blocking(p);
    }
}

void qsl_proc_close(struct qsl_proc *p)
{
    qsl_proc_close_stdin(p);
    if (!p->reaped)
        qsl_proc_kill(p);
    if (p->out_fd >= 0)
        close(p->out_fd);
    if (p->err_fd >= 0)
        close(p->err_fd);
    if (p->pidfd >= 0)
        close(p->pidfd);
    p->out_fd = p->err_fd = p->pidfd = -1;
    free(p->out);
    p->out = NULL;
    p->out_len = p->out_cap = p->scan = 0;
}

/* ------------------------------------------------------------------ spawning */

enum stage { STAGE_SETUP = 1, STAGE_NETNS, STAGE_LOOPBACK, STAGE_RLIMIT, STAGE_CPU, STAGE_EXEC,
             STAGE_JOIN };

static const char *const stage_names[] = {"", "set-up", "network namespace",
                                          "loopback in namespace", "RLIMIT_NOFILE",
                                          "CPU affinity", "exec", "joining a network namespace"};

static int loopback_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP;
        rc = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    close(s);
    return rc;
}

static void child_fail(int report, enum stage st)
{
    int msg[2] = {(int)st, errno};
    ssize_t ignored = write(report, msg, sizeof msg);
    (void)ignored;
    _exit(127);
}

/* In the child, between fork and exec: only async-signal-safe work. */
static void child(const struct qsl_proc_spec *o, int in_r, int out_w, int err_fd, int report,
                  pid_t parent)
{
    setpgid(0, 0);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(127);             /* the parent is already gone */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    int in = in_r >= 0 ? in_r : open("/dev/null", O_RDONLY);
    if (in < 0 || dup2(in, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_fd, 2) < 0)
        child_fail(report, STAGE_SETUP);
    /* nothing else crosses exec: descriptors the parent inherited without
     * O_CLOEXEC would otherwise leak into every child (and into its fd count) */
    if (report != 3) {
        if (dup2(report, 3) < 0)
            child_fail(report, STAGE_SETUP);
        report = 3;
    }
    fcntl(report, F_SETFD, FD_CLOEXEC);     /* open until exec, to report a failure */
    close_range(4, ~0u, 0);
    if (o->netns_of > 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/net", (int)o->netns_of);
        int ns = open(path, O_RDONLY | O_CLOEXEC);
        if (ns < 0 || setns(ns, CLONE_NEWNET) != 0)
            child_fail(report, STAGE_JOIN);
        close(ns);
    }
    if (o->netns && unshare(CLONE_NEWNET) != 0)
        child_fail(report, STAGE_NETNS);
    if (o->netns && loopback_up() != 0)
        child_fail(report, STAGE_LOOPBACK);
    if (o->nofile > 0) {
        struct rlimit rl = {(rlim_t)o->nofile, (rlim_t)o->nofile};
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            child_fail(report, STAGE_RLIMIT);
    }
    if (o->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(o->cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0)
            child_fail(report, STAGE_CPU);
    }
    if (o->cpus && sched_setaffinity(0, sizeof *o->cpus, o->cpus) != 0)
        child_fail(report, STAGE_CPU);
    /* a role started here dies with its parent even under a wrapper such as
     * strace (its parent is then the wrapper): a role arms PR_SET_PDEATHSIG
     * itself on seeing this, and only then */
    static char die_with_parent[] = "QSL_PDEATHSIG=1";
    putenv(die_with_parent);
    /* exec's prototypes predate const; the strings are never written */
    for (const char *const *e = o->env; e && *e; e++)
        putenv((char *)(uintptr_t)*e);
    execvp(o->argv[0], (char *const *)(uintptr_t)o->argv);
    child_fail(report, STAGE_EXEC);
}

static int fail(char *err, size_t cap, const char *what, int e)
{
    snprintf(err, cap, "%s", what);
    return -e;
}

int qsl_proc_spawn(struct qsl_proc *p, const struct qsl_proc_spec *s, char *err, size_t cap)
{
    if (!s->argv || !s->argv[0])
        return fail(err, cap, "no command", EINVAL);
    int outp[2], rep[2];
    p->err_fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (p->err_fd < 0)
        return fail(err, cap, "stderr file", errno);
    if (pipe2(outp, O_CLOEXEC) != 0)
        return fail(err, cap, "pipe", errno);
    if (pipe2(rep, O_CLOEXEC) != 0) {
        int e = errno;
        close(outp[0]);
        close(outp[1]);
        return fail(err, cap, "pipe", e);
    }
    /* both ends close-on-exec: no other child may hold the write end, or closing
     * ours would never reach this child as the end of its input */
    int inp[2] = {-1, -1};
    if (s->stdin_pipe && pipe2(inp, O_CLOEXEC) != 0) {
        int e = errno;
        close(outp[0]);
        close(outp[1]);
        close(rep[0]);
        close(rep[1]);
        return fail(err, cap, "pipe", e);
    }
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        child(s, inp[0], outp[1], p->err_fd, rep[1], parent);
    int fork_errno = errno;
    close(outp[1]);
    close(rep[1]);
    if (inp[0] >= 0)
        close(inp[0]);
    p->in_fd = inp[1];
    if (pid < 0) {
        close(outp[0]);
        close(rep[0]);
        qsl_proc_close_stdin(p);
        return fail(err, cap, "fork", fork_errno);
    }
    p->pid = p->target = pid;
    p->wrapped = s->wrapped;
    p->reaped = p->killed = 0;
    p->out_fd = outp[0];
    fcntl(p->out_fd, F_SETFL, O_NONBLOCK);
    p->next = live;
    live = p;
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    p->pidfd = pfd >= 0 ? pfd : -1;
    int msg[2];
    ssize_t n;
    do
        n = read(rep[0], msg, sizeof msg);
    while (n < 0 && errno == EINTR);
    close(rep[0]);
    if (n == (ssize_t)sizeof msg) {     /* the child failed before exec */
        reap_blocking(p);
        snprintf(err, cap, "%s", stage_names[msg[0] >= 1 && msg[0] <= STAGE_JOIN ? msg[0] : 1]);
        return -msg[1];
    }
    return 0;
}

/* ------------------------------------------------------------------ run-scoped paths */

static int janitor_fd = -1;     /* the write end of the watcher's pipe */
static pid_t janitor_pid = -1;

/* On the way out: the pipe closes, the watcher removes the run's files and exits, and is
 * reaped here (up to 5 s, then left to finish on its own, as after a SIGKILL of qsl-run):
 * a run that ends normally or by a signal leaves no process behind, not even for a moment. */
static void janitor_finish(void)
{
    if (janitor_fd < 0)
        return;
    close(janitor_fd);
    janitor_fd = -1;
    for (uint64_t until = qsl_clock_ns() + 5000000000ull; qsl_clock_ns() < until;) {
        pid_t r = waitpid(janitor_pid, NULL, WNOHANG);
        if (r == janitor_pid || (r < 0 && errno != EINTR))
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    janitor_pid = -1;
}

/* What the watcher runs: collect "rm PATH" / "rmdir PATH" lines until EOF, then remove. */
static const char janitor_script[] =
    "trap '' INT TERM HUP\n"
    "while IFS= read -r l; do set -- \"$@\" \"$l\"; done\n"
    "for l; do case $l in 'rm '*) rm -rf -- \"${l#rm }\";; "
    "'rmdir '*) rmdir -- \"${l#rmdir }\" 2>/dev/null;; esac; done\n";

static int janitor_start(void)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(pfd[0]);
        close(pfd[1]);
        return -e;
    }
    if (pid == 0) {             /* async-signal-safe calls only until exec */
        setsid();
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        int null = open("/dev/null", O_RDWR);
        dup2(pfd[0], 0);
        if (null >= 0) {        /* hold none of the parent's output pipes open */
            dup2(null, 1);
            dup2(null, 2);
        }
        syscall(SYS_close_range, 3u, ~0u, 0u);
        execl("/bin/sh", "sh", "-c", janitor_script, (char *)NULL);
        _exit(127);
    }
    close(pfd[0]);
    janitor_fd = pfd[1];
    janitor_pid = pid;
    return 0;
}

int qsl_proc_remove_at_exit(const char *path, int rmdir_only)
{
    if (strchr(path, '\n') || !*path)
        return -EINVAL;
    if (janitor_fd < 0) {
        int rc = janitor_start();
        if (rc != 0)
            return rc;
    }
    char line[4200];
    int n = snprintf(line, sizeof line, "%s %s\n", rmdir_only ? "rmdir" : "rm", path);
    if (n < 0 || (size_t)n >= sizeof line)
        return -ENAMETOOLONG;
    for (int off = 0; off < n;) {
        ssize_t w = write(janitor_fd, line + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        off += (int)w;
    }
    return 0;
}

const char *qsl_proc_run_dir(void)
{
    static char dir[64];
    if (dir[0])
        return dir;
    char tmpl[] = "/tmp/qsl-run.XXXXXX";
    if (!mkdtemp(tmpl))
        return NULL;
    int rc = qsl_proc_remove_at_exit(tmpl, 0);
    if (rc != 0) {
        rmdir(tmpl);
        errno = -rc;
        return NULL;
    }
    memcpy(dir, tmpl, sizeof tmpl);
    return dir;
}

int qsl_proc_adopt_child(struct qsl_proc *p)
{
    if (!p->wrapped || p->pid <= 0)
        return -EINVAL;
    struct qsl_proc_stat self;
    int rc = qsl_procfs_stat(p->pid, &self);
    if (rc != 0)
        return rc;
    DIR *d = opendir("/proc");
    if (!d)
        return -errno;
    pid_t found = 0;
    int many = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        struct qsl_proc_stat st;
        /* a child still named as the wrapper has not exec'd the program yet, or is one of
         * the wrapper's own (strace forks one to probe ptrace): not it */
        if (*end || pid <= 0 || qsl_procfs_stat((pid_t)pid, &st) != 0 || st.ppid != p->pid ||
            strcmp(st.comm, self.comm) == 0)
            continue;
        many |= found != 0;
        found = (pid_t)pid;
    }
    closedir(d);
    if (many)
        return -EBUSY;
    if (found)
        p->target = found;
    return found;
}
