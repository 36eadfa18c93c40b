#!/bin/bash
# demo.sh: the main job, from a fresh Debian 12 machine, as root. Installs what is missing,
# builds LCR, starts a local Slurm cluster of 5 nodes and trains the demo model with --lcr on
# 4 of them, n5 being the allocation's spare. At a random step every process of one node is
# killed. You see, as it happens: LCR's helpers detect the dead node in about two seconds
# (Slurm takes 15-30 s), save a just-in-time checkpoint, start the program again on the
# spare, which joins the running step and receives the dead node's state from the surviving
# replicas; the survivors rebuild their communicator and go on in the same processes. At the
# end: a recovery timeline, the lost steps, the final weights' checksum against a run without
# failure, and a picture of the loss over time (demo-loss.png next to this run's log).
#
#
# contrib/demo.sh --sharded: the same with state that has no replica, as ZeRO-1 shards it
# (the trainer's --shard=zero1: each rank's Adam moments are its own). With
# --lcr-redundancy=copy the helpers snapshot every rank's state every SNAPSHOT_EVERY steps
# and hold each node's snapshot in another node's memory. When n2 dies, the survivors'
# helpers roll their ranks back to the newest protected step, the spare is filled from the
# copies of n2's state at that step, and everybody goes on after it: a few steps are done
# again, and the final checksum is still the one of a run without failure.
#
# Environment: BUILD_DIR (default ./build), BASE (cluster directory), STEPS (default 600),
# SNAPSHOT_EVERY (--sharded, default 20), OUT (where the log, timeline and picture go;
# default $BUILD_DIR/demo, or $BUILD_DIR/demo-sharded).
set -euo pipefail

SHARDED=0
case "${1:-}" in
--sharded) SHARDED=1 ;;
"") ;;
*) echo "usage: contrib/demo.sh [--sharded]" >&2; exit 2 ;;
esac

SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$SRCDIR/build}
export BASE=${BASE:-/var/tmp/lcr-demo}
export PORT_BASE=${PORT_BASE:-17200}
export LCR_BUILDDIR=$BUILD_DIR
STEPS=${STEPS:-600}
SNAPSHOT_EVERY=${SNAPSHOT_EVERY:-20}
OUT=${OUT:-$BUILD_DIR/demo$([ "$SHARDED" = 0 ] || echo -sharded)}
TESTCLUSTER=$SRCDIR/tests/cluster/testcluster
WORK=$BASE/work

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }
as_user() { "$TESTCLUSTER" exec "$@"; }

bold "Installing packages and building LCR"
"$SRCDIR/contrib/install-deps.sh"
cd "$SRCDIR"
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi >/dev/null 2>&1
mkdir -p "$BUILD_DIR" "$OUT"
cd "$BUILD_DIR"
[ -f Makefile ] || "$SRCDIR/configure" -q
make -s -j"$(nproc)" >/dev/null

bold "A local Slurm cluster: slurmctld, munged and 5 slurmd (n1..n5)"
trap '"$TESTCLUSTER" down >/dev/null 2>&1 || true' EXIT
"$TESTCLUSTER" up
"$TESTCLUSTER" root-exec sinfo -N

trainer_args="--steps=$STEPS --print-every=200 --state-mb=1"
run_options=""
state_from="the replicas"
if [ "$SHARDED" = 1 ]; then
	trainer_args="$trainer_args --shard=zero1"
	run_options="--lcr-redundancy=copy --lcr-snapshot-every=$SNAPSHOT_EVERY"
	state_from="the copies of the protected step"
fi
# Job ids start at 1 on every new cluster: leave nothing of an earlier demo to restore or
# to read (a replacement's output file of the same job id is appended to).
rm -rf "$WORK"/ckpt "$WORK"/ckpt-ref "$WORK"/rdv-* "$WORK"/lcr-*.out

bold "Reference: the same training without any failure (4 nodes)"
as_user mkdir -p "$WORK/rdv-ref" "$WORK/ckpt-ref"
reference=$(as_user srun -N4 -n4 -w 'n[1-4]' --lcr --lcr-ckpt-dir="$WORK/ckpt-ref" \
	lcr-demo-trainer $trainer_args --rendezvous-dir="$WORK/rdv-ref" | sed -n 's/^final rank 0 .* checksum //p')
echo "final weights' checksum without failure: $reference"

if [ "$SHARDED" = 1 ]; then
	bold "Training on n1-n4 with --lcr $run_options (n5 is the spare); each rank's optimizer state is its own shard; a node dies at a random step"
else
	bold "Training on n1-n4 with --lcr (n5 is the spare); a node dies at a random step"
fi
job=$(as_user bash -c "cd $WORK && salloc -N5 --lcr --no-shell" 2>&1 | sed -n 's/.*Granted job allocation \([0-9]*\).*/\1/p')
as_user mkdir -p "$WORK/rdv-1" "$WORK/ckpt"
log=$OUT/run.log
: >"$log"
start=$(now)
as_user bash -c "cd $WORK && srun --jobid=$job -N4 -n4 -w 'n[1-4]' --lcr --lcr-ckpt-dir=$WORK/ckpt $run_options \
	lcr-demo-trainer $trainer_args --rendezvous-dir=$WORK/rdv-1 2>&1" |
	while IFS= read -r line; do printf '%s %s\n' "$(now)" "$line"; done >>"$log" &
trainer_pipe=$!
kill_at=$((STEPS / 4 + RANDOM % (STEPS / 4)))
until awk -v k="$kill_at" '$2 == "step" && $3 >= k {found = 1} END {exit !found}' "$log"; do sleep 0.05; done
survivor_pids=$(pgrep -u lcrtest -x lcr-demo-traine | sort -n | tr '\n' ' ')
killed=$(now)
"$TESTCLUSTER" kill-node n2
echo "killed every process of n2 (slurmd, slurmstepd, lcrd, the rank) near step $kill_at"

# Slurm's own view, timed in the background: when does it mark n2 down?
( until "$TESTCLUSTER" root-exec sinfo -h -n n2 -o %t 2>/dev/null | grep -q down; do sleep 0.5; done
  now >"$OUT/slurm-down-at" ) &
slurm_watcher=$!

bold "LCR recovers inside the running job"
for _ in $(seq 600); do
	grep -q 'communicator rebuilt' "$log" && break
	sleep 0.1
done
sed -n 's/^[0-9.]* \(trainer: rank 0.*\)$/\1/p' "$log"
wait "$trainer_pipe" || true
replacement_out=$(ls "$WORK"/lcr-"$job".*.replacement-1.out 2>/dev/null | head -n 1 || true)
echo "the replacement on n5 (its output: $replacement_out):"
grep -E 'resumes|final' "$replacement_out" 2>/dev/null | sed 's/^/  /' || true

at() { awk -v pat="$1" '$0 ~ pat {print $1; exit}' "$log"; }
detected=$(at 'event: .*n2.* is down')
saved_at=$(at 'event: checkpoint of step')
replacing_at=$(at 'event: replacing node')
joined_at=$(at 'event: node 1 rejoined')
rebuilt_at=$(at 'communicator rebuilt')
first_step_at=$(awk -v t="${rebuilt_at:-0}" '$1 > t && $2 == "step" {print $1; exit}' "$log")
step_saved=$(ls -d "$WORK"/ckpt/step-* 2>/dev/null | sed 's/.*step-//' | sort -n | tail -n 1)
failed_step=$(sed -n 's/.*: step \([0-9]*\): gradient exchange failed.*/\1/p' "$log" | sort -n | head -n 1)
resumed_step=$(sed -n 's/.*communicator rebuilt at epoch [0-9]*, training goes on at step \([0-9]*\).*/\1/p' "$log" | head -n 1)
rolled_back_at=$(at 'the helpers rolled the state back to step')
rolled_back_to=$(sed -n 's/.*the helpers rolled the state back to step \([0-9]*\) .*/\1/p' "$log" | head -n 1)
final=$(sed -n 's/^[0-9.]* final rank 0 .* checksum //p' "$log" | tail -n 1)
replacement_final=$(sed -n 's/^final rank 1 .* checksum //p' "$replacement_out" 2>/dev/null || true)
kept=0
for pid in $survivor_pids; do grep -q "pid $pid: communicator rebuilt" "$log" && kept=$((kept + 1)); done

bold "Meanwhile, Slurm itself"
for _ in $(seq 60); do kill -0 "$slurm_watcher" 2>/dev/null || break; sleep 1; done
down_at=$(cat "$OUT/slurm-down-at" 2>/dev/null || now)
echo "Slurm marked n2 down $(since "$killed" "$down_at") s after the kill; LCR had detected it after $(since "$killed" "${detected:-$killed}") s"
as_user scancel "$job"
wait

bold "Recovery timeline"
{
	printf '| phase (from the kill of n2) | seconds |\n| --- | --- |\n'
	printf '| failure detected by LCR (NODE_DOWN on every survivor) | %s |\n' "$(since "$killed" "${detected:-$killed}")"
	printf '| just-in-time checkpoint of step %s published | %s |\n' "$step_saved" "$(since "$killed" "${saved_at:-$killed}")"
	printf '| spare n5 launched (REPLACING) | %s |\n' "$(since "$killed" "${replacing_at:-$killed}")"
	printf '| the replacement helper joined the step (NODE_JOINED) | %s |\n' "$(since "$killed" "${joined_at:-$killed}")"
	[ -z "$rolled_back_to" ] ||
		printf '| the survivors, rolled back by their helpers to protected step %s, resume | %s |\n' \
			"$rolled_back_to" "$(since "$killed" "${rolled_back_at:-$killed}")"
	printf '| the replacement ranks hold their state (from %s), communicator rebuilt | %s |\n' "$state_from" \
		"$(since "$killed" "${rebuilt_at:-$killed}")"
	printf '| first completed step after recovery | %s |\n' "$(since "$killed" "${first_step_at:-$killed}")"
	printf '| Slurm marks the node down | %s |\n' "$(since "$killed" "$down_at")"
	printf '| steps lost (step %s in flight when n2 died, training went on at %s) | %s |\n' "$failed_step" \
		"$resumed_step" "$(awk -v k="$failed_step" -v s="$resumed_step" 'BEGIN {d = k - s; print d < 0 ? 0 : d}')"
	printf '| survivor processes kept (same pid before and after) | %s of 3 |\n' "$kept"
} | tee "$OUT/timeline.md"
if [ "$final" = "$reference" ] && [ "$replacement_final" = "$reference" ]; then
	echo "final checksum $final on the survivors and on the replacement: identical to the run without failure"
else
	echo "final checksum $final (survivors), ${replacement_final:-none} (replacement): DIFFERENT from the run without failure ($reference)"
fi

# The picture: loss over time, failure and recovery marked.
awk -v t0="$start" '$2 == "step" {print $1 - t0, $5}' "$log" >"$OUT/loss.dat"
if command -v gnuplot >/dev/null; then
	gnuplot <<-EOF
	set terminal png size 900,450
	set output "$OUT/demo-loss.png"
	set title "LCR demo$([ "$SHARDED" = 0 ] || echo ' (ZeRO-1 shards, no replica)'): a node dies, a spare takes its place inside the running job"
	set xlabel "seconds"; set ylabel "loss (rank 0)"
	set arrow from $(since "$start" "$killed"), graph 0 to $(since "$start" "$killed"), graph 1 nohead lc rgb "red"
	set label "n2 killed" at $(since "$start" "$killed"), graph 0.95 tc rgb "red" offset 0.5,0
	set arrow from $(since "$start" "${first_step_at:-$killed}"), graph 0 to $(since "$start" "${first_step_at:-$killed}"), graph 1 nohead lc rgb "dark-green"
	set label "training again" at $(since "$start" "${first_step_at:-$killed}"), graph 0.85 tc rgb "dark-green" offset 0.5,0
	plot "$OUT/loss.dat" using 1:2 with linespoints title "loss"
	EOF
	echo "picture: $OUT/demo-loss.png"
fi
[ "$final" = "$reference" ] && [ "$replacement_final" = "$reference" ]
