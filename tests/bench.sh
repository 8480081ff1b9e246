#!/bin/sh
# make bench: wall-clock ns/op (min/median/max of repeated runs), then, where
# valgrind is installed, instructions per op from callgrind, which unlike time
# is repeatable on a shared, noisy machine.
set -eu
bin=${1:-build/bench_engine}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
echo "== qsl core benchmarks ($(uname -m), $(nproc) cores; times vary with load, instruction counts do not)"
"$bin" --runs "${RUNS:-7}" | tee "$tmp/times.txt"
ofloor=${OFLOOR_BIN:-$(dirname "$bin")/bench_ofloor}
"$ofloor" --runs "${RUNS:-7}" | tee -a "$tmp/times.txt"

if ! command -v valgrind >/dev/null 2>&1; then
    echo "== callgrind: valgrind not installed, instruction counts skipped"
else
echo "== instructions per op (callgrind, inside the timed loop only)"
echo "   the original's workloads first, with its own count (the original's build: g++ 12 -O3) and the ratio"
printf '%-9s %14s %14s %8s\n' workload qsl original ratio
# name:function:ops:divisor:original instructions per op (0: qsl's own workload)
for spec in obook:bench_run_obook:100000:100000:1025 book:bench_run_book:100000:100000:0 ocodec:bench_run_codec:200000:200000:374 \
            osession:bench_run_session:100000:100000:2394 oflow:bench_run_oflow:100080:100080:929 \
            flow:bench_run_flow:100000:100000:0 deep:bench_run_deep:200000:200000:0 \
            session:bench_run_session:100000:200000:0 walk:bench_run_walk:100000:200000:0 \
            wide:bench_run_wide:100000:200000:0 oldest:bench_run_level:100000:200000:0 \
            newest:bench_run_level:100000:200000:0 sweep:bench_run_sweep:2000:102000:0; do
    name=${spec%%:*}; rest=${spec#*:}; fn=${rest%%:*}; rest=${rest#*:}
    ops=${rest%%:*}; rest=${rest#*:}; per=${rest%%:*}; orig=${rest#*:}
    out="$tmp/$name.out"
    valgrind --tool=callgrind --toggle-collect="$fn" --callgrind-out-file="$out" \
        "$bin" --only "$name" --ops "$ops" --once >/dev/null 2>"$tmp/$name.log" || {
        echo "$name: callgrind failed:"; cat "$tmp/$name.log"; exit 1; }
    ir=$(awk '/^summary:/ { print $2 }' "$out")
    echo "$name $ir $per" >> "$tmp/instr.txt"
    awk -v n="$name" -v ir="$ir" -v ops="$per" -v orig="$orig" 'BEGIN {
        q = ir / ops
        if (orig > 0) printf "%-9s %14.1f %14d %8.2f\n", n, q, orig, q / orig
        else          printf "%-9s %14.1f %14s %8s\n", n, q, "-", "-" }'
done
valgrind --tool=callgrind --toggle-collect=bench_run_ofloor --callgrind-out-file="$tmp/ofloor.out" \
    "$ofloor" --ops 100000 --once >/dev/null 2>"$tmp/ofloor.log" || {
    echo "ofloor: callgrind failed:"; cat "$tmp/ofloor.log"; exit 1; }
echo "ofloor $(awk '/^summary:/ { print $2 }' "$tmp/ofloor.out") 100000" >> "$tmp/instr.txt"
echo "== the book's weak spots against the typical workload (flow: one engine call per item), per call"
awk 'NR == FNR { if ($1 != "==") t[$1] = $(NF - 7); next }
     { q[$1] = $2 / $3 }
     END { printf "%-9s %12s %12s\n", "workload", "instr ratio", "ns ratio"
           n = split("walk wide oldest newest sweep", w, " ")
           for (i = 1; i <= n; i++)
               printf "%-9s %12.2f %12.2f\n", w[i], q[w[i]] / q["flow"], t[w[i]] / t["flow"] }' \
    "$tmp/times.txt" "$tmp/instr.txt"
echo "== obook against its work in a minimal engine (tests/bench_floor.c: the same checks, events and"
echo "   structures; no window moves, pool growth, rehash or matching), per op, same build"
awk 'NR == FNR { if ($1 != "==") t[$1] = $(NF - 7); next }
     { q[$1] = $2 / $3 }
     END { printf "%-9s %12s %12s\n", "workload", "instructions", "ns"
           printf "%-9s %12.1f %12.1f\n", "obook", q["obook"], t["obook"]
           printf "%-9s %12.1f %12.1f\n", "ofloor", q["ofloor"], t["ofloor"]
           printf "%-9s %12.2f %12.2f\n", "ratio", q["obook"] / q["ofloor"], t["obook"] / t["ofloor"]
           printf "the original-relative target (0.50 of 1,025: 512) is %.2f of the minimal engine\n",
                  512 / q["ofloor"] }' \
    "$tmp/times.txt" "$tmp/instr.txt"
fi

if [ -n "${QSL_RUN:-}" ] && [ -x "$QSL_RUN" ]; then
    echo "== feed: publisher against raw send loops (one send() a message; sendmmsg in its batches), same run (scenarios/feed_throughput.lua)"
    "$QSL_RUN" scenarios/feed_throughput.lua "out=$tmp" trials="${FEED_TRIALS:-5}" >/dev/null
    sed -n '/^Over trials/,/^$/p' "$tmp/feed_throughput.txt"
    echo "== gateway: 16 connections pipelined per mode; ping-pong and 16 pipelined against an echo answering the same bytes (scenarios/gateway_load.lua)"
    "$QSL_RUN" scenarios/gateway_load.lua "out=$tmp" clients=16 trials="${GATEWAY_TRIALS:-3}" >/dev/null
    sed -n '/^Per cell/,/^$/p;/^Median throughput/,/^$/p;/^gateway \/ echo over trials/,/^$/p' "$tmp/gateway_load.txt"
    if [ -n "${USERCYCLES_SO:-}" ] && [ -f "$USERCYCLES_SO" ]; then
        echo "== gateway against the echo: user space as TSC cycles between system calls (tests/bench_usercycles.c), epoll, 16 x 8 pipelined"
        sh tests/bench_usercycles.sh "$QSL_RUN" "$USERCYCLES_SO" "${USERCYCLES_TRIALS:-9}"
    else
        echo "== gateway user cycles: skipped (the counter reads the TSC: x86-64 only)"
    fi
    echo "== qsl-run start-up: an empty scenario, fork to reap (target: < 10 ms, < 5 MB)"
    empty="$tmp/empty.lua"
    : > "$empty"
    "${STARTUP_BIN:-$(dirname "$bin")/bench_startup}" "$QSL_RUN" "$empty" 50
fi
