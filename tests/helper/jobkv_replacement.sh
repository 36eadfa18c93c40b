#!/bin/bash
# jobkv_replacement.sh: the job-wide store across a replacement, and liblcr's communicators
# meeting in it (issue 19, items 2 and 3 of the commstore task). Three foreground helpers
# with a spare, as on three nodes with no shared directory: four ranks on three helpers
# build a TCP ring through the store alone and leave no entry behind; keys are written;
# the store's leader (node 0) is killed and a spare's helper replaces it; every key written
# before the replacement joined reads the same through the replacement's helper, a write
# through it reaches the others, and a communicator across the survivors and the
# replacement builds again through the store. Speaks TAP.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
STORE=$LCR_BUILDDIR/tests/helper/store_client
COMM_TEST=$LCR_BUILDDIR/tests/comm/comm_test
MESH_JOB=4545
TIMEOUT=1
export LCR_COMM_ADDR=127.0.0.1
start_munged
use_fake_launcher "h[0-2],s1" 10

# store SOCKET_NAME ARGS...: store_client against the helper named SOCKET_NAME.
store() {
	local name=$1
	shift
	LCR_SOCKET=$(sock "$name") "$STORE" "$@"
}

# ring NAME HELPERS...: comm_test check, rank i on the i-th helper named (no rendezvous
# directory: the ranks meet in the job-wide store only).
ring() {
	local name=$1 size=$(($# - 1)) rank=0 pids=() status=0 helper
	shift
	for helper in "$@"; do
		LCR_SOCKET=$(sock "$helper") timeout 60 "$COMM_TEST" check "$name" "$rank" "$size" \
			>"$WORK/$name.$rank.out" 2>&1 &
		pids+=($!)
		rank=$((rank + 1))
	done
	for pid in "${pids[@]}"; do wait "$pid" || status=1; done
	cat "$WORK/$name".*.out | diag
	for ((rank = 0; rank < size; rank++)); do grep -q "^ok $rank" "$WORK/$name.$rank.out" || status=1; done
	return $status
}

# no_entries NAME EPOCH SIZE HELPER: no key of communicator NAME at EPOCH is in the store.
no_entries() {
	local rank
	for ((rank = 0; rank < $3; rank++)); do
		store "$4" get "lcrc.$1.$2.$rank" 0 | grep -q "no key 'lcrc.$1.$2.$rank'" || return 1
	done
}

make_root "$WORK/root" "$(id -u)"
start_rendezvous "rdv-$MESH_PREFIX" || exit 1
for i in 0 1 2; do
	start_mesh_node "$i" 3 --ranks="$i" --detect-timeout="$TIMEOUT" --log-level=verbose \
		"${RECOVERY_ARGS[@]}" -- /bin/train
done
wait_mesh_up 3
ok $? "three helpers with a spare form a mesh"

ring world h0 h1 h2 h0
ok $? "four ranks on three helpers build a TCP ring through the job-wide store and sum right"
no_entries world 0 4 h1
ok $? "... and no entry of the ring is left in the store"

# --- keys written before the replacement ---
rc=0
for i in $(seq 0 19); do store "h$((i % 3))" set "before$i" "value-$i" >/dev/null || rc=1; done
store h2 fill bulk 200 100 | grep -qx "filled 200" || rc=1
[ "$(store h1 add count 7 1)" = "sum 7" ] || rc=1
ok $rc "20 keys set from every helper, 200 more of 100 bytes, a counter at 7"

# --- the store's leader killed, a spare replaces it ---
reap -9 "${MESH_PIDS[0]}"
all_events "NODE_JOINED node 0 .*rejoined: s1" 30 h1 h2
ok $? "node 0, the store's leader, killed: the spare s1 replaces it"
wait_events s1 "mesh up generation [0-9]* leader [0-9]* live 3 of 3" 10
ok $? "the replacement's helper is a member with 3 of 3 live"

rc=0
for i in $(seq 0 19); do
	out=$(store s1 get "before$i" 0)
	[ "$out" = "value before$i=value-$i" ] || { echo "before$i: $out" | diag; rc=1; }
done
bulk=$(printf 'v%.0s' $(seq 100))
for i in 0 99 199; do [ "$(store s1 get "bulk$i" 0)" = "value bulk$i=$bulk" ] || rc=1; done
[ "$(store s1 get count 0)" = "value count=7" ] || rc=1
ok $rc "every key written before the replacement joined reads the same through its helper"
[ "$(store s1 add count 1 1)" = "sum 8" ] && [ "$(store h2 get count 0)" = "value count=8" ] &&
	store s1 set after joined >/dev/null && [ "$(store h1 get after 0)" = "value after=joined" ]
ok $? "writes through the replacement's helper reach the survivors"

ring again s1 h1 h2 s1
ok $? "after the leader's death, four ranks on the survivors and the replacement build a ring again"
no_entries again 0 4 h2
ok $? "... leaving no entry behind"
# The spare the leader launched (the fake srun execs its lcrd) is no child of this script:
# end it too, or it outlives the test.
spare_pid=$(cat "$FAKE_LAUNCHER_DIR/s1.pid" 2>/dev/null) && reap -TERM "$spare_pid"
finish
