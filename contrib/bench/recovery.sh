#!/bin/bash
# recovery.sh: issue 7's benchmark. What a node failure costs with LCR's in-job recovery,
# beside what it costs the conventional way, in the same run on the same local Slurm
# cluster (tests/cluster/testcluster, 5 nodes; as root):
#
#   reference     the demo trainer on n1-n4 with --lcr, no failure: the final weights'
#                 checksum every other run must end with.
#   LCR           the same training in a 5-node --lcr allocation (n5 is the spare); every
#                 process of n2 is killed when rank 0 has completed step KILL_AT. Timeline
#                 from the kill, read from the trainers' timestamped lines: NODE_DOWN on
#                 every survivor, the just-in-time checkpoint published, REPLACING,
#                 NODE_JOINED, the replacement's rank holding its state (the transfer from
#                 the survivors' memory is done), the communicator rebuilt, the first step
#                 completed after the recovery. The helpers' logs are kept (hard links:
#                 they are removed when a step ends) for the transfer's own figures.
#   conventional  the same training without LCR (--without-lcr: plain memory), plain srun
#                 (no --no-kill), rank 0 saving a checkpoint every SAVE_EVERY steps
#                 (--save-dir); n2 is killed at the same step. Slurm kills the step when it
#                 marks n2 down (after SlurmdTimeout); at once a new step on n1, n3, n4 and
#                 the spare n5 loads the last checkpoint (--load-dir) and recomputes the
#                 lost steps.
#   transfer      contrib/bench/transfer.sh (state transfer against raw loopback TCP, with
#                 foreground helpers), its RESULT line as it prints it.
#
# Both totals run from the kill to the moment the step that was in flight at the kill has
# completed (LCR: in the same processes; conventional: in the new step). The state is
# STATE_MB per node: a 1 MiB model (--state-mb=1; its size is what every step computes on)
# plus STATE_MB - 1 MiB of ballast (--ballast-mb: state that the steps leave alone but that
# the checkpoints and the transfer carry). The conventional restart is launched the moment
# srun exits: no queue wait, no human; its figure is a lower bound.
#
# Prints a markdown timeline and RESULT lines: recovery_total_seconds, lost_steps and
# recovery_detect_seconds (LCR's value, the conventional path's as the baseline: for
# detection, Slurm killing the step); recovery_state_fill_in_job, how fast the replacement's
# helper filled the ballast, against raw loopback TCP (tcp_baseline, best of two), with
# source=replicas or source=checkpoint_file (the helper reads the checkpoint's files when its
# rank asks for its regions before the helper has joined the mesh); then transfer.sh's line.
# Two more phases, for contrib/sim (lcr-sim --bench-results reads them with detection and the
# fill rate): recovery_replacement_launch_seconds, REPLACING to NODE_JOINED (the spare's step
# started and its helper joined; baseline: the conventional new step from its launch to its
# checkpoint loaded), and recovery_comm_rebuild_seconds, from the replacement's rank holding
# its state (NODE_JOINED when that was not seen) to the last survivor's communicator rebuilt
# (no conventional counterpart: baseline n/a; 0 when the rebuild was seen first, within the
# 20 ms that the replacement's output is polled at).
# RUNS rounds (each an LCR run, then a conventional one) after one reference run: every
# RESULT line gives the runs' median (value and baseline, ratio between the two medians),
# then runs=, the spread of the value (min=, max=) and of the baseline (baseline_min=,
# baseline_max=), and state_mib=; the timeline printed is the run with the median LCR
# total, after a table of every run. STATE_MB=64 shows the fixed cost (detection, launch,
# join, rebuild) with little state to move. Keeps the logs in OUT. Three rounds at 64 MiB
# took 2 min 15 s on two shared cores (2026-12-06, load 3); at 1 GiB each round also
# carries the checkpoints and the transfer of 1 GiB per node.
#
#   contrib/bench/recovery.sh [BUILDDIR]   (as root; default BUILDDIR: the current directory)
#   RUNS=3          rounds
#   STATE_MB=1024   state per node (lowered, with a message, to fit the memory available)
#   SAVE_EVERY=50   the conventional run's checkpoint interval, in steps
#   KILL_AT=175     the step after which n2 is killed (default: 3.5 intervals, so the
#                   conventional run loses about half an interval, its average)
#   STEPS=400       steps of every run
#   OUT=DIR         logs and timeline.md (default BUILDDIR/contrib/bench/recovery)
#   BASE, PORT_BASE the cluster's directory and ports (default /var/tmp/lcr-bench-recovery,
#                   17800)
set -uo pipefail
SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LCR_BUILDDIR=$(cd "${1:-.}" && pwd)
export LCR_BUILDDIR
export BASE=${BASE:-/var/tmp/lcr-bench-recovery}
export PORT_BASE=${PORT_BASE:-17800}
export MODE=multi
RUNS=${RUNS:-3}
STATE_MB=${STATE_MB:-1024}
SAVE_EVERY=${SAVE_EVERY:-50}
KILL_AT=${KILL_AT:-$((3 * SAVE_EVERY + SAVE_EVERY / 2))}
STEPS=${STEPS:-400}
OUT=${OUT:-$LCR_BUILDDIR/contrib/bench/recovery}
TESTCLUSTER=$SRCDIR/tests/cluster/testcluster
TEST_USER=${TEST_USER:-lcrtest}
WORK=$BASE/work/recovery
VICTIM=n2           # rank 1's node
VICTIM_ID=1         # its node id in the step
SPARE=n5

die() { echo "recovery.sh: $*" >&2; exit 1; }
say() { echo "recovery.sh: $*" >&2; }
[ "$(id -u)" = 0 ] || die "needs root (it runs a local Slurm cluster)"
[ -x "$LCR_BUILDDIR/contrib/demo/lcr-demo-trainer" ] ||
	die "$LCR_BUILDDIR/contrib/demo/lcr-demo-trainer is not built: run make in the build directory"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS ($RUNS) must be a whole number of at least 1"
[ "$STEPS" -gt $((KILL_AT + SAVE_EVERY)) ] || die "STEPS ($STEPS) must exceed KILL_AT + SAVE_EVERY ($((KILL_AT + SAVE_EVERY)))"

# 4 ranks, a replacement and a checkpoint's worth of page cache, with 2 GiB to spare.
avail_mb=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
if [ $((6 * STATE_MB + 2048)) -gt "$avail_mb" ]; then
	STATE_MB=$(((avail_mb - 2048) / 6))
	[ "$STATE_MB" -ge 64 ] || die "not enough memory ($avail_mb MiB available)"
	say "state lowered to $STATE_MB MiB per node to fit in memory ($avail_mb MiB available)"
fi
BALLAST_MB=$((STATE_MB - 1))
TRAINER_ARGS="--steps=$STEPS --print-every=0 --state-mb=1 --ballast-mb=$BALLAST_MB --recovery-wait=60"

as_user() { "$TESTCLUSTER" exec "$@"; }
sinfo_state() { "$TESTCLUSTER" root-exec sinfo -h -n "$1" -o %t 2>/dev/null; }
since() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "n/a"; else printf "%.2f", b - a }'; }

# poll SECONDS CMD...: runs CMD every 20 ms until it succeeds (0) or SECONDS pass (1).
poll() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.02
	done
}

# wait_gone PID SECONDS: waits for our background job PID to end; kills it after SECONDS.
wait_gone() {
	poll "$2" eval "! kill -0 $1 2>/dev/null" && { wait "$1" 2>/dev/null; return 0; }
	say "process $1 still runs after $2 s: killing it"
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 1
}

all_idle() { [ "$("$TESTCLUSTER" root-exec sinfo -h -N -o %t 2>/dev/null | grep -c '^idle')" -ge 5 ]; }

# stamp LOG [KILL_FILE]: each line of stdin into LOG after the time it was read (seconds
# since the epoch, the clock of every time here). With KILL_FILE: when rank 0 reports step
# KILL_AT, every process of VICTIM is killed, the time just before goes to KILL_FILE. At the
# end of the input (srun has exited), an "END" line.
stamp() {
	local log=$1 kill_file=${2:-} line t
	while IFS= read -r line; do
		t=$EPOCHREALTIME
		printf '%s %s\n' "$t" "$line" >>"$log"
		if [ -n "$kill_file" ] && [[ $line == "step $KILL_AT "* ]]; then
			echo "$t" >"$kill_file"
			"$TESTCLUSTER" kill-node "$VICTIM" 2>/dev/null &
			kill_file=
		fi
	done
	printf '%s END\n' "$EPOCHREALTIME" >>"$log"
}

# first_at LOG REGEX / last_at LOG REGEX: the time of the first / last matching line.
first_at() { awk -v re="$2" '$0 ~ re { print $1; exit }' "$1"; }
last_at() { awk -v re="$2" '$0 ~ re { t = $1 } END { if (t != "") print t }' "$1"; }
# failed_step LOG: the step in flight at the failure, the highest that a rank failed in (a
# ring allreduce can complete on some ranks before the others see it fail: the ranks may
# stand one step apart, and the step below is then committed on some replica).
failed_step() { sed -n 's/.*: step \([0-9]*\): gradient exchange failed.*/\1/p' "$1" | sort -n | tail -n 1; }
# step_done_at LOG STEP AFTER: the time rank 0 reported STEP or a later step, after AFTER.
step_done_at() { awk -v s="$2" -v a="${3:-0}" '$2 == "step" && $3 >= s && $1 > a { print $1; exit }' "$1"; }
final_of() { sed -n "s/^\([0-9.]* \)\{0,1\}final rank $2 .* checksum //p" "$1" 2>/dev/null | tail -n 1; }
result() { # NAME VALUE UNIT BASELINE
	awk -v n="$1" -v v="$2" -v u="$3" -v b="$4" 'BEGIN {
		r = (b + 0 != 0) ? sprintf("%.3f", v / b) : "n/a"
		printf "RESULT name=%s value=%s unit=%s baseline=%s ratio=%s\n", n, v, u, b, r }'
}

# Every helper log of the cluster, hard-linked into $WORK/helper-logs as soon as it
# appears: a step's end removes the helpers' logs, the links keep them whole.
link_helper_logs() {
	local dir f deadline=$((SECONDS + 600 * RUNS))
	dir=$BASE/run/lcr/$(id -u "$TEST_USER")
	mkdir -p "$WORK/helper-logs"
	while [ ! -e "$WORK/helper-logs.stop" ] && [ $SECONDS -lt $deadline ]; do
		for f in "$dir"/*.log; do
			[ -e "$f" ] && [ ! -e "$WORK/helper-logs/${f##*/}" ] && ln "$f" "$WORK/helper-logs/" 2>/dev/null
		done
		sleep 0.05
	done
}

linker=
cleanup() {
	[ -n "$linker" ] && { touch "$WORK/helper-logs.stop"; wait_gone "$linker" 5 >/dev/null 2>&1; }
	"$TESTCLUSTER" down >/dev/null 2>&1 || say "testcluster down failed: see $BASE/log"
	rm -rf "$WORK"
}
trap cleanup EXIT

"$TESTCLUSTER" down >/dev/null 2>&1
"$TESTCLUSTER" up >/dev/null 2>&1 || die "the cluster does not start: see $BASE/log"
rm -rf "$WORK" "$OUT/helper-logs"
mkdir -p "$WORK" "$OUT"
chown "$TEST_USER" "$WORK"
as_user mkdir -p "$WORK/ref"
slurmd_timeout=$(sed -n 's/^SlurmdTimeout=//p' "$BASE/etc/slurm.conf")
message_timeout=$(sed -n 's/^MessageTimeout=//p' "$BASE/etc/slurm.conf")
slurm_bound=$((3 * slurmd_timeout + 2 * message_timeout + 60))
say "cluster up ($BASE, ports from $PORT_BASE): SlurmdTimeout=$slurmd_timeout s, MessageTimeout=$message_timeout s"
say "state per node: $STATE_MB MiB (model 1 MiB + ballast $BALLAST_MB MiB); $STEPS steps; $VICTIM killed after step $KILL_AT; $RUNS rounds"

# ---- reference ----------------------------------------------------------------------
say "reference: --lcr on n1-n4, no failure"
as_user bash -c "cd $WORK/ref && srun -N4 -n4 -w 'n[1-4]' --lcr --lcr-ckpt-dir=$WORK/ref/ckpt \
	lcr-demo-trainer $TRAINER_ARGS --rendezvous-dir=$WORK/ref 2>&1" </dev/null | stamp "$WORK/ref.log"
reference=$(final_of "$WORK/ref.log" 0)
[ -n "$reference" ] || die "the reference run did not finish: $(tail -n 5 "$WORK/ref.log")"
say "reference checksum $reference"

# ---- one run: LCR, then the conventional restart ----------------------------------------
# Run I's files: $WORK/lcrI.log, lcrI.kill, lcrI.resumed, lcrI/ (the LCR step's directory),
# convI-1.log, convI-2.log, convI.kill, convI.restart, convI/ (the conventional steps').

# restore_victim: VICTIM's slurmd started again and every node idle.
restore_victim() {
	say "bringing $VICTIM back"
	"$TESTCLUSTER" start-node "$VICTIM"
	poll 90 all_idle || die "the nodes are not all idle again: $("$TESTCLUSTER" root-exec sinfo -N)"
}

# lcr_run I: the LCR run of round I (VICTIM killed after step KILL_AT).
lcr_run() {
	local i=$1 L=$WORK/lcr$1.log job run resumed
	say "LCR ($i of $RUNS): a 5-node --lcr allocation, training on n1-n4; $VICTIM killed after step $KILL_AT"
	as_user mkdir -p "$WORK/lcr$i"
	as_user bash -c "cd $WORK/lcr$i && salloc -N5 -w 'n[1-5]' --lcr srun -N4 -n4 -w 'n[1-4]' --lcr \
		--lcr-ckpt-dir=$WORK/lcr$i/ckpt lcr-demo-trainer $TRAINER_ARGS --rendezvous-dir=$WORK/lcr$i 2>&1" \
		</dev/null | stamp "$L" "$WORK/lcr$i.kill" &
	run=$!
	poll 120 test -s "$WORK/lcr$i.kill" || die "the LCR run did not reach step $KILL_AT: $(tail -n 5 "$L")"
	job=$(sed -n 's/.*Granted job allocation \([0-9]*\).*/\1/p' "$L" | head -n 1)
	replacement_out() { ls "$WORK/lcr$i/lcr-$job".*".replacement-$VICTIM_ID.out" 2>/dev/null | head -n 1; }
	replacement_resumed() { grep -qs 'resumes at step' "$(replacement_out)"; }
	rebuilt_everywhere() { [ "$(grep -c 'communicator rebuilt' "$L")" -ge 3 ]; }
	# The replacement's rank says "resumes" once its regions hold the state it received.
	resumed=
	poll 120 eval 'replacement_resumed || rebuilt_everywhere' && replacement_resumed && resumed=$EPOCHREALTIME
	echo "$resumed" >"$WORK/lcr$i.resumed"
	poll 120 rebuilt_everywhere ||
		say "the survivors did not all go on: $(grep -E 'event|rebuilt' "$L" | tail -n 8)"
	lcr_finished() { [ -n "$(final_of "$L" 0)" ] && [ -n "$(final_of "$(replacement_out)" $VICTIM_ID)" ]; }
	poll 300 lcr_finished || say "the LCR run did not finish: $(tail -n 5 "$L")"
	# Do not wait for Slurm to notice the dead node: the training is over.
	as_user scancel "$job"
	wait_gone "$run" 60
}

# conv_run I: the conventional run of round I, and its restart.
conv_run() {
	local i=$1 run
	say "conventional ($i of $RUNS): plain srun on n1-n4 without LCR, a checkpoint every $SAVE_EVERY steps; $VICTIM killed after step $KILL_AT"
	as_user mkdir -p "$WORK/conv$i/ckpt"
	as_user bash -c "cd $WORK/conv$i && mkdir -p rdv-1 && srun -N4 -n4 -w 'n[1-4]' lcr-demo-trainer $TRAINER_ARGS \
		--without-lcr=$WORK/conv$i/rdv-1 --save-dir=$WORK/conv$i/ckpt --save-every=$SAVE_EVERY 2>&1" \
		</dev/null | stamp "$WORK/conv$i-1.log" "$WORK/conv$i.kill" &
	run=$!
	poll 120 test -s "$WORK/conv$i.kill" || die "the conventional run did not reach step $KILL_AT: $(tail -n 5 "$WORK/conv$i-1.log")"
	say "conventional: waiting for Slurm to kill the step (at most $slurm_bound s)"
	wait_gone "$run" "$slurm_bound" || die "srun did not exit within $slurm_bound s of the kill"
	echo "$EPOCHREALTIME" >"$WORK/conv$i.restart"
	say "conventional: srun exited; a new step on n1,n3,n4,$SPARE loads the last checkpoint"
	as_user bash -c "cd $WORK/conv$i && mkdir -p rdv-2 && srun -N4 -n4 -w n1,n3,n4,$SPARE lcr-demo-trainer $TRAINER_ARGS \
		--without-lcr=$WORK/conv$i/rdv-2 --load-dir=$WORK/conv$i/ckpt --save-dir=$WORK/conv$i/ckpt \
		--save-every=$SAVE_EVERY 2>&1" </dev/null | stamp "$WORK/conv$i-2.log" &
	run=$!
	wait_gone "$run" 300 || say "the restarted conventional run did not end within 300 s"
}

link_helper_logs &
linker=$!
for ((run = 1; run <= RUNS; run++)); do
	lcr_run "$run"
	restore_victim
	conv_run "$run"
	[ "$run" -lt "$RUNS" ] && restore_victim
done
"$TESTCLUSTER" down >/dev/null 2>&1 || say "testcluster down failed: see $BASE/log"
touch "$WORK/helper-logs.stop"
wait_gone "$linker" 5 >/dev/null
linker=

# ---- transfer -------------------------------------------------------------------------
say "transfer: contrib/bench/transfer.sh (foreground helpers, $STATE_MB MiB)"
transfer_results=$(LCR_XFER_BENCH_MIB=$STATE_MB "$SRCDIR/contrib/bench/transfer.sh" "$LCR_BUILDDIR" 2>"$WORK/transfer.err" |
	grep '^RESULT ') || say "transfer.sh failed: $(tail -n 3 "$WORK/transfer.err")"
raw_tcp=0
for _ in 1 2; do
	seconds=$("$LCR_BUILDDIR/contrib/bench/tcp_baseline" "$STATE_MB" 2>/dev/null | awk '{print $4}')
	raw_tcp=$(awk -v b="$raw_tcp" -v m="$STATE_MB" -v s="${seconds:-0}" 'BEGIN { v = s > 0 ? m / s : 0; printf "%.1f", (v > b ? v : b) }')
done

# ---- figures ----------------------------------------------------------------------------
# figures_of I: every figure of run I, into the variables the timeline and the runs' table
# read.
figures_of() {
	local i=$1
	L=$WORK/lcr$i.log C1=$WORK/conv$i-1.log C2=$WORK/conv$i-2.log
	lcr_kill=$(cat "$WORK/lcr$i.kill" 2>/dev/null)
	lcr_resumed=$(cat "$WORK/lcr$i.resumed" 2>/dev/null)
	conv_kill=$(cat "$WORK/conv$i.kill" 2>/dev/null)
	conv_restart=$(cat "$WORK/conv$i.restart" 2>/dev/null)
	job=$(sed -n 's/.*Granted job allocation \([0-9]*\).*/\1/p' "$L" | head -n 1)
	rep_out=$(ls "$WORK/lcr$i/lcr-$job".*".replacement-$VICTIM_ID.out" 2>/dev/null | head -n 1)
	lcr_failed=$(failed_step "$L")
	lcr_detected=$(awk -v re="event: node $VICTIM \\\\($VICTIM_ID\\\\) is down" \
		'$0 ~ re && !seen[$4]++ { t = $1 } END { if (t != "") print t }' "$L") # the last survivor's first
	lcr_ckpt=$(first_at "$L" 'event: checkpoint of step [0-9]* published')
	lcr_ckpt_line=$(grep -m 1 'event: checkpoint of step [0-9]* published' "$L" | sed 's/.*event: //')
	lcr_ckpt_step=$(sed -n 's/.*checkpoint of step \([0-9]*\) .*/\1/p' <<<"$lcr_ckpt_line")
	lcr_replacing=$(first_at "$L" "event: replacing node $VICTIM")
	lcr_joined=$(first_at "$L" "event: node $VICTIM_ID rejoined")
	lcr_rebuilt=$(last_at "$L" 'communicator rebuilt')
	lcr_goes_on=$(sed -n 's/.*communicator rebuilt at epoch [0-9]*, training goes on at step \([0-9]*\).*/\1/p' "$L" | head -n 1)
	lcr_first=$(step_done_at "$L" 0 "${lcr_rebuilt:-0}")
	lcr_first_step=$(awk -v t="$lcr_first" '$1 == t && $2 == "step" { print $3; exit }' "$L")
	lcr_done=$(step_done_at "$L" "${lcr_failed:-0}" "${lcr_rebuilt:-0}")
	lcr_lost=$(awk -v k="$lcr_failed" -v s="$lcr_goes_on" 'BEGIN { d = k - s; print d < 0 ? 0 : d }')
	lcr_final=$(final_of "$L" 0)
	rep_final=$(final_of "$rep_out" $VICTIM_ID)
	# How the replacement's helper filled the ballast (the bulk of the state): from the
	# survivors' memory ("restored from the replicas (step S): SIZE in X s (Y MiB/s): ...
	# from N peers ...") or from the just-in-time checkpoint's files ("(SIZE) restored from
	# PATH in X s").
	transfer_line=$(grep -hs "rank $VICTIM_ID: region 'ballast' .*restored from" "$WORK"/helper-logs/"$job".*."$SPARE".log | head -n 1)
	transfer_seconds=$(sed -n 's/.* in \([0-9.]*\) s\( .*\)\{0,1\}$/\1/p' <<<"$transfer_line")
	if grep -q 'restored from the replicas' <<<"$transfer_line"; then
		transfer_source=replicas
		transfer_mibs=$(sed -n 's/.* s (\([0-9.]*\) MiB\/s).*/\1/p' <<<"$transfer_line")
		transfer_what="$BALLAST_MB MiB of ballast from $(sed -n 's/.* from \([0-9]*\) peers.*/\1/p' <<<"$transfer_line") replicas' memory in $transfer_seconds s"
	elif [ -n "$transfer_seconds" ]; then
		transfer_source=checkpoint_file
		transfer_mibs=$(awk -v m="$BALLAST_MB" -v s="$transfer_seconds" 'BEGIN { if (s > 0) printf "%.1f", m / s }')
		transfer_what="$BALLAST_MB MiB of ballast from the checkpoint's files, not from the replicas, in $transfer_seconds s"
	else
		transfer_source=unknown transfer_mibs='' transfer_what="no restore line in the replacement's helper log"
	fi

	conv_failed=$(failed_step "$C1")
	conv_noticed=$(last_at "$C1" 'gradient exchange failed')
	conv_node_failure=$(first_at "$C1" 'Node failure on')
	conv_srun_exit=$(last_at "$C1" ' END$')
	conv_allocated=$(first_at "$C2" 'srun: job [0-9]* has been allocated resources')
	conv_loaded=$(first_at "$C2" 'trainer: rank 0 resumes at step|trainer: rank 0: no checkpoint')
	conv_resumed=$(sed -n 's/.*trainer: rank 0 resumes at step \([0-9]*\) .*/\1/p' "$C2" | head -n 1)
	conv_resumed=${conv_resumed:-0}
	conv_first=$(step_done_at "$C2" 0 0)
	conv_done=$(step_done_at "$C2" "${conv_failed:-0}" 0)
	conv_lost=$(awk -v k="$conv_failed" -v s="$conv_resumed" 'BEGIN { d = k - s; print d < 0 ? 0 : d }')
	conv_final=$(final_of "$C2" 0)
	conv_save=$(sed -n 's/.*checkpoint of step [0-9]* saved to .* in \([0-9.]*\) s$/\1/p' "$C1" |
		awk '{ s += $1; n++ } END { if (n) printf "%.2f s on average over %d saves", s / n, n }')

	lcr_total=$(since "$lcr_kill" "$lcr_done")
	conv_total=$(since "$conv_kill" "$conv_done")
	step_rate=$(awk '$2 == "step" && $3 > 20 && $3 < '"$KILL_AT"' { n++; if (!a) a = $1; b = $1 } END { if (b > a) printf "%.1f", (n - 1) / (b - a) }' "$L")
	run_ok=1
	for sum in "$lcr_final" "$rep_final" "$conv_final"; do [ "$sum" = "$reference" ] || run_ok=0; done
}

# at_least_0: a figure, or 0.00 for a negative one: the survivors may rebuild their
# communicator before the replacement's "resumes" line is seen (its output is polled every
# 20 ms), which is no time at the resolution of that poll.
at_least_0() { awk '{ print ($1 != "n/a" && $1 + 0 < 0) ? "0.00" : $1 }'; }

# The runs' figures, one line per run (n/a where a figure is missing): the columns that
# stat_of reads.
RUNS_TABLE=$WORK/runs.txt
COLUMNS_OF_RUNS="run lcr_total conv_total lcr_lost conv_lost detect conv_detect launch conv_launch rebuild fill_mibs ok"
: >"$RUNS_TABLE"
for ((run = 1; run <= RUNS; run++)); do
	figures_of "$run"
	echo "$run $lcr_total $conv_total $lcr_lost $conv_lost $(since "$lcr_kill" "$lcr_detected")" \
		"$(since "$conv_kill" "$conv_srun_exit") $(since "$lcr_replacing" "$lcr_joined")" \
		"$(since "$conv_restart" "$conv_loaded") $(since "${lcr_resumed:-$lcr_joined}" "$lcr_rebuilt" | at_least_0)" \
		"${transfer_mibs:-n/a} $run_ok" >>"$RUNS_TABLE"
done

# stat_of COLUMN: "median min max" of COLUMN over the runs that have it, or "n/a n/a n/a".
stat_of() {
	local col
	col=$(tr ' ' '\n' <<<"$COLUMNS_OF_RUNS" | grep -nx "$1" | cut -d: -f1)
	awk -v c="$col" '$c != "n/a" && $c != "" { print $c }' "$RUNS_TABLE" | sort -g | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "n/a n/a n/a"; exit }
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			print m, v[1], v[NR] }'
}

# The run whose LCR total is the median (the lower middle one for an even count): its
# timeline is the one printed.
median_run=$(awk '$2 != "n/a" { print $2, $1 }' "$RUNS_TABLE" | sort -g |
	awk '{ r[NR] = $2 } END { if (NR) print r[int((NR + 1) / 2)] }')
figures_of "${median_run:-1}"

{
	echo
	echo "## Recovery from a node kill: LCR in-job recovery against the conventional restart"
	echo
	echo "4 nodes train (one rank each), $SPARE is the spare; $STATE_MB MiB of state per node (model 1 MiB,"
	echo "ballast $BALLAST_MB MiB); $VICTIM killed (every process) after rank 0 completed step $KILL_AT; about"
	echo "$step_rate steps/s before the kill. Slurm: SlurmdTimeout=$slurmd_timeout s, MessageTimeout=$message_timeout s."
	echo "$RUNS runs, each LCR then conventional; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo
	echo "| run | LCR total (s) | conventional total (s) | ratio | steps lost, LCR / conventional | state filled (MiB/s) | every checksum the reference's |"
	echo "| --- | --- | --- | --- | --- | --- | --- |"
	awk '{ r = ($2 != "n/a" && $3 != "n/a" && $3 + 0 > 0) ? sprintf("%.3f", $2 / $3) : "n/a"
		printf "| %s | %s | %s | %s | %s / %s | %s | %s |\n", $1, $2, $3, r, $4, $5, $11, $12 ? "yes" : "NO" }' "$RUNS_TABLE"
	echo
	echo "Timeline of run $median_run (the median LCR total):"
	echo
	echo "| LCR (--lcr, replace=spare): phase, from the kill of $VICTIM | seconds |"
	echo "| --- | --- |"
	echo "| failure detected (NODE_DOWN on every survivor) | $(since "$lcr_kill" "$lcr_detected") |"
	echo "| just-in-time checkpoint of step $lcr_ckpt_step published | $(since "$lcr_kill" "$lcr_ckpt") |"
	echo "| spare $SPARE launched (REPLACING) | $(since "$lcr_kill" "$lcr_replacing") |"
	echo "| replacement's helper joined the mesh (NODE_JOINED) | $(since "$lcr_kill" "$lcr_joined") |"
	echo "| replacement's rank holds its state ($transfer_what; its output, polled every 20 ms) | $(since "$lcr_kill" "$lcr_resumed") |"
	echo "| communicator rebuilt (every survivor, same processes) | $(since "$lcr_kill" "$lcr_rebuilt") |"
	echo "| first completed step after recovery (step $lcr_first_step) | $(since "$lcr_kill" "$lcr_first") |"
	echo "| **total**: step $lcr_failed, in flight at the kill, completed | **$lcr_total** |"
	echo "| steps lost (step $lcr_failed in flight, training went on at $lcr_goes_on) | $lcr_lost |"
	echo
	echo "| conventional (srun, checkpoint every $SAVE_EVERY steps): phase, from the kill of $VICTIM | seconds |"
	echo "| --- | --- |"
	echo "| survivors' gradient exchange fails; they exit | $(since "$conv_kill" "$conv_noticed") |"
	echo "| Slurm reports the node failure | $(since "$conv_kill" "$conv_node_failure") |"
	echo "| Slurm has killed the step (srun exited); new step launched on n1,n3,n4,$SPARE | $(since "$conv_kill" "$conv_restart") |"
	[ -n "$conv_allocated" ] &&
		echo "| its nodes allocated (the killed job's nodes were still completing) | $(since "$conv_kill" "$conv_allocated") |"
	if [ "$conv_resumed" -gt 0 ]; then
		echo "| checkpoint of step $((conv_resumed - 1)) loaded (rank 0) | $(since "$conv_kill" "$conv_loaded") |"
	else
		echo "| no checkpoint yet: the new step starts from step 0 | $(since "$conv_kill" "$conv_loaded") |"
	fi
	echo "| first completed step of the new step | $(since "$conv_kill" "$conv_first") |"
	echo "| **total**: step $conv_failed, in flight at the kill, completed again | **$conv_total** |"
	echo "| steps lost and recomputed (step $conv_failed in flight, resumed at $conv_resumed) | $conv_lost |"
	echo
	echo "Periodic checkpoint of the conventional run (rank 0, $STATE_MB MiB, fsync'ed): ${conv_save:-none}."
	echo "LCR's just-in-time checkpoint: ${lcr_ckpt_line:-none}."
	echo "The replacement's helper: ${transfer_line#*: }"
	echo
	echo "Final weights' checksum: reference (no failure) $reference; LCR survivors ${lcr_final:-none}, replacement" \
		"${rep_final:-none}; conventional after restart ${conv_final:-none}."
} | tee "$OUT/timeline.md"
checksums_ok=$(awk '!$12 { bad = 1 } END { print bad ? 0 : 1 }' "$RUNS_TABLE")
if [ "$checksums_ok" = 1 ]; then
	echo "every run ends with the reference's weights"
else
	echo "recovery.sh: a run ends with weights DIFFERENT from the reference's (see the runs' table)" >&2
fi
echo

# result_runs NAME COLUMN UNIT BASELINE_COLUMN|0: a RESULT line of the runs' medians (value,
# baseline, and their ratio), then runs=, the spread of the value (min=, max=) and of the
# baseline (baseline_min=, baseline_max=: none for a baseline of 0), and state_mib=.
result_runs() {
	local v b spread
	read -r -a v <<<"$(stat_of "$2")"
	spread="runs=$RUNS min=${v[1]} max=${v[2]}"
	if [ "$4" = 0 ]; then
		b=(0)
	else
		read -r -a b <<<"$(stat_of "$4")"
		spread="$spread baseline_min=${b[1]} baseline_max=${b[2]}"
	fi
	echo "$(result "$1" "${v[0]}" "$3" "${b[0]}") $spread state_mib=$STATE_MB"
}
result_runs recovery_total_seconds lcr_total s conv_total
result_runs lost_steps lcr_lost steps conv_lost
result_runs recovery_detect_seconds detect s conv_detect
result_runs recovery_replacement_launch_seconds launch s conv_launch
result_runs recovery_comm_rebuild_seconds rebuild s 0
read -r -a fill <<<"$(stat_of fill_mibs)"
[ "${fill[0]}" != n/a ] && echo "$(result recovery_state_fill_in_job "${fill[0]}" MiB/s "$raw_tcp") runs=$RUNS" \
	"min=${fill[1]} max=${fill[2]} state_mib=$STATE_MB source=$transfer_source"
[ -n "$transfer_results" ] && echo "$transfer_results"

cp "$WORK"/ref.log "$WORK"/lcr[0-9]*.log "$WORK"/conv[0-9]*-[12].log "$RUNS_TABLE" "$OUT/" 2>/dev/null
for ((run = 1; run <= RUNS; run++)); do
	figures_of "$run"
	[ -n "$rep_out" ] && cp "$rep_out" "$OUT/replacement$run.out"
done
mkdir -p "$OUT/helper-logs" && cp "$WORK"/helper-logs/*.log "$OUT/helper-logs/" 2>/dev/null
say "logs in $OUT"
median_total=$(stat_of lcr_total | cut -d' ' -f1)
median_conv=$(stat_of conv_total | cut -d' ' -f1)
[ "$checksums_ok" = 1 ] && [ "$median_total" != n/a ] && [ "$median_conv" != n/a ]
