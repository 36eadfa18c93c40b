#!/bin/bash
# mesh_foreground.sh: five lcrd helpers in foreground mode form one step's mesh through a
# rendezvous and a private munged, as on five nodes. Each serves one watching rank. A rank
# killed, a helper killed, a helper stopped, the leader killed: every surviving rank hears
# of it, once, with the same generation, within the timeout + 1 s; a stopped helper that
# comes back is fenced; peers and registrations without a valid credential are refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
TIMEOUT=1
LIMIT_MS=$(((TIMEOUT + 1) * 1000))
start_munged

start_mesh 5 --detect-timeout=$TIMEOUT --log-level=verbose
ok $? "five helpers form a mesh through the rendezvous"
wait_for "$WORK/rdv-h.log" "the mesh runs without the rendezvous" && sleep 0.2 && process_gone "$RDV_PID"
ok $? "the rendezvous sent the table and exited"
"$LCRCTL" --socket="$(socket_of 2)" events >"$WORK/events0"
grep -q "mesh up generation 0 leader 0 live 5 of 5 address 127.0.0.1:[0-9]* timeout 1.0s peers 2" "$WORK/events0" &&
	grep -q "gen 0 MESH_UP leader 0: the mesh of 5 helpers is up" "$WORK/events0"
ok $? "lcrctl events shows the mesh up, its leader and the MESH_UP entry"
diag <"$WORK/events0"
for i in 0 1 2 3 4; do start_watcher "$i"; done

# --- a rank dies: RANK_EXITED for that rank only, once, everywhere ---
reap -9 "${WATCH_PID[2]}"
all=0
for i in 0 1 3 4; do
	wait_event "$WORK/w$i" RANK_EXITED rank=2 5 || all=1
done
ok $all "every other rank gets RANK_EXITED for the killed rank"
grep -h "RANK_EXITED" "$WORK"/w[0134] | grep -q "gen=1 leader=0" &&
	[ "$(grep -c RANK_EXITED "$WORK/w0")" = 1 ] && ! grep -q NODE_DOWN "$WORK"/w[0134]
ok $? "... exactly once, as generation 1, and no node is declared down"

# --- a helper killed: NODE_DOWN within the timeout + 1 s ---
t0=$(now_ms)
reap -9 "${MESH_PIDS[4]}"
late=0
for i in 0 1 3; do
	wait_event "$WORK/w$i" NODE_DOWN node_id=4 5 || late=1
	t=$(event_time_ms "$WORK/w$i" NODE_DOWN node_id=4)
	echo "rank $i: NODE_DOWN of h4 after $((${t:-0} - t0)) ms" | diag
	[ -n "$t" ] && [ $((t - t0)) -le $LIMIT_MS ] || late=1
done
ok $late "every surviving rank gets NODE_DOWN for a killed helper within the timeout + 1 s"
grep -h "NODE_DOWN node=h4" "$WORK"/w[013] | grep -c "gen=2 leader=0" | grep -qx 3
ok $? "... as generation 2, leader unchanged"

# --- a helper stopped: NODE_DOWN from heartbeats alone; back, it is fenced ---
t0=$(now_ms)
kill -STOP "${MESH_PIDS[3]}"
late=0
for i in 0 1; do
	wait_event "$WORK/w$i" NODE_DOWN node_id=3 5 || late=1
	t=$(event_time_ms "$WORK/w$i" NODE_DOWN node_id=3)
	echo "rank $i: NODE_DOWN of stopped h3 after $((${t:-0} - t0)) ms" | diag
	[ -n "$t" ] && [ $((t - t0)) -le $LIMIT_MS ] || late=1
done
ok $late "every surviving rank gets NODE_DOWN for a stopped helper within the timeout + 1 s"
grep -q "is down: silent for" "$WORK/h0.log"
ok $? "... confirmed from missing heartbeats"
kill -CONT "${MESH_PIDS[3]}"
for i in $(seq 100); do process_gone "${MESH_PIDS[3]}" && break; sleep 0.05; done
process_gone "${MESH_PIDS[3]}" && grep -q "removed this node from the mesh" "$WORK/h3.log"
ok $? "the stopped helper, continued, learns it was removed and ends"

# --- the peers' credentials ---
port1=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/h1.log")
out=$("$PEER" "127.0.0.1:$port1" none --job=$MESH_JOB --from=2 --to=1 --munge-socket="$MUNGE_SOCKET")
ok_exit 1 $? "a peer without a credential is refused"
echo "$out" | diag
out=$("$PEER" "127.0.0.1:$port1" garbage --job=$MESH_JOB --from=2 --to=1 --munge-socket="$MUNGE_SOCKET")
ok_exit 1 $? "a peer with a forged credential is refused"
out=$("$PEER" "127.0.0.1:$port1" sealed --job=$((MESH_JOB + 1)) --from=2 --to=1 --munge-socket="$MUNGE_SOCKET")
ok_exit 1 $? "a peer with another job's credential is refused"
grep -q "for job $((MESH_JOB + 1)) step 0, not job $MESH_JOB step 0" <<<"$out"
ok $? "... and told why"
out=$("$PEER" "127.0.0.1:$port1" sealed --job=$MESH_JOB --from=2 --to=0 --munge-socket="$MUNGE_SOCKET")
ok_exit 1 $? "a peer with a credential addressed to another node is refused"
out=$("$PEER" "127.0.0.1:$port1" register --job=$MESH_JOB --from=2 --to=1 --munge-socket="$MUNGE_SOCKET")
ok_exit 1 $? "a peer with a credential sealed for another message (RDV_REGISTER) is refused"
grep -q "sealed for a RDV_REGISTER, not a MESH_HELLO" <<<"$out"
ok $? "... and told why ($out)"
out=$("$PEER" "127.0.0.1:$port1" replayed --job=$MESH_JOB --from=2 --to=1 --munge-socket="$MUNGE_SOCKET")
ok_exit 1 $? "a credential made for another connection's challenge (captured, replayed) is refused"
grep -q "does not answer this connection's nonce" <<<"$out"
ok $? "... and told why ($out)"
if [ "$(id -u)" = 0 ] && id lcrtest >/dev/null 2>&1; then
	out=$(runuser -u lcrtest -- "$PEER" "127.0.0.1:$port1" sealed --job=$MESH_JOB --from=2 --to=1 \
		--munge-socket="$MUNGE_SOCKET")
	ok_exit 1 $? "a peer with another user's credential is refused"
	echo "$out" | diag
else
	skip "a peer with another user's credential is refused" "needs root and the user lcrtest"
fi
grep -q "refused a mesh connection from 127.0.0.1:[0-9]* (claims to be node 2)" "$WORK/h1.log"
ok $? "the helper logs each refusal with the peer's address"
"$PEER" "127.0.0.1:$port1" sealed --job=$MESH_JOB --from=2 --to=1 --munge-socket="$MUNGE_SOCKET" >/dev/null
ok $? "a peer with this step's credential is welcomed (the refusals above are not blanket)"
"$PEER" "127.0.0.1:$port1" sealed --job=$MESH_JOB --from=3 --to=1 --munge-socket="$MUNGE_SOCKET" >"$WORK/fenced"
ok_exit 2 $? "a node the mesh removed is not welcomed back"
grep -qx fenced "$WORK/fenced"
ok $? "... it is told it was removed"

# --- the leader dies: the next node leads, the event still reaches everyone ---
t0=$(now_ms)
reap -9 "${MESH_PIDS[0]}"
wait_event "$WORK/w1" NODE_DOWN node_id=0 5
ok $? "the leader's death is detected"
t=$(event_time_ms "$WORK/w1" NODE_DOWN node_id=0)
echo "rank 1: NODE_DOWN of the leader after $((${t:-0} - t0)) ms" | diag
grep "NODE_DOWN node=h0" "$WORK/w1" | grep -q "gen=4 leader=1" && [ $((t - t0)) -le $LIMIT_MS ]
ok $? "... within the timeout + 1 s, as generation 4 with h1 as the new leader"
"$LCRCTL" --socket="$(socket_of 1)" events >"$WORK/events1"
diag <"$WORK/events1"
grep -q "mesh up generation 4 leader 1 live 2 of 5" "$WORK/events1" &&
	[ "$(grep -cE '^  [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+ gen [1-4] (NODE_DOWN|RANK_EXITED)' "$WORK/events1")" = 4 ]
ok $? "lcrctl events lists the four changes with their times and generations"

# --- a helper that ends normally leaves; the last one sees NODE_LEFT ---
kill -TERM "${MESH_PIDS[2]}"
wait_event "$WORK/w1" NODE_LEFT node_id=2 5
ok $? "a helper that ends normally is reported as NODE_LEFT, not NODE_DOWN"
! grep -q "NODE_DOWN node=h2" "$WORK/w1"
ok $? "... and never as down"

# --- the rendezvous refuses a wrong token ---
start_rendezvous rdv2
LCR_RENDEZVOUS_TOKEN=wrong "$LCRD" --foreground --job-id="$MESH_JOB" --node-id=0 --node-count=2 \
	--node-name=intruder --runtime-dir="$WORK/root/$(id -u)" --rendezvous="127.0.0.1:$RDV_PORT" \
	--munge-socket="$MUNGE_SOCKET" >"$WORK/intruder.out" 2>"$WORK/intruder.log" &
intruder=$!
LCR_PIDS+=("$intruder")
wait_for "$WORK/intruder.log" "refused this helper" && grep -q "wrong token" "$WORK/intruder.log"
ok $? "a helper with the wrong token is refused by the rendezvous"
grep -q "refused a registration from 127.0.0.1:[0-9]*: wrong token" "$WORK/rdv2.log"
ok $? "... which logs the refusal"
"$LCRCTL" --socket="$WORK/root/$(id -u)/$MESH_JOB.0.intruder/lcrd.sock" events | grep -q "mesh failed"
ok $? "... and the helper keeps serving its own ranks, alone"
for pid in "$intruder" "$RDV_PID" "${MESH_PIDS[1]}" "${WATCH_PID[@]}"; do reap -TERM "$pid" 2>/dev/null; done
finish
