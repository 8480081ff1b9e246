/*
 * bench_startup.c - how long `qsl-run EMPTY.lua` takes from fork to reap, and
 * its peak RSS, next to /bin/true (the floor of fork + exec) in the same run.
 *
 *   bench_startup QSL_RUN EMPTY.lua [runs]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One run: wall ms; *rss_kb gets the child's peak RSS. -1 on failure. */
static double run_once(char *const argv[], long *rss_kb)
{
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
        return -1;
    *rss_kb = ru.ru_maxrss;
    return now_ms() - t0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int report(const char *name, char *const argv[], int runs)
{
    double t[1000];
    long rss = 0, max_rss = 0;
    for (int i = 0; i < runs; i++) {
        t[i] = run_once(argv, &rss);
        if (t[i] < 0) {
            fprintf(stderr, "bench_startup: %s failed\n", argv[0]);
            return 1;
        }
        if (rss > max_rss)
            max_rss = rss;
    }
    qsort(t, (size_t)runs, sizeof t[0], cmp);
    printf("%-26s min %6.2f  median %6.2f  max %6.2f ms   peak RSS %5.1f MB  (%d runs)\n", name,
           t[0], t[runs / 2], t[runs - 1], (double)max_rss / 1024, runs);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_startup QSL_RUN EMPTY.lua [runs]\n");
        return 1;
    }
    int runs = argc > 3 ? atoi(argv[3]) : 50;
    if (runs < 1 || runs > 1000)
        runs = 50;
    char *qsl[] = {argv[1], argv[2], NULL};
    static char true_path[] = "/bin/true";
    char *floor[] = {true_path, NULL};
    return report("/bin/true (fork+exec)", floor, runs) || report("qsl-run empty scenario", qsl, runs);
}
