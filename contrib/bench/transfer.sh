#!/bin/bash
# transfer.sh: state-transfer throughput against raw loopback TCP, measured in the same run.
# Three helpers in the foreground form a mesh (a private munged, as the tests use); each
# serves one replica of a shard whose region of SIZE MiB is committed at step 1, and a mesh
# checkpoint gives the manifest the replacement checks against. xfer_client, playing node
# h0's replacement, fills the region from h1 and h2 in parallel (transfer_fill: every range
# checked end to end); tcp_baseline sends as many bytes through one loopback TCP connection
# between two processes. The mesh runs four times, with the frames after the handshake
# authenticated (wire_encryption: false, the default) or encrypted (true), in the order
# false, true, true, false; the best of each mode is compared with the same raw figure.
# The CPU time each fill takes, the replacement's and the serving helpers' together, is
# compared with tcp_baseline's two processes' (the least of each): on a machine shared with
# other work it moves far less than the wall-clock figures. Prints RESULT lines.
#
# Usage: contrib/bench/transfer.sh [BUILDDIR]   (LCR_XFER_BENCH_MIB, default 1024;
#        LCR_XFER_BENCH_PEERS, 1 or 2 (default): the peers the replacement fills from;
#        LCR_XFER_BENCH_ROUNDS, default "b false c true d true e false": the meshes run, a
#        name and the wire_encryption setting each)
# Build first: make (xfer_client, ckpt_client and tcp_baseline are built with the rest)
set -e
LCR_BUILDDIR=$(cd "${1:-.}" && pwd)
LCR_SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
MIB=${LCR_XFER_BENCH_MIB:-1024}
PEERS=${LCR_XFER_BENCH_PEERS:-2}
ROUNDS=${LCR_XFER_BENCH_ROUNDS:-b false c true d true e false}
case $PEERS in 1|2) ;; *) echo "transfer.sh: LCR_XFER_BENCH_PEERS must be 1 or 2" >&2; exit 2 ;; esac
MESH_PREFIX=b
. "$LCR_SRCDIR/tests/helper/lib.sh"
. "$LCR_SRCDIR/tests/helper/mesh_lib.sh"
set +e
XFER=$LCR_BUILDDIR/tests/helper/xfer_client
CKPT_CLIENT=$LCR_BUILDDIR/tests/helper/ckpt_client
BASELINE=$LCR_BUILDDIR/contrib/bench/tcp_baseline
for p in "$XFER" "$CKPT_CLIENT" "$BASELINE" "$LCRD"; do
	[ -x "$p" ] || { echo "transfer.sh: $p is not built (see the top of this script)" >&2; exit 2; }
done

start_munged >/dev/null
make_root "$WORK/root" "$(id -u)"
port_of() { sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/$MESH_PREFIX$1.log" | head -1; }

# cpu_ticks PID...: the CPU time the processes took so far, in clock ticks.
cpu_ticks() {
	local pid total=0
	for pid in "$@"; do
		total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
	done
	echo "$total"
}
TICK=$(getconf CLK_TCK)

# transfer_best ENCRYPT: a mesh of three helpers with --wire-encryption=ENCRYPT, filled and
# checkpointed: the best of two fills, in MiB/s, into TRANSFER_BEST, and the least CPU time
# of a fill (replacement and serving helpers), in seconds per GiB, into TRANSFER_CPU; the
# helpers are stopped after.
transfer_best() {
	local encrypt=$1 best=0 cpu=0 run seconds r i xfer_flag=() peers servers ticks client
	[ "$encrypt" = true ] && xfer_flag=(--wire-encryption)
	MESH_PIDS=()
	start_rendezvous "rdv-$MESH_PREFIX" --wire-encryption="$encrypt" ||
		{ echo "transfer.sh: the rendezvous does not start" >&2; return 1; }
	for i in 0 1 2; do
		start_mesh_node "$i" 3 --ranks=$((2 * i)) --ckpt-dir="$WORK/ckpt-$MESH_PREFIX" \
			--wire-encryption="$encrypt"
	done
	wait_mesh_up 3 || { echo "transfer.sh: the mesh is not up" >&2; return 1; }
	for r in 0 2 4; do
		LCR_SOCKET=$(socket_of $((r / 2))) "$CKPT_CLIENT" fill $r state "${MIB}M" 11 1 >/dev/null ||
			{ echo "transfer.sh: rank $r cannot fill its region" >&2; return 1; }
	done
	"$LCRCTL" --socket="$(socket_of 0)" ckpt now >/dev/null ||
		{ echo "transfer.sh: the mesh checkpoint failed" >&2; return 1; }
	peers=(--peer=1@127.0.0.1:"$(port_of 1)")
	servers=("${MESH_PIDS[1]}")
	[ "$PEERS" = 2 ] && peers+=(--peer=2@127.0.0.1:"$(port_of 2)") && servers+=("${MESH_PIDS[2]}")
	for run in 1 2; do
		ticks=$(cpu_ticks "${servers[@]}")
		"$XFER" --job="$MESH_JOB" --step=0 --munge-socket="$MUNGE_SOCKET" --self=0 \
			"${xfer_flag[@]}" "${peers[@]}" \
			fill "$WORK/ckpt-$MESH_PREFIX/step-1" shard0 state >"$WORK/fill" 2>&1 ||
			{ cat "$WORK/fill" >&2; return 1; }
		grep -q "^from-file 0$" "$WORK/fill" || { cat "$WORK/fill" >&2; return 1; }
		ticks=$(($(cpu_ticks "${servers[@]}") - ticks))
		seconds=$(sed -n 's/^seconds //p' "$WORK/fill")
		client=$(sed -n 's/^cpu-seconds //p' "$WORK/fill")
		best=$(awk -v b="$best" -v m="$MIB" -v s="$seconds" \
			'BEGIN { v = m / s; print (v > b ? v : b) }')
		cpu=$(awk -v c="$cpu" -v m="$MIB" -v t="$ticks" -v hz="$TICK" -v x="$client" \
			'BEGIN { v = (x + t / hz) * 1024 / m; print (c == 0 || v < c ? v : c) }')
		echo "# wire_encryption=$encrypt: CPU seconds of the fill: replacement $client, serving helpers $(awk -v t="$ticks" -v hz="$TICK" 'BEGIN { print t / hz }')"
		sed "s/^/# wire_encryption=$encrypt: /" "$WORK/fill" | head -1
	done
	for pid in "${MESH_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	wait "${MESH_PIDS[@]}" 2>/dev/null
	rm -rf "$WORK/ckpt-$MESH_PREFIX"
	TRANSFER_BEST=$best
	TRANSFER_CPU=$cpu
}

# Two rounds in opposite orders (the machine's state drifts), the best of each mode.
best_mac=0
best_encrypt=0
cpu_mac=0
cpu_encrypt=0
least() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == 0 || b < a ? b : a) }'; }
set -- $ROUNDS
while [ $# -ge 2 ]; do
	MESH_PREFIX=$1
	transfer_best "$2" || exit 1
	if [ "$2" = true ]; then
		best_encrypt=$(awk -v a="$best_encrypt" -v b="$TRANSFER_BEST" 'BEGIN { print (a > b ? a : b) }')
		cpu_encrypt=$(least "$cpu_encrypt" "$TRANSFER_CPU")
	else
		best_mac=$(awk -v a="$best_mac" -v b="$TRANSFER_BEST" 'BEGIN { print (a > b ? a : b) }')
		cpu_mac=$(least "$cpu_mac" "$TRANSFER_CPU")
	fi
	shift 2
done
best_raw=0
cpu_raw=0
for run in 1 2; do
	read -r seconds cpu < <("$BASELINE" "$MIB" | awk '{print $4, $6}')
	best_raw=$(awk -v b="$best_raw" -v m="$MIB" -v s="$seconds" \
		'BEGIN { v = m / s; print (v > b ? v : b) }')
	cpu_raw=$(least "$cpu_raw" "$(awk -v c="$cpu" -v m="$MIB" 'BEGIN { print c * 1024 / m }')")
done
awk -v p="$PEERS" -v mac="$best_mac" -v enc="$best_encrypt" -v b="$best_raw" -v m="$MIB" \
	-v cmac="$cpu_mac" -v cenc="$cpu_encrypt" -v craw="$cpu_raw" 'BEGIN {
	printf "RESULT name=state_transfer_%d_peers_%dMiB value=%.1f unit=MiB/s baseline=%.1f ratio=%.3f\n",
		p, m, mac, b, mac / b
	printf "RESULT name=state_transfer_%d_peers_%dMiB_encrypted value=%.1f unit=MiB/s baseline=%.1f ratio=%.3f\n",
		p, m, enc, b, enc / b
	printf "RESULT name=wire_encryption_over_authentication_%dMiB value=%.1f unit=MiB/s baseline=%.1f ratio=%.3f\n",
		m, enc, mac, enc / mac
	printf "RESULT name=state_transfer_%d_peers_%dMiB_cpu value=%.3f unit=cpu-s/GiB baseline=%.3f ratio=%.2f\n",
		p, m, cmac, craw, cmac / craw
	printf "RESULT name=state_transfer_%d_peers_%dMiB_encrypted_cpu value=%.3f unit=cpu-s/GiB baseline=%.3f ratio=%.2f\n",
		p, m, cenc, craw, cenc / craw
}'
