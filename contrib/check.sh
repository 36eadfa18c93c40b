#!/bin/bash
# check.sh: the whole test suite from a fresh Debian 12 machine, as root: install the
# packages, build LCR with warnings as errors, and run `make check` (cmocka unit tests and
# the integration tests on a real local Slurm cluster). BUILD_DIR (default ./build) holds
# the build; CHECK_DISTCHECK=1 also runs `make distcheck`. Then the second tested platform,
# Debian 13 with Slurm 24.11 and PyTorch 2.6, in a root of its own (contrib/check-trixie.sh;
# CHECK_TRIXIE=0 leaves it out).
set -euo pipefail

SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$SRCDIR/build}
JOBS=$(nproc)

"$SRCDIR/contrib/install-deps.sh"
cd "$SRCDIR"
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi
mkdir -p "$BUILD_DIR"
cd "$BUILD_DIR"
[ -f Makefile ] || "$SRCDIR/configure" --enable-werror ${CONFIGURE_FLAGS:-}
make -j"$JOBS"
if ! make -j"$JOBS" check; then
	find . -name 'test-suite.log' -path '*' -maxdepth 1 -exec cat {} + >&2 || true
	exit 1
fi
if [ "${CHECK_DISTCHECK:-0}" = 1 ]; then
	make -j"$JOBS" distcheck
fi
if [ "${CHECK_TRIXIE:-1}" = 1 ]; then
	"$SRCDIR/contrib/check-trixie.sh"
fi
echo "check: all tests passed"
