#!/bin/bash
# snapshot.sh: a snapshot round of redundancy "copy" or "erasure" (helper/services/snapshot.c,
# helper/services/snapshot_erasure.c) against memcpy of the same bytes, measured in the same run,
# and the extra host memory per node.
# Helpers in the foreground form a mesh (a private munged, as the tests use) with
# --snapshot-every=1: two with --redundancy=copy, or four with --redundancy=erasure in one
# group of 4 with 1 parity. A rank on each commits steps 1..ROUNDS of a region of SIZE MiB,
# 4 s apart, so that each step is snapshotted whole and pushed: to the other helper (copy),
# or as 3 chunks to their stripes' parity holders (erasure). From the helpers' logs: the
# copy and hash of the rank's region into the helper's memory, and the push (sealed
# transfer connections, hashes acknowledged; erasure: the holders add each chunk to their
# parity as it arrives); the best round of each (the first round also faults in the
# helper's mapping of the region and its buffers) is compared with memcpy_baseline's best
# copy, and copy plus XXH3, of the same size. The memory a helper reports once the last
# step is protected (its own snapshot, the next round's buffers, and its partner's copy or
# its parity blocks) is divided by the state per node; with erasure, the parity blocks it
# holds at the last step alone are too.
# Prints RESULT lines.
#
# Usage: contrib/bench/snapshot.sh [BUILDDIR]   (LCR_SNAPSHOT_BENCH_METHOD, copy or erasure,
#        default copy; LCR_SNAPSHOT_BENCH_MIB, default 128; LCR_SNAPSHOT_BENCH_ROUNDS,
#        default 4)
# Build first: make (ckpt_client and memcpy_baseline are built with the rest)
set -e
LCR_BUILDDIR=$(cd "${1:-.}" && pwd)
LCR_SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
MIB=${LCR_SNAPSHOT_BENCH_MIB:-128}
ROUNDS=${LCR_SNAPSHOT_BENCH_ROUNDS:-4}
METHOD=${LCR_SNAPSHOT_BENCH_METHOD:-copy}
case $METHOD in
copy) NODES=2 METHOD_ARGS=(--redundancy=copy) ;;
erasure) NODES=4 METHOD_ARGS=(--redundancy=erasure --redundancy-group-size=4 --redundancy-parity=1) ;;
*) echo "snapshot.sh: LCR_SNAPSHOT_BENCH_METHOD=$METHOD: copy or erasure" >&2; exit 2 ;;
esac
MESH_PREFIX=s
. "$LCR_SRCDIR/tests/helper/lib.sh"
. "$LCR_SRCDIR/tests/helper/mesh_lib.sh"
set +e
CKPT_CLIENT=$LCR_BUILDDIR/tests/helper/ckpt_client
BASELINE=$LCR_BUILDDIR/contrib/bench/memcpy_baseline
for p in "$CKPT_CLIENT" "$BASELINE" "$LCRD"; do
	[ -x "$p" ] || { echo "snapshot.sh: $p is not built (see the top of this script)" >&2; exit 2; }
done

"$BASELINE" "$MIB" >"$WORK/baseline" || { echo "snapshot.sh: memcpy_baseline failed" >&2; exit 1; }
start_munged >/dev/null
start_mesh "$NODES" --ranks="$(seq -s, 0 $((NODES - 1)))" "${METHOD_ARGS[@]}" --snapshot-every=1 \
	--log-level=verbose || { echo "snapshot.sh: the mesh is not up" >&2; exit 1; }
for r in $(seq 0 $((NODES - 1))); do
	LCR_SOCKET=$(socket_of $r) "$CKPT_CLIENT" train $r w "${MIB}M" 1 "$ROUNDS" 4000 >"$WORK/r$r" 2>&1 &
	LCR_PIDS+=("$!")
done
for i in $(seq 600); do
	grep -q "step $ROUNDS is protected" "$WORK/s0.log" && grep -q "step $ROUNDS is protected" "$WORK/s1.log" && break
	sleep 0.1
done
grep -q "step $ROUNDS is protected" "$WORK/s0.log" ||
	{ echo "snapshot.sh: step $ROUNDS was not protected" >&2; tail -5 "$WORK/s0.log" >&2; exit 1; }

# best_seconds FIELD: the shortest time of that part of a round in either helper's log
best_seconds() {
	sed -n "s/.*snapshot of step [0-9]* taken .*$1 \([0-9.]*\) s.*/\1/p" "$WORK"/s[0-9].log | sort -g | head -1
}
copy_s=$(best_seconds "copied and hashed in")
push_s=$(best_seconds "in")
rounds=$(cat "$WORK"/s[0-9].log | grep -c "snapshot of step [0-9]* taken")
mib_s() { awk -v m="$MIB" -v s="$1" 'BEGIN { if (s > 0) printf "%.0f", m / s; else print "nan" }'; }
memory_of() { "$LCRCTL" --socket="$(socket_of "$1")" status | sed -n 's/^redundancy: .*, memory \([0-9.]*\) \([KMGT]*i*B\) .*/\1 \2/p'; }
in_bytes() { awk '{ u = $2; f = 1; if (u == "KiB") f = 1024; else if (u == "MiB") f = 1048576; else if (u == "GiB") f = 1073741824; else if (u == "TiB") f = 1099511627776; printf "%.0f", $1 * f }'; }
m0=$(memory_of 0 | in_bytes)
echo "# $rounds rounds of $MIB MiB per node on $NODES helpers ($METHOD); baseline: $(tr '\n' ' ' <"$WORK/baseline")"
echo "RESULT snapshot_copy_hash_mib_s $(mib_s "$copy_s")"
echo "RESULT memcpy_xxh3_mib_s $(sed -n 's/^memcpy_xxh3_mib_s //p' "$WORK/baseline")"
echo "RESULT memcpy_mib_s $(sed -n 's/^memcpy_mib_s //p' "$WORK/baseline")"
ratio() { awk -v m="$1" -v s="$((MIB << 20))" 'BEGIN { printf "%.2f", m / s }'; }
if [ "$METHOD" = copy ]; then
	echo "RESULT snapshot_push_mib_s $(mib_s "$push_s")"
	echo "RESULT extra_memory_per_node_copy $(ratio "$m0")"
else
	# the parity blocks s0 holds at the last step, as its log sizes them
	parity=$(sed -n "s/.*holding parity block [0-9]* of stripe [0-9]* of group [0-9]* at step $ROUNDS (.*): \([0-9.]*\) \([KMGT]*i*B\), xxh3 .*/\1 \2/p" "$WORK/s0.log" | while read -r n u; do echo "$n $u" | in_bytes; echo; done | awk '{ t += $1 } END { printf "%.0f", t }')
	echo "RESULT snapshot_erasure_push_mib_s $(mib_s "$push_s")"
	echo "RESULT extra_memory_per_node_erasure $(ratio "$m0")"
	echo "RESULT parity_memory_per_node_erasure $(ratio "$parity")"
fi
finish >/dev/null
