#!/bin/bash
# peer_uid.sh: liblcr and lcrctl talk only to a helper of their own user. As root, serves a
# socket as lcrtest2 (a stand-in for another user's process planted where a helper's socket
# is looked for) and runs liblcr's client and lcrctl against it as lcrtest: both refuse it,
# say whose it is, and send it nothing. The same stand-in run as lcrtest itself receives
# their requests, so "nothing received" is not a test that cannot fail.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ]; then
	for t in "liblcr refuses another user's socket" "... and sends it nothing" \
		"lcrctl refuses another user's socket, naming its uid" "... and sends it nothing" \
		"liblcr talks to a socket of its own user"; do
		skip "$t" "needs root to run as other users"
	done
	finish
	exit
fi
"$LCR_SRCDIR/tests/helper/ensure-test-users.sh"
ok $? "the test users lcrtest and lcrtest2 exist"
bin=$WORK/bin
mkdir -m 755 "$bin" "$WORK/sockets"
chmod 1777 "$WORK/sockets"
cp "$LCRCTL" "$CLIENT" "$bin/"
chmod 755 "$bin"/*

# serve_as USER NAME: a SEQPACKET socket at $WORK/sockets/NAME, served by USER, that logs
# the size of every message it receives to $WORK/NAME.received.
serve_as() {
	local user=$1 name=$2
	: >"$WORK/$name.received"
	chmod 666 "$WORK/$name.received"
	# setpriv execs in place, so the pid cleanup kills is the server's own.
	setpriv --reuid="$user" --regid="$user" --init-groups /usr/bin/python3 -c '
import os, signal, socket, sys, threading
path, log = sys.argv[1], sys.argv[2]
signal.alarm(60)
server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
server.bind(path)
os.chmod(path, 0o666)
server.listen(8)
def serve(conn):
    while True:
        data = conn.recv(65536)
        if not data:
            return
        with open(log, "a") as out:
            out.write("received %d bytes\n" % len(data))
while True:
    conn, _ = server.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
' "$WORK/sockets/$name" "$WORK/$name.received" </dev/null >/dev/null 2>&1 &
	LCR_PIDS+=("$!")
	for _ in $(seq 100); do
		[ -S "$WORK/sockets/$name" ] && return 0
		sleep 0.05
	done
	return 1
}

serve_as lcrtest2 planted
ok $? "a socket served by lcrtest2"
runuser -u lcrtest -- env LCR_SOCKET="$WORK/sockets/planted" timeout 10 "$bin/lcr_test_client" alloc 0 w 4K \
	>"$WORK/client.out" 2>&1
ok_exit 1 $? "liblcr refuses another user's socket"
diag <"$WORK/client.out"
sleep 0.3
[ ! -s "$WORK/planted.received" ]
ok $? "... and sends it nothing"
diag <"$WORK/planted.received"

: >"$WORK/planted.received"
runuser -u lcrtest -- timeout 10 "$bin/lcrctl" --socket="$WORK/sockets/planted" status >"$WORK/lcrctl.out" 2>&1
status=$?
[ "$status" -ne 0 ] && grep -q "served by uid $(id -u lcrtest2), not by this user (uid $(id -u lcrtest))" "$WORK/lcrctl.out"
ok $? "lcrctl refuses another user's socket, naming its uid"
diag <"$WORK/lcrctl.out"
sleep 0.3
[ ! -s "$WORK/planted.received" ]
ok $? "... and sends it nothing"

serve_as lcrtest own
runuser -u lcrtest -- env LCR_SOCKET="$WORK/sockets/own" timeout 5 "$bin/lcr_test_client" alloc 0 w 4K \
	>/dev/null 2>&1
wait_for "$WORK/own.received" "received"
ok $? "liblcr talks to a socket of its own user"
finish
