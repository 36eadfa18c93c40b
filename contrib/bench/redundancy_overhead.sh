#!/bin/bash
# redundancy_overhead.sh: what redundancy "copy" costs a training run. The demo trainer
# (--shard=zero1: each rank's Adam moments are its own shard, with no replica) runs as two
# ranks on two helpers of a foreground mesh (a private munged, as the tests use), each
# rank's state MODEL_MB of model (--state-mb: what every step computes on, so it sets the
# step time, and with it the time a snapshot has between two updates) plus STATE_MB -
# MODEL_MB of ballast (a region the steps leave alone but every snapshot copies, hashes and
# pushes): STATE_MB per node. First with
# --redundancy=none, then with --redundancy=copy and with --redundancy=erasure (one group of
# the two nodes with 1 parity block per stripe: each node holds the parity of a stripe
# whose data chunks are halves of the two snapshots) at each --snapshot-every of EVERY
# (lcrd's default among them), ROUNDS times in turn; a fresh mesh for each run. The figure is rank
# 0's steps/s (the trainer's final line: the steps after the first build over their time),
# the best of the rounds (the run least slowed by whatever else the machine runs), against
# the best without redundancy; and how many rounds node 0's helper saw protected (the best
# run), against the rounds the interval asked for. A rank's next update waits for its
# helper's copy at most --snapshot-hold-max (lcrd's default); the default interval is also
# run with --snapshot-hold-max=0, where a round whose copy a rank's next update overlapped
# is torn and dropped (the figures named _no_hold). Every run's figures are printed too,
# with the load average.
# Prints RESULT lines.
#
# Usage: contrib/bench/redundancy_overhead.sh [BUILDDIR]   (LCR_REDUNDANCY_BENCH_MIB, default
#        64; LCR_REDUNDANCY_BENCH_MODEL_MIB, default 4; LCR_REDUNDANCY_BENCH_STEPS, default
#        100; LCR_REDUNDANCY_BENCH_ROUNDS, default 2; LCR_REDUNDANCY_BENCH_EVERY, default
#        "1 10" and lcrd's default, then the default without the hold). About six
#        minutes on two cores.
# Build first: make contrib/demo/lcr-demo-trainer
set -e
LCR_BUILDDIR=$(cd "${1:-.}" && pwd)
LCR_SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
STATE_MB=${LCR_REDUNDANCY_BENCH_MIB:-64}
MODEL_MB=${LCR_REDUNDANCY_BENCH_MODEL_MIB:-4}
STEPS=${LCR_REDUNDANCY_BENCH_STEPS:-100}
ROUNDS=${LCR_REDUNDANCY_BENCH_ROUNDS:-2}
MESH_PREFIX=r
. "$LCR_SRCDIR/tests/helper/lib.sh"
. "$LCR_SRCDIR/tests/helper/mesh_lib.sh"
set +e
TRAINER=$LCR_BUILDDIR/contrib/demo/lcr-demo-trainer
for p in "$TRAINER" "$LCRD"; do
	[ -x "$p" ] || { echo "redundancy_overhead.sh: $p is not built (see the top of this script)" >&2; exit 2; }
done
# lcrd's default interval: its row in the settings table.
DEFAULT_EVERY=$(sed -n '/"snapshot-every"/s/.*lcrd_default = "\([0-9]*\)".*/\1/p' "$LCR_SRCDIR/common/settings.c")
EVERY=$(printf '%s\n' ${LCR_REDUNDANCY_BENCH_EVERY:-1 10} "$DEFAULT_EVERY" | sort -nu | tr '\n' ' ')
start_munged >/dev/null
make_root "$WORK/root" "$(id -u)"

# run_once TAG LCRD_ARGS...: one run on a fresh 2-helper mesh; sets SPEED (rank 0's steps/s)
# and PROTECTED (the rounds node 0's helper saw protected).
RUN=0
run_once() {
	local tag=$1 r pids=() protected
	shift
	RUN=$((RUN + 1))
	MESH_JOB=$((5600 + RUN))
	MESH_PIDS=()
	start_rendezvous "rdv-$tag-$RUN" || { echo "redundancy_overhead.sh: no rendezvous server" >&2; return 1; }
	for r in 0 1; do start_mesh_node "$r" 2 --ranks=$r --log-level=verbose "$@"; done
	wait_mesh_up 2 || { echo "redundancy_overhead.sh: the mesh is not up" >&2; return 1; }
	mkdir -p "$WORK/rendezvous.$RUN"
	for r in 0 1; do
		LCR_SOCKET=$(socket_of $r) "$TRAINER" --shard=zero1 --rank=$r --size=2 --steps="$STEPS" \
			--state-mb="$MODEL_MB" --ballast-mb="$((STATE_MB - MODEL_MB))" --print-every=100000 --rendezvous-dir="$WORK/rendezvous.$RUN" \
			>"$WORK/$tag.$RUN.$r.out" 2>&1 &
		pids+=($!)
	done
	wait "${pids[@]}"
	protected=$(sed -n 's/.*step \([0-9]*\) is protected.*/\1/p' "$WORK/r0.log" | sort -u | wc -l)
	for r in 0 1; do mv "$WORK/r$r.log" "$WORK/$tag.$RUN.r$r.log"; done
	kill -TERM "${MESH_PIDS[@]}" "$RDV_PID" 2>/dev/null
	wait "${MESH_PIDS[@]}" "$RDV_PID" 2>/dev/null
	SPEED=$(sed -n 's/^final rank 0 .* steps\/s \([0-9.]*\) .*/\1/p' "$WORK/$tag.$RUN.0.out")
	PROTECTED=${protected:-0}
}
best() { sort -g | tail -n 1; }

declare -A speeds protected_steps
for ((round = 0; round < ROUNDS; round++)); do
	run_once none --redundancy=none
	speeds[none]+="$SPEED "
	for every in $EVERY; do
		run_once "copy$every" --redundancy=copy --snapshot-every="$every"
		speeds[copy_every_$every]+="$SPEED "
		protected_steps[copy_every_$every]+="$PROTECTED "
		run_once "erasure$every" --redundancy=erasure --redundancy-group-size=2 \
			--redundancy-parity=1 --snapshot-every="$every"
		speeds[erasure_every_$every]+="$SPEED "
		protected_steps[erasure_every_$every]+="$PROTECTED "
	done
	run_once "copy${DEFAULT_EVERY}_no_hold" --redundancy=copy --snapshot-every="$DEFAULT_EVERY" \
		--snapshot-hold-max=0
	speeds[copy_every_${DEFAULT_EVERY}_no_hold]+="$SPEED "
	protected_steps[copy_every_${DEFAULT_EVERY}_no_hold]+="$PROTECTED "
done
baseline=$(printf '%s\n' ${speeds[none]} | best)
echo "# 2 ranks on 2 helpers, --shard=zero1, $STATE_MB MiB per rank ($MODEL_MB MiB model), $STEPS steps," \
	"$ROUNDS rounds; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# steps/s without redundancy: ${speeds[none]}"
for case in $(for every in $EVERY; do echo "copy_every_$every erasure_every_$every"; done) \
	"copy_every_${DEFAULT_EVERY}_no_hold"; do
	value=$(printf '%s\n' ${speeds[$case]} | best)
	echo "# ${case//_/ }: steps/s ${speeds[$case]}; rounds protected in each run: ${protected_steps[$case]}"
	echo "RESULT name=trainer_steps_per_s_$case value=$value unit=steps/s baseline=$baseline" \
		"ratio=$(awk -v v="$value" -v b="$baseline" 'BEGIN { if (b > 0) printf "%.3f", v / b; else print "nan" }')"
	every=${case#*_every_}
	asked=$((STEPS / ${every%_no_hold}))
	value=$(printf '%s\n' ${protected_steps[$case]} | best)
	echo "RESULT name=rounds_protected_$case value=$value unit=rounds baseline=$asked" \
		"ratio=$(awk -v v="$value" -v b="$asked" 'BEGIN { printf "%.3f", v / b }')"
done
[ -n "$baseline" ] && [ "$baseline" != 0 ]
