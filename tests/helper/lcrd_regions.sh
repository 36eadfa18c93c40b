#!/bin/bash
# lcrd_regions.sh: the device proxy with host regions. A client writes a pattern, is
# SIGKILLed, and a new process of the same rank reattaches and reads it back intact; the
# quota refuses an allocation with a message naming the region and sizes and disturbs
# nothing else; lcrctl regions shows name, size, kind, owner, shard key, step and phase;
# malformed messages are each rejected while the helper keeps serving.
. "$(dirname "$0")/lib.sh"
uid=$(id -u)
make_root "$WORK/root" "$uid"
start_lcrd a --job-id=30 --node-name=n1 --ranks=0-3 --region-quota=16M \
	--runtime-dir="$WORK/root/$uid" --log-level=verbose
ok $? "lcrd starts with a 16 MiB region quota"

"$CLIENT" write 0 model.weights 3M 11 --hold >"$WORK/w0" &
writer=$!
LCR_PIDS+=("$writer")
wait_for "$WORK/w0" holding; ok $? "rank 0 writes a 3 MiB pattern and commits step 1"
"$CLIENT" write 1 optim.exp_avg 1000001 12 >"$WORK/w1"; ok $? "rank 1 writes an odd-sized region and exits"

"$CLIENT" register 0 >"$WORK/busy"
ok_exit 1 $? "a second live process cannot register rank 0"
grep -q "rank 0 is held by a live session (pid $writer)" "$WORK/busy"; ok $? "... and is told who holds it"

before=$("$LCRCTL" --socket="$LCR_SOCKET" --checksum regions | grep model.weights | awk '{print $NF}')
kill -9 "$writer"; wait "$writer" 2>/dev/null
wait_for "$WORK/a.log" "rank 0 (pid $writer) \(was killed by signal 9\|exited\)"
ok $? "lcrd notices the SIGKILL at once through the pidfd"

"$CLIENT" check 0 model.weights 3M 11 >"$WORK/c0"
ok $? "a new process of rank 0 reattaches and reads the pattern back intact"
grep -q "intact model.weights committed step 1 phase 2" "$WORK/c0"
ok $? "... and sees step 1 committed on its control page"
"$CLIENT" check 1 optim.exp_avg 1000001 12 >/dev/null; ok $? "rank 1's region is intact too"
after=$("$LCRCTL" --socket="$LCR_SOCKET" --checksum regions | grep model.weights | awk '{print $NF}')
[ -n "$before" ] && [ "$before" = "$after" ]
ok $? "the helper's own checksum of the region is unchanged ($after)"

"$CLIENT" alloc 2 too.big 13M >"$WORK/q"
ok_exit 1 $? "an allocation beyond the quota fails"
grep -q "region 'too.big' of rank 2 (13 MiB) does not fit the region quota: 4.0 MiB of 16 MiB in use" "$WORK/q"
ok $? "... with a message naming the region and the sizes"
diag <"$WORK/q"
"$CLIENT" check 0 model.weights 3M 11 >/dev/null; ok $? "... and nothing else is disturbed"
"$CLIENT" alloc 2 fits 12M >/dev/null; ok $? "an allocation within the quota succeeds"

"$CLIENT" alloc 0 model.weights 4M >"$WORK/ex"
grep -q "already exists as 3 MiB host" "$WORK/ex"; ok $? "asking for an existing name with another size fails"
"$CLIENT" alloc 7 x 1K >"$WORK/nr"
grep -q "rank 7 is not one of this node's ranks (0,1,2,3)" "$WORK/nr"; ok $? "a rank not in --ranks is refused"
"$CLIENT" alloc 0 'bad name' 1K >"$WORK/bn"
grep -q "invalid region name 'bad name'" "$WORK/bn"; ok $? "a region name with a blank is refused"

"$LCRCTL" --socket="$LCR_SOCKET" regions >"$WORK/regions"
ok $? "lcrctl regions"
diag <"$WORK/regions"
grep -q "^node n1 job 30 step 0 regions 3$" "$WORK/regions"; ok $? "... counts the regions"
grep -Eq "^  model.weights +3 MiB +host +0 +shard0 +1 +committed +gone" "$WORK/regions"
ok $? "... shows name, size, kind, owner, shard key, committed step, phase, owner state"
grep -Eq "^  fits +12 MiB +host +2 +shard0 +- +running " "$WORK/regions"
ok $? "... and '-' for a rank that committed nothing"

"$CLIENT" update 3 41 >/dev/null; ok $? "lcr_update_end refuses a step that was not begun"
"$CLIENT" update 3 42 --begin-only >"$WORK/u3" &
LCR_PIDS+=($!)
wait_for "$WORK/u3" holding
"$CLIENT" list >"$WORK/list"; ok $? "lcr_region_list lists every rank's regions"
grep -q "region optim.exp_avg rank 1 size 1000001 shard shard1 alive 0" "$WORK/list"
ok $? "... with owner, size and shard key"
"$LCRCTL" --socket="$LCR_SOCKET" status | grep -q "^  rank 3 pid [0-9]* running registered"
ok $? "a rank in the middle of an update is registered and running"

"$CLIENT" free 2 fits >/dev/null; ok $? "lcr_region_free frees a region"
"$LCRCTL" --socket="$LCR_SOCKET" status | grep -q "regions 2 bytes 4.0MiB"
ok $? "... and its bytes return to the quota"

"$CLIENT" malformed >"$WORK/m"; ok $? "each malformed message is rejected and the helper keeps serving"
diag <"$WORK/m"

stop_lcrd; ok $? "lcrd exits 0 and frees the regions"
grep -q "freeing 2 regions" "$WORK/a.log"; ok $? "... which it logs"
finish
