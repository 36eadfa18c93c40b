#!/bin/bash
# test_lcr_sim.sh: lcr-sim end to end: the table of the default sweep, exit status and
# message on bad usage, the plot files with and without gnuplot, bench results in the
# stated assumptions, and Monte Carlo mode. Runs in a scratch directory. Speaks TAP.
set -uo pipefail
SIM=${LCR_BUILDDIR:-$(pwd)}/contrib/sim/lcr-sim
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1

count=0
failed=0
check() {
	local name=$1
	shift
	count=$((count + 1))
	if "$@"; then
		echo "ok $count - $name"
	else
		echo "not ok $count - $name"
		failed=1
	fi
}

default_sweep_prints_one_row_per_size() {
	local out
	out=$("$SIM" --no-plot) || return 1
	grep -q '^Assumptions' <<<"$out" || return 1
	for gpus in 1024 2048 4096 8192 16384 32768 65536 100000; do
		grep -Eq "^ *$gpus +[0-9]+ " <<<"$out" || { echo "# no row for $gpus GPUs"; return 1; }
	done
}

bad_value_exits_2_naming_option_and_value() {
	local err rc
	err=$("$SIM" --gpu-mtbf 0 2>&1 >/dev/null)
	rc=$?
	[ "$rc" = 2 ] && grep -q "^lcr-sim: --gpu-mtbf: '0' is not a positive duration" <<<"$err"
}

unknown_option_exits_2_naming_it() {
	local err rc
	err=$("$SIM" --frobnicate 2>&1 >/dev/null)
	rc=$?
	[ "$rc" = 2 ] && grep -q "unknown option '--frobnicate'" <<<"$err"
}

help_lists_every_input() {
	local out
	out=$("$SIM" --help) || return 1
	for opt in --gpus --gpu-mtbf --failure-rate --state-per-gpu --storage-bw --network-bw \
		--step-time --detect-timeout --restart-time --spares --bench-results --seed; do
		grep -q -- "$opt" <<<"$out" || { echo "# --help lacks $opt"; return 1; }
	done
}

without_gnuplot_writes_data_and_script_and_says_so() {
	local out
	out=$(PATH=/nonexistent "$SIM" --gpus 1024,16384 --plot nognuplot) || return 1
	grep -q 'gnuplot is not installed' <<<"$out" && [ -s nognuplot.dat ] &&
		[ -s nognuplot.gp ] && [ ! -e nognuplot.png ]
}

with_gnuplot_draws_the_png() {
	"$SIM" --plot drawn >/dev/null || return 1
	[ "$(head -c 4 drawn.png | tail -c 3)" = PNG ]
}

bench_results_appear_in_the_assumptions() {
	local out
	printf 'RESULT name=detect_p50 value=1.5 unit=s baseline=300 ratio=0.005\n' >bench.txt
	out=$("$SIM" --no-plot --gpus 16384 --bench-results bench.txt) || return 1
	grep -q 'detection 1.5 s (bench bench.txt:1)' <<<"$out"
}

montecarlo_mode_prints_both_estimates() {
	local out
	out=$("$SIM" --no-plot --mode montecarlo --gpus 16384 --mc-failures 20000) || return 1
	grep -q '^Monte Carlo: 20000 failures per run, seed 1' <<<"$out" &&
		grep -Eq '^ *16384 +[0-9]+ +[0-9]+ +[0-9.]+% \([0-9.]+%\)' <<<"$out"
}

echo "1..8"
check "default sweep prints one row per size" default_sweep_prints_one_row_per_size
check "bad value exits 2 naming option and value" bad_value_exits_2_naming_option_and_value
check "unknown option exits 2 naming it" unknown_option_exits_2_naming_it
check "--help lists every input" help_lists_every_input
check "without gnuplot: data and script written, and said" without_gnuplot_writes_data_and_script_and_says_so
if command -v gnuplot >/dev/null; then
	check "with gnuplot: the PNG is drawn" with_gnuplot_draws_the_png
else
	count=$((count + 1))
	echo "ok $count - with gnuplot: the PNG is drawn # SKIP gnuplot not installed"
fi
check "bench results appear in the assumptions" bench_results_appear_in_the_assumptions
check "Monte Carlo mode prints both estimates" montecarlo_mode_prints_both_estimates
exit $failed
