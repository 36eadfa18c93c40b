#!/bin/bash
# install_root.sh: installs LCR's Debian packages into a clean Debian root and runs one
# protected step there (in_root.sh), so that nothing of a build tree can take part: the
# root sees neither this machine's /usr nor the source or build trees, and it runs in its
# own PID, network, mount and UTS namespaces (its Slurm ports are its own loopback's, and
# every process of its cluster ends with it).
#
#   install_root.sh DEBDIR     (DEBDIR holds lcr_*.deb, liblcr1_*.deb, liblcr-dev_*.deb)
#   install_root.sh --prepare  only makes the clean root's tarball when it is missing
#
# The clean root is a minimal Debian with Slurm and MUNGE from the archive, made once with
# mmdebstrap into LCR_PKG_ROOT (default /var/cache/lcr/pkgtest-SUITE.tar) and unpacked
# afresh for every run. LCR_PKG_SUITE: the Debian release (default: this machine's).
set -euo pipefail

PREPARE_ONLY=0
if [ "${1:-}" = --prepare ]; then PREPARE_ONLY=1; else DEBDIR=$(realpath "${1:?usage: install_root.sh DEBDIR|--prepare}"); fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SUITE=${LCR_PKG_SUITE:-$(. /etc/os-release && echo "$VERSION_CODENAME")}
ROOT_TAR=${LCR_PKG_ROOT:-/var/cache/lcr/pkgtest-$SUITE.tar}
MIRROR=${LCR_PKG_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${LCR_PKG_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# Slurm's daemons and clients, MUNGE, and the libraries LCR's packages link, so that
# installing them needs no download (Debian 13 renamed two for its 64-bit time_t).
case $SUITE in
bookworm) ROOT_LIBS=libpmix2,libssl3 ;;
*) ROOT_LIBS=libpmix2t64,libssl3t64 ;;
esac
ROOT_PACKAGES=slurmd,slurmctld,slurm-client,munge,libyaml-0-2,libxxhash0,libmunge2,libisal2,$ROOT_LIBS

die() { echo "install_root: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (chroot, namespaces)"
[ "$PREPARE_ONLY" = 1 ] || ls "$DEBDIR"/lcr_*.deb "$DEBDIR"/liblcr1_*.deb >/dev/null 2>&1 ||
	die "no lcr_*.deb and liblcr1_*.deb in $DEBDIR"

make_root_tarball() {
	command -v mmdebstrap >/dev/null || die "mmdebstrap not found: apt-get install mmdebstrap"
	echo "install_root: making the clean $SUITE root $ROOT_TAR (once)" >&2
	mkdir -p "$(dirname "$ROOT_TAR")"
	mmdebstrap --variant=minbase --skip=cleanup/apt/lists --include="$ROOT_PACKAGES" "$SUITE" \
		"$ROOT_TAR.tmp.tar" "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" \
		"deb $SECURITY_MIRROR $SUITE-security main" >&2 || die "mmdebstrap failed"
	mv "$ROOT_TAR.tmp.tar" "$ROOT_TAR"
}

ROOT=
cleanup() { [ -z "$ROOT" ] || rm -rf --one-file-system "$ROOT"; }
trap cleanup EXIT

[ -s "$ROOT_TAR" ] || make_root_tarball
[ "$PREPARE_ONLY" = 0 ] || exit 0
ROOT=$(mktemp -d /var/tmp/lcr-pkgroot.XXXXXX)
tar -xf "$ROOT_TAR" -C "$ROOT"
mkdir -p "$ROOT/tmp/lcr-debs"
cp "$DEBDIR"/lcr_*.deb "$DEBDIR"/liblcr1_*.deb "$DEBDIR"/liblcr-dev_*.deb "$ROOT/tmp/lcr-debs/"
install -m 0755 "$HERE/in_root.sh" "$ROOT/in_root.sh"

# Mounts made in a private mount namespace vanish with it: nothing to unmount afterwards.
in_namespace() {
	local flags=$1
	shift
	unshare --mount --propagation private --fork $flags bash -c '
		root=$1; shift
		# Slurm resolves its listening address with AI_ADDRCONFIG, which needs an address
		# besides loopback: a veth pair inside the namespace, connected to nothing.
		if [ -n "${LCR_NETNS:-}" ]; then
			ip link set lo up && ip link add lcrpkg0 type veth peer name lcrpkg1 &&
				ip addr add 10.78.0.1/24 dev lcrpkg0 && ip link set lcrpkg0 up &&
				hostname lcrpkg || exit 1
		fi
		mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" &&
			mount -t tmpfs tmpfs "$root/dev/shm" && mount -t sysfs sysfs "$root/sys" &&
			mount -t tmpfs tmpfs "$root/run" || exit 1
		# slurmd initialises its cgroup plugin whatever ProctrackType says: bind the machine cgroups.
		if [ -n "${LCR_NETNS:-}" ]; then mount --rbind /sys/fs/cgroup "$root/sys/fs/cgroup" || exit 1; fi
		exec chroot "$root" "$@"' _ "$ROOT" "$@"
}

debs=()
for deb in "$ROOT"/tmp/lcr-debs/*.deb; do debs+=("/tmp/lcr-debs/${deb##*/}"); done
echo "install_root: apt-get install ${debs[*]}" >&2
in_namespace "" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	"${debs[@]}" >&2 ||
	die "the packages did not install into the clean root"
LCR_NETNS=1 in_namespace "--pid --net --uts" timeout -k 5 300 /in_root.sh
