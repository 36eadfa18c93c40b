#!/bin/bash
# mesh_rejoin.sh: in-job recovery between foreground helpers (lcrd --replace=spare). Four
# helpers form a mesh through the rendezvous; the job has four spares, s1..s4, and a fake
# srun (fake_launcher.sh) that starts the replacement's lcrd with --rejoin, fails, or hangs,
# as each spare's control file says. A helper killed is replaced (s1's launcher fails at
# once, s2 joins); the replacement killed is replaced again (s3 hangs until
# --replace-timeout, s4 joins); the last one killed leaves no spare: RECOVERY_FAILED. Every
# helper logs the same events with the same generations and epochs. JOINs that belong to no
# attempt are refused, and bad options are rejected.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
MESH_JOB=4343
MESH_PREFIX=h
TIMEOUT=1
REPLACE_TIMEOUT=4
start_munged
use_fake_launcher "h[0-3],s[1-4]" "$REPLACE_TIMEOUT"
echo fail >"$FAKE_LAUNCHER_DIR/s1"
echo hang >"$FAKE_LAUNCHER_DIR/s3"


# --- four helpers, ranks 2i and 2i+1 on node i ---
start_recovery_mesh /bin/train --epochs=3
ok $? "four helpers with --replace=spare form a mesh"

# --- h2 killed: s1's launcher fails at once, s2 joins ---
reap -9 "${MESH_PIDS[2]}"
all_events "gen 1 NODE_DOWN node 2 " 10 h0 h1 h3
ok $? "every survivor applies NODE_DOWN of h2 as generation 1"
all_events "gen 2 REPLACING node 2 epoch 2 .*replacing node h2 (2) with spare s1" 10 h0 h1 h3
ok $? "... then REPLACING with spare s1, epoch 2"
all_events "gen 3 REPLACING node 2 epoch 3 .*with spare s2" 10 h0 h1 h3
ok $? "s1's launcher exits 1 at once: REPLACING with the next spare, s2, epoch 3"
all_events "gen 4 NODE_JOINED node 2 epoch 3 .*node 2 rejoined: s2 at 127.0.0.1:[0-9]*, ranks 4[,-]5" 15 h0 h1 h3
ok $? "s2's helper joins: NODE_JOINED at generation 4, epoch 3, on every survivor"
grep -q "the launcher exited with status 1 before the replacement joined" "$WORK/h0.log"
ok $? "the leader logs why s1 failed"
wait_events s2 "mesh up generation 4 leader 0 live 4 of 4" 10 &&
	wait_events s2 "gen 4 NODE_JOINED node 2 epoch 3 .*this helper replaced node s2 (2)" 1
ok $? "the replacement is a member at generation 4, epoch 3, with 4 of 4 live"
"$LCRCTL" --socket="$(sock s2)" status >"$WORK/s2.status"
grep -q "node s2" "$WORK/s2.status" && grep -q "ranks 4,5\|ranks 4-5" "$WORK/s2.status"
ok $? "lcrctl status shows the replacement with h2's ranks"
diag <"$WORK/s2.status"
launch=$FAKE_LAUNCHER_DIR/s2.launch
grep -q "^jobid=$MESH_JOB ntasks=2 nodelist=s2 lcr=yes program=/bin/train --epochs=3$" "$launch" &&
	grep -qx "LCR_REJOIN_NODES=h0,h1,s2,h3" "$launch" && grep -qx "LCR_REJOIN_RANKS=4-5\|LCR_REJOIN_RANKS=4,5" "$launch" &&
	grep -qx "LCR_REJOIN_NTASKS=8" "$launch" && grep -qx "LCR_REJOIN_EPOCH=3" "$launch" &&
	grep -qx "LCR_REJOIN_NODE_ID=2" "$launch" && grep -qx "LCR_REJOIN_NODE_COUNT=4" "$launch" &&
	grep -qx "LCR_REJOIN_STEP=0" "$launch" && grep -qx "LCR_REJOIN_PEER=127.0.0.1:[0-9]*" "$launch" &&
	grep -qx "LCR_REJOIN_CKPT=" "$launch"
ok $? "the launcher gets srun's arguments, the program and LCR_REJOIN_*"
diag <"$launch"
[ "$(stat -c %a "$WORK/lcr-$MESH_JOB.0.replacement-2.out")" = 600 ]
ok $? "the launchers' output goes to \$SLURM_SUBMIT_DIR/lcr-J.S.replacement-K.out, mode 0600"

# --- the replacement killed: detected; s3 hangs past --replace-timeout; s4 joins ---
s2_pid=$(cat "$UID_ROOT/$MESH_JOB.0.s2/lcrd.pid")
kill -9 "$s2_pid"
all_events "gen 5 NODE_DOWN node 2 " 10 h0 h1 h3
ok $? "the killed replacement is detected: NODE_DOWN of node 2 at generation 5"
wait_for "$WORK/h0.log" "replacement step for node 2 ended: exit status 137"
ok $? "the leader logs the end of s2's replacement step"
all_events "gen 6 REPLACING node 2 epoch 6 .*with spare s3" 10 h0 h1 h3
ok $? "a second spare, s3, is tried"
t0=$(date +%s)
all_events "gen 7 REPLACING node 2 epoch 7 .*with spare s4" $((REPLACE_TIMEOUT + 10)) h0 h1 h3
ok $? "s3's launcher hangs: after --replace-timeout the next spare, s4, is tried"
waited=$(($(date +%s) - t0))
echo "s3 was abandoned after about $waited s (--replace-timeout=$REPLACE_TIMEOUT)" | diag
grep -q "no JOIN within --replace-timeout=$REPLACE_TIMEOUT s" "$WORK/h0.log"
ok $? "... and the leader says why"
hang_pid=$(cat "$FAKE_LAUNCHER_DIR/s3.pid")
gone=1
for i in $(seq 100); do process_gone "$hang_pid" && { gone=0; break; }; sleep 0.05; done
ok $gone "the hanging launcher is killed"
all_events "gen 8 NODE_JOINED node 2 epoch 7 .*rejoined: s4" 15 h0 h1 h3
ok $? "s4 joins: NODE_JOINED at generation 8, epoch 7, everywhere"
wait_events s4 "mesh up generation 8 leader 0 live 4 of 4" 10
ok $? "s4 is a member at generation 8"

# --- no spare left: RECOVERY_FAILED ---
s4_pid=$(cat "$UID_ROOT/$MESH_JOB.0.s4/lcrd.pid")
kill -9 "$s4_pid"
all_events "gen 9 NODE_DOWN node 2 " 10 h0 h1 h3
ok $? "the second replacement killed: NODE_DOWN at generation 9"
all_events "gen 10 RECOVERY_FAILED node 2 .*cannot replace node s4 (2): no spare node left in --job-nodes; restart from scratch" 10 h0 h1 h3
ok $? "no spare left: RECOVERY_FAILED at generation 10, with why and what to restart from"
for name in h0 h1 h3; do events_of "$name" | grep " gen [0-9]* " | grep -v RECOVERY_TIMELINE | sed 's/^ *[^ ]* //'; done | sort | uniq -c |
	awk '$1 != 3 { bad = 1 } END { exit bad }'
ok $? "every survivor logged the same events with the same generations and epochs (its own recovery timelines aside)"
events_of h1 | diag

# --- JOINs that belong to no attempt ---
leader_port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/h0.log" | head -1)
h1_port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/h1.log" | head -1)
"$LCRD" --foreground --job-id=$MESH_JOB --step-id=0 --node-id=1 --node-count=4 --node-name=s9 \
	--runtime-dir="$UID_ROOT" --munge-socket="$MUNGE_SOCKET" --rejoin="127.0.0.1:$h1_port" \
	>"$WORK/s9.out" 2>"$WORK/s9.log"
ok_exit 1 $? "a JOIN for a live node with no attempt in flight fails: lcrd exits 1"
grep -q "does not lead" "$WORK/s9.log" && grep -q "asking the leader (node 0) at 127.0.0.1:$leader_port" "$WORK/s9.log"
ok $? "... a helper that does not lead names the leader, and the joiner asks it"
grep -q "cannot join the mesh: .*no replacement of node 1 is in flight" "$WORK/s9.log" &&
	grep -q "refused the JOIN of node 1 from 127.0.0.1:[0-9]*: no replacement of node 1 is in flight" "$WORK/h0.log"
ok $? "... the leader refuses it, logs it, and the joiner says why"
diag <"$WORK/s9.log"

# --- bad options ---
out=$("$LCRD" --foreground --job-id=1 --replace=maybe 2>&1)
ok_exit 2 $? "--replace=maybe is rejected"
grep -q -- "--replace=maybe: expected spare or none" <<<"$out"
ok $? "... naming the accepted values"
out=$("$LCRD" --foreground --job-id=1 --step-id=0 --node-id=0 --node-count=2 --rejoin=127.0.0.1:1 \
	--rendezvous=127.0.0.1:2 2>&1)
ok_exit 2 $? "--rejoin with --rendezvous is rejected"
grep -q -- "--rejoin and --rendezvous cannot be combined" <<<"$out"
ok $? "... saying why"
out=$("$LCRD" --foreground --job-id=1 --replace-timeout=0 2>&1)
ok_exit 2 $? "--replace-timeout=0 is rejected"
out=$("$LCRD" --foreground --job-id=1 /bin/train 2>&1)
ok_exit 2 $? "a program without '--' is rejected"

for pid in "${MESH_PIDS[0]}" "${MESH_PIDS[1]}" "${MESH_PIDS[3]}"; do reap -TERM "$pid"; done
finish
