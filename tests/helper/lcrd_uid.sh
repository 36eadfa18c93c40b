#!/bin/bash
# lcrd_uid.sh: only lcrd's own uid may use it. As root, runs lcrd as lcrtest and clients as
# lcrtest (accepted), lcrtest2 and root (refused, logged with uid and pid). Binaries are
# copied to a world-readable directory first: the build directory may be private.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ]; then
	for t in "a client of lcrd's uid is served" "a client of another uid is refused" \
		"... and logged with its uid and pid" "a root client is refused too"; do
		skip "$t" "needs root to run as other users"
	done
	finish
	exit
fi
"$LCR_SRCDIR/tests/helper/ensure-test-users.sh"
ok $? "the test users lcrtest and lcrtest2 exist"
bin=$WORK/bin
mkdir -m 755 "$bin"
cp "$LCRD" "$CLIENT" "$bin/"
chmod 755 "$bin"/*
LCRD_BIN=$bin/lcrd
test_uid=$(id -u lcrtest)
make_root "$WORK/root" "$test_uid"
chown lcrtest "$WORK/root/$test_uid"
RUNAS="runuser -u lcrtest --" start_lcrd a --job-id=50 --node-name=n1 \
	--runtime-dir="$WORK/root/$test_uid" --log-level=verbose
ok $? "lcrd runs as lcrtest"
# Open the directory and socket so that other users get as far as SO_PEERCRED.
chmod 711 "$WORK/root/$test_uid"
chmod 755 "$(dirname "$LCR_SOCKET")"
chmod 666 "$LCR_SOCKET"

runuser -u lcrtest -- env LCR_SOCKET="$LCR_SOCKET" "$bin/lcr_test_client" alloc 0 w 4K >"$WORK/own"
ok $? "a client of lcrd's uid is served"
runuser -u lcrtest2 -- env LCR_SOCKET="$LCR_SOCKET" "$bin/lcr_test_client" alloc 0 w 4K >"$WORK/other" 2>&1
ok_exit 1 $? "a client of another uid is refused"
wait_for "$WORK/a.log" "refused a connection from uid $(id -u lcrtest2) (pid [0-9]*): only uid $test_uid may use this helper"
ok $? "... and logged with its uid and pid"
diag <"$WORK/other"
env LCR_SOCKET="$LCR_SOCKET" "$bin/lcr_test_client" alloc 0 w 4K >/dev/null 2>&1
ok_exit 1 $? "a root client is refused too"
kill -TERM "$(cat "$(dirname "$LCR_SOCKET")/lcrd.pid")"; wait "$LCRD_PID"
ok $? "lcrd exits 0"
finish
