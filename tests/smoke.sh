#!/bin/sh
# Scenario smoke tests: each shipped scenario in a quick mode, into a scratch
# directory, then its JSON artifact validated (tests/validate_artifact.lua), its summary
# printed, and `qsl-run show` and `qsl-run compare` run on it (against itself: every
# ratio 1, no warning).
# Usage: tests/smoke.sh QSL_RUN
set -u
run=${1:-build/qsl-run}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT INT TERM
passed=0 failed=0

build_has_io_uring() {   # the io_uring mode runs here (else its passes are skipped)
    echo 'if not require("qsl").io_uring() then os.exit(1) end' > "$out/io_uring.lua"
    "$run" "$out/io_uring.lua"
}

can_make_namespaces() {
    echo 'if not require("qsl.roles").isolated() then os.exit(1) end' > "$out/netns.lua"
    "$run" "$out/netns.lua"
}

check() {   # scenario file, artifact name, expectation, scenario args...
    name=$1 artifact=$2 expect=$3
    shift 3
    json="$out/$artifact.json"
    if "$run" "scenarios/$name.lua" "out=$out" "$@" >"$out/$name.log" 2>&1 &&
       grep -q "^wrote $out/$artifact.txt" "$out/$name.log" &&
       "$run" tests/validate_artifact.lua "path=$json" "expect=$expect" >>"$out/$name.log" 2>&1 &&
       "$run" show "$json" >"$out/$name.show" 2>>"$out/$name.log" && grep -q '^ *-' "$out/$name.show" &&
       "$run" compare "$json" "$json" >"$out/$name.cmp" 2>>"$out/$name.log" &&
       grep -q 'B/A' "$out/$name.cmp" && ! grep -q 'warning' "$out/$name.cmp"; then
        passed=$((passed + 1))
        echo "smoke: $name ok"
    else
        failed=$((failed + 1))
        echo "smoke: $name FAILED:"
        cat "$out/$name.log" "$out/$name.show" "$out/$name.cmp" 2>/dev/null | sed 's/^/    /'
    fi
}

check engine_flow engine_flow '#doc.results.trials == 2 and doc.results.trials[1].ns_per_order > 0' \
    orders=20000 trials=2
check TEMPLATE template '#doc.results.trials == 2 and doc.results.trials[1].kernel_drops > 0' \
    datagrams=1000 trials=2
check feed_throughput feed_throughput \
    '#doc.results.runs == 3 and doc.results.runs[1].variant == "raw" and doc.results.runs[2].variant == "raw_mmsg" and doc.results.runs[2].send_calls * 32 < doc.results.runs[1].send_calls and doc.results.runs[3].vs_raw > 0 and doc.results.runs[3].vs_raw_mmsg > 0 and doc.results.runs[3].send_calls == doc.results.runs[2].send_calls' \
    orders=2000 trials=1 variants=raw,raw_mmsg,single
# No loss is demanded of the large buffer only where the kernel granted room for the whole
# burst (a small datagram is charged about 832 bytes of truesize here; 1024 leaves headroom):
# 300 orders fit the 425,984 bytes a distribution's rmem_max of 212,992 grants an 8 MiB request.
check rcvbuf_burst rcvbuf_burst \
    '#doc.results.trials == 2 and #doc.results.unreconciled == 0 and (doc.results.trials[2].loss == 0 or doc.results.trials[2].published * 1024 > doc.results.trials[2].granted_rcvbuf) and doc.results.trials[2].published * 1024 <= 425984' \
    sizes=2048,8388608 trials=1 orders=300 modes=recvmmsg
if build_has_io_uring; then
check rcvbuf_burst rcvbuf_burst \
    '#doc.results.trials == 2 and #doc.results.unreconciled == 0 and doc.results.trials[1].mode == "io_uring"' \
    sizes=2048,8388608 trials=1 orders=300 modes=io_uring
fi
check rcvbuf_burst rcvbuf_burst \
    '#doc.results.trials == 1 and doc.results.trials[1].published_datagrams < doc.results.trials[1].published / 10' \
    sizes=8388608 trials=1 orders=5000 packed=true gso=true modes=recvmmsg
check rcvbuf_sweep rcvbuf_sweep \
    '#doc.results.sweep == 1 and #doc.results.trials >= 1 and (doc.results.sweep[1].zero_loss_up_to or doc.results.sweep[1].loss_from) ~= nil' \
    sizes=0 orders=2000 steps=2 rate_min=200000 modes=recvmmsg
check counting_cost counting_cost \
    '#doc.results.rows >= 4 and doc.results.rows[1].drain_rate > 0 and #doc.results.ratios >= 1 and doc.results.ratios[1].publish_ratio > 0' \
    orders=20000 trials=2
check feed_drain feed_drain \
    '#doc.results.cells >= 4 and doc.results.cells[1].mode == "raw" and doc.results.cells[1].vs_raw == 1 and doc.results.trials[1].datagrams > 0' \
    orders=20000 trials=1
if can_make_namespaces; then     # path_loss needs two network namespaces (else it skips)
check path_loss path_loss \
    '#doc.results.trials == 1 and doc.results.trials[1].ok == "yes" and doc.results.trials[1].queue > 0 and doc.results.trials[1].received + doc.results.trials[1].queue + doc.results.trials[1].wire + doc.results.trials[1].socket + doc.results.trials[1].sender == doc.results.trials[1].sent and doc.results.trials[1].wire > 0' \
    orders=3000 rates=100000 rcvbufs=2048 link_rate=100000 loss=0.05 trials=1
check path_loss path_loss \
    '#doc.results.trials == 1 and doc.parameters.path == "ssh" and doc.results.trials[1].received + doc.results.trials[1].queue + doc.results.trials[1].wire + doc.results.trials[1].socket + doc.results.trials[1].sender == doc.results.trials[1].sent' \
    orders=3000 rates=100000 rcvbufs=2048 link_rate=100000 loss=0.05 trials=1 path=ssh
check path_loss path_loss \
    '#doc.results.trials == 1 and doc.results.catch_up == false and doc.results.trials[1].burst <= 64 and doc.results.trials[1].moved >= 0 and doc.results.trials[1].ok == "yes" and doc.results.cpus.a[1] == 0 and doc.results.cpus.b[1] == 0 and doc.provenance.links[1].b.mtu == 1280' \
    orders=3000 rates=100000 rcvbufs=2048 link_rate=100000 loss=0.05 trials=1 catch_up=false cpus_a=0 cpus_b=0 mtu=1280 offload=gro:off
if [ -f "$out/path_loss.txt" ] && grep -q '^  link         qb mtu 1280, gso [a-z]*, gro off' "$out/path_loss.txt"; then
    passed=$((passed + 1)); echo "smoke: path_loss's provenance has the link's mtu and offloads"
else
    failed=$((failed + 1)); echo "smoke: path_loss's provenance lacks the link's mtu or offloads"
fi
# two routers: loss attributed to each hop's queue, every packet followed hop by hop
check path_loss path_loss \
    '#doc.results.trials == 1 and #doc.results.unreconciled == 0 and doc.results.hops == 2 and #doc.results.per_hop == 3 and doc.results.per_hop[1].dropped > 0 and doc.results.per_hop[2].dropped > 0 and doc.results.per_hop[2].forwarded == doc.results.per_hop[1].sent and doc.results.per_hop[3].forwarded == doc.results.per_hop[2].sent and doc.results.trials[1].routers == doc.results.per_hop[2].dropped + doc.results.per_hop[3].dropped and (doc.results.per_hop[2].kernel == "n/a" or doc.results.per_hop[2].kernel <= doc.results.per_hop[2].dropped)' \
    orders=3000 rates=100000 rcvbufs=2048 link_rate=100000 loss=0.05 trials=1 hops=2 "hop_link=tbf:rate=20000,burst=1514,limit=1514;pfifo:limit=5"
check path_loss path_loss \
    '#doc.results.trials == 1 and #doc.results.unreconciled == 0 and doc.results.hops == 1 and doc.parameters.ipv6 == true and doc.results.per_hop[2].forwarded == doc.results.per_hop[1].sent' \
    orders=3000 rates=100000 rcvbufs=2048 link_rate=100000 loss=0.05 trials=1 hops=1 ipv6=true hop_link=tbf:rate=20000,burst=1514,limit=1514
# dup=: copies made at a's way out, counted by the rule and by the subscriber alike
check path_loss path_loss \
    '#doc.results.trials == 1 and #doc.results.unreconciled == 0 and doc.results.trials[1].copies > 0 and doc.results.trials[1].duplicates > 0 and doc.results.trials[1].duplicates <= doc.results.trials[1].copies and doc.results.trials[1].received + doc.results.trials[1].socket == doc.results.trials[1].sent + doc.results.trials[1].copies' \
    orders=3000 rates=20000 rcvbufs=0 link_rate=2000000 loss=0 trials=1 dup=0.1
check drop_reasons drop_reasons \
    '#doc.results.trials == 3 and #doc.results.unreconciled == 0 and doc.results.trials[3].wire > 0 and doc.results.trials[1].socket > 0 and (doc.results.trials[1].SOCKET_RCVBUFF == "n/a" or doc.results.trials[1].SOCKET_RCVBUFF + doc.results.trials[1].unseen == doc.results.trials[1].socket and doc.results.trials[3].NETFILTER_DROP <= doc.results.trials[3].wire and doc.results.trials[3].NETFILTER_DROP + doc.results.trials[3].unseen >= doc.results.trials[3].wire and (doc.results.trials[3].unseen_skipped == "n/a" or doc.results.trials[3].unseen_skipped == doc.results.trials[3].unseen))' \
    orders=2000 trials=1
check rcvbuf_burst rcvbuf_burst \
    '#doc.results.trials == 2 and #doc.results.unreconciled == 0 and doc.parameters.path == "veth"' \
    sizes=2048,8388608 trials=1 orders=300 modes=recvmmsg path=veth
check rcvbuf_burst rcvbuf_burst \
    '#doc.results.trials == 1 and #doc.results.unreconciled == 0 and doc.results.trials[1].queue_drops > 0' \
    sizes=8388608 trials=1 orders=2000 modes=recvmmsg path=veth link=tbf:rate=100000,burst=4000,limit=8000
check profile_gateway profile_gateway \
    '#doc.results.pass1 == 1 and doc.parameters.path == "veth" and doc.results.pass1[1].requests == 5000' \
    requests=5000 trials=1 strace=false path=veth link=pfifo:limit=1000
# IPv6 on every path scenario: the trial's counters in snmp6 (Udp6, Ip6), books balanced
check rcvbuf_burst rcvbuf_burst \
    '#doc.results.trials == 2 and #doc.results.unreconciled == 0 and doc.parameters.ipv6 == true and doc.results.trials[1].rcvbuf_errors == doc.results.trials[1].kernel_drops and doc.results.trials[1].kernel_drops > 0' \
    sizes=2048,8388608 trials=1 orders=300 modes=recvmmsg path=veth ipv6=true
check rcvbuf_burst rcvbuf_burst \
    '#doc.results.trials == 1 and #doc.results.unreconciled == 0 and doc.parameters.ipv6 == true and doc.results.trials[1].rcvbuf_errors == doc.results.trials[1].kernel_drops' \
    sizes=2048 trials=1 orders=300 modes=recvmmsg ipv6=true
check path_loss path_loss \
    '#doc.results.trials == 1 and doc.results.trials[1].ok == "yes" and doc.parameters.ipv6 == true and doc.results.trials[1].queue > 0 and doc.results.trials[1].wire > 0' \
    orders=3000 rates=100000 rcvbufs=2048 link_rate=100000 loss=0.05 trials=1 ipv6=true
check profile_gateway profile_gateway \
    '#doc.results.pass1 == 1 and #doc.results.unreconciled == 0 and doc.parameters.ipv6 == true and doc.results.pass1[1].ip_in > 0 and doc.results.pass1[1].ip_out > 0' \
    requests=3000 trials=1 strace=false path=veth ipv6=true
check gateway_scaling gateway_scaling \
    '#doc.results.cells == 1 and #doc.results.unreconciled == 0 and doc.parameters.ipv6 == true and doc.results.runs[1].ip_in > 0' \
    connections=2 depths=4 requests=2000 trials=1 ipv6=true
check profile_gateway profile_gateway \
    '#doc.results.pass1 == 1 and doc.parameters.link_back == "htb:rate=500000,ceil=1000000/pfifo:limit=100" and doc.results.pass1[1].requests == 2000' \
    requests=2000 trials=1 strace=false path=veth link_back=htb:rate=500000,ceil=1000000/pfifo:limit=100
check multicast_fanout multicast_fanout \
    '#doc.results.trials == 6 and doc.results.trials[3].subscriber == "slow" and doc.results.trials[6].peers == "all fast" and doc.results.trials[1].ok == "yes" and #doc.results.unreconciled == 0 and doc.results.trials[1].received + doc.results.trials[1].lost == doc.results.expected_messages' \
    orders=2000 rates=20000 trials=1
check multicast_fanout multicast_fanout \
    '#doc.results.trials == 2 and doc.results.trials[1].group == "ff15::77" and doc.parameters.path == "veth"' \
    orders=2000 rates=20000 trials=1 subscribers=2 path=veth ipv6=true slow_work_ns=0
check multicast_fanout multicast_fanout \
    '#doc.results.trials == 2 and doc.parameters.path == "star" and doc.results.trials[2].ok == "yes" and doc.results.trials[2].received + doc.results.trials[2].lost == doc.results.expected_messages' \
    orders=2000 rates=20000 trials=1 subscribers=2 path=star slow_work_ns=0
fi
check profile_gateway profile_gateway \
    '#doc.results.pass1 == 1 and doc.results.strace.syscalls_per_request > 0 and #doc.results.strace.syscalls > 3 and doc.results.pass1[1].cpu_vs_echo > 0 and doc.results.pass1[1].echo_cpu_ns > 0 and doc.results.strace.total.calls > 0 and doc.results.pass1[1].majflt ~= nil and doc.results.pass1[1].user_s ~= nil and doc.provenance.clk_tck > 0 and doc.provenance.machine ~= "unknown"' \
    requests=5000 strace_requests=2000 trials=1
# what the original's profile reports, in the text too: strace's % time, seconds and total
# row, major faults, user and kernel seconds, CLK_TCK, the machine and the OS
txt="$out/profile_gateway.txt"
if [ -f "$txt" ] && grep -q '% time' "$txt" && grep -q ' total ' "$txt" && grep -q 'majflt' "$txt" &&
   grep -q 'user_s' "$txt" && grep -q '^  clk_tck ' "$txt" && grep -q '^  machine ' "$txt" &&
   grep -q '^  os ' "$txt"; then
    passed=$((passed + 1)); echo "smoke: profile_gateway's text has the original's figures"
else
    failed=$((failed + 1)); echo "smoke: profile_gateway's text lacks some of the original's figures"
fi
check profile_gateway profile_gateway '#doc.results.pass1 == 1 and doc.results.pass1[1].requests == 50 and doc.results.pass1[1].cpu_ns_per_round_trip > 0 and doc.results.pass1[1].user_share == nil' \
    pattern=short round_trips=50 trials=1 strace=false
check versus versus \
    '#doc.results.ratios == 4 and doc.results.ratios[1].throughput_ratio == 1 and doc.results.ratios[3].server == "target 1" and doc.results.ratios[3].cpu_ratio > 0 and doc.results.ratios[4].server == "echo"' \
    modes=epoll,blocking requests=3000 trials=1 connections=1 "targets=$run gateway port={port} mode=epoll"
check gateway_load gateway_load \
    '#doc.results.pingpong >= 4 and #doc.results.cells == #doc.results.pingpong and #doc.results.over_epoll == #doc.results.cells - 2 and doc.results.pingpong[1].shape == "ping-pong" and doc.results.pingpong[#doc.results.pingpong].shape == "pipelined" and doc.results.pingpong[#doc.results.pingpong].cpu_ratio > 0' \
    clients=1,4 requests=2000 trials=1 pingpong=500 echo_clients=4
check gateway_scaling gateway_scaling \
    '#doc.results.cells == 2 and doc.results.cells[1].segments_per_order_median > 0' \
    connections=1,2 depths=4 requests=2000 trials=1
check gateway_load gateway_load \
    '#doc.results.cells == 1 and doc.parameters.ipv6 == true and doc.results.pingpong[1].ratio > 0' \
    clients=2 modes=epoll requests=2000 trials=1 pingpong=300 echo_clients=0 ipv6=true
# qsl's own gateway as a server qsl did not write: the same columns, measured from outside
check gateway_load gateway_load \
    '#doc.results.cells == 4 and doc.results.cells[2].mode == "target" and doc.results.cells[2].throughput_median > 0 and doc.results.runs[2].server_tcp_info == nil' \
    clients=1,2 modes=epoll requests=2000 trials=1 pingpong=0 echo_clients=0 "target=$run gateway port={port}"
check gateway_scaling gateway_scaling \
    '#doc.results.cells == 2 and doc.results.cells[1].cpu_ns_per_order_median > 0 and doc.results.cells[1].segments_per_order_median > 0' \
    connections=1,2 depths=4 requests=2000 trials=1 "target=$run gateway port={port}"
check gateway_modes gateway_modes \
    '#doc.results.cells >= 1 and #doc.results.cells == #doc.results.strace and doc.results.cells[1].throughput_median > 0' \
    modes=epoll,io_uring,blocking connections=2 depths=4 requests=2000 trials=1 strace_requests=500
abuse_ok='doc.results.process.after.fds == doc.results.process.before.fds and doc.results.good_clients.errors == 0 and doc.results.classes[#doc.results.classes].served_after == 10000'
abuse_args="load_ms=500 idle=50 random=5 dribble=2 half=5 reset=3 flood=50 over=20"
# shellcheck disable=SC2086
check gateway_abuse gateway_abuse "$abuse_ok" $abuse_args
if build_has_io_uring; then
    # shellcheck disable=SC2086
    check gateway_abuse gateway_abuse "$abuse_ok" $abuse_args mode=io_uring
fi
# a bad parameter: exit 1, a message naming it, and no artifact
"$run" scenarios/engine_flow.lua "out=$out" orders=1000 trials=1 symbols=65 >/dev/null 2>"$out/bad.log"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "parameter symbols=65" "$out/bad.log"; then
    passed=$((passed + 1)); echo "smoke: bad parameter refused ok"
else
    failed=$((failed + 1)); echo "smoke: bad parameter: exit $rc"; cat "$out/bad.log"
fi
# docs/roles.md is generated from the role declarations: it must not drift
if "$run" --roles-markdown | cmp -s - docs/roles.md; then
    passed=$((passed + 1)); echo "smoke: docs/roles.md matches the declarations ok"
else
    failed=$((failed + 1)); echo "smoke: docs/roles.md differs from qsl-run --roles-markdown (regenerate it)"
fi
echo "smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
