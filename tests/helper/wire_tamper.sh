#!/bin/bash
# wire_tamper.sh: frames altered on the wire after the handshake (issue 18, 5c). A proxy
# (tamper_proxy.py) between two helpers flips one bit of one frame after the MUNGE
# handshake: the receiving end must close the connection and log it, naming the peer. On
# the rendezvous connection the proxy alters the node table the rendezvous sends a helper;
# on a transfer connection it alters a request (the serving helper must end the session)
# and an answer (the fetching end must drop it). The transfer helpers run with
# --wire-encryption=true, so the encrypted mode forms a mesh and serves a range, and a
# client with the other setting is refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
CKPT_CLIENT=$LCR_BUILDDIR/tests/helper/ckpt_client
XFER=$LCR_BUILDDIR/tests/helper/xfer_client
PROXY=$LCR_SRCDIR/tests/helper/tamper_proxy.py
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 is not installed"; exit 0; }

# start_proxy NAME TARGET_PORT DIRECTION FRAME: a tamper_proxy.py in front of
# 127.0.0.1:TARGET_PORT; sets PROXY_PORT. Its stderr goes to $WORK/NAME.log.
start_proxy() {
	local i
	python3 "$PROXY" "$WORK/$1.port" 127.0.0.1 "$2" "$3" "$4" 2>"$WORK/$1.log" &
	LCR_PIDS+=("$!")
	for i in $(seq 100); do
		[ -s "$WORK/$1.port" ] && { PROXY_PORT=$(cat "$WORK/$1.port"); return 0; }
		sleep 0.05
	done
	return 1
}

start_munged
make_root "$WORK/root" "$(id -u)"

# --- the rendezvous' table, altered on its way to h0 ---
start_rendezvous rdv
start_proxy rdv-proxy "$RDV_PORT" down 3 # CHALLENGE, WELCOME, then the table
DIRECT_PORT=$RDV_PORT
RDV_PORT=$PROXY_PORT
start_mesh_node 0 2 --rendezvous-wait=5
RDV_PORT=$DIRECT_PORT
start_mesh_node 1 2 --rendezvous-wait=5
wait_for "$WORK/h0.log" "closing the connection with the rendezvous at 127.0.0.1:$PROXY_PORT: a RDV_TABLE frame failed authentication"
ok $? "a helper closes its rendezvous connection when the table was altered, and logs it"
grep -q "flipped a bit of frame 3 (type 43" "$WORK/rdv-proxy.log"; ok $? "... the proxy did alter the table"
diag <"$WORK/rdv-proxy.log"
grep "RDV_TABLE" "$WORK/h0.log" | diag
! grep -q "the mesh of 2 helpers is up" "$WORK/h0.log"; ok $? "... and h0 does not use the altered table"
for pid in "${MESH_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
wait "${MESH_PIDS[@]}" 2>/dev/null

# --- transfer connections, encrypted ---
MESH_PREFIX=e
start_rendezvous rdv-e --wire-encryption=true
for i in 0 1; do start_mesh_node "$i" 2 --wire-encryption=true --ranks="$i" --log-level=verbose; done
wait_mesh_up 2
ok $? "two helpers and their rendezvous with --wire-encryption=true form a mesh"
LCR_SOCKET=$(socket_of 1) "$CKPT_CLIENT" fill 1 state 1M 11 7 >/dev/null
ok $? "rank 1 on e1 commits step 7 (shard1)"
P1=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/e1.log" | head -1)
AUTH=(--job="$MESH_JOB" --step=0 --munge-socket="$MUNGE_SOCKET" --self=0)
"$XFER" "${AUTH[@]}" --wire-encryption --peer=1@127.0.0.1:"$P1" get shard1 state 7 0 1M >"$WORK/g0"
ok $? "an encrypted transfer serves the range"
diag <"$WORK/g0"
"$XFER" "${AUTH[@]}" --peer=1@127.0.0.1:"$P1" get shard1 state 7 0 1M >"$WORK/g1"
ok_exit 1 $? "a client that only authenticates cannot talk to helpers that encrypt"
diag <"$WORK/g1"
REFUSED="closing the transfer session with e0 (0) at 127.0.0.1:[0-9]*: a XFER_REQUEST frame failed authentication"
wait_for "$WORK/e1.log" "$REFUSED"; ok $? "... the helper closes the session, saying why"

start_proxy clear "$P1" none 0
"$XFER" "${AUTH[@]}" --wire-encryption --peer=1@127.0.0.1:"$PROXY_PORT" get shard1 state 7 0 1M >"$WORK/g2"
ok $? "through a proxy that alters nothing, the range is served"

start_proxy up "$P1" up 2 # XFER_HELLO, then the request
"$XFER" "${AUTH[@]}" --wire-encryption --peer=1@127.0.0.1:"$PROXY_PORT" get shard1 state 7 0 1M >"$WORK/g3"
ok_exit 1 $? "a request altered on the wire is not served"
diag <"$WORK/g3"
for i in $(seq 100); do [ "$(grep -c "$REFUSED" "$WORK/e1.log")" -ge 2 ] && break; sleep 0.05; done
[ "$(grep -c "$REFUSED" "$WORK/e1.log")" -eq 2 ]
ok $? "... the serving helper closes the session and logs it, naming the peer"
grep -q "flipped a bit of frame 2" "$WORK/up.log"; ok $? "... the proxy did alter the request"

start_proxy down "$P1" down 3 # CHALLENGE, WELCOME, then XFER_DATA
"$XFER" "${AUTH[@]}" --wire-encryption --peer=1@127.0.0.1:"$PROXY_PORT" get shard1 state 7 0 1M >"$WORK/g4"
ok_exit 1 $? "an answer altered on the wire is dropped"
grep -q "^error: no answer to XFER_REQUEST: a message failed authentication" "$WORK/g4"
ok $? "... the fetching end says so"
diag <"$WORK/g4"
finish
