#!/bin/bash
# jobkv_mesh.sh: the job-wide key-value store across three foreground helpers, as on three
# nodes. A rank on one helper sees what a rank on another wrote, and a GET waits for a key
# written elsewhere; four clients adding at once get every sum once; COMPARE_SET and DELETE
# answer as documented; when the store's leader (node 0) is killed while clients add, every
# answered write is still there, no sum was given twice, and new writes work; a bound
# passed gives an error that names it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
STORE=$LCR_BUILDDIR/tests/helper/store_client
TIMEOUT=1
start_munged

start_mesh 3 --detect-timeout=$TIMEOUT --log-level=verbose
ok $? "three helpers form a mesh"

# store ID ARGS...: store_client against helper ID.
store() {
	local id=$1
	shift
	LCR_SOCKET=$(socket_of "$id") "$STORE" "$@"
}

# --- writes reach every helper's ranks ---
out=$(store 1 set greeting hello) && [ "$(store 2 get greeting 0)" = "value greeting=hello" ] &&
	[ "$(store 0 get greeting 0)" = "value greeting=hello" ]
ok $? "a key set by a rank on node 1 reads the same on nodes 2 and 0"
out=$(store 2 get absent 0)
ok_exit 1 $? "a GET of an absent key that does not wait fails"
grep -q "No such file or directory (-2): no key 'absent'" <<<"$out"
ok $? "... with -ENOENT naming the key"
echo "$out" | diag
store 2 get later 5000 >"$WORK/later.out" &
waiter=$!
sleep 0.3
store 0 set later arrived >/dev/null
wait "$waiter" && grep -qx "value later=arrived" "$WORK/later.out"
ok $? "a GET waiting on node 2 gets the value set on node 0"
out=$(store 1 get never 300)
grep -q "Connection timed out (-110): key 'never' did not appear within 300 ms" <<<"$out"
ok $? "a GET that times out says so, with the wait it used"
echo "$out" | diag
# a GET that waits longer than JOBKV_RESEND_MS is forwarded again each second (a forward
# lost with a connection would hang it): the leader refreshes its wait, and answers it once
store 2 get slow 10000 >"$WORK/slow.out" &
waiter=$!
sleep 2.5
store 0 set slow arrived >/dev/null
wait "$waiter" && [ "$(cat "$WORK/slow.out")" = "value slow=arrived" ]
ok $? "a GET on node 2 that waits across its forward's resends gets the value once: $(cat "$WORK/slow.out")"
start_ms=$(date +%s%3N)
out=$(store 1 get never 2500)
elapsed=$(($(date +%s%3N) - start_ms))
grep -q "Connection timed out (-110): key 'never' did not appear within [0-9]* ms" <<<"$out" &&
	[ "$elapsed" -ge 2400 ] && [ "$elapsed" -lt 4500 ]
ok $? "a GET forwarded again still times out after its own wait (${elapsed} ms of 2500)"

# --- compare-and-set, delete ---
[ "$(store 1 cas lock '' owner1)" = "swapped lock=owner1" ] &&
	[ "$(store 2 cas lock '' owner2)" = "kept lock=owner1" ] &&
	[ "$(store 2 cas lock owner1 owner2)" = "swapped lock=owner2" ]
ok $? "COMPARE_SET swaps only when the key holds the expected value"
store 0 delete lock >/dev/null && out=$(store 1 delete lock)
ok_exit 1 $? "a key deleted on node 0 is gone on node 1"
grep -q "no key 'lock' to delete" <<<"$out"
ok $? "... whose DELETE fails with -ENOENT"

# --- concurrent adds: every sum once ---
adders=()
t0=$(now_ms)
for c in 0 1 2 3; do store $((c % 3)) add counter 1 50 >"$WORK/add$c.out" & adders+=($!); done
wait "${adders[@]}"
echo "200 adds from 4 clients on 3 helpers: $(($(now_ms) - t0)) ms" | diag
awk '{print $2}' "$WORK"/add[0-3].out | sort -n >"$WORK/sums"
[ "$(wc -l <"$WORK/sums")" = 200 ] && [ -z "$(uniq -d "$WORK/sums")" ] &&
	[ "$(tail -1 "$WORK/sums")" = 200 ] && [ "$(store 2 get counter 0)" = "value counter=200" ]
ok $? "4 clients x 50 concurrent adds on three helpers get the sums 1..200, each once"

# --- the store's leader killed while clients add ---
for c in 1 2; do store "$c" add votes 1 300 >"$WORK/votes$c.out" 2>&1 & pids[$c]=$!; done
sleep 0.3
reap -9 "${MESH_PIDS[0]}"
rc=0
for c in 1 2; do wait "${pids[$c]}" || rc=1; done
cat "$WORK"/votes[12].out | grep -v '^sum' | diag
ok $rc "the adds of clients on nodes 1 and 2 all succeed across the leader's death"
grep -h '^sum' "$WORK"/votes[12].out | awk '{print $2}' | sort -n >"$WORK/votes"
[ -z "$(uniq -d "$WORK/votes")" ] && [ "$(wc -l <"$WORK/votes")" = 600 ]
ok $? "... no sum was given twice"
[ "$(store 1 get votes 0)" = "value votes=600" ] && [ "$(store 2 get counter 0)" = "value counter=200" ] &&
	[ "$(store 2 get greeting 0)" = "value greeting=hello" ]
ok $? "every acknowledged write is still there after the leader's death"
grep -q "leading the job-wide store from generation" "$WORK/h1.log"
ok $? "node 1 leads the store now"
[ "$(store 2 add votes 1 1)" = "sum 601" ] && [ "$(store 1 get votes 0)" = "value votes=601" ]
ok $? "new writes work and reach the other helper"

# --- bounds ---
out=$(store 1 fill big 100 16000)
ok_exit 1 $? "filling the store with large values fails"
grep -q "error set: .*(-7): cannot store key 'big[0-9]*' (16000 bytes): the job-wide store would hold [0-9]* bytes, more than its maximum of 1048576" <<<"$out"
ok $? "... with -E2BIG naming the store's byte bound"
echo "$out" | diag
for i in $(seq 0 99); do store 1 delete "big$i" >/dev/null 2>&1; done
out=$(store 2 fill k 5000 1)
grep -q "error set: .*(-28): cannot store key 'k[0-9]*': the job-wide store holds its maximum of 4096 keys" <<<"$out"
ok $? "past 4096 keys, a set fails with -ENOSPC naming the key bound"
echo "$out" | diag
finish
