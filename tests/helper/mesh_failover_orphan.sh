#!/bin/bash
# mesh_failover_orphan.sh: the leader dies after it launched a spare, whose step Slurm lists
# (lcrd --replace=spare). Four foreground helpers h0..h3 (h0 leads), spares s1 and s2, a
# fake srun (fake_launcher.sh) that hangs on s1, and a fake Slurm on PATH: squeue --steps
# prints the steps listed in $WORK/slurm/steps (as Slurm would list the job's steps; any
# other squeue fails, so the helpers keep --job-nodes), scancel records its arguments. h3 is
# killed: h0 sequences REPLACING with spare s1 and launches it; the test lists that step
# (4348.3 on s1); then h0 and its launcher are killed together, as a node's death takes
# both. h1 leads, takes h3 over, finds the step on s1 and cancels it (scancel 4348.3): s1 is
# not used while Slurm still lists the step, so h3 is replaced on s2, and h0, with no other
# spare left, waits. Once the step is gone from Slurm's list, h1 replaces h0 on s1: the
# spare is used again, and two replacements never ran on it together. (With the old code,
# h1 cancelled nothing and launched on s1 beside the orphaned step at once.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
MESH_JOB=4348
MESH_PREFIX=h
TIMEOUT=1
REPLACE_TIMEOUT=20
start_munged
mkdir -p "$WORK/bin" "$WORK/slurm"
: >"$WORK/slurm/steps"
cat >"$WORK/bin/squeue" <<EOF
#!/bin/sh
case " \$* " in
*" --steps "*) echo "\$*" >>"$WORK/slurm/squeue.args"; cat "$WORK/slurm/steps" ;;
*) exit 1 ;;
esac
EOF
cat >"$WORK/bin/scancel" <<EOF
#!/bin/sh
echo "\$*" >>"$WORK/slurm/scancel.args"
EOF
chmod 755 "$WORK/bin/squeue" "$WORK/bin/scancel"
export PATH=$WORK/bin:$PATH
use_fake_launcher "s[1-2],h[0-3]" "$REPLACE_TIMEOUT"
echo hang >"$FAKE_LAUNCHER_DIR/s1"

start_recovery_mesh /bin/train --epochs=3
ok $? "four helpers with --replace=spare form a mesh"

# --- h3 killed: the leader launches s1, and Slurm lists that step ---
reap -9 "${MESH_PIDS[3]}"
all_events "gen 2 REPLACING node 3 epoch 2 .*replacing node h3 (3) with spare s1" 10 h0 h1 h2
ok $? "h3 killed: the leader sequences REPLACING with spare s1, epoch 2"
for i in $(seq 100); do [ -s "$FAKE_LAUNCHER_DIR/s1.pid" ] && break; sleep 0.05; done
hang_pid=$(cat "$FAKE_LAUNCHER_DIR/s1.pid")
printf '%s\n' "4348.0 h[0-3]" "4348.batch h0" "4348.extern h[0-3],s[1-2]" "4348.3 s1" \
	"4348.4 s2,s1" >"$WORK/slurm/steps"

# --- the leader dies with its launcher ---
kill -9 "$hang_pid"
reap -9 "${MESH_PIDS[0]}"
all_events "gen 3 NODE_DOWN node 0 " 10 h1 h2
ok $? "the leader's death: NODE_DOWN of node 0 at generation 3"
wait_for "$WORK/slurm/scancel.args" "4348.3"
[ "$(cat "$WORK/slurm/scancel.args" 2>/dev/null)" = "--quiet 4348.3" ]
ok $? "the new leader h1 cancels the step on s1 (scancel --quiet 4348.3), and nothing else"
grep -qx -- "--noheader --steps --jobs=4348 --format=%i %N" "$WORK/slurm/squeue.args"
ok $? "... which it found with squeue --steps --jobs=4348"
grep -q "spare s1: the replacement step 4348.3 the former leader launched was cancelled" "$WORK/h1.log"
ok $? "... and logs what it found and did"
all_events "gen 4 REPLACING node 3 epoch 4 .*replacing node h3 (3) with spare s2" 10 h1 h2
ok $? "h1 takes h3 over on s2 (s1 runs the cancelled step): REPLACING, epoch 4"
all_events "gen 5 NODE_JOINED node 3 epoch 4 .*rejoined: s2" 15 h1 h2
ok $? "s2 joins as node 3"
for i in $(seq 100); do grep -q "node h0 (0) waits for a spare" "$WORK/h1.log" && break; sleep 0.05; done
grep -q "node h0 (0) waits for a spare: the only one left runs a cancelled step" "$WORK/h1.log"
ok $? "h0's failure, with no spare left but s1, waits for the cancelled step to end"
sleep 2 # two of the leader's checks of Slurm's list
! events_of h1 | grep -q "REPLACING node 0 " && grep -qx "LCR_REJOIN_NODE_ID=3" "$FAKE_LAUNCHER_DIR/s1.launch"
ok $? "... launching nothing on s1 while Slurm lists the step there"

# --- the cancelled step ends ---
rm "$FAKE_LAUNCHER_DIR/s1"
printf '%s\n' "4348.0 h[0-3]" "4348.batch h0" "4348.extern h[0-3],s[1-2]" "4348.4 s2,s1" \
	>"$WORK/slurm/steps"
all_events "gen 6 REPLACING node 0 epoch 4 .*replacing node h0 (0) with spare s1" 10 h1 h2
ok $? "once the step is gone, h1 replaces h0 on s1: REPLACING at generation 6, epoch 4"
grep -q "spare s1: the cancelled step 4348.3 is gone: a spare like the others again" "$WORK/h1.log"
ok $? "... after it logged that the step is gone"
all_events "gen 7 NODE_JOINED node 0 epoch 4 .*rejoined: s1" 15 h1 h2
ok $? "s1 joins as node 0: the spare is used again"
grep -qx "LCR_REJOIN_NODE_ID=0" "$FAKE_LAUNCHER_DIR/s1.launch"
ok $? "... launched for node 0"
[ "$(wc -l <"$WORK/slurm/scancel.args")" = 1 ]
ok $? "one scancel in all"
events_of h1 | diag
for name in h1 h2; do events_of "$name" | grep " gen [0-9]* " | grep -v RECOVERY_TIMELINE | sed 's/^ *[^ ]* //'; done | sort | uniq -c |
	awk '$1 != 2 { bad = 1 } END { exit bad }'
ok $? "both survivors logged the same events with the same generations and epochs"

for pid in "${MESH_PIDS[1]}" "${MESH_PIDS[2]}"; do reap -TERM "$pid"; done
for name in s1 s2; do
	pid=$(cat "$UID_ROOT/$MESH_JOB.0.$name/lcrd.pid" 2>/dev/null) && reap -TERM "$pid"
done
finish
