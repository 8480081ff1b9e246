/*
 * drops.bpf.c - the kernel's own account of every packet it drops: a CO-RE program on
 * the tp_btf/kfree_skb tracepoint (since 5.17 every drop passes there with an enum
 * skb_drop_reason; a packet consumed normally goes to consume_skb instead) that counts
 * drops per (network namespace, reason, ethertype, IP protocol) in the namespaces
 * userspace watches.
 *
 * Only the fields read are declared, with preserve_access_index: libbpf relocates their
 * offsets against the running kernel's BTF, so the build needs no vmlinux.h and one
 * object runs on any kernel that has the tracepoint and BTF.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "drops_map.h"

struct ns_common { unsigned int inum; } __attribute__((preserve_access_index));
struct net { struct ns_common ns; } __attribute__((preserve_access_index));
typedef struct { struct net *net; } possible_net_t;
struct net_device { possible_net_t nd_net; } __attribute__((preserve_access_index));
struct sock_common { possible_net_t skc_net; } __attribute__((preserve_access_index));
struct sock { struct sock_common __sk_common; } __attribute__((preserve_access_index));
struct sk_buff {
    struct net_device *dev;
    struct sock *sk;
    __be16 protocol;
    __u16 network_header;
    unsigned char *head;
} __attribute__((preserve_access_index));

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, QSL_DROPS_MAX_WATCHED);
    __type(key, __u32);
    __type(value, __u8);
} watched SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, QSL_DROPS_MAX_KEYS);
    __type(key, struct qsl_drops_key);
    __type(value, __u64);
} drops SEC(".maps");

/* Every run, by reason, in every namespace: set against the tracepoint's own count (perf)
 * it shows whether the kernel ran the program for every drop it made. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, QSL_DROPS_RAN_SLOTS);
    __type(key, __u32);
    __type(value, __u64);
} ran SEC(".maps");

/* Counted where the map had no room: never silently lost. */
__u64 overflow = 0;

/* The namespace of the socket the kernel names as the receiver (rx_sk, since 6.11), else
 * of the skb's own socket, else of its device. Receiver first: UDP's batched enqueue
 * (6.18) drops a batch after udp_set_dev_scratch() has overwritten skb->dev with
 * scratch bits, so only rx_sk says whose drop it was. A send-side drop (QDISC_DROP) has
 * no rx_sk and its sender's socket; a receive-side one before the socket is found, the
 * device it arrived on, in the receiver's namespace. */
static __always_inline __u32 netns_of(struct sk_buff *skb, struct sock *rx_sk)
{
    if (rx_sk)
        return BPF_CORE_READ(rx_sk, __sk_common.skc_net.net, ns.inum);
    struct sock *sk = BPF_CORE_READ(skb, sk);
    if (sk)
        return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
    struct net_device *dev = BPF_CORE_READ(skb, dev);
    if (dev)
        return BPF_CORE_READ(dev, nd_net.net, ns.inum);
    return 0;
}

/* The transport protocol from the network header, when the skb has one: UDP datagrams of
 * an experiment apart from the IGMP or neighbour traffic of the same namespace. */
static __always_inline __u8 ip_proto_of(struct sk_buff *skb, __u16 ethertype)
{
    __u16 nh = BPF_CORE_READ(skb, network_header);
    unsigned char *head = BPF_CORE_READ(skb, head);
    __u8 proto = 0;
    if (nh == (__u16)~0U || !head)
        return 0;
    if (ethertype == bpf_htons(0x0800))
        bpf_probe_read_kernel(&proto, 1, head + nh + 9);    /* iphdr.protocol */
    else if (ethertype == bpf_htons(0x86DD))
        bpf_probe_read_kernel(&proto, 1, head + nh + 6);    /* ipv6hdr.nexthdr */
    return proto;
}

static __always_inline int count(struct sk_buff *skb, unsigned int reason, struct sock *rx_sk)
{
    struct qsl_drops_key k = {0};
    __u32 slot = qsl_drops_ran_slot(reason);
    __u64 *runs = bpf_map_lookup_elem(&ran, &slot);
    if (runs)
        __sync_fetch_and_add(runs, 1);
    k.netns = netns_of(skb, rx_sk);
    if (!bpf_map_lookup_elem(&watched, &k.netns))
        return 0;
    k.reason = reason;
    k.protocol = BPF_CORE_READ(skb, protocol);
    k.ip_proto = ip_proto_of(skb, k.protocol);
    __u64 one = 1, *v = bpf_map_lookup_elem(&drops, &k);
    if (v) {
        __sync_fetch_and_add(v, 1);
        return 0;
    }
    if (bpf_map_update_elem(&drops, &k, &one, BPF_NOEXIST) == 0)
        return 0;
    v = bpf_map_lookup_elem(&drops, &k);     /* another CPU made it first */
    if (v)
        __sync_fetch_and_add(v, 1);
    else
        __sync_fetch_and_add(&overflow, 1);
    return 0;
}

/* Userspace loads exactly one of the two, by the tracepoint's arity in the kernel's BTF:
 * the verifier refuses a read of an argument the tracepoint does not have. */
SEC("tp_btf/kfree_skb")
int BPF_PROG(on_kfree_skb, struct sk_buff *skb, void *location, unsigned int reason)
{
    return count(skb, reason, 0);
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(on_kfree_skb_rx_sk, struct sk_buff *skb, void *location, unsigned int reason,
             struct sock *rx_sk)
{
    return count(skb, reason, rx_sk);
}

char LICENSE[] SEC("license") = "GPL";
