#!/bin/sh
# make bench: wall-clock ns/op (min/median/max of repeated runs), then, where
# valgrind is installed, instructions per op from callgrind, which unlike time
# is repeatable on a shared, noisy machine.
set -eu
bin=${1:-build/bench_engine}
echo "== qsl core benchmarks ($(uname -m), $(nproc) cores; times vary with load, instruction counts do not)"
"$bin" --runs "${RUNS:-7}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
if ! command -v valgrind >/dev/null 2>&1; then
    echo "== callgrind: valgrind not installed, instruction counts skipped"
else
echo "== instructions per op (callgrind, inside the timed loop only)"
for spec in flow:bench_run_flow:100000 deep:bench_run_deep:200000 \
            codec:bench_run_codec:200000 session:bench_run_session:100000; do
    name=${spec%%:*}; rest=${spec#*:}; fn=${rest%%:*}; ops=${rest#*:}
    out="$tmp/$name.out"
    valgrind --tool=callgrind --toggle-collect="$fn" --callgrind-out-file="$out" \
        "$bin" --only "$name" --ops "$ops" --once >/dev/null 2>"$tmp/$name.log" || {
        echo "$name: callgrind failed:"; cat "$tmp/$name.log"; exit 1; }
    ir=$(awk '/^summary:/ { print $2 }' "$out")
    per=$ops
    [ "$name" = session ] && per=$((ops * 2))
    awk -v n="$name" -v ir="$ir" -v ops="$per" \
        'BEGIN { printf "%-8s %12.1f instructions/op  (%d ops, %d instructions)\n", n, ir / ops, ops, ir }'
done
fi

if [ -n "${QSL_RUN:-}" ] && [ -x "$QSL_RUN" ]; then
    echo "== feed: publisher against a raw send() loop, same run (scenarios/feed_throughput.lua)"
    "$QSL_RUN" scenarios/feed_throughput.lua "out=$tmp" trials="${FEED_TRIALS:-5}" >/dev/null
    sed -n '/^Over trials/,/^$/p' "$tmp/feed_throughput.txt"
    echo "== gateway: 16 connections pipelined, epoll against blocking; ping-pong against a raw echo (scenarios/gateway_load.lua)"
    "$QSL_RUN" scenarios/gateway_load.lua "out=$tmp" clients=16 trials="${GATEWAY_TRIALS:-3}" >/dev/null
    sed -n '/^Per cell/,/^$/p;/^epoll \/ blocking/,/^$/p;/^One connection/,/^$/p;/^ping-pong/p' "$tmp/gateway_load.txt"
    echo "== qsl-run start-up: an empty scenario, fork to reap (target: < 10 ms, < 5 MB)"
    empty="$tmp/empty.lua"
    : > "$empty"
    "${STARTUP_BIN:-$(dirname "$bin")/bench_startup}" "$QSL_RUN" "$empty" 50
fi
