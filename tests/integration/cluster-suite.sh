#!/bin/bash
# cluster-suite.sh: LCR's integration tests on a real local Slurm cluster (5 nodes,
# MODE=multi), brought up once and torn down on every exit. Speaks TAP.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
for case_file in "$HERE"/cases/*.sh; do
	. "$case_file"
done
cluster_up
run_suite
