#!/bin/bash
# refresh_wire_seeds.sh: writes the wire fuzz target's seeds into DIR: every codec unit
# test, run with LCR_FUZZ_SEED_DIR=DIR (tests/unit/fuzz_seed.h), writes its sample messages
# (tests/unit/wire_samples.h) as DIR/<kind>. The one list of those tests: doc/fuzzing.md
# refreshes the seeds with it, and tests/fuzz/wire_seeds.sh checks that it writes one seed
# for every kind. Run in a gcc build directory once the tests are built (LCR_BUILDDIR, or
# the current directory).
# Usage: refresh_wire_seeds.sh DIR
set -euo pipefail
dir=${1:?usage: refresh_wire_seeds.sh DIR}
builddir=${LCR_BUILDDIR:-$PWD}
mkdir -p "$dir"
for test in test_wire test_mesh_wire test_mesh_ckpt_wire test_xfer_wire test_snapshot_wire \
	test_jobkv_wire; do
	if ! output=$(LCR_FUZZ_SEED_DIR=$dir "$builddir/tests/unit/$test" 2>&1); then
		echo "refresh_wire_seeds.sh: tests/unit/$test failed:" >&2
		echo "$output" >&2
		exit 1
	fi
done
