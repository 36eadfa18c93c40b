#!/bin/bash
# packages.sh: LCR's packages, as a site gets them. Builds the `make dist` tarball of the
# build tree LCR_BUILDDIR, the Debian packages and the RPMs from it (build_packages.sh),
# checks that they hold what a site needs, and installs the Debian packages into a clean
# Debian root (no build tree in it) where one step protected by LCR runs on a two-node
# Slurm cluster made of the distribution's packages (install_root.sh). Speaks TAP.
#
# Needs root, and the Debian packages debhelper, rpm and mmdebstrap. Settings:
#   LCR_PKG_DIR=DIR     where the packages are built (default LCR_BUILDDIR/packages)
#   LCR_PKG_ROOT=FILE   cached tarball of the clean root: a minimal Debian with Slurm and
#                       MUNGE, made with mmdebstrap when missing (network needed once;
#                       default /var/cache/lcr/pkgtest-SUITE.tar)
#   LCR_PKG_SUITE=NAME  the root's Debian release (default: this machine's, e.g. bookworm)
#   LCR_PKG_REUSE=1     test the packages already in LCR_PKG_DIR instead of building them
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LCR_SRCDIR=${LCR_SRCDIR:-$(cd "$HERE/../.." && pwd)}
export LCR_BUILDDIR=${LCR_BUILDDIR:-$LCR_SRCDIR/build}
. "$LCR_SRCDIR/tests/integration/lib.sh"
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root (dpkg-buildpackage, chroot)"; exit 0; }

PKG_DIR=${LCR_PKG_DIR:-$LCR_BUILDDIR/packages}
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
VERSION=$(sed -n 's/^PACKAGE_VERSION = //p' "$LCR_BUILDDIR/Makefile")
# liblcr's file, from lib/local.am's -version-info current:revision:age (libtool names it
# liblcr.so.<current - age>.<age>.<revision>).
read -r LIB_CURRENT LIB_REVISION LIB_AGE < <(sed -n \
	's/.*-version-info \([0-9]*\):\([0-9]*\):\([0-9]*\).*/\1 \2 \3/p' "$LCR_SRCDIR/lib/local.am")
LIB_FILE=liblcr.so.$((LIB_CURRENT - LIB_AGE)).$LIB_AGE.$LIB_REVISION
DEB_ARCH=$(dpkg --print-architecture)

build_all() {
	local tarball=$LCR_BUILDDIR/lcr-$VERSION.tar.gz
	make -C "$LCR_BUILDDIR" -s dist >"$PKG_DIR.dist.log" 2>&1 ||
		{ sed 's/^/# /' "$PKG_DIR.dist.log"; echo "Bail out! make dist failed"; exit 99; }
	"$HERE/build_packages.sh" "$tarball" "$PKG_DIR" >"$PKG_DIR.build.log" 2>&1 ||
		{ sed 's/^/# /' "$PKG_DIR.build.log"; echo "Bail out! the packages did not build"; exit 99; }
	sed 's/^/# /' "$PKG_DIR.build.log"
}

deb_of() { echo "$PKG_DIR/deb/${1}_${VERSION}_$DEB_ARCH.deb"; }

# Fails naming every expected path that the list on stdin lacks.
expect_paths() {
	local what=$1 list missing=() path
	shift
	list=$(cat)
	for path in "$@"; do
		grep -qxF -- "$path" <<<"$list" || missing+=("$path")
	done
	[ ${#missing[@]} = 0 ] || fail "$what lacks: ${missing[*]}; it holds: $(tr '\n' ' ' <<<"$list")"
}

deb_paths() { dpkg -c "$(deb_of "$1")" | awk '{ print $6 }' | sed 's|^\./|/|'; }

test_lcr_deb_holds_plugin_programs_man_pages_and_conffiles() {
	deb_paths lcr | expect_paths lcr.deb \
		"/usr/lib/$MULTIARCH/slurm-wlm/spank_lcr.so" /usr/sbin/lcrd /usr/bin/lcrctl \
		/usr/share/man/man1/lcrctl.1.gz /usr/share/man/man5/lcr.yaml.5.gz \
		/usr/share/man/man8/lcrd.8.gz /usr/share/man/man8/spank_lcr.8.gz \
		/etc/slurm/plugstack.conf.d/lcr.conf /etc/slurm/lcr.yaml \
		/usr/share/doc/lcr/examples/lcr.yaml /usr/share/doc/lcr/examples/lcr-train.sbatch
	dpkg-deb -f "$(deb_of lcr)" Conffiles >/dev/null 2>&1 || true
	dpkg-deb --ctrl-tarfile "$(deb_of lcr)" | tar -xOf - ./conffiles |
		expect_paths "lcr.deb's conffiles" /etc/slurm/plugstack.conf.d/lcr.conf /etc/slurm/lcr.yaml
}

test_liblcr_debs_hold_the_library_headers_and_pkgconfig() {
	deb_paths "liblcr1" | expect_paths liblcr1.deb "/usr/lib/$MULTIARCH/liblcr.so.1" \
		"/usr/lib/$MULTIARCH/$LIB_FILE"
	deb_paths liblcr-dev | expect_paths liblcr-dev.deb /usr/include/lcr.h /usr/include/lcr_comm.h \
		"/usr/lib/$MULTIARCH/liblcr.so" "/usr/lib/$MULTIARCH/pkgconfig/lcr.pc" \
		/usr/share/man/man3/lcr.3.gz /usr/share/man/man3/lcr_comm.3.gz
	local dir soname
	dir=$(mktemp -d)
	dpkg-deb -x "$(deb_of liblcr1)" "$dir"
	soname=$(objdump -p "$dir/usr/lib/$MULTIARCH/$LIB_FILE" | awk '$1 == "SONAME" { print $2 }')
	rm -rf "$dir"
	[ "$soname" = liblcr.so.1 ] || fail "liblcr's SONAME is '$soname', the package liblcr1 says liblcr.so.1"
}

test_lcr_deb_requires_the_slurm_release_it_was_built_for() {
	local release depends
	release=$(dpkg-query -W -f='${Version}' libslurm-dev | sed -E 's/^([0-9]+:)?([0-9]+\.[0-9]+).*/\2/')
	depends=$(dpkg-deb -f "$(deb_of lcr)" Depends)
	grep -qF "slurm-wlm-basic-plugins (>= $release)" <<<"$depends" &&
		grep -qF "slurm-wlm-basic-plugins (<< " <<<"$depends" ||
		fail "lcr.deb does not pin Slurm $release: Depends: $depends"
}

# Man pages without their compression suffix: EL's rpm compresses them, Debian's does not.
rpm_paths() { rpm -qlp "$PKG_DIR"/rpm/"$1"-"$VERSION"-*.rpm 2>/dev/null | sed -E 's/\.(gz|bz2|xz|zst)$//'; }

test_rpms_hold_plugin_programs_library_headers_and_conffiles() {
	local libdir
	libdir=$(rpm --eval '%{_libdir}')
	rpm_paths lcr | expect_paths lcr.rpm "$libdir/slurm/spank_lcr.so" /usr/sbin/lcrd /usr/bin/lcrctl \
		/usr/share/man/man1/lcrctl.1 /usr/share/man/man5/lcr.yaml.5 \
		/usr/share/man/man8/lcrd.8 /usr/share/man/man8/spank_lcr.8 \
		/etc/slurm/plugstack.conf.d/lcr.conf /etc/slurm/lcr.yaml
	rpm -qcp "$PKG_DIR"/rpm/lcr-"$VERSION"-*.rpm | expect_paths "lcr.rpm's config files" \
		/etc/slurm/plugstack.conf.d/lcr.conf /etc/slurm/lcr.yaml
	rpm_paths lcr-libs | expect_paths lcr-libs.rpm "$libdir/liblcr.so.1" "$libdir/$LIB_FILE"
	rpm_paths lcr-devel | expect_paths lcr-devel.rpm /usr/include/lcr.h /usr/include/lcr_comm.h \
		"$libdir/liblcr.so" "$libdir/pkgconfig/lcr.pc" /usr/share/man/man3/lcr.3 \
		/usr/share/man/man3/lcr_comm.3
}

test_installed_debs_protect_a_step_in_a_clean_root() {
	local output
	output=$("$HERE/install_root.sh" "$PKG_DIR/deb" 2>&1) || fail "install_root.sh failed: $output"
	diag "$output"
	# One status line per node: each from a helper that lcrd started for this step.
	[ "$(grep -cE '^node n[12] .*job [0-9]+ step 0 .*state running' <<<"$output")" = 2 ] ||
		fail "expected one running helper on each of n1 and n2"
	grep -q "helper /usr/sbin/lcrd" <<<"$output" || fail "the helper was not the packaged /usr/sbin/lcrd"
}

mkdir -p "$PKG_DIR"
[ "${LCR_PKG_REUSE:-0}" = 1 ] || build_all
run_suite
