#!/bin/bash
# soname.sh: liblcr's soname moves with LCR_API_VERSION. An incompatible change of the API
# (include/lcr.h raises LCR_API_VERSION) must change the soname too (-version-info in
# lib/local.am), or a program built against the old header loads the new library and
# misreads its structures. The soname's number is LCR_API_VERSION - 1; the Python binding,
# the Debian package and the RPM spec name the same file. Each addition (LCR_API_REVISION)
# raises libtool's current and age together, so age is LCR_API_REVISION: a program that
# needs revision N then finds, in the library's file name, whether it has it. Speaks TAP.
set -uo pipefail
: "${LCR_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${LCR_BUILDDIR:=$(pwd)}"

api=$(sed -n 's/^#define LCR_API_VERSION \([0-9]*\).*/\1/p' "$LCR_SRCDIR/include/lcr.h")
want="liblcr.so.$((api - 1))"
n=0
check() { # check OK DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}

revision=$(sed -n 's/^#define LCR_API_REVISION \([0-9]*\).*/\1/p' "$LCR_SRCDIR/include/lcr.h")
read -r current age < <(sed -n \
	's/.*-version-info \([0-9]*\):[0-9]*:\([0-9]*\).*/\1 \2/p' "$LCR_SRCDIR/lib/local.am")
echo "1..6"
check "$([ -n "$api" ]; echo $?)" "include/lcr.h defines LCR_API_VERSION ($api)"
# The file libtool built last (an earlier build's liblcr.so.N may still lie beside it).
dlname=$(sed -n "s/^dlname='\(.*\)'$/\1/p" "$LCR_BUILDDIR/lib/liblcr.la" 2>/dev/null)
lib=$LCR_BUILDDIR/lib/.libs/$dlname
soname=$( [ -n "$dlname" ] && [ -e "$lib" ] && objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')
check "$([ "$soname" = "$want" ]; echo $?)" \
	"the built liblcr's SONAME ('${soname:-none}') is $want for LCR_API_VERSION $api (else raise -version-info in lib/local.am)"
check "$(grep -qx "SONAME = \"$want\"" "$LCR_SRCDIR/contrib/python/lcr/_library.py"; echo $?)" \
	"contrib/python/lcr/_library.py loads $want"
check "$(grep -qx "Package: liblcr$((api - 1))" "$LCR_SRCDIR/debian/control"; echo $?)" \
	"debian/control names the library package liblcr$((api - 1))"
check "$(grep -qx "%{_libdir}/$want" "$LCR_SRCDIR/contrib/rpm/lcr.spec"; echo $?)" \
	"contrib/rpm/lcr.spec installs %{_libdir}/$want"
check "$([ -n "$revision" ] && [ "${age:-x}" = "$revision" ] && [ "$((current - age))" = "$((api - 1))" ]; echo $?)" \
	"lib/local.am's -version-info ${current:-?}:?:${age:-?} has age LCR_API_REVISION ($revision) and current - age $((api - 1)) (an addition raises current and age)"
