#!/usr/bin/env bash
# Long fuzzing runs outside CI: scripts/fuzz-campaign.sh [-n] TARGET CPU_SECONDS
# runs build-fuzz's fuzz_TARGET until its cumulative CPU time reaches CPU_SECONDS,
# in 10-minute slices, so that a run cut short (a session ending) loses at most
# one slice.  The working corpus, the CPU seconds spent so far, crash artifacts
# and a log live in ${XDG_CACHE_HOME:-~/.cache}/h3gate/fuzz/TARGET, outside the
# checkout; the repository's seed corpus is read, never written (merge what is
# worth keeping with `fuzz_TARGET -merge=1 tests/fuzz/corpus/TARGET DIR`).
# -n runs at nice 19, beside other work.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
nice_cmd=()
if [ "${1:-}" = -n ]; then
    nice_cmd=(nice -n 19)
    shift
fi
if [ $# -ne 2 ] || ! [[ $2 =~ ^[0-9]+$ ]]; then
    echo "usage: $0 [-n] TARGET CPU_SECONDS   (TARGET: a tests/fuzz/fuzz_*.c name without fuzz_)" >&2
    exit 2
fi
target=$1 want=$2
bin=$here/build-fuzz/tests/fuzz/fuzz_$target
seeds=$here/tests/fuzz/corpus/$target
[ -x "$bin" ] || { echo "$0: $bin is missing: run scripts/build.sh --fuzz" >&2; exit 1; }
[ -d "$seeds" ] || { echo "$0: no seed corpus $seeds" >&2; exit 1; }
dir=${XDG_CACHE_HOME:-$HOME/.cache}/h3gate/fuzz/$target
mkdir -p "$dir/corpus" "$dir/artifacts"
spent=$(cat "$dir/cpu_seconds" 2>/dev/null || echo 0)
while [ "$spent" -lt "$want" ]; do
    slice=$((want - spent < 600 ? want - spent : 600))
    start=$(date -u +%FT%TZ)
    # CPU time of the slice, from the kernel's accounting of the child
    t0=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
    rc=0
    ASAN_OPTIONS=detect_leaks=1 "${nice_cmd[@]}" "$bin" -max_total_time="$slice" -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="$dir/artifacts/" -print_final_stats=1 \
        "$dir/corpus" "$seeds" >"$dir/last.log" 2>&1 || rc=$?
    t1=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
    cpu=$(((t1 - t0) / $(getconf CLK_TCK)))
    spent=$((spent + cpu))
    echo "$spent" >"$dir/cpu_seconds"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/last.log")
    cov=$(grep -o 'cov: [0-9]*' "$dir/last.log" | tail -n1)
    echo "$start $target slice ${cpu}s cpu, total ${spent}s, execs ${execs:-?}, ${cov:-cov: ?}," \
        "corpus $(find "$dir/corpus" -type f | wc -l), exit $rc" | tee -a "$dir/log"
    if [ "$rc" -ne 0 ]; then
        echo "$0: fuzz_$target failed (exit $rc); see $dir/last.log and $dir/artifacts" >&2
        tail -n 40 "$dir/last.log" >&2
        exit 1
    fi
done
echo "fuzz_$target: ${spent}s of CPU in all (target ${want}s); log: $dir/log"
