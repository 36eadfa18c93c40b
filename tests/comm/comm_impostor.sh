#!/bin/bash
# comm_impostor.sh: a TCP ring communicator admits only its own members (issue 18, item 2).
# A stranger who cannot read the job's store connects to a member's listener as the rank
# before it, with a forged hello and poisoned gradients: it is refused and the real ranks
# build the ring and compute the right sums. Twenty idle connections do not hold the build
# up past the hello timeout. The listener is bound to the address the member publishes,
# not to every interface. Speaks TAP.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../helper/lib.sh"
COMM_TEST=$LCR_BUILDDIR/tests/comm/comm_test
IMPOSTOR=$LCR_BUILDDIR/tests/comm/comm_impostor
echo "1..4"

make_root "$WORK/run" "$(id -u)"
start_lcrd lcrd --job-id=9 --runtime-dir="$WORK/run/$(id -u)"
ok $? "a foreground lcrd holds the key-value store"
export LCR_COMM_ADDR=127.0.0.1

# attack MODE NAME: rank 1 of a 2-rank communicator waits for its ring, the impostor
# (MODE) reaches its listener, then rank 0 starts; both ranks must check their collectives
# within 20 s. Sets VICTIM_LISTENER to the victim's listening address as ss shows it.
attack() {
	local mode=$1 name=$2 victim real status=0 port
	timeout 20 "$COMM_TEST" check "$name" 1 2 >"$WORK/$name.1.out" 2>&1 &
	victim=$!
	"$IMPOSTOR" "$mode" "$name" 1 2 25000 >"$WORK/$name.impostor" 2>&1 &
	LCR_PIDS+=($!)
	wait_for "$WORK/$name.impostor" "impostor ready" || wait_for "$WORK/$name.impostor" "impostor ready"
	port=$(sed -n 's/^impostor ready .*://p' "$WORK/$name.impostor")
	VICTIM_LISTENER=$(ss -Hltn "sport = :${port:-0}" | awk '{print $4}')
	timeout 20 "$COMM_TEST" check "$name" 0 2 >"$WORK/$name.0.out" 2>&1 &
	real=$!
	wait "$victim" || status=1
	wait "$real" || status=1
	cat "$WORK/$name".* | diag
	grep -q "^ok 0 " "$WORK/$name.0.out" && grep -q "^ok 1 " "$WORK/$name.1.out" || status=1
	return $status
}

attack forge forged
ok $? "an impostor connecting as rank r-1 without the secret is refused; the real ranks build and sum right"
[ "${VICTIM_LISTENER%:*}" = 127.0.0.1 ]
ok $? "the listener is bound to the published address 127.0.0.1 only (ss: ${VICTIM_LISTENER:-none})"
start=$(date +%s)
attack idle idled
status=$?
[ $status -eq 0 ] && [ $(($(date +%s) - start)) -lt 15 ]
ok $? "twenty idle connections do not stall the build (took $(($(date +%s) - start)) s)"
[ $tap_failed -eq 0 ]
