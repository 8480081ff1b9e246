#!/bin/sh
# make fuzz: run each libFuzzer target for a bounded time on a scratch copy of
# its seed corpus (tests/fuzz/corpus/NAME), then print executions per target.
# A crash leaves its input in build/fuzz/crash-* and fails the run: turn it
# into a regression test before fixing it.
set -u
dir=$1 seconds=${2:-30}
status=0
printf '%-10s %12s %8s %10s  %s\n' target executions seconds exec/s result
for t in wire session engine feed strace procfs params; do
    corpus="$dir/corpus-$t"
    mkdir -p "$corpus"
    cp tests/fuzz/corpus/$t/* "$corpus/" 2>/dev/null
    log="$dir/fuzz_$t.log"
    # every crash ever found is replayed first (tests/fuzz/regressions/TARGET-*)
    for r in tests/fuzz/regressions/$t-*; do
        [ -e "$r" ] || continue
        if ! QSL_LUA_DIR=lua "$dir/fuzz_$t" "$r" >"$log" 2>&1; then
            echo "$t: regression $r fails again (see $log)"
            status=1
        fi
    done
    if QSL_LUA_DIR=lua "$dir/fuzz_$t" -max_total_time="$seconds" -artifact_prefix="$dir/crash-$t-" \
        -print_final_stats=1 "$corpus" >"$log" 2>&1; then
        result=ok
    else
        result="FAILED (see $log)"
        status=1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
    [ -n "$secs" ] || secs=$seconds
    rate=$(( ${runs:-0} / (secs > 0 ? secs : 1) ))
    printf '%-10s %12s %8s %10s  %s\n' "$t" "${runs:-?}" "$secs" "$rate" "$result"
done
exit $status
