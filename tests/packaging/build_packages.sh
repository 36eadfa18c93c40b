#!/bin/bash
# build_packages.sh: the Debian and RPM packages of LCR, built the way a site builds them:
# from the `make dist` tarball, never from a build tree.
#
#   build_packages.sh TARBALL OUTDIR
#
# Unpacks TARBALL twice under OUTDIR/work and writes into OUTDIR:
#   deb/  the Debian packages (dpkg-buildpackage -us -uc -b, from debian/), with
#         DEB_BUILD_OPTIONS=nocheck (contrib/check.sh runs the tests) unless set
#   rpm/  the RPMs (rpmbuild -bb contrib/rpm/lcr.spec); on a machine without an RPM
#         database of the build requirements (Debian) it passes --nodeps
# LCR_PKG_KINDS: which of them to build, "deb rpm" (the default), "deb" or "rpm".
# Needs the Debian packages debhelper (or dh-autoreconf) and rpm, and LCR's build
# dependencies (contrib/install-deps.sh).
set -euo pipefail

TARBALL=$(realpath "${1:?usage: build_packages.sh TARBALL OUTDIR}")
OUTDIR=${2:?usage: build_packages.sh TARBALL OUTDIR}
mkdir -p "$OUTDIR"
OUTDIR=$(realpath "$OUTDIR")
TOP=$(basename "$TARBALL" .tar.gz)
VERSION=${TOP#lcr-}

die() { echo "build_packages: $*" >&2; exit 1; }
KINDS=${LCR_PKG_KINDS:-deb rpm}
wants() { [[ " $KINDS " == *" $1 "* ]]; }
for kind in $KINDS; do
	case $kind in deb|rpm) ;; *) die "LCR_PKG_KINDS: unknown kind '$kind' (deb, rpm)" ;; esac
done
if wants deb; then
	command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null ||
		die "dpkg-buildpackage and dh not found: apt-get install dpkg-dev debhelper"
fi
if wants rpm; then
	command -v rpmbuild >/dev/null || die "rpmbuild not found: apt-get install rpm"
fi

rm -rf "$OUTDIR/work" "$OUTDIR/deb" "$OUTDIR/rpm"
mkdir -p "$OUTDIR/work/deb" "$OUTDIR/work/rpm/SOURCES" "$OUTDIR/deb" "$OUTDIR/rpm"

build_debs() {
	tar -xzf "$TARBALL" -C "$OUTDIR/work/deb"
	(cd "$OUTDIR/work/deb/$TOP" &&
		DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-nocheck} dpkg-buildpackage -us -uc -b \
			-j"$(nproc)") >"$OUTDIR/deb.log" 2>&1 ||
		{ tail -n 40 "$OUTDIR/deb.log" >&2; die "dpkg-buildpackage failed; see $OUTDIR/deb.log"; }
	mv "$OUTDIR"/work/deb/*.deb "$OUTDIR/deb/"
}

build_rpms() {
	local nodeps=()
	cp "$TARBALL" "$OUTDIR/work/rpm/SOURCES/"
	# Debian's rpm has an empty database: the BuildRequires are Debian packages here.
	rpm -q rpm >/dev/null 2>&1 || nodeps=(--nodeps)
	tar -xzf "$TARBALL" -C "$OUTDIR/work/rpm" "$TOP/contrib/rpm/lcr.spec"
	rpmbuild -bb "${nodeps[@]}" --define "_topdir $OUTDIR/work/rpm" \
		--define "_smp_mflags -j$(nproc)" \
		"$OUTDIR/work/rpm/$TOP/contrib/rpm/lcr.spec" >"$OUTDIR/rpm.log" 2>&1 ||
		{ tail -n 40 "$OUTDIR/rpm.log" >&2; die "rpmbuild failed; see $OUTDIR/rpm.log"; }
	find "$OUTDIR/work/rpm/RPMS" -name '*.rpm' -exec mv {} "$OUTDIR/rpm/" \;
}

[ "$(awk -F'[()]' 'NR == 1 { print $2 }' <(tar -xzOf "$TARBALL" "$TOP/debian/changelog"))" = "$VERSION" ] ||
	die "debian/changelog's first version is not $VERSION (configure.ac's): add an entry"
[ "$(tar -xzOf "$TARBALL" "$TOP/contrib/rpm/lcr.spec" | awk '$1 == "Version:" { print $2 }')" = "$VERSION" ] ||
	die "contrib/rpm/lcr.spec's Version is not $VERSION (configure.ac's): change it"
if wants deb; then build_debs; fi
if wants rpm; then build_rpms; fi
rm -rf "$OUTDIR/work"
echo "build_packages: $(ls "$OUTDIR/deb" | wc -l) Debian packages in $OUTDIR/deb, $(ls "$OUTDIR/rpm" | wc -l) RPMs in $OUTDIR/rpm"
