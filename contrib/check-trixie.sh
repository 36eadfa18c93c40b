#!/bin/bash
# check-trixie.sh: LCR on its second tested platform, Debian 13 (trixie): Slurm 24.11 and
# PyTorch 2.6. Run as root on the Debian 12 machine (contrib/check.sh runs it after the
# Debian 12 suite; CHECK_TRIXIE=0 leaves it out):
#
#   contrib/check-trixie.sh [root|build|python|packages|cluster|all]     (default: all)
#
#   root   makes the Debian 13 root with mmdebstrap from Debian's archive, once: it is kept
#          in LCR_TRIXIE_ROOT (default /var/cache/lcr/trixie); when the package list below
#          changes, what it adds is installed into the kept root with apt-get. Also makes,
#          once, the clean Debian 13 root the packages stage installs into
#          (tests/packaging/install_root.sh --prepare)
#   build  copies the source tree into the root and builds it there with warnings as
#          errors, against Slurm 24.11's headers (a fresh build each time)
#   python runs, inside the root, the Python binding's tests (lcr.torch with PyTorch 2.6 on
#          the CPU)
#   packages builds LCR's Debian packages inside the root from the `make dist` tarball of the
#          root's build (tests/packaging/build_packages.sh), installs them into a clean
#          Debian 13 root and runs one protected step there on Slurm 24.11
#          (tests/packaging/install_root.sh with LCR_PKG_SUITE=trixie)
#   cluster runs, inside the root, the cluster suite on a local Slurm 24.11 cluster, limited
#          to the tests TRIXIE_TEST_MATCH names (default below: the plugin and helper lifecycle,
#          the SPANK failure paths, detection, the just-in-time checkpoint, in-job
#          recovery and the PyTorch recovery). The cluster uses the same fixed ports as
#          the Debian 12 suites: never run both at once.
#
# The root runs in a private mount namespace with /proc, /sys and /dev of the machine, so
# nothing stays mounted when the script ends, however it ends.
set -euo pipefail

SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=${LCR_TRIXIE_ROOT:-/var/cache/lcr/trixie}
MIRROR=${LCR_TRIXIE_MIRROR:-http://deb.debian.org/debian}
JOBS=$(nproc)
# The default subset: lifecycle (including the three tests that no helper file stays after a
# step: on 24.11 they failed until the plugin removed the helper's files in slurmstepd's own
# process, plugin/helper_files.c), the SPANK failure paths, detection, the just-in-time
# checkpoint, in-job recovery and the PyTorch recovery (DDP by a spare, ZeRO from the copies).
DEFAULT_MATCH='test_srun_runs_on_five|srun_lcr_starts_one_helper|no_helper_left_after|broken_helper_without_required|tasks_get_lcr_socket|broken_helper_with_required|invalid_option_values_stop_srun|killed_node_reaches_every_survivor|killed_rank_gives_rank_exited|jit_checkpoint_after_node_loss|recovery_spare_replaces_a_killed_node|torch_ddp_spare_replaces|torch_zero_spare_recovers'
TEST_MATCH=${TRIXIE_TEST_MATCH:-$DEFAULT_MATCH}

# What LCR needs in the root to build and to run its tests there (contrib/install-deps.sh
# for Debian 12, less the fuzzing, plotting and valgrind tools that CI runs on Debian 12).
PACKAGES=(
	build-essential autoconf automake libtool pkg-config debhelper
	libslurm-dev slurmctld slurmd slurm-client
	libpmix-dev libyaml-dev libcmocka-dev munge libmunge-dev libxxhash-dev libssl-dev libisal-dev
	iproute2 procps psmisc util-linux passwd stress-ng python3 python3-torch
)

say() { echo "check-trixie: $*"; }
die() { echo "check-trixie: $*" >&2; exit 1; }

package_list() { printf '%s\n' "${PACKAGES[@]}" | sort; }

make_root() {
	if [ -f "$ROOT/.lcr-packages" ] && [ "$(cat "$ROOT/.lcr-packages")" = "$(package_list)" ]; then
		say "Debian 13 root: $ROOT (cached)"
		return 0
	fi
	if [ -f "$ROOT/.lcr-packages" ]; then
		say "Debian 13 root: $ROOT (cached), installing what the package list added"
		cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
		in_root bash -euc 'apt-get update -qq
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null' \
			_ "${PACKAGES[@]}"
		package_list >"$ROOT/.lcr-packages"
		return 0
	fi
	command -v mmdebstrap >/dev/null || apt-get install -y -qq --no-install-recommends mmdebstrap
	say "making the Debian 13 root in $ROOT from $MIRROR"
	rm -rf "$ROOT.new"
	mkdir -p "$(dirname "$ROOT")"
	local list
	list=$(IFS=,; echo "${PACKAGES[*]}")
	mmdebstrap --quiet --variant=apt --include="$list" trixie "$ROOT.new" "$MIRROR"
	package_list >"$ROOT.new/.lcr-packages"
	rm -rf "$ROOT"
	mv "$ROOT.new" "$ROOT"
}

# in_root COMMAND...: runs COMMAND in the root, in a mount namespace of its own.
in_root() {
	cp /etc/hosts "$ROOT/etc/hosts"
	unshare --mount --propagation private -- bash -euc '
		root=$1; shift
		mount -t proc proc "$root/proc"
		mount --rbind /sys "$root/sys"
		mount --rbind /dev "$root/dev"
		exec chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"
	' _ "$ROOT" "$@"
}

# The source tree as git knows it (tracked and untracked, less what .gitignore names), or
# every file but the build trees when it is no git checkout (a release tarball).
copy_sources() {
	rm -rf "$ROOT/lcr"
	mkdir -p "$ROOT/lcr/src"
	if git -C "$SRCDIR" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$SRCDIR" ls-files -z --cached --others --exclude-standard |
			tar -C "$SRCDIR" --null -T - -cf - | tar -C "$ROOT/lcr/src" -xf -
	else
		tar -C "$SRCDIR" --exclude='./build*' -cf - . | tar -C "$ROOT/lcr/src" -xf -
	fi
}

build_lcr() {
	say "building LCR in the root"
	copy_sources
	in_root bash -euc '
		cd /lcr/src
		autoreconf -fi >/dev/null 2>&1
		mkdir -p /lcr/build && cd /lcr/build
		/lcr/src/configure --enable-werror >configure.out || { cat configure.out; exit 1; }
		grep -E "^ +(Slurm|PMIx) " configure.out
		make -j"$1" >make.out 2>&1 || { tail -n 60 make.out; exit 1; }
	' _ "$JOBS"
}

# run_test SCRIPT [TEST_MATCH]: one TAP test script of the root's build, run directly (make
# check would first run what the script's log depends on: the cluster lifecycle test).
run_test() {
	in_root env LCR_SRCDIR=/lcr/src LCR_BUILDDIR=/lcr/build TEST_MATCH="${2:-.}" bash "/lcr/src/$1" |
		tee "$ROOT/lcr/build/$(basename "$1" .sh).tap"
	! grep -q '^not ok' "$ROOT/lcr/build/$(basename "$1" .sh).tap"
}

test_python() {
	say "the Python binding with PyTorch $(in_root python3 -c 'import torch; print(torch.__version__)')"
	run_test contrib/python/test_python.sh
}

# The Debian packages, built in the root as a site builds them and run in a clean Debian 13
# root: one helper per node for one step, from the packaged /usr/sbin/lcrd.
test_packages() {
	local version output
	say "Debian 13 packages: built from make dist in the root, run in a clean trixie root"
	version=$(sed -n 's/^PACKAGE_VERSION = //p' "$ROOT/lcr/build/Makefile")
	in_root bash -euc '
		make -C /lcr/build -s dist >/lcr/build/dist.out 2>&1 || { tail -n 40 /lcr/build/dist.out; exit 1; }
		LCR_PKG_KINDS=deb /lcr/src/tests/packaging/build_packages.sh "/lcr/build/lcr-$1.tar.gz" /lcr/packages
	' _ "$version"
	output=$(LCR_PKG_SUITE=trixie "$SRCDIR/tests/packaging/install_root.sh" "$ROOT/lcr/packages/deb" 2>&1) ||
		{ echo "$output"; die "the Debian 13 packages did not run a step in a clean root"; }
	[ "$(grep -cE '^node n[12] .*job [0-9]+ step 0 .*state running' <<<"$output")" = 2 ] &&
		grep -q "helper /usr/sbin/lcrd" <<<"$output" ||
		{ echo "$output"; die "expected a running helper from /usr/sbin/lcrd on each of n1 and n2"; }
	grep -E '^node n[12] ' <<<"$output"
}

test_cluster() {
	say "cluster suite on Slurm $(in_root slurmd -V | awk '{print $2}'): tests matching $TEST_MATCH"
	run_test tests/integration/cluster-suite.sh "$TEST_MATCH"
}

[ "$(id -u)" = 0 ] || die "needs root (mmdebstrap, chroot and the local Slurm cluster)"
stage=${1:-all}
case $stage in
root) make_root; LCR_PKG_SUITE=trixie "$SRCDIR/tests/packaging/install_root.sh" --prepare ;;
build) make_root; build_lcr ;;
python) test_python ;;
packages) test_packages ;;
cluster) test_cluster ;;
all) make_root; LCR_PKG_SUITE=trixie "$SRCDIR/tests/packaging/install_root.sh" --prepare; build_lcr; test_python; test_packages; test_cluster ;;
*) die "unknown stage '$stage': root, build, python, packages, cluster or all" ;;
esac
say "$stage passed"
