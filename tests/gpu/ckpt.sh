#!/bin/bash
# tests/gpu/ckpt.sh: checkpoints of CUDA regions on a real GPU (after tests/gpu/run.sh has
# built LCR with CUDA, or with LCR_GPU_BUILDDIR set to such a build). A rank writes 256 MiB
# into a CUDA region and commits step 5; `lcrctl ckpt now` saves it (lcrd reads GPU memory
# through its CUDA backend on its writer thread); verify passes; a new lcrd with
# --restore=auto fills a new CUDA region from the checkpoint and the rank reads its pattern
# back with cudaMemcpy. Prints TAP; exits non-zero on any failure.
set -u
build=${LCR_GPU_BUILDDIR:?set LCR_GPU_BUILDDIR to a build configured with CUDA}
LCRD=$build/helper/lcrd
LCRCTL=$build/lcrctl/lcrctl
CLIENT=$build/tests/gpu/ckpt_gpu_client
work=$(mktemp -d /tmp/lcr-gpu-ckpt.XXXXXX)
chmod 700 "$work"
n=0
failures=0
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failures=$((failures + 1)); fi; }

start() { # start NAME ARGS...: lcrd in the foreground, sets pid and LCR_SOCKET
	local name=$1 i
	shift
	"$LCRD" --foreground --job-id=70 --node-name=g1 --ranks=0 --runtime-dir="$work/run" \
		--ckpt-dir="$work/ckpt" "$@" >"$work/$name.out" 2>"$work/$name.log" &
	pid=$!
	for i in $(seq 200); do
		LCR_SOCKET=$(sed -n 's/^LCR_SOCKET=//p' "$work/$name.out")
		[ -n "$LCR_SOCKET" ] && break
		sleep 0.05
	done
	export LCR_SOCKET
}

mkdir -m 700 "$work/run"
start a
"$CLIENT" fill 0 256M 7 5; ok $? "a rank writes 256 MiB into a CUDA region and commits step 5"
"$LCRCTL" --socket="$LCR_SOCKET" ckpt now; ok $? "lcrctl ckpt now saves it"
grep -q "kind: cuda" "$work/ckpt/step-5/manifest.yaml"; ok $? "... as a cuda region in the manifest"
"$LCRCTL" --ckpt-dir="$work/ckpt" ckpt verify 5; ok $? "... and it verifies"
kill "$pid"; wait "$pid"
start b --restore=auto
"$CLIENT" restore 0 256M 7 >"$work/r"; ok $? "a new CUDA region is filled from the checkpoint"
cat "$work/r"
grep -q "resume step 5" "$work/r"; ok $? "... and the rank resumes from step 5"
kill "$pid"; wait "$pid"
grep -h "checkpoint\|restor" "$work"/*.log | sed 's/^/# /'
echo "1..$n"
rm -rf "$work"
[ "$failures" -eq 0 ]
