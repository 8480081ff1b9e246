/* fuzz_procfs.c - the /proc parsers on arbitrary text (the text of a file is
 * whatever a kernel, or an attacker's process name, makes it). */
#include <stdlib.h>
#include <string.h>

#include "procfs.h"

static int kv(void *ctx, const char *k, const char *v)
{
    (void)ctx;
    return k[0] == '\0' || strlen(v) > 511 ? (abort(), 0) : 0;
}

static int counter(void *ctx, const char *proto, const char *name, int64_t v)
{
    (void)ctx;
    (void)v;
    return proto[0] == '\0' || name[0] == '\0' ? (abort(), 0) : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    const char *t = (const char *)d;
    struct qsl_proc_stat st;
    if (qsl_procfs_parse_stat(t, n, &st) == 0 && (st.pid <= 0 || strlen(st.comm) >= sizeof st.comm))
        abort();
    struct qsl_proc_schedstat ss;
    qsl_procfs_parse_schedstat(t, n, &ss);
    qsl_procfs_parse_kv(t, n, kv, NULL);
    qsl_procfs_parse_snmp(t, n, counter, NULL);
    return 0;
}
