#!/bin/bash
# lcrd_rendezvous.sh: events, the key-value store and barriers through the helper.
. "$(dirname "$0")/lib.sh"
uid=$(id -u)
make_root "$WORK/root" "$uid"
start_lcrd a --job-id=40 --node-name=n1 --runtime-dir="$WORK/root/$uid" --log-level=debug
ok $? "lcrd starts"

"$CLIENT" kv-get nccl.id 0 >"$WORK/g0"
grep -q "error kv_get: No such file or directory" "$WORK/g0"; ok $? "a missing key without waiting is ENOENT"
"$CLIENT" kv-get nccl.id 5000 >"$WORK/g1" &
getter=$!
sleep 0.2
"$CLIENT" kv-put nccl.id abc123 >/dev/null; ok $? "lcr_kv_put stores a value"
wait "$getter"; ok $? "a waiting lcr_kv_get returns once the key appears"
grep -q "value nccl.id=abc123" "$WORK/g1"; ok $? "... with the value"
"$CLIENT" kv-get missing 200 >"$WORK/g2"
grep -q "error kv_get: Connection timed out" "$WORK/g2"; ok $? "a get that waits in vain times out"

for i in 1 2; do "$CLIENT" barrier init 3 5000 >"$WORK/b$i" & eval "b$i=\$!"; done
sleep 0.2
grep -q passed "$WORK/b1" "$WORK/b2"; ok_exit 1 $? "two of three barrier participants wait"
"$CLIENT" barrier init 3 5000 >"$WORK/b3"; ok $? "the third releases the barrier"
wait "$b1" && wait "$b2"; ok $? "... and the other two pass"
"$CLIENT" barrier init 2 100 >"$WORK/b4"
grep -q "barrier 'init' timed out with 1 of 2 participants" "$WORK/b4"
ok $? "the barrier can be used again; alone, it times out"

"$CLIENT" events 5000 1 >"$WORK/ev" &
listener=$!
wait_for "$WORK/ev" listening
"$CLIENT" register 6 --hold >"$WORK/r6" &
rank6=$!
wait_for "$WORK/r6" registered
kill -9 "$rank6"; wait "$rank6" 2>/dev/null
wait "$listener"; ok $? "a subscribed client receives an event when a rank dies"
grep -q "event 1 rank 6 pid $rank6 status \(9\|-1\): rank 6 (pid $rank6) \(was killed by signal 9\|exited\)" "$WORK/ev"
ok $? "... a RANK_EXITED event naming the rank and pid"
diag <"$WORK/ev"

"$CLIENT" events 5000 2 >"$WORK/ev2" &
listener=$!
wait_for "$WORK/ev2" listening
stop_lcrd; ok $? "lcrd stops"
wait "$listener"; ok $? "a subscribed client is told of the shutdown, then loses the helper"
grep -q "^event 2 .*shutting down" "$WORK/ev2" && grep -q "^event 3 .*lost" "$WORK/ev2"
ok $? "... as HELPER_SHUTDOWN then HELPER_LOST"
finish
