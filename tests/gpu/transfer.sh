#!/bin/bash
# tests/gpu/transfer.sh: state transfer between helpers (helper/transfer*.c) with the state
# in GPU memory, on a machine with a GPU (after tests/gpu/run.sh has built LCR with CUDA, or
# with LCR_GPU_BUILDDIR set to such a build). The GPU counterpart of
# tests/helper/transfer.sh: three helpers form a mesh on this machine; one rank each (ranks
# 0, 2, 4, shard 'gpu') writes a pattern into a CUDA region (lcrd's cuMem allocation,
# written with cudaMemcpy by ckpt_gpu_client) and commits step 7; a mesh checkpoint saves it.
#
#   CUDA -> host: xfer_client, playing node 0, fetches the region from h1 and h2, whose
#     servers read it through the CUDA backend: same hash from both replicas, a range at an
#     offset, and a whole fill (transfer_fill) into a host region, every range checked
#     against the checkpoint's hashes, all bytes from the peers. (xfer_client can only fill
#     host regions.)
#   CUDA -> CUDA: h2 is killed; the leader replaces it (--replace=spare, a fake srun) with a
#     helper started with --rejoin and --restore; rank 4 allocates its CUDA region there,
#     which that helper fills from the replicas on h0 and h1 (transfer_fill writing through
#     the CUDA backend), and the rank reads it back with cudaMemcpy and compares it with the
#     pattern.
#
# Prints TAP lines, a summary, and RESULT lines: the throughput of both fills against the
# device-to-host cudaMemcpy bandwidth of cudaMalloc memory (lcr_gpu_test, same run). Takes
# well under two minutes. Exit status: 0 passed, 1 failed, 77 skipped (no GPU, no munged).
#
# Environment: LCR_GPU_BUILDDIR (required); LCR_GPU_TRANSFER_SIZE (default 256M).
set -u
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
	echo "1..0 # SKIP no GPU is present (nvidia-smi lists none): transfer.sh needs one"
	exit 77
fi
if ! command -v munged >/dev/null; then
	echo "1..0 # SKIP munged is not installed: the mesh of helpers needs it"
	exit 77
fi
LCR_BUILDDIR=${LCR_GPU_BUILDDIR:?set LCR_GPU_BUILDDIR to a build configured with CUDA}
LCR_SRCDIR=$(cd "$here/../.." && pwd)
MESH_JOB=4747
MESH_PREFIX=h
. "$LCR_SRCDIR/tests/helper/lib.sh"
. "$LCR_SRCDIR/tests/helper/mesh_lib.sh"

SIZE_TEXT=${LCR_GPU_TRANSFER_SIZE:-256M}
GPU_CLIENT=$LCR_BUILDDIR/tests/gpu/ckpt_gpu_client
GPU_TEST=$LCR_BUILDDIR/tests/gpu/lcr_gpu_test
XFER=$LCR_BUILDDIR/tests/helper/xfer_client
SHARD=gpu
REGION=gpu.state
KIND=cuda
SEED=5
STEP=7
CKPT=$WORK/ckpt
RANKS=(0 2 4) # one rank per node

# xfer_client is a check program: build it when `make` alone did not.
if [ ! -x "$XFER" ]; then
	make -C "$LCR_BUILDDIR" tests/helper/xfer_client >"$WORK/make.log" 2>&1 ||
		{ tail -n 20 "$WORK/make.log"; echo "transfer.sh: cannot build $XFER"; exit 1; }
fi
for p in "$LCRD" "$LCRCTL" "$GPU_CLIENT" "$XFER"; do
	[ -x "$p" ] || { echo "transfer.sh: $p is not built (configure did not find CUDA?)"; exit 1; }
done
SIZE=$(numfmt --from=iec "$SIZE_TEXT")

# rank_fill NODE: the rank of node NODE writes the pattern into its CUDA region, step 7.
rank_fill() {
	LCR_SOCKET=$(socket_of "$1") "$GPU_CLIENT" fill "${RANKS[$1]}" "$SIZE" "$SEED" "$STEP"
}

# rank_restore SOCKET RANK: RANK allocates its CUDA region again and compares it with the
# pattern (cudaMemcpy back to the host).
rank_restore() {
	LCR_SOCKET=$1 "$GPU_CLIENT" restore "$2" "$SIZE" "$SEED"
}

# gbps BYTES SECONDS: decimal GB/s.
gbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.3f", (s > 0 ? b / s / 1e9 : 0) }'; }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | diag

# --- three helpers, one CUDA-holding rank each ---
start_munged
export SLURM_SUBMIT_DIR=$WORK
export FAKE_LAUNCHER_DIR=$WORK/launcher
export FAKE_LAUNCHER_LCRD=$LCRD
mkdir -p "$FAKE_LAUNCHER_DIR"
RECOVERY_ARGS=(--replace=spare "--job-nodes=h[0-2],s1" --replace-timeout=20
	"--launcher=$LCR_SRCDIR/tests/helper/fake_launcher.sh")
UID_ROOT=$WORK/root/$(id -u)
export FAKE_LAUNCHER_LCRD_ARGS="--runtime-dir=$UID_ROOT --munge-socket=$MUNGE_SOCKET \
--detect-timeout=1 --log-level=verbose --ckpt-dir=$CKPT --restore=$CKPT/step-$STEP ${RECOVERY_ARGS[*]}"
make_root "$WORK/root" "$(id -u)"
start_rendezvous rdv
for i in 0 1 2; do
	start_mesh_node "$i" 3 --ranks="${RANKS[$i]}" --ckpt-dir="$CKPT" --detect-timeout=1 \
		--log-level=verbose "${RECOVERY_ARGS[@]}" -- /bin/true
done
up=1
for _ in $(seq 300); do
	[ "$(grep -l "the mesh of 3 helpers is up" "$WORK"/h[0-2].log 2>/dev/null | wc -l)" -eq 3 ] &&
		{ up=0; break; }
	sleep 0.1
done
ok $up "a mesh of three helpers is up"
[ $up -eq 0 ] || { tail -n 5 "$WORK"/h[0-2].log | diag; finish; exit 1; }

fill_ok=0
for i in 0 1 2; do
	rank_fill "$i" >"$WORK/fill$i" 2>&1 || { fill_ok=1; diag <"$WORK/fill$i"; }
done
ok $fill_ok "ranks ${RANKS[*]} write $SIZE_TEXT into a $KIND region each and commit step $STEP"
"$LCRCTL" --socket="$(socket_of 0)" ckpt now >"$WORK/now" 2>&1
ok $? "a mesh checkpoint saves step $STEP"
diag <"$WORK/now"
grep -q "kind: $KIND" "$CKPT/step-$STEP/manifest.yaml"
ok $? "... with the region as kind $KIND in the manifest"

# --- CUDA -> host, with xfer_client ---
port_of() { sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/h$1.log" | head -1; }
P1=$(port_of 1)
P2=$(port_of 2)
AUTH=(--job="$MESH_JOB" --step=0 --munge-socket="$MUNGE_SOCKET" --self=0)
"$XFER" "${AUTH[@]}" --peer=1@127.0.0.1:"$P1" get "$SHARD" "$REGION" "$STEP" 0 "$SIZE" >"$WORK/g1" 2>&1
ok $? "h1 serves the whole of its rank's $KIND region"
diag <"$WORK/g1"
grep -q "^got $SIZE bytes xxh3 [0-9a-f]* from rank ${RANKS[1]}$" "$WORK/g1"
ok $? "... from rank ${RANKS[1]}"
"$XFER" "${AUTH[@]}" --peer=2@127.0.0.1:"$P2" get "$SHARD" "$REGION" "$STEP" 0 "$SIZE" >"$WORK/g2" 2>&1
GOOD=$(awk '$1 == "got" { print $5 }' "$WORK/g1")
[ -n "$GOOD" ] && [ "$(awk '$1 == "got" { print $5 }' "$WORK/g2")" = "$GOOD" ]
ok $? "h2's replica, read from another GPU allocation, gives the same hash"
"$XFER" "${AUTH[@]}" --peer=2@127.0.0.1:"$P2" get "$SHARD" "$REGION" "$STEP" 4096 1000000 >"$WORK/g3" 2>&1
grep -q "^got 1000000 bytes xxh3 [0-9a-f]* from rank ${RANKS[2]}$" "$WORK/g3"
ok $? "a part of the $KIND region, at an offset"
"$XFER" "${AUTH[@]}" --peer=1@127.0.0.1:"$P1" get "$SHARD" "$REGION" $((STEP + 1)) 0 4096 >"$WORK/r1" 2>&1
grep -q "^refused: rank ${RANKS[1]} of shard '$SHARD' on h1 holds committed step $STEP (phase committed), not step $((STEP + 1))$" "$WORK/r1"
ok $? "a step the replicas have not committed is refused"
"$XFER" "${AUTH[@]}" --peer=1@127.0.0.1:"$P1" --peer=2@127.0.0.1:"$P2" \
	fill "$CKPT/step-$STEP" "$SHARD" "$REGION" >"$WORK/f1" 2>"$WORK/f1.err"
ok $? "transfer_fill fills a host region from the $KIND replicas on h1 and h2"
diag <"$WORK/f1"
grep -q "^filled $REGION xxh3 $GOOD$" "$WORK/f1"; ok $? "... with the replicas' bytes"
grep -q "^from-peers $SIZE$" "$WORK/f1" && grep -q "^from-file 0$" "$WORK/f1"
ok $? "... every range from the peers, each matching the checkpoint's hash"
b1=$(sed -n 's/^peer node1 bytes //p' "$WORK/f1")
b2=$(sed -n 's/^peer node2 bytes //p' "$WORK/f1")
[ "${b1:-0}" -gt 0 ] && [ "${b2:-0}" -gt 0 ] && [ $((b1 + b2)) -eq "$SIZE" ]
ok $? "... each peer serving a part (${b1:-0} + ${b2:-0} bytes)"
to_host_s=$(sed -n 's/^seconds //p' "$WORK/f1")

# --- CUDA -> CUDA, in a replacement helper ---
reap -9 "${MESH_PIDS[2]}"
joined=1
for _ in $(seq 300); do
	"$LCRCTL" --socket="$(socket_of 0)" events 2>/dev/null | grep -q "NODE_JOINED node 2 " &&
		{ joined=0; break; }
	sleep 0.1
done
ok $joined "h2 killed: the spare s1 joins as node 2 with --rejoin and --restore"
S1_SOCKET=$UID_ROOT/$MESH_JOB.0.s1/lcrd.sock
s1_up=1
for _ in $(seq 100); do
	"$LCRCTL" --socket="$S1_SOCKET" events 2>/dev/null | grep -q "mesh up generation .* live 3 of 3" &&
		{ s1_up=0; break; }
	sleep 0.1
done
ok $s1_up "... and its mesh is up with 3 of 3 live"
rank_restore "$S1_SOCKET" "${RANKS[2]}" >"$WORK/restore" 2>&1
ok $? "rank ${RANKS[2]} on s1 gets its $KIND region filled and finds the pattern in it"
diag <"$WORK/restore"
grep -q "resume step $STEP" "$WORK/restore"; ok $? "... and resumes from step $STEP"
S1_LOG=$WORK/lcr-$MESH_JOB.0.replacement-2.out
line=$(grep "rank ${RANKS[2]}: region '$REGION' restored from the replicas (step $STEP)" "$S1_LOG" | tail -n 1)
[ -n "$line" ]; ok $? "... from the replicas' memory, not from the checkpoint"
echo "$line" | diag
echo "$line" | grep -q "from 2 peers" && echo "$line" | grep -q "), 0 B from the checkpoint file"
ok $? "... all of it from h0 and h1"
to_device_s=$(echo "$line" | sed -n 's/.* in \([0-9.]*\) s (.*/\1/p')

# --- throughput, against cudaMemcpy from cudaMalloc memory ---
baseline=
if [ -x "$GPU_TEST" ]; then
	baseline=$(timeout 60 "$GPU_TEST" --lcrd="$LCRD" --bandwidth-size="$SIZE" 2>/dev/null |
		sed -n 's/^RESULT name=cuda_d2h_proxy_GBps .* baseline=\([0-9.]*\) .*/\1/p')
fi
if [ -n "$baseline" ] && [ -n "${to_host_s:-}" ] && [ -n "${to_device_s:-}" ]; then
	for pair in "cuda_to_host:$to_host_s" "cuda_to_cuda:$to_device_s"; do
		v=$(gbps "$SIZE" "${pair#*:}")
		awk -v n="${pair%%:*}" -v m="$((SIZE >> 20))" -v v="$v" -v b="$baseline" 'BEGIN {
			printf "RESULT name=state_transfer_%s_2_peers_%dMiB value=%.3f unit=GB/s baseline=%.3f ratio=%.4f\n",
				n, m, v, b, v / b }'
	done
else
	echo "# no RESULT: the transfer times or the cudaMemcpy baseline are missing"
fi

[ "$tap_failed" -eq 0 ] || for f in h0.log h1.log lcr-$MESH_JOB.0.replacement-2.out; do
	echo "# --- $f (last lines)"
	tail -n 15 "$WORK/$f" 2>/dev/null | diag
done
echo "# transfer.sh: $((tap_count - tap_failed)) of $tap_count passed"
finish
