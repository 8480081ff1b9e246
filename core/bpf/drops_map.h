/*
 * drops_map.h - the map layout core/bpf/drops.bpf.c and core/kernel.c share.
 */
#ifndef QSL_DROPS_MAP_H
#define QSL_DROPS_MAP_H

#define QSL_DROPS_MAX_WATCHED 256       /* namespaces one run watches at once */
#define QSL_DROPS_MAX_KEYS 16384        /* (namespace, reason, protocol) triples */
#define QSL_DROPS_RAN_SLOTS 256         /* the program's runs by reason: core reasons, rest */

/* The slot of a reason's runs: its own for core reasons, the last for the rest (reasons
 * of a subsystem carry it in their high 16 bits). */
static inline __u32 qsl_drops_ran_slot(__u32 reason)
{
    return reason < QSL_DROPS_RAN_SLOTS - 1 ? reason : QSL_DROPS_RAN_SLOTS - 1;
}

struct qsl_drops_key {
    __u32 netns;                        /* the namespace's inode (/proc/PID/ns/net) */
    __u32 reason;                       /* enum skb_drop_reason (subsystem in the high 16 bits) */
    __u16 protocol;                     /* skb->protocol: the ethertype, network order */
    __u8 ip_proto;                      /* IPv4 protocol / IPv6 next header; 0: unknown */
    __u8 pad;
};

#endif
