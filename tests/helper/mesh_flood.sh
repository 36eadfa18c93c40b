#!/bin/bash
# mesh_flood.sh: a helper's mesh listener flooded with connections that never authenticate
# (issue 18, item 4). Three lcrd helpers form a mesh through a private munged; conn_flood
# plays an attacker on the same network, its connections coming from other addresses of
# 127/8. Node 1 runs with 128 descriptors. What must hold:
#   - of many idle connections from one address, the helper keeps at most 32;
#   - out of descriptors, the helper does not spin: its CPU time stays small;
#   - under a flood of more connections than it has descriptors, a real peer still gets in,
#     and no node is declared down;
#   - while munged hangs, HELLOs whose credential only munged can judge do not stall the
#     helper (node 2): no node is declared down, no helper fenced;
#   - a rendezvous with 128 descriptors, flooded with idle connections, still lets a step's
#     helpers register: their mesh forms within 5 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
FLOOD=$LCR_BUILDDIR/tests/helper/conn_flood
TIMEOUT=1
NOFILE=128
TICKS=$(getconf CLK_TCK)
start_munged

# lcrd with NOFILE descriptors, for node 1.
cat >"$WORK/lcrd-limited" <<EOF2
#!/bin/bash
ulimit -n $NOFILE
exec "$LCRD" "\$@"
EOF2
chmod 755 "$WORK/lcrd-limited"

make_root "$WORK/root" "$(id -u)"
start_rendezvous "rdv-$MESH_PREFIX"
start_mesh_node 0 3 --detect-timeout=$TIMEOUT --log-level=verbose
LCRD_REAL=$LCRD LCRD=$WORK/lcrd-limited
start_mesh_node 1 3 --detect-timeout=$TIMEOUT --log-level=verbose
LCRD=$LCRD_REAL
start_mesh_node 2 3 --detect-timeout=$TIMEOUT --log-level=verbose
wait_mesh_up 3
ok $? "three helpers form a mesh"
port_of() { sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/h$1.log"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
open_fds() { ls "/proc/$1/fd" | wc -l; }
# node_downs: NODE_DOWN events the three helpers hold, in all.
node_downs() {
	local name n=0
	for name in h0 h1 h2; do
		n=$((n + $(events_of "$name" | grep -c NODE_DOWN)))
	done
	echo "$n"
}
port0=$(port_of 0)
port1=$(port_of 1)
port2=$(port_of 2)
pid1=${MESH_PIDS[1]}
pid2=${MESH_PIDS[2]}

# --- idle connections from one address: at most 32 are kept ---
out=$("$FLOOD" "127.0.0.1:$port0" --from=127.0.0.2 --per-address=100 --seconds=1)
echo "100 idle connections from 127.0.0.2 to h0: $out" | diag
[ "$(awk '{ print $2 }' <<<"$out")" -le 32 ]
ok $? "of 100 idle connections from one address, the helper keeps at most 32"

# --- out of descriptors: the listener pauses, the helper does not spin ---
prlimit --pid "$pid1" --nofile=$(($(open_fds "$pid1") + 8)):$NOFILE
"$FLOOD" "127.0.0.1:$port1" --from=127.0.0.10 --addresses=4 --per-address=8 --seconds=4 \
	>"$WORK/flood-emfile" &
flood=$!
sleep 1
t0=$(cpu_ticks "$pid1")
sleep 2
t1=$(cpu_ticks "$pid1")
prlimit --pid "$pid1" --nofile=$NOFILE:$NOFILE
wait "$flood"
echo "h1 out of descriptors: $((t1 - t0)) ticks of CPU in 2 s ($TICKS a second)" | diag
[ $((t1 - t0)) -le $((TICKS / 5)) ]
ok $? "a helper out of descriptors does not spin (at most 10% of a core)"
grep -q "cannot accept on the mesh listener 127.0.0.1:$port1: Too many open files; not accepting for 100 ms" "$WORK/h1.log"
ok $? "... and says why it pauses"

# --- more connections than descriptors, refilled as they close: a real peer gets in ---
"$FLOOD" "127.0.0.1:$port1" --from=127.0.0.20 --addresses=100 --per-address=8 --refill \
	--seconds=6 >"$WORK/flood-refill" &
flood=$!
sleep 1
t0=$(now_ms)
"$PEER" "127.0.0.1:$port1" sealed --job=$MESH_JOB --from=2 --to=1 --munge-socket="$MUNGE_SOCKET" \
	>"$WORK/peer-under-flood"
welcomed=$?
t=$(($(now_ms) - t0))
echo "a peer under the flood: $(cat "$WORK/peer-under-flood") after $t ms" | diag
[ "$welcomed" = 0 ] && [ "$t" -le $((2 * TIMEOUT * 1000)) ]
ok $? "under a flood of 800 connections from 100 addresses, a peer with this step's credential is welcomed within $((2 * TIMEOUT)) s"
wait "$flood"
diag <"$WORK/flood-refill"
grep -q "too many mesh connections wait to authenticate" "$WORK/h1.log"
ok $? "... and the helper reports the connections it turned away"
[ "$(node_downs)" = 0 ]
ok $? "... and no node is declared down"

# --- munged hangs: HELLOs that only munged can judge do not stall the helper ---
sleep 1
downs=$(node_downs)
munged_pid=$(cat "$WORK/munge/munged.pid")
kill -STOP "$munged_pid"
"$FLOOD" "127.0.0.1:$port2" --junk --hello-from=0 --hello-to=2 --addresses=1 --per-address=4 \
	--seconds=$((4 * TIMEOUT)) >"$WORK/flood-junk"
[ "$(node_downs)" = "$downs" ]
ok $? "while munged hangs on junk HELLOs to h2, no node is declared down for $((4 * TIMEOUT)) s"
kill -CONT "$munged_pid"
! grep -q "fenced" "$WORK/h2.log" && kill -0 "$pid2"
ok $? "... and h2 is neither fenced nor gone"
"$PEER" "127.0.0.1:$port2" sealed --job=$MESH_JOB --from=0 --to=2 --munge-socket="$MUNGE_SOCKET" \
	>"$WORK/peer-after-hang"
ok $? "once munged answers again, a peer with this step's credential is welcomed"
for pid in "${MESH_PIDS[@]}"; do reap -TERM "$pid" 2>/dev/null; done

# --- the rendezvous: idle connections before the helpers register ---
MESH_JOB=$((MESH_JOB + 1)) MESH_PREFIX=r
LCRD=$WORK/lcrd-limited
start_rendezvous rdv-r
LCRD=$LCRD_REAL
"$FLOOD" "127.0.0.1:$RDV_PORT" --from=127.0.0.30 --addresses=30 --per-address=10 --seconds=10 \
	>"$WORK/flood-rdv" &
flood=$!
sleep 2
t0=$(now_ms)
start_mesh_node 0 2 --detect-timeout=$TIMEOUT --log-level=verbose
start_mesh_node 1 2 --detect-timeout=$TIMEOUT --log-level=verbose
both_up() { [ "$(grep -l "the mesh of 2 helpers is up" "$WORK"/r[01].log 2>/dev/null | wc -l)" = 2 ]; }
until both_up || [ $(($(now_ms) - t0)) -gt 5000 ]; do sleep 0.1; done
t=$(($(now_ms) - t0))
echo "two helpers through a rendezvous flooded with 300 idle connections: $t ms" | diag
both_up && [ "$t" -le 5000 ]
ok $? "a rendezvous flooded with more idle connections than it has descriptors lets two helpers register within 5 s"
wait "$flood"
for pid in "${MESH_PIDS[@]}"; do reap -TERM "$pid" 2>/dev/null; done
finish
