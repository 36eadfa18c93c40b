#!/bin/bash
# test_python.sh: the Python binding and its PyTorch integration (contrib/python) against
# real foreground lcrds. The binding's calls (tests/test_binding.py, checked with lcrctl
# too), the torch.distributed Store (tests/test_store.py) and its conformance with PyTorch's
# own stores (tests/test_store_conformance.py), Recovery's copy of the newest
# committed state to members that lag, are torn or have none, met through the store of
# the policies rejoin and replace, and a replacement's failed first build waiting for the
# next join, or one told of that join before it starts building at its epoch at once
# (tests/test_recovery.py), the
# version check (tests/test_version.py), ending a broken group (tests/test_group.py), a
# ZeroRedundancyOptimizer's per-rank shards through a checkpoint and its restore, and the
# refusal of sharded members at different steps (tests/test_zero.py), FSDP's per-rank
# shards through a checkpoint and its restore on PyTorch 2.x (tests/test_fsdp.py); then contrib/examples/torch_ddp.py trains 2 DDP
# ranks (gloo, CPU) and rank 1 is SIGKILLed mid-training: every rank restarted, rank 1 alone
# restarted and rejoining, or rank 0 going on alone. The final parameters are bit-identical
# to a run without failure, except when the group shrinks. Speaks TAP; skipped when
# /usr/bin/python3 (or $LCR_PYTHON) has no torch.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=${LCR_PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import torch' 2>/dev/null; then
	echo "1..0 # SKIP $PY has no torch (Debian: apt-get install python3-torch)"
	exit 0
fi
. "$HERE/../../tests/helper/lib.sh"
if ldd "$LCR_BUILDDIR/lib/.libs/liblcr.so.1" 2>/dev/null | grep -q 'libasan\|libubsan'; then
	echo "1..0 # SKIP liblcr is built with sanitizers: it cannot be loaded into an uninstrumented $PY"
	exit 0
fi
export LCR_BUILDDIR PYTHONPATH=$LCR_SRCDIR/contrib/python PYTHONDONTWRITEBYTECODE=1
# A test that hangs fails after PY_TIMEOUT seconds and shows where each of its threads was
# (faulthandler answers the SIGABRT), instead of holding the suite and CI forever.
export PYTHONFAULTHANDLER=1
PY_TIMEOUT=${LCR_PY_TIMEOUT:-300}
py_bounded() { timeout -s ABRT -k 10 "$PY_TIMEOUT" "$PY" "$@"; }
TESTS=$LCR_SRCDIR/contrib/python/tests
EXAMPLE=$LCR_SRCDIR/contrib/examples/torch_ddp.py
STEPS=2000
make_root "$WORK/run" "$(id -u)"

# report OUTPUT STATUS NAME: each "ok - X" / "not ok - X" line of a Python test's output
# becomes a TAP result; the rest is shown when something failed.
report() {
	local line failed=$tap_failed
	while IFS= read -r line; do
		case $line in
		"ok - "*) ok 0 "${line#ok - }" ;;
		"not ok - "*) ok 1 "${line#not ok - }" ;;
		esac
	done <"$1"
	[ "$2" -eq 0 ] || ok 1 "$3 ends with status 0, not $2"
	[ "$tap_failed" -eq "$failed" ] || grep -Ev '^(not )?ok - ' "$1" | diag
}

# py NAME ARGS...: runs a Python test in the foreground and reports it.
py() {
	local out=$WORK/py.$tap_count.out status
	py_bounded "$TESTS/$1" "${@:2}" >"$out" 2>&1
	status=$?
	report "$out" "$status" "$*"
}

# py_ranks SIZE NAME ARGS...: runs `NAME ARGS... RANK SIZE` for every rank at once and
# reports each.
py_ranks() {
	local size=$1 rank pids=() status
	shift
	for rank in $(seq 0 $((size - 1))); do
		py_bounded "$TESTS/$1" "${@:2}" "$rank" "$size" >"$WORK/rank.$rank.out" 2>&1 &
		pids+=($!)
		LCR_PIDS+=($!)
	done
	for rank in $(seq 0 $((size - 1))); do
		wait "${pids[$rank]}"
		status=$?
		report "$WORK/rank.$rank.out" "$status" "$* (rank $rank)"
	done
}

# expect STATUS DESCRIPTION [FILE...]: ok, and on failure the end of each FILE.
expect() {
	ok "$1" "$2"
	[ "$1" -eq 0 ] || [ $# -lt 3 ] || tail -n 8 "${@:3}" | diag
}

# lcrd_for NAME JOB: a fresh helper (its regions and store empty) for the next case.
lcrd_for() {
	[ -n "${LCRD_PID:-}" ] && stop_lcrd 2>/dev/null
	start_lcrd "$1" --job-id="$2" --runtime-dir="$WORK/run/$(id -u)"
}

lcrd_for binding 1
py test_binding.py first
"$LCRCTL" --socket="$LCR_SOCKET" regions >"$WORK/regions.txt"
grep -Eq '^ +weights +4 KiB +host +0 +- +7 +committed' "$WORK/regions.txt"
expect $? "lcrctl regions shows the region written from Python, committed at step 7" "$WORK/regions.txt"
py test_binding.py second
py test_version.py
py test_group.py single "$WORK"
py_ranks 2 test_group.py peer "$WORK"
py_ranks 2 test_group.py pending "$WORK"

lcrd_for store 2
py test_store.py semantics
py test_store.py atomic
py_ranks 2 test_store.py gloo
py test_store_conformance.py all "$WORK"

lcrd_for recovery 3
py_bounded "$TESTS/test_recovery.py" prepare 0 5 &&
	{ py_bounded "$TESTS/test_recovery.py" prepare 1 2 torn; [ $? -eq 9 ]; } &&
	py_bounded "$TESTS/test_recovery.py" prepare 2 0
ok $? "three ranks leave committed (step 4), torn (step 2) and empty state"
py_ranks 3 test_recovery.py recover
# Policy "replace" meets in the job-wide store, with no rendezvous directory.
lcrd_for recovery-replace 5
py_bounded "$TESTS/test_recovery.py" prepare 0 5 &&
	{ py_bounded "$TESTS/test_recovery.py" prepare 1 2 torn; [ $? -eq 9 ]; } &&
	py_bounded "$TESTS/test_recovery.py" prepare 2 0
ok $? "three ranks leave committed (step 4), torn (step 2) and empty state, for policy replace"
py_ranks 3 test_recovery.py recover replace

# Policy "replace": a replacement whose first build fails (its other member's node died)
# waits for the next join and builds at its epoch (events stood in for, no lcrd).
mkdir -p "$WORK/rdv-replacement"
py_ranks 2 test_recovery.py replacement "$WORK/rdv-replacement"
# ... and one told of that join before it starts builds at its epoch at once.
mkdir -p "$WORK/rdv-replacement-told"
py_ranks 2 test_recovery.py replacement-told "$WORK/rdv-replacement-told"

# train TAG POLICY RANK...: the example's ranks in the background; their pids in RANK_PIDS.
declare -A RANK_PIDS
train() {
	local tag=$1 policy=$2 rank
	for rank in "${@:3}"; do
		RANK=$rank WORLD_SIZE=2 "$PY" "$EXAMPLE" --steps=$STEPS --log-every=100 --policy="$policy" \
			--timeout=60 >"$WORK/$tag.$rank.out" 2>&1 &
		RANK_PIDS[$rank]=$!
		LCR_PIDS+=($!)
	done
}
# wait_bounded PID...: `wait PID...` (its status is the last one's), but a rank still running
# after PY_TIMEOUT seconds gets SIGABRT, so that the suite goes on and shows its stacks.
wait_bounded() {
	local watchdog status
	(
		trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
		sleep "$PY_TIMEOUT" &
		sleeper=$!
		wait "$sleeper"
		kill -ABRT "$@" 2>/dev/null
	) &
	watchdog=$!
	wait "$@"
	status=$?
	kill "$watchdog" 2>/dev/null
	wait "$watchdog" 2>/dev/null
	return $status
}
# kill_at TAG RANK STEP: SIGKILLs the rank once it has logged STEP, between two optimizer
# steps: it is stopped, and killed only when none of its regions is mid-update (a rank
# killed inside its update leaves torn state, which these tests do not ask about); else it
# runs a little and is tried again.
kill_at() {
	local attempt
	wait_for_step "$@"
	for attempt in $(seq 300); do
		kill -STOP "${RANK_PIDS[$2]}"
		"$LCRCTL" --socket="$LCR_SOCKET" regions 2>/dev/null |
			awk -v r="$2" '$5 == r && $8 == "updating" { torn = 1 } END { exit torn }' && break
		kill -CONT "${RANK_PIDS[$2]}"
		sleep 0.01
	done
	kill -9 "${RANK_PIDS[$2]}"
	kill -CONT "${RANK_PIDS[$2]}" 2>/dev/null || true
}
wait_for_step() {
	local i
	for i in $(seq 1500); do
		grep -q "^rank $2 step $3 " "$WORK/$1.$2.out" && return 0
		sleep 0.02
	done
	return 1
}
final_hash() { sed -n "s/^final rank $2 step $STEPS members 2 sha256 //p" "$WORK/$1.$2.out"; }
start_step() { sed -n "s/^rank $2 starts at step \([0-9]*\) with .*/\1/p" "$WORK/$1.$2.out" | tail -n 1; }

lcrd_for clean 4
train clean rejoin 0 1
wait_bounded "${RANK_PIDS[@]}"
reference=$(final_hash clean 0)
[ -n "$reference" ] && [ "$reference" = "$(final_hash clean 1)" ]
expect $? "2 DDP ranks without failure end with the same parameters (sha256 ${reference:0:16})" "$WORK"/clean.*

lcrd_for restart 5
train first exit 0 1
kill_at first 1 300
wait_bounded "${RANK_PIDS[0]}"
ok_exit 75 $? "rank 1 SIGKILLed mid-training: with --policy=exit rank 0 stops (status 75)"
"$LCRCTL" --socket="$LCR_SOCKET" regions >"$WORK/regions.txt"
[ "$(grep -Ec '^ +(model|adam\.0) .* committed ' "$WORK/regions.txt")" = 4 ]
expect $? "the helper still holds both ranks' parameters and Adam state, committed" "$WORK/regions.txt"
train second exit 0 1
wait_bounded "${RANK_PIDS[@]}"
resumed=$(start_step second 0)
[ "${resumed:-0}" -gt 300 ] && [ "$resumed" = "$(start_step second 1)" ]
expect $? "both restarted ranks resume after the committed step (at step ${resumed:-none})" "$WORK"/second.*
[ "$(final_hash second 0)" = "$reference" ] && [ "$(final_hash second 1)" = "$reference" ]
expect $? "their final parameters are bit-identical to the run without failure" "$WORK"/second.*

lcrd_for rejoin 6
train rejoin rejoin 0 1
kill_at rejoin 1 300
wait_bounded "${RANK_PIDS[1]}"
train rejoined rejoin 1
wait_bounded "${RANK_PIDS[0]}" "${RANK_PIDS[1]}"
grep -q "rank 1 (pid [0-9]*).*rebuilding the process group (rejoin)" "$WORK/rejoin.0.out"
expect $? "rank 0 sees rank 1's death as an event and rebuilds the group" "$WORK"/rejoin*
[ "$(start_step rejoin 0)" -gt 300 ] && [ "$(start_step rejoin 0)" = "$(start_step rejoined 1)" ]
expect $? "rank 0 and the restarted rank 1 meet again and continue at the same step" "$WORK"/rejoin*
[ "$(final_hash rejoin 0)" = "$reference" ] && [ "$(final_hash rejoined 1)" = "$reference" ]
expect $? "with only rank 1 restarted, the final parameters are bit-identical to the run without failure" \
	"$WORK"/rejoin*

TORCH_MAJOR=$("$PY" -c 'import torch; print(torch.__version__.split(".")[0])')

# ZeroRedundancyOptimizer (tests/test_zero.py): each rank's optimizer shard under its own
# shard key; a checkpoint taken mid-run by every rank together, restored into a new helper,
# ends with the parameters and shards of a run without interruption.
ZERO_STEPS=40
zero_results() { cat "$WORK"/rank.*.out | grep '^result ' | sort; }
lcrd_for zero-clean 8
py_ranks 2 test_zero.py train $ZERO_STEPS -1
zero_reference=$(zero_results)
[ "$(wc -l <<<"$zero_reference")" = 2 ] && [ "$(awk '{print $4}' <<<"$zero_reference" | sort -u | wc -l)" = 1 ]
expect $? "ZeRO: 2 ranks without interruption end with the same parameters, each with its own shard" "$WORK"/rank.*
[ -n "${LCRD_PID:-}" ] && stop_lcrd 2>/dev/null
start_lcrd zero-ckpt --job-id=9 --runtime-dir="$WORK/run/$(id -u)" --ckpt-dir="$WORK/zero-ckpt"
py_ranks 2 test_zero.py train 16 15
grep -c 'key: "zero-r[01]"' "$WORK/zero-ckpt/step-15/manifest.yaml" 2>/dev/null | grep -qx 2
expect $? "ZeRO: the checkpoint of step 15 holds both ranks' shards" "$WORK/zero-ckpt.log"
stop_lcrd 2>/dev/null
start_lcrd zero-restore --job-id=10 --runtime-dir="$WORK/run/$(id -u)" --ckpt-dir="$WORK/zero-ckpt" \
	--restore="$WORK/zero-ckpt/step-15"
py_ranks 2 test_zero.py restore $ZERO_STEPS 15
[ "$(zero_results)" = "$zero_reference" ]
expect $? "ZeRO: restored from it, both ranks end with the parameters and shards of the run without interruption" \
	"$WORK"/rank.*
lcrd_for zero-differ 11
py_bounded "$TESTS/test_zero.py" prepare 5 0 && py_bounded "$TESTS/test_zero.py" prepare 3 1
ok $? "ZeRO: two ranks leave their models at steps 4 and 2"
py_ranks 2 test_zero.py differ

# FullyShardedDataParallel (tests/test_fsdp.py, PyTorch 2.x: its FSDP runs on the CPU): each
# rank's shard of the flat parameters and of Adam's state under its own shard key, through a
# checkpoint and its restore, ends as a run without interruption does.
if [ "$TORCH_MAJOR" -ge 2 ]; then
	lcrd_for fsdp-clean 12
	py_ranks 2 test_fsdp.py train $ZERO_STEPS -1
	fsdp_reference=$(zero_results)
	[ "$(wc -l <<<"$fsdp_reference")" = 2 ] && [ "$(awk '{print $4}' <<<"$fsdp_reference" | sort -u | wc -l)" = 1 ] &&
		[ "$(awk '{print $5}' <<<"$fsdp_reference" | sort -u | wc -l)" = 2 ]
	expect $? "FSDP: 2 ranks without interruption end with the same whole parameters, each with its own shard" "$WORK"/rank.*
	stop_lcrd 2>/dev/null
	start_lcrd fsdp-ckpt --job-id=13 --runtime-dir="$WORK/run/$(id -u)" --ckpt-dir="$WORK/fsdp-ckpt"
	py_ranks 2 test_fsdp.py train 16 15
	grep -c 'key: "fsdp-r[01]"' "$WORK/fsdp-ckpt/step-15/manifest.yaml" 2>/dev/null | grep -qx 2
	expect $? "FSDP: the checkpoint of step 15 holds both ranks' shards" "$WORK/fsdp-ckpt.log"
	stop_lcrd 2>/dev/null
	start_lcrd fsdp-restore --job-id=14 --runtime-dir="$WORK/run/$(id -u)" --ckpt-dir="$WORK/fsdp-ckpt" \
		--restore="$WORK/fsdp-ckpt/step-15"
	py_ranks 2 test_fsdp.py restore $ZERO_STEPS 15
	[ "$(zero_results)" = "$fsdp_reference" ] && [ "$(wc -l <<<"$fsdp_reference")" = 2 ]
	expect $? "FSDP: restored from it, both ranks end with the parameters and shards of the run without interruption" \
		"$WORK"/rank.*
else
	skip "FSDP's shards through a checkpoint and its restore (tests/test_fsdp.py)" \
		"PyTorch $TORCH_MAJOR.x's FSDP does not run on the CPU (on Debian 12 it does not even import); run on PyTorch 2.x (contrib/check-trixie.sh python)"
fi

lcrd_for shrink 7
train shrink shrink 0 1
kill_at shrink 1 300
wait_bounded "${RANK_PIDS[0]}"
expect $? "with --policy=shrink rank 0 goes on alone after rank 1's death" "$WORK"/shrink.*
grep -q "^final rank 0 step $STEPS members 1 " "$WORK/shrink.0.out" && [ "$(start_step shrink 0)" -gt 300 ]
expect $? "it finishes in a group of 1, from the step after its last committed one" "$WORK"/shrink.*
stop_lcrd
finish
