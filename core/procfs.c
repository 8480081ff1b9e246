/*
 * procfs.c - /proc parsers and readers.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"

/* ------------------------------------------------------------------ number scanning */

/* Skip spaces, then one unsigned decimal; 0 on success. */
static int scan_u64(const char **p, const char *end, uint64_t *v)
{
    const char *s = *p;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    if (s == end || !isdigit((unsigned char)*s))
        return -EINVAL;
    uint64_t x = 0;
    for (; s < end && isdigit((unsigned char)*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -EINVAL;
        x = x * 10 + d;
    }
    if (s < end && !isspace((unsigned char)*s))
        return -EINVAL;
    *p = s;
    *v = x;
    return 0;
}

static int scan_i64(const char **p, const char *end, int64_t *v)
{
    const char *s = *p;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    int neg = s < end && *s == '-';
    if (neg)
        s++;
    uint64_t u;
    if (scan_u64(&s, end, &u) != 0 || u > (uint64_t)INT64_MAX + (uint64_t)neg)
        return -EINVAL;
    *v = neg ? (int64_t)(0 - u) : (int64_t)u;
    *p = s;
    return 0;
}

/* /proc text never holds a NUL byte; one would hide the rest of a field from
 * every string function downstream (found by fuzz_procfs) */
static int has_nul(const char *text, size_t len)
{
    return memchr(text, '\0', len) != NULL;
}

/* ------------------------------------------------------------------ stat */

int qsl_procfs_parse_stat(const char *text, size_t len, struct qsl_proc_stat *out)
{
    if (has_nul(text, len))
        return -EINVAL;
    const char *end = text + len;
    const char *open = memchr(text, '(', len);
    const char *close = NULL;
    for (const char *s = end; s > text; s--)
        if (s[-1] == ')') {
            close = s - 1;
            break;
        }
    if (!open || !close || close < open)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    const char *p = text;
    int64_t pid;
    if (scan_i64(&p, open, &pid) != 0 || pid <= 0 || pid > INT32_MAX)
        return -EINVAL;
    out->pid = (int)pid;
    size_t clen = (size_t)(close - open - 1);
    if (clen >= sizeof out->comm)
        clen = sizeof out->comm - 1;
    memcpy(out->comm, open + 1, clen);
    out->comm[clen] = '\0';
    p = close + 1;
    while (p < end && *p == ' ')
        p++;
    if (p == end || isspace((unsigned char)*p))
        return -EINVAL;
    out->state = *p++;
    /* fields 4.. after state, by proc(5) number; most are unsigned and may
     * use all 64 bits (rsslim is 2^64-1 when unlimited), a few are signed */
    uint64_t f[40];
    int n = 4;
    for (; n < 40; n++) {
        while (p < end && *p == ' ')
            p++;
        if (p < end && *p == '-') {
            int64_t sv;
            if (scan_i64(&p, end, &sv) != 0)
                break;
            f[n] = (uint64_t)sv;
        } else if (scan_u64(&p, end, &f[n]) != 0) {
            break;
        }
    }
    if (n <= 39)        /* kernels since 2.2 have field 39 (processor) */
        return -EINVAL;
    out->ppid = (int)f[4];
    out->minflt = f[10];
    out->majflt = f[12];
    out->utime = f[14];
    out->stime = f[15];
    out->num_threads = (int64_t)f[20];
    out->starttime = f[22];
    out->vsize = f[23];
    out->rss = (int64_t)f[24];
    out->processor = (int)f[39];
    return 0;
}

/* ------------------------------------------------------------------ schedstat */

int qsl_procfs_parse_schedstat(const char *text, size_t len, struct qsl_proc_schedstat *out)
{
    const char *p = text, *end = text + len;
    if (has_nul(text, len))
        return -EINVAL;
    if (scan_u64(&p, end, &out->cpu_ns) || scan_u64(&p, end, &out->wait_ns) ||
        scan_u64(&p, end, &out->timeslices))
        return -EINVAL;
    while (p < end && isspace((unsigned char)*p))
        p++;
    return p == end ? 0 : -EINVAL;
}

/* ------------------------------------------------------------------ key: value */

int qsl_procfs_parse_kv(const char *text, size_t len, qsl_procfs_kv_fn fn, void *ctx)
{
    const char *p = text, *end = text + len;
    char key[128], value[512];
    if (has_nul(text, len))
        return -EINVAL;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if (eol > p) {
            const char *colon = memchr(p, ':', (size_t)(eol - p));
            if (!colon || colon == p || (size_t)(colon - p) >= sizeof key)
                return -EINVAL;
            memcpy(key, p, (size_t)(colon - p));
            key[colon - p] = '\0';
            const char *v = colon + 1, *ve = eol;
            while (v < ve && isspace((unsigned char)*v))
                v++;
            while (ve > v && isspace((unsigned char)ve[-1]))
                ve--;
            size_t vlen = (size_t)(ve - v) < sizeof value - 1 ? (size_t)(ve - v) : sizeof value - 1;
            memcpy(value, v, vlen);
            value[vlen] = '\0';
            int rc = fn(ctx, key, value);
            if (rc)
                return rc;
        }
        p = eol + 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ snmp */

static const char *skip_blank(const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    return s;
}

/* Copy the next blank-separated word of [*p, end) into w; 0 when none (or too long). */
static int next_word(const char **p, const char *end, char *w, size_t cap)
{
    const char *s = skip_blank(*p, end);
    const char *e = s;
    while (e < end && *e != ' ' && *e != '\t')
        e++;
    if (e == s || (size_t)(e - s) >= cap)
        return 0;
    memcpy(w, s, (size_t)(e - s));
    w[e - s] = '\0';
    *p = e;
    return 1;
}

static const char *line_end(const char *p, const char *end)
{
    const char *e = memchr(p, '\n', (size_t)(end - p));
    return e ? e : end;
}

int qsl_procfs_parse_snmp(const char *text, size_t len, qsl_procfs_counter_fn fn, void *ctx)
{
    const char *p = text, *end = text + len;
    if (has_nul(text, len))
        return -EINVAL;
    while (p < end) {
        const char *h = p, *he = line_end(h, end);
        if (he == h) {
            p = he + 1;
            continue;
        }
        if (he == end)
            return -EINVAL;                     /* a header without its values */
        const char *v = he + 1, *ve = line_end(v, end);
        char hp[64], vp[64], name[128], num[32];
        if (!next_word(&h, he, hp, sizeof hp) || !next_word(&v, ve, vp, sizeof vp) ||
            strcmp(hp, vp) != 0 || strlen(hp) < 2 || hp[strlen(hp) - 1] != ':')
            return -EINVAL;             /* "Proto:" with a name before the colon */
        hp[strlen(hp) - 1] = '\0';
        for (;;) {
            int has_name = next_word(&h, he, name, sizeof name);
            int has_num = next_word(&v, ve, num, sizeof num);
            if (has_name != has_num)
                return -EINVAL;
            if (!has_name)
                break;
            const char *q = num;
            int64_t value;
            if (scan_i64(&q, num + strlen(num), &value) != 0)
                return -EINVAL;
            int rc = fn(ctx, hp, name, value);
            if (rc)
                return rc;
        }
        p = ve < end ? ve + 1 : end;
    }
    return 0;
}

int qsl_procfs_parse_snmp6(const char *text, size_t len, qsl_procfs_counter_fn fn, void *ctx)
{
    const char *p = text, *end = text + len;
    if (has_nul(text, len))
        return -EINVAL;
    while (p < end) {
        const char *le = line_end(p, end);
        char word[128], num[32], proto[16];
        if (!next_word(&p, le, word, sizeof word)) {
            p = le < end ? le + 1 : end;
            continue;
        }
        const char *six = strchr(word, '6');
        size_t plen = six ? (size_t)(six - word) + 1 : 0;
        if (!six || plen < 2 || plen >= sizeof proto || six[1] == '\0' ||
            !next_word(&p, le, num, sizeof num) || skip_blank(p, le) != le)
            return -EINVAL;             /* no "Proto6", no name after it, not two words */
        memcpy(proto, word, plen);
        proto[plen] = '\0';
        const char *q = num;
        int64_t value;
        if (scan_i64(&q, num + strlen(num), &value) != 0)
            return -EINVAL;
        int rc = fn(ctx, proto, six + 1, value);
        if (rc)
            return rc;
        p = le < end ? le + 1 : end;
    }
    return 0;
}

/* ------------------------------------------------------------------ readers */

long qsl_procfs_read(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = 0;
    for (;;) {
        if (len + 1 >= cap) {
            close(fd);
            return -E2BIG;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            return -e;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return (long)len;
}

int qsl_procfs_stat(pid_t pid, struct qsl_proc_stat *out)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    long n = qsl_procfs_read(path, buf, sizeof buf);
    return n < 0 ? (int)n : qsl_procfs_parse_stat(buf, (size_t)n, out);
}

int qsl_procfs_schedstat(pid_t pid, struct qsl_proc_schedstat *out)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/schedstat", (int)pid);
    long n = qsl_procfs_read(path, buf, sizeof buf);
    return n < 0 ? (int)n : qsl_procfs_parse_schedstat(buf, (size_t)n, out);
}

long qsl_procfs_fd_count(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -errno;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    /* opendir's own descriptor is listed when pid is ourselves */
    if (pid == getpid())
        n--;
    closedir(d);
    return n;
}

int qsl_procfs_sysctl(const char *name, int64_t *value)
{
    char path[256] = "/proc/sys/", buf[128];
    size_t at = strlen(path), nlen = strlen(name);
    if (nlen == 0 || at + nlen >= sizeof path || strstr(name, ".."))
        return -EINVAL;
    for (size_t i = 0; i < nlen; i++) {
        char c = name[i];
        if (c == '/')
            return -EINVAL;             /* a dotted name, never a path */
        path[at + i] = c == '.' ? '/' : c;
    }
    path[at + nlen] = '\0';
    long n = qsl_procfs_read(path, buf, sizeof buf);
    if (n < 0)
        return (int)n;
    const char *p = buf;
    if (scan_i64(&p, buf + n, value) != 0)
        return -EINVAL;
    while (*p && isspace((unsigned char)*p))
        p++;
    return *p ? -EINVAL : 0;            /* "4096 87380 6291456" is not one integer */
}

long qsl_procfs_clock_ticks(void)
{
    return sysconf(_SC_CLK_TCK);
}
