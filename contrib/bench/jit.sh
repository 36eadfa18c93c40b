#!/bin/bash
# jit.sh: the multi-node just-in-time checkpoint on the local test cluster (as root): the
# demo trainer on 4 nodes, one rank each, with --ballast-mb of extra state per node; one
# node is killed during training, and the time from the failure event (the leader applying
# NODE_DOWN) to the published checkpoint is what the leader reports in its CHECKPOINT event.
# Beside it, in the same run, a raw sequential write (dd, fsync'ed) of the same number of
# bytes to the same filesystem. Prints RESULT lines.
#
#   contrib/bench/jit.sh [BUILDDIR [DIR]]
#   LCR_JIT_STATE_MB=1024  state per node (ballast; the trainer's own state is ~1 MiB):
#                          lowered when 4 copies and 4 GiB to spare do not fit in memory
#   DIR                    where the checkpoint and the baseline are written (default
#                          /var/tmp/lcr-jit-bench: a disk, not a tmpfs)
set -euo pipefail
builddir=$(cd "${1:-.}" && pwd)
dir=${2:-/var/tmp/lcr-jit-bench}
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
state_mb=${LCR_JIT_STATE_MB:-1024}
avail_mb=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
if [ $((4 * state_mb + 4096)) -gt "$avail_mb" ]; then
	state_mb=$(((avail_mb - 4096) / 4))
	[ "$state_mb" -ge 64 ] || { echo "jit.sh: not enough memory (${avail_mb} MiB available)" >&2; exit 1; }
	echo "jit.sh: state lowered to $state_mb MiB per node to fit in memory" >&2
fi
export BASE=${BASE:-/tmp/lcr-jit-bench-cluster} PORT_BASE=${PORT_BASE:-17880} LCR_BUILDDIR=$builddir
T=$srcdir/tests/cluster/testcluster
trap '"$T" down >/dev/null 2>&1 || true; rm -rf "$dir" "$BASE"' EXIT
"$T" up >/dev/null
rm -rf "$dir"
mkdir -p "$dir/rdv"
chmod -R 777 "$dir"
"$T" exec bash -c "cd $dir && salloc --no-kill -N4 srun -N4 -n4 --lcr --lcr-ckpt-dir=$dir/ckpt \
	--lcr-restore=never lcr-demo-trainer --steps=100000 --print-every=500 --recovery-wait=30 \
	--ballast-mb=$state_mb --rendezvous-dir=$dir/rdv </dev/null >$dir/out.txt 2>&1 &"
for _ in $(seq 1 600); do
	grep -q '^step ' "$dir/out.txt" 2>/dev/null && break
	sleep 0.1
done
grep -q '^step ' "$dir/out.txt" || { echo "jit.sh: the trainer did not start" >&2; tail "$dir/out.txt" >&2; exit 1; }
"$T" kill-node n4 >/dev/null
line=
for _ in $(seq 1 1200); do
	line=$(grep -m 1 'event: checkpoint of step' "$dir/out.txt" || true)
	[ -n "$line" ] && break
	sleep 0.1
done
[ -n "$line" ] || { echo "jit.sh: no checkpoint event within 120 s" >&2; tail "$dir/out.txt" >&2; exit 1; }
grep -q ' published in ' <<<"$line" || { echo "jit.sh: $line" >&2; exit 1; }
seconds=$(sed -n 's/.* writers in \([0-9.]*\) s$/\1/p' <<<"$line")
step=$(sed -n 's/.*checkpoint of step \([0-9]*\) .*/\1/p' <<<"$line")
bytes=$(du -sb "$dir/ckpt/step-$step" | cut -f1)
"$T" exec scancel -u "${TEST_USER:-lcrtest}" || true
raw_start=$(date +%s%N)
dd if=/dev/zero of="$dir/raw" bs=4M count=$(((bytes + 4194303) / 4194304)) conv=fsync status=none
raw_s=$(awk -v ns=$(($(date +%s%N) - raw_start)) 'BEGIN {printf "%.3f", ns / 1e9}')
gbps() { awk -v b="$1" -v s="$2" 'BEGIN {printf "%.2f", (s > 0) ? b / s / 1e9 : 0}'; }
echo "RESULT jit_checkpoint nodes=3_of_4 state_per_node_mb=$state_mb bytes=$bytes step=$step seconds=$seconds gbps=$(gbps "$bytes" "$seconds")"
echo "RESULT raw_sequential_write bytes=$bytes seconds=$raw_s gbps=$(gbps "$bytes" "$raw_s") fs=$(df -T "$dir" | awk 'NR == 2 {print $2}')"
