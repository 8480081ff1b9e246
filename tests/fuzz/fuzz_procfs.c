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

/* snmp6's proto ends in its first '6' and a name follows it */
static int counter6(void *ctx, const char *proto, const char *name, int64_t v)
{
    size_t len = strlen(proto);
    if (len < 2 || proto[len - 1] != '6' || strchr(proto, '6') != proto + len - 1)
        abort();
    return counter(ctx, proto, name, v);
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
    qsl_procfs_parse_snmp6(t, n, counter6, NULL);
    return 0;
}
