#!/bin/bash
# run.sh: runs libFuzzer targets for a bounded time (`make fuzz`, .ci/run). For each target:
# replays its crashers of before (tests/fuzz/crashers/<name>/*: each must now pass), then
# fuzzes for FUZZ_SECONDS from its seeds (tests/fuzz/corpus/<name>/, read only: new inputs
# go to fuzz-work/<name>/corpus) with its dictionary (tests/fuzz/<name>.dict) if it has one,
# FUZZ_JOBS targets at a time. A crash leaves its input in fuzz-work/<name>/ and is printed
# in base64, so that a CI log is enough to reproduce it.
# First, fuzz_wire's list of message kinds is checked against the decoders wire.h declares.
# Usage: FUZZ_SECONDS=20 FUZZ_JOBS=2 run.sh path/to/fuzz_target...
set -euo pipefail
srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
seconds=${FUZZ_SECONDS:-20}
jobs=${FUZZ_JOBS:-2}
work=${FUZZ_WORK:-fuzz-work}

# One target: 0 when it found nothing.
run_one() {
	local target=$1 name dir crashers log dict=()
	name=$(basename "$target" | sed 's/^fuzz_//')
	[ -f "$srcdir/$name.dict" ] && dict=(-dict="$srcdir/$name.dict")
	dir="$work/$name"
	crashers="$srcdir/crashers/$name"
	log="$dir/log"
	mkdir -p "$dir/corpus"
	if compgen -G "$crashers/*" >/dev/null && ! "$target" "$crashers"/* >"$log" 2>&1; then
		echo "fuzz: $name: a crasher of before fails again:"
		tail -n 40 "$log"
		return 1
	fi
	if ! "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		"${dict[@]}" -artifact_prefix="$dir/" "$dir/corpus" "$srcdir/corpus/$name" >"$log" 2>&1; then
		echo "fuzz: $name: FAILED"
		tail -n 60 "$log"
		for input in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-*; do
			[ -f "$input" ] || continue
			echo "fuzz: $name: input $(basename "$input") (base64):"
			base64 -w 76 "$input"
		done
		return 1
	fi
	echo "fuzz: $name: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$') runs in ${seconds}s, no failure"
}
export -f run_one
export srcdir seconds work

rm -rf "$work"
mkdir -p "$work"
printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'run_one "$1"' _ {}
