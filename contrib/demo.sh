#!/bin/bash
# demo.sh: the main job, from a fresh Debian 12 machine, as root. Installs what is missing,
# builds LCR, starts a local Slurm cluster of 5 nodes, and runs a job step with --lcr on 4
# of them: one lcrd helper per node, as the job's user, then kills one node's every process
# and shows that the other nodes' tasks keep running after Slurm marks the node down
# (--lcr implies --no-kill). The cluster is torn down on exit, also on Ctrl-C.
#
# In-job recovery (detection in ~2 s, state transfer to a spare, rejoin) arrives with the
# issues that build the mesh, the JIT checkpoint and the replacement; this script grows
# with them.
set -euo pipefail

SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$SRCDIR/build}
export BASE=${BASE:-/var/tmp/lcr-demo}
export PORT_BASE=${PORT_BASE:-17200}
export LCR_BUILDDIR=$BUILD_DIR
TESTCLUSTER=$SRCDIR/tests/cluster/testcluster

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Installing packages and building LCR"
"$SRCDIR/contrib/install-deps.sh"
cd "$SRCDIR"
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi >/dev/null
mkdir -p "$BUILD_DIR"
cd "$BUILD_DIR"
[ -f Makefile ] || "$SRCDIR/configure" -q
make -s -j"$(nproc)" >/dev/null

step "Starting a local Slurm cluster: 5 nodes (slurmctld, 5 slurmd, munged)"
trap '"$TESTCLUSTER" down >/dev/null 2>&1 || true' EXIT
"$TESTCLUSTER" up
"$TESTCLUSTER" root-exec sinfo -N

step "srun -N4 --lcr lcrctl status: one helper per node, running as the job's user"
"$TESTCLUSTER" exec srun -N4 -n4 --lcr lcrctl status

step "A 4-node --lcr step on a 5-node allocation; then node n2 dies"
"$TESTCLUSTER" exec bash -c 'salloc -N5 --no-shell >/dev/null 2>&1; true'
job=$("$TESTCLUSTER" exec squeue -h -o %i | head -n 1)
"$TESTCLUSTER" exec bash -c "srun --jobid=$job -N4 -n4 -w n[1-4] --lcr bash -c 'sleep 120' \
	</dev/null >/dev/null 2>&1 &"
sleep 2
echo "helpers: $(pgrep -c -u lcrtest -x lcrd) lcrd processes; tasks: $(pgrep -c -u lcrtest -x sleep)"
"$TESTCLUSTER" kill-node n2
echo "waiting for Slurm to mark n2 down (SlurmdTimeout=10 s)..."
start=$SECONDS
until "$TESTCLUSTER" root-exec sinfo -h -n n2 -o %t | grep -q down; do sleep 1; done
echo "Slurm marked n2 down after $((SECONDS - start)) s"
sleep 2
"$TESTCLUSTER" root-exec squeue -s
echo "surviving tasks still running: $(pgrep -u lcrtest -x sleep | while read -r p; do
	awk '$3 != "Z"' "/proc/$p/stat"; done | wc -l) of 3"
step "Done: the cluster is torn down"
