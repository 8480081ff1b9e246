/*
 * proc.h - child processes: spawn, read their ready/result lines, stop, reap.
 *
 * A child runs in a process group of its own (a Ctrl-C at the terminal
 * reaches the parent only, which then stops its children in order), with
 * PR_SET_PDEATHSIG so it dies with the parent even when the parent is killed
 * outright, its stdin on /dev/null (or a pipe the parent holds: closing it is how
 * a child such as an ssh carrying a remote role is asked to stop), its stdout on a pipe the parent reads
 * (lines), its stderr in an unlinked file (a chatty child can never block on
 * a full pipe), and no other descriptor (close_range before exec). A child
 * may be wrapped (strace -f -c ...): the process to signal is then the
 * wrapped program, whose pid its ready line reports, never the wrapper,
 * because strace writes its summary only when its tracee exits on its own.
 * Every child not yet reaped is in a registry, killed and reaped by
 * qsl_proc_reap_all on the way out.
 */
#ifndef QSL_PROC_H
#define QSL_PROC_H

#include <sched.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

struct qsl_proc_spec {
    const char *const *argv;        /* the whole command, wrapper first; NULL-terminated */
    int wrapped;                    /* argv starts with a wrapper: signal the ready line's pid */
    int netns;                      /* a new network namespace, loopback up */
    pid_t netns_of;                 /* join this process's network namespace; 0 = no */
    long nofile;                    /* RLIMIT_NOFILE; 0 = inherit */
    int cpu;                        /* pin to this CPU; -1 = any */
    const cpu_set_t *cpus;          /* or to this set; NULL = any */
    const char *const *env;         /* "K=V" to add, NULL-terminated, or NULL */
    int stdin_pipe;                 /* stdin a pipe the parent holds open (else /dev/null) */
};

struct qsl_proc {
    pid_t pid;                      /* the direct child (the wrapper, when wrapped); -1 none */
    pid_t target;                   /* what stop() signals */
    int wrapped;
    int pidfd, out_fd, err_fd;      /* -1 when closed */
    int in_fd;                      /* the write end of a stdin pipe; -1 none or closed */
    char *out;                      /* stdout so far (at most QSL_PROC_OUT_MAX kept) */
    size_t out_len, out_cap, scan;  /* scan: where the next line search starts */
    int reaped, killed, status;     /* status: wait4's */
    struct rusage ru;
    struct qsl_proc *next;          /* registry of the unreaped */
};

#define QSL_PROC_OUT_MAX (1u << 20)

/* A closed handle: safe to close, never started. */
void qsl_proc_init(struct qsl_proc *p);

/*
 * Start a child. 0, or -errno with what failed in err ("fork", or the set-up
 * stage in the child before exec: "network namespace", "RLIMIT_NOFILE",
 * "exec", ...); a child that failed before exec is already reaped.
 */
int qsl_proc_spawn(struct qsl_proc *p, const struct qsl_proc_spec *s, char *err, size_t cap);

/* A caller's stop test while waiting (a signal arrived): nonzero ends the wait. */
typedef int (*qsl_proc_stop_fn)(void *ctx);

enum qsl_proc_wait {
    QSL_PROC_TIMEOUT = 0,           /* the deadline passed */
    QSL_PROC_EXITED = 1,            /* the child exited and is reaped */
    QSL_PROC_LINE = 2,              /* a line starting with the word is complete */
    QSL_PROC_STOPPED = 3            /* stop_fn said so */
};

/*
 * Wait until the child exits (and reap it), a complete line starting with
 * word arrives (word NULL: do not look), timeout_ms passes (< 0: none), or
 * stop(ctx) is nonzero. Reads the child's stdout meanwhile.
 */
enum qsl_proc_wait qsl_proc_wait(struct qsl_proc *p, double timeout_ms, const char *word,
                                 qsl_proc_stop_fn stop, void *ctx);

/* Read what stdout has now, without blocking. */
void qsl_proc_read(struct qsl_proc *p);

/* The next complete line starting with word (from scan on), taking it; NULL if none yet. */
const char *qsl_proc_take_line(struct qsl_proc *p, const char *word, size_t *len);
/* The last complete line starting with word, without taking anything; NULL if none. */
const char *qsl_proc_last_line(struct qsl_proc *p, const char *word, size_t *len);

/* 1 when the child is (now) reaped, without blocking. */
int qsl_proc_try_reap(struct qsl_proc *p);

/* A wrapped child that prints no ready line (a program qsl did not write, under strace):
 * its wrapper's own child, once the wrapper has started it (exec'd: named otherwise than
 * the wrapper), becomes the process stop() and signals reach. The pid, 0 while the wrapper has none yet, -EBUSY when it has
 * several (which one is meant is not known), -EINVAL when p is not wrapped. */
int qsl_proc_adopt_child(struct qsl_proc *p);

/* Close the child's stdin pipe (its end of input: a remote role's stop); no-op without one. */
void qsl_proc_close_stdin(struct qsl_proc *p);

/* With a stdin pipe: closed first, up to grace_ms for the child to end by itself. Then
 * TERM to the target, up to grace_ms, then KILL to the whole group; reaped after. */
void qsl_proc_stop(struct qsl_proc *p, double grace_ms, qsl_proc_stop_fn stop, void *ctx);

/* KILL the target and the child's process group, then reap (blocking). */
void qsl_proc_kill(struct qsl_proc *p);

/* The last (at most cap - 1) bytes of the child's stderr, trailing blanks cut; NUL-ended. */
size_t qsl_proc_err_tail(const struct qsl_proc *p, char *buf, size_t cap);

/* Kill if running, reap, close everything; the handle is then closed. */
void qsl_proc_close(struct qsl_proc *p);

/* Kill and reap every child not yet reaped: the last line of defence on the way out. */
void qsl_proc_reap_all(void);

/*
 * Run-scoped paths, removed when this process ends however it ends (SIGKILL
 * too): a watcher (/bin/sh, started at the first call, in a session of its
 * own, ignoring INT, TERM and HUP, so a Ctrl-C or a kill of the group does not
 * take it first) reads paths from a pipe only this process holds open, and at
 * its end of file removes them: a file or a whole directory ("rm"), or an
 * empty directory only (rmdir_only). The watcher outlives this process by
 * design; it exits as soon as it has removed them. 0, or -errno (-EINVAL for
 * a path with a newline).
 */
int qsl_proc_remove_at_exit(const char *path, int rmdir_only);

/* A directory for this run's files (/tmp/qsl-run.XXXXXX, mode 0700), made at
 * the first call and removed with everything in it when this process ends
 * (qsl_proc_remove_at_exit). NULL, errno set, when it cannot be made. */
const char *qsl_proc_run_dir(void);

/* "word key=value key=value": one field at a time. */
struct qsl_proc_field {
    const char *key, *val;
    size_t klen, vlen;
};

/*
 * The fields of a line after its first word into f (at most max). Returns
 * their number, or -1 - i when the i-th token is not key=value with a key of
 * [a-z_][a-z0-9_]*.
 */
int qsl_proc_fields(const char *line, size_t len, struct qsl_proc_field *f, int max);

#endif
