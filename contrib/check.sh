#!/bin/bash
# check.sh: the whole test suite from a fresh Debian 12 machine, as root: install the
# packages, build LCR with warnings as errors, and run `make check` (cmocka unit tests and
# the integration tests on a real local Slurm cluster). BUILD_DIR (default ./build) holds
# the build; CHECK_DISTCHECK=1 also runs `make distcheck`. Then the second tested platform,
# Debian 13 with Slurm 24.11 and PyTorch 2.6, in a root of its own (contrib/check-trixie.sh;
# CHECK_TRIXIE=0 leaves it out). The Debian 13 root, when it is not kept from an earlier run,
# is made in the background (at the lowest CPU and I/O priority) while the Debian 12 suite
# runs, and waited for before the second platform's stage.
set -euo pipefail

SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$SRCDIR/build}
JOBS=$(nproc)

"$SRCDIR/contrib/install-deps.sh"
trixie_root=
if [ "${CHECK_TRIXIE:-1}" = 1 ]; then
	trixie_log=$(mktemp /tmp/lcr-trixie-root.XXXXXX)
	setsid nice -n 19 ionice -c 3 "$SRCDIR/contrib/check-trixie.sh" root >"$trixie_log" 2>&1 &
	trixie_root=$!
	# a failed Debian 12 suite ends here: so does the root's making (it starts afresh next time)
	trap '[ -z "$trixie_root" ] || kill -- -"$trixie_root" 2>/dev/null || true' EXIT
fi
cd "$SRCDIR"
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi
mkdir -p "$BUILD_DIR"
cd "$BUILD_DIR"
[ -f Makefile ] || "$SRCDIR/configure" --enable-werror ${CONFIGURE_FLAGS:-}
make -j"$JOBS"
# After the whole failed suite's log, each failed test's own reasons once more, last
# (contrib/print-failures.sh).
if ! make -j"$JOBS" check; then
	find . -maxdepth 1 -name 'test-suite.log' -exec cat {} + >&2 || true
	bash "$SRCDIR/contrib/print-failures.sh" >&2 || true
	exit 1
fi
echo "check: Debian 12 built and tested in $((SECONDS / 60)) min"
if [ "${CHECK_DISTCHECK:-0}" = 1 ]; then
	make -j"$JOBS" distcheck
fi
if [ -n "$trixie_root" ]; then
	if ! wait "$trixie_root"; then
		cat "$trixie_log" >&2
		echo "check: the Debian 13 root could not be made (above)" >&2
		exit 1
	fi
	trixie_root=
	rm -f "$trixie_log"
	trixie_start=$SECONDS
	"$SRCDIR/contrib/check-trixie.sh"
	echo "check: Debian 13 built and tested in $(((SECONDS - trixie_start) / 60)) min"
fi
echo "check: all tests passed"
