#!/bin/sh
# The gateway's user space against the echo's, in TSC cycles a request between system
# calls (tests/bench_usercycles.c, preloaded), with each one's on-CPU ns a request
# (schedstat) beside it: epoll mode, 16 connections x depth 8, 100,000 requests, the two
# servers taken in turn for TRIALS rounds; min / median / max of each.
#   bench_usercycles.sh QSL_RUN PRELOAD.so [TRIALS]
set -eu
run=$1 trials=${3:-5}
so=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")     # LD_PRELOAD wants it whole
requests=100000
tmp=$(mktemp -d)
pid=
stop() {
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    pid=
}
trap 'stop; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# start a server under the preload; its port from the ready line (polled, 10 s at most)
serve() {
    : > "$tmp/ready"
    QSL_USERCYCLES_OUT="$tmp/cycles" LD_PRELOAD="$so" "$run" "$@" port=0 > "$tmp/ready" 2>/dev/null &
    pid=$!
    i=0
    while ! grep -q ' port=' "$tmp/ready"; do
        i=$((i + 1))
        if [ $i -gt 1000 ] || ! kill -0 "$pid" 2>/dev/null; then
            echo "bench_usercycles: $* did not start"; exit 1
        fi
        sleep 0.01
    done
    port=$(sed -n 's/.* port=\([0-9]*\).*/\1/p' "$tmp/ready" | head -1)
}

# one server, one load: "cycles ns" a request appended to $tmp/$1.txt
measure() {
    name=$1; shift
    rm -f "$tmp/cycles"
    serve "$@"
    c0=$(cut -d' ' -f1 "/proc/$pid/schedstat")
    "$run" load "port=$port" connections=16 depth=8 "requests=$requests" $load_args > "$tmp/load" ||
        { echo "bench_usercycles: the load against $name failed:"; cat "$tmp/load"; exit 1; }
    c1=$(cut -d' ' -f1 "/proc/$pid/schedstat")
    stop
    grep -q "completed=$requests " "$tmp/load" ||
        { echo "bench_usercycles: not every request of $name was answered"; exit 1; }
    u=$(sed -n 's/^user_cycles=\([0-9]*\) .*/\1/p' "$tmp/cycles")
    [ -n "$u" ] || { echo "bench_usercycles: $name wrote no cycle count"; exit 1; }
    echo "$((u / requests)) $(((c1 - c0) / requests))" >> "$tmp/$name.txt"
    [ "$name" != gateway ] || cp "$tmp/ready" "$tmp/gateway.result"
}

# the echo answers the gateway's mean bytes a request, as qsl.gateway.versus_echo does
load_args=
measure gateway gateway
rm -f "$tmp/gateway.txt"
in=$(sed -n 's/.* bytes_in=\([0-9]*\) .*/\1/p' "$tmp/gateway.result")
out=$(sed -n 's/.* bytes_out=\([0-9]*\) .*/\1/p' "$tmp/gateway.result")
req=$(((in + requests / 2) / requests)) rep=$(((out + requests / 2) / requests))
t=0
while [ $t -lt "$trials" ]; do
    load_args=
    measure gateway gateway
    load_args="pattern=echo echo_request=$req echo_reply=$rep"
    measure echo echo mode=epoll "request=$req" "reply=$rep"
    t=$((t + 1))
done
summary() {
    sort -n -k"$2" "$tmp/$1.txt" | awk -v k="$2" '{ v[NR] = $k }
        END { printf "min %6d  median %6d  max %6d", v[1], v[int((NR + 1) / 2)], v[NR] }'
}
echo "   $trials rounds, $requests requests each, the echo answering $req / $rep bytes"
printf '   %-8s user cycles a request  %s   on-CPU ns a request  %s\n' gateway \
    "$(summary gateway 1)" "$(summary gateway 2)"
printf '   %-8s user cycles a request  %s   on-CPU ns a request  %s\n' echo \
    "$(summary echo 1)" "$(summary echo 2)"
paste "$tmp/gateway.txt" "$tmp/echo.txt" | awk '{ print $2 / $4 }' | sort -n |
    awk '{ v[NR] = $1 } END { printf "   gateway / echo on-CPU, round by round: min %.3f  median %.3f  max %.3f\n", v[1], v[int((NR + 1) / 2)], v[NR] }'
