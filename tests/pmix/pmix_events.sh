#!/bin/bash
# pmix_events.sh: PMIx failure events reach lcrd and come back to the ranks as LCR events.
# pmix_event_server stands in for a resource manager that sends them (Slurm 22.05 does not):
# two ranks, both with a default PMIx handler that aborts the process, receive
# PMIX_EVENT_NODE_DOWN, PMIX_ERR_PROC_ABORTED (of one of their own ranks and of a process
# of another namespace), PMIX_EVENT_PROC_TERMINATED and PMIX_ERR_LOST_CONNECTION. liblcr
# forwards each; lcrd logs it, delivers it once as NODE_DOWN / RANK_EXITED / HELPER_LOST from
# PMIx, and both ranks read the four back and live on. Then: the server dies (a real lost
# connection); a server whose host takes no system events, as slurmstepd, refuses the node
# registration and the other three still arrive; LCR_PMIX=0 leaves events to the program; a
# client without PMIx works as before; malformed PMIX_EVENT messages are rejected.
. "$(dirname "$0")/../helper/lib.sh"
SERVER=$LCR_BUILDDIR/tests/pmix/pmix_event_server
PCLIENT=$LCR_BUILDDIR/tests/pmix/pmix_event_client
# Under AddressSanitizer: OpenPMIx's own leaks are not LCR's (see lsan.supp); libpmix has no
# frame pointers, so only the slow unwinder sees the PMIx functions the suppressions name.
export LSAN_OPTIONS="suppressions=$LCR_SRCDIR/tests/pmix/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
uid=$(id -u)
make_root "$WORK/root" "$uid"

# client_pids FILE: adds the clients that FILE lists ("client R pid P") to the cleanup.
client_pids() {
	local pid
	for pid in $(sed -n 's/^client [0-9]* pid \([0-9]*\)$/\1/p' "$1"); do
		LCR_PIDS+=("$pid")
	done
}

start_lcrd a --job-id=60 --node-name=n1 --ranks=0-1 --runtime-dir="$WORK/root/$uid" \
	--log-level=verbose
ok $? "lcrd starts"

"$SERVER" --mode=notify --tmpdir="$WORK/pmix-a" --nprocs=2 -- \
	"$PCLIENT" watch 4 --take-first-slot=0 >"$WORK/notify" 2>&1
ok $? "two PMIx ranks receive the failure events and both exit with 0"
diag <"$WORK/notify"
grep -q "^rank 0: holds the first handler slot" "$WORK/notify"
ok $? "rank 0's program holds PMIx's first handler slot (LCR falls back to prepend)"
for r in 0 1; do
	grep -q "^rank $r: event 4 source 1 rank [0-9]* node 'n3': PMIx: node n3 (PMIx id 3) is down (PMIX_EVENT_NODE_DOWN)$" "$WORK/notify"
	ok $? "rank $r reads NODE_DOWN of node n3 from PMIx"
	grep -q "^rank $r: event 1 source 1 rank 5 node '': PMIx: rank 5 aborted (PMIX_ERR_PROC_ABORTED)$" "$WORK/notify"
	ok $? "rank $r reads RANK_EXITED of rank 5 (aborted) from PMIx"
	grep -q "^rank $r: event 1 source 1 rank 6 node '': PMIx: rank 6 terminated (PMIX_EVENT_PROC_TERMINATED)$" "$WORK/notify"
	ok $? "rank $r reads RANK_EXITED of rank 6 (terminated, named in PMIX_EVENT_AFFECTED_PROCS)"
	grep -q "^rank $r: event 3 source 1 rank [01] node '': PMIx: rank [01] lost its connection to its PMIx server (PMIX_ERR_LOST_CONNECTION)$" "$WORK/notify"
	ok $? "rank $r reads HELPER_LOST from PMIx"
	grep -q "^rank $r: alive$" "$WORK/notify" && grep -q "^client $r exited with status 0$" "$WORK/notify"
	ok $? "rank $r still serves requests after the four and exits normally (no default handler ran)"
done
! grep -q "default handler\|PMIx_Abort\|killed by signal" "$WORK/notify"
ok $? "no event reached a default handler and nobody aborted"

log=$WORK/a.log
grep -q "PMIx: node n3 (PMIx id 3) is down (PMIX_EVENT_NODE_DOWN), reported by rank [01] of 'lcr-pmix-test' (pid [0-9]*, PMIx status -231)" "$log"
ok $? "lcrd logs NODE_DOWN with the node and PMIx status -231"
grep -q "PMIx: rank 5 aborted (PMIX_ERR_PROC_ABORTED), reported by .*PMIx status -7)" "$log"
ok $? "lcrd logs the abort of rank 5 with PMIx status -7"
grep -q "PMIx: rank 6 terminated (PMIX_EVENT_PROC_TERMINATED), reported by .*PMIx status -201)" "$log"
ok $? "lcrd logs the termination of rank 6 with PMIx status -201"
grep -q "lost its connection to its PMIx server (PMIX_ERR_LOST_CONNECTION), reported by .*PMIx status -61)" "$log"
ok $? "lcrd logs the lost connection with PMIx status -61"
grep -q "not delivered: PMIX_ERR_PROC_ABORTED names process 2 of namespace 'prte-daemons', not a rank of the job 'lcr-pmix-test'" "$log"
ok $? "an abort of a process of another namespace is logged and not delivered"
[ "$(grep -c ', reported by rank' "$log")" -eq 4 ] && [ "$(grep -c 'also reports: PMIx' "$log")" -eq 4 ]
ok $? "each event is delivered once though both ranks forward it"
stop_lcrd

start_lcrd b --job-id=61 --node-name=n1 --ranks=0-1 --runtime-dir="$WORK/root/$uid" \
	--log-level=verbose
"$SERVER" --mode=vanish --tmpdir="$WORK/pmix-b" --nprocs=2 -- "$PCLIENT" watch 1 \
	>"$WORK/vanish" 2>&1
ok $? "a server that dies once its two ranks are ready"
client_pids "$WORK/vanish"
wait_for "$WORK/vanish" "^rank 0: alive" && wait_for "$WORK/vanish" "^rank 1: alive"
ok $? "both ranks read the lost connection back and live on"
diag <"$WORK/vanish"
grep -q "^rank 0: event 3 source 1 rank [01] node '': PMIx: rank [01] lost its connection to its PMIx server" "$WORK/vanish"
ok $? "... as HELPER_LOST from PMIx"
grep -q "lost its connection to its PMIx server (PMIX_ERR_LOST_CONNECTION), reported by" "$WORK/b.log"
ok $? "lcrd logs the lost connection PMIx itself raised"
stop_lcrd

start_lcrd s --job-id=63 --node-name=n1 --ranks=0 --runtime-dir="$WORK/root/$uid" \
	--log-level=verbose
"$SERVER" --mode=notify --like-slurm --tmpdir="$WORK/pmix-s" --nprocs=1 -- "$PCLIENT" watch 3 \
	>"$WORK/slurm" 2>&1
ok $? "under a server whose host takes no system events (slurmstepd's case) a rank gets three"
diag <"$WORK/slurm"
grep -q "^rank 0: event 1 source 1 rank 5 node '': PMIx: rank 5 aborted" "$WORK/slurm" &&
	grep -q "^rank 0: event 1 source 1 rank 6 node '': PMIx: rank 6 terminated" "$WORK/slurm" &&
	grep -q "^rank 0: event 3 source 1 rank 0 node '': PMIx: rank 0 lost its connection" "$WORK/slurm"
ok $? "... the process and connection events: the refused node registration costs nothing else"
! grep -q "PMIX_EVENT_NODE_DOWN" "$WORK/s.log" && grep -q "^client 0 exited with status 0$" "$WORK/slurm"
ok $? "... and no NODE_DOWN, which that server cannot deliver, and the rank lives on"
stop_lcrd

start_lcrd c --job-id=62 --node-name=n1 --ranks=0 --runtime-dir="$WORK/root/$uid" \
	--log-level=verbose
LCR_PMIX=0 "$SERVER" --mode=notify --tmpdir="$WORK/pmix-c" --nprocs=1 -- "$PCLIENT" detached \
	>"$WORK/detached" 2>&1
ok $? "with LCR_PMIX=0 the session does not attach and the events go to the program"
diag <"$WORK/detached"
! grep -q "PMIx" "$WORK/c.log"
ok $? "... and lcrd hears of none"

env -u PMIX_NAMESPACE -u PMIX_RANK "$PCLIENT" plain >"$WORK/plain" 2>&1
ok $? "a client not under PMIx opens, registers and uses the store as before"
grep -q "pmix_attach: -2 this process is not a PMIx client" "$WORK/plain"
ok $? "... and lcr_pmix_attach tells it is not a PMIx client (-ENOENT)"

"$PCLIENT" malformed >"$WORK/malformed" 2>&1
ok $? "malformed PMIX_EVENT messages are each rejected and lcrd keeps serving"
diag <"$WORK/malformed"
stop_lcrd
ok $? "lcrd exits cleanly"
finish
