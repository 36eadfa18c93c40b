#!/bin/bash
# trainer_overhead.sh: the steady-state cost of LCR. The demo trainer runs on the same 4
# nodes of a local Slurm cluster, alternately with --lcr (state in the helpers' regions,
# every update marked, the helpers running beside it) and without (plain memory, no helper),
# ROUNDS times each; the figure is the median steps/s of each. Both meet through a shared
# directory to build their communicator, so only the steady state differs. Usage: contrib/bench/trainer_overhead.sh [BUILDDIR] (as root).
set -euo pipefail
SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export LCR_BUILDDIR=$(cd "${1:-.}" && pwd)
export BASE=${BASE:-/var/tmp/lcr-bench-overhead}
export PORT_BASE=${PORT_BASE:-17600}
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-400}
TESTCLUSTER=$SRCDIR/tests/cluster/testcluster
trap '"$TESTCLUSTER" down >/dev/null 2>&1 || true' EXIT
"$TESTCLUSTER" up >/dev/null

# steps_per_second ARGS...: rank 0's steps/s of one 4-node run.
steps_per_second() {
	"$TESTCLUSTER" exec srun -N4 -n4 "$@" | sed -n 's/^final rank 0 .* steps\/s \([0-9.]*\) .*/\1/p'
}
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

with=() without=()
for ((round = 0; round < ROUNDS; round++)); do
	rendezvous=$BASE/work/rendezvous.$round
	"$TESTCLUSTER" exec mkdir -p "$rendezvous.lcr" "$rendezvous"
	with+=("$(steps_per_second --lcr lcr-demo-trainer --steps=$STEPS --print-every=100000 --rendezvous-dir="$rendezvous.lcr")")
	without+=("$(steps_per_second lcr-demo-trainer --steps=$STEPS --print-every=100000 --without-lcr="$rendezvous")")
done
echo "# steps/s with --lcr: ${with[*]}; without: ${without[*]}"
value=$(printf '%s\n' "${with[@]}" | median)
baseline=$(printf '%s\n' "${without[@]}" | median)
echo "RESULT name=trainer_steps_per_s_with_lcr value=$value unit=steps/s baseline=$baseline ratio=$(awk -v v="$value" -v b="$baseline" 'BEGIN {printf "%.3f", v / b}')"
