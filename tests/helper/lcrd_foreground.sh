#!/bin/bash
# lcrd_foreground.sh: lcrd's command line, its runtime directory checks, foreground mode,
# lcrctl status / shutdown, and the clean exits.
. "$(dirname "$0")/lib.sh"
uid=$(id -u)

"$LCRD" --foreground 2>"$WORK/e1"
ok_exit 2 $? "lcrd without --job-id is a usage error (exit 2)"
grep -q -- "--job-id is required" "$WORK/e1"; ok $? "... and says --job-id is required"
"$LCRD" --job-id=1 --foreground --plugin-fd=5 2>"$WORK/e2"
ok_exit 2 $? "--foreground with --plugin-fd is a usage error"
"$LCRD" --job-id=1 --plugin-fd=5 --step-id=0 --node-id=0 --node-count=1 --node-name=n 2>"$WORK/e3"
grep -q -- "--runtime-dir is required with --plugin-fd" "$WORK/e3"
ok $? "--plugin-fd needs --runtime-dir"
"$LCRD" --job-id=1 --foreground --ranks=1,x 2>"$WORK/e4"
grep -q -- "--ranks=1,x" "$WORK/e4"; ok $? "a bad --ranks is named in the error"
"$LCRD" --job-id=1 --foreground --node-id=2 --node-count=2 2>"$WORK/e5"
ok_exit 2 $? "--node-id must be below --node-count"
"$LCRD" --help | grep -q -- "--plugin-fd=FD"; ok $? "--help shows the usage"

mkdir -m 755 "$WORK/open"
"$LCRD" --job-id=1 --foreground --runtime-dir="$WORK/open" 2>"$WORK/e6"
ok_exit 1 $? "a runtime dir open to others is refused"
grep -q "has mode 0755: it must not be accessible to group or others" "$WORK/e6"
ok $? "... with a message that says why"
if [ "$uid" -eq 0 ]; then
	mkdir -m 700 "$WORK/theirs" && chown 65534 "$WORK/theirs"
	"$LCRD" --job-id=1 --foreground --runtime-dir="$WORK/theirs" 2>"$WORK/e7"
	grep -q "is owned by uid 65534, not by lcrd's uid 0" "$WORK/e7"
	ok $? "a runtime dir owned by another uid is refused"
else
	skip "a runtime dir owned by another uid is refused" "needs root to chown"
fi

make_root "$WORK/root" "$uid"
start_lcrd a --job-id=12 --step-id=3 --node-id=1 --node-count=4 --node-name=n2 --ranks=4-5 \
	--runtime-dir="$WORK/root/$uid" --log-level=debug
ok $? "lcrd --foreground prints LCR_SOCKET=<path> once listening"
[ "$LCR_SOCKET" = "$WORK/root/$uid/12.3.n2/lcrd.sock" ]
ok $? "the socket is <runtime-dir>/<job>.<step>.<node>/lcrd.sock"
[ "$(stat -c %a "$WORK/root/$uid/12.3.n2")" = 700 ] && [ -f "$WORK/root/$uid/12.3.n2/lcrd.pid" ]
ok $? "the helper directory is 0700 and holds lcrd.pid"
first_pid=$LCRD_PID

"$LCRCTL" --runtime-dir="$WORK/root" --job=12 status >"$WORK/status"
ok $? "lcrctl status finds the helper"
grep -Eq "^node n2 \(id 1 of 4\) job 12 step 3 pid $first_pid uid $uid user [^ ]+ state running ranks 4,5 clients 1 " "$WORK/status"
ok $? "lcrctl status prints the identity on one grep-able line"
grep -q "^  rank 5 pid 0 expected" "$WORK/status"; ok $? "... and one line per rank"
diag <"$WORK/status"

"$LCRCTL" --socket="$LCR_SOCKET" status | grep -q "^node n2 (id 1 of 4) job 12 step 3"
ok $? "lcrctl --socket talks to one helper"
"$LCRCTL" --runtime-dir="$WORK/root" --job=13 status 2>"$WORK/e8"
ok_exit 1 $? "lcrctl exits 1 when no helper matches"
grep -q "no lcrd found under $WORK/root/$uid for job 13" "$WORK/e8"; ok $? "... and says so"
SLURM_JOB_ID=12 SLURMD_NODENAME=n2 "$LCRCTL" --runtime-dir="$WORK/root" status | grep -q "job 12"
ok $? "lcrctl takes the job and node from SLURM_JOB_ID and SLURMD_NODENAME"

( LCRD_PID=; start_lcrd b --job-id=12 --step-id=3 --node-name=n2 --runtime-dir="$WORK/root/$uid" )
grep -q "another lcrd (pid $first_pid) already serves" "$WORK/b.log"
ok $? "a second lcrd for the same step and node is refused"

start_lcrd c --job-id=12 --step-id=4 --node-name=n2 --runtime-dir="$WORK/root/$uid"
second_pid=$LCRD_PID
"$LCRCTL" --runtime-dir="$WORK/root" --job=12 status | grep -c "^node " | grep -qx 2
ok $? "without --step, lcrctl shows every step of the job"
"$LCRCTL" --runtime-dir="$WORK/root" --job=12 --step=4 shutdown | grep -q "node n2 job 12 step 4 shutting down"
ok $? "lcrctl shutdown asks one helper to stop"
wait "$second_pid"; ok $? "... which exits 0"
[ ! -e "$WORK/root/$uid/12.4.n2" ]; ok $? "... and removes its directory"

LCRD_PID=$first_pid
stop_lcrd; ok $? "SIGTERM ends lcrd with exit 0"
[ ! -e "$WORK/root/$uid/12.3.n2" ]; ok $? "... and removes its directory"
grep -q "^lcrd\[n2\]: shutting down: received Terminated" "$WORK/a.log"
ok $? "log lines start with lcrd[<node-name>]: "

# A helper killed with SIGKILL leaves a stale directory; the next one cleans it up.
start_lcrd d --job-id=20 --node-name=n9 --runtime-dir="$WORK/root/$uid"
kill -9 "$LCRD_PID"; wait "$LCRD_PID" 2>/dev/null
start_lcrd e --job-id=20 --node-name=n9 --runtime-dir="$WORK/root/$uid"
ok $? "a helper starts over the leftovers of a killed one"
grep -q "removing the leftovers of a helper" "$WORK/e.log"; ok $? "... and says it cleaned them"
stop_lcrd

mkdir -m 700 "$WORK/xdg"
export XDG_RUNTIME_DIR=$WORK/xdg
start_lcrd f --job-id=21 --node-name=n1
[ "$LCR_SOCKET" = "$WORK/xdg/lcr/21.0.n1/lcrd.sock" ] && [ "$(stat -c %a "$WORK/xdg/lcr")" = 700 ]
ok $? "without --runtime-dir, foreground mode uses \$XDG_RUNTIME_DIR/lcr (created 0700)"
stop_lcrd
unset XDG_RUNTIME_DIR

finish
