#!/bin/bash
# snapshot.sh: a snapshot round of redundancy "copy" (helper/snapshot.c) against memcpy of
# the same bytes, measured in the same run, and the extra host memory per node.
# Two helpers in the foreground form a mesh (a private munged, as the tests use) with
# --redundancy=copy --snapshot-every=1; a rank on each commits steps 1..ROUNDS of a region
# of SIZE MiB, 4 s apart, so that each step is snapshotted whole and pushed to the other
# helper. From the helpers' logs: the copy and hash of the rank's region into the helper's
# memory, and the push to the partner (sealed transfer connection, hash acknowledged); the
# best round of each (the first round also faults in the helper's mapping of the region
# and its buffers) is compared with memcpy_baseline's best copy, and copy plus XXH3, of the
# same size. The memory each helper reports once the last step is protected (its own
# snapshot and its partner's copy) is divided by the state per node.
# Prints RESULT lines.
#
# Usage: contrib/bench/snapshot.sh [BUILDDIR]   (LCR_SNAPSHOT_BENCH_MIB, default 128;
#        LCR_SNAPSHOT_BENCH_ROUNDS, default 4)
# Build first: make tests/helper/ckpt_client contrib/bench/memcpy_baseline
set -e
LCR_BUILDDIR=$(cd "${1:-.}" && pwd)
LCR_SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
MIB=${LCR_SNAPSHOT_BENCH_MIB:-128}
ROUNDS=${LCR_SNAPSHOT_BENCH_ROUNDS:-4}
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
start_mesh 2 --ranks=0,1 --redundancy=copy --snapshot-every=1 --log-level=verbose ||
	{ echo "snapshot.sh: the mesh is not up" >&2; exit 1; }
for r in 0 1; do
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
	sed -n "s/.*snapshot of step [0-9]* taken .*$1 \([0-9.]*\) s.*/\1/p" "$WORK"/s[01].log | sort -g | head -1
}
copy_s=$(best_seconds "copied and hashed in")
push_s=$(best_seconds "in")
rounds=$(cat "$WORK"/s[01].log | grep -c "snapshot of step [0-9]* taken")
mib_s() { awk -v m="$MIB" -v s="$1" 'BEGIN { if (s > 0) printf "%.0f", m / s; else print "nan" }'; }
memory_of() { "$LCRCTL" --socket="$(socket_of "$1")" status | sed -n 's/^redundancy: .*, memory \([0-9.]*\) \([KMGT]*i*B\) .*/\1 \2/p'; }
in_bytes() { awk '{ u = $2; f = 1; if (u == "KiB") f = 1024; else if (u == "MiB") f = 1048576; else if (u == "GiB") f = 1073741824; else if (u == "TiB") f = 1099511627776; printf "%.0f", $1 * f }'; }
m0=$(memory_of 0 | in_bytes)
echo "# $rounds rounds of $MIB MiB per node on 2 helpers; baseline: $(tr '\n' ' ' <"$WORK/baseline")"
echo "RESULT snapshot_copy_hash_mib_s $(mib_s "$copy_s")"
echo "RESULT memcpy_xxh3_mib_s $(sed -n 's/^memcpy_xxh3_mib_s //p' "$WORK/baseline")"
echo "RESULT memcpy_mib_s $(sed -n 's/^memcpy_mib_s //p' "$WORK/baseline")"
echo "RESULT snapshot_push_mib_s $(mib_s "$push_s")"
echo "RESULT extra_memory_per_node_copy $(awk -v m="$m0" -v s="$((MIB << 20))" 'BEGIN { printf "%.2f", m / s }')"
finish >/dev/null
