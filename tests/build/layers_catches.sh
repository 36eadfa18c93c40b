#!/bin/bash
# layers_catches.sh: tests/build/layers.sh fails where it should. On a copy of helper/ it
# passes; with a service that includes mesh_internal.h (services/ckpt.c, which has no need
# of it; services/transfer_server.c, which adopts its connections through mesh.h) it fails
# and names that file; with a mesh-layer file that includes a service's header, a helper
# header included without its folder, or a file outside the layers' folders, it fails too;
# with a service that includes detector.h (services/kv.c) it fails and names that file.
# Speaks TAP.
set -uo pipefail
: "${LCR_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
layers=$LCR_SRCDIR/tests/build/layers.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

n=0
check() { # check OK DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
# Runs layers.sh on a fresh copy of helper/ after the command "$@" (run in the copy).
layers_after() {
	# --no-preserve=mode: make distcheck's source tree is read-only, the copy must not be.
	rm -rf "$tmp/helper" && cp -r --no-preserve=mode "$LCR_SRCDIR/helper" "$tmp/helper" &&
		(cd "$tmp/helper" && "$@") && LAYERS_DIR=$tmp/helper bash "$layers"
}

echo 1..7
out=$(layers_after true)
! grep -q '^not ok' <<<"$out"
check $? "the unchanged helper/ passes"

out=$(layers_after sed -i '0,/^#include "config.h"/s//&\n#include "mesh\/mesh_internal.h"/' services/ckpt.c)
grep -q '^not ok .*mesh_internal.h: not services/ckpt.c$' <<<"$out"
check $? "a service that includes mesh_internal.h fails, named"

out=$(layers_after sed -i '0,/^#include "config.h"/s//&\n#include "mesh\/mesh_internal.h"/' services/transfer_server.c)
grep -q '^not ok .*mesh_internal.h: not services/transfer_server.c$' <<<"$out"
check $? "a transfer service that includes mesh_internal.h fails, named (it uses mesh.h)"

out=$(layers_after sed -i '0,/^#include "mesh\/mesh_internal.h"/s//&\n#include "services\/recovery.h"/' mesh/mesh.c)
grep -q '^not ok .*mesh/mesh.c (mesh) includes no header of a higher layer: it includes services/recovery.h' <<<"$out"
check $? "a mesh file that includes a service's header fails, named"

out=$(layers_after sed -i 's|^#include "loop/log.h"|#include "log.h"|' services/ckpt.c)
grep -q '^not ok .*services/ckpt.c (services) includes no header of a higher layer: it includes log.h (without its folder)' <<<"$out"
check $? "a helper header included without its folder fails, named"

out=$(layers_after cp services/kv.c stray.c)
grep -q '^not ok .* stray.c is in a layer.s folder' <<<"$out"
check $? "a file outside the layers' folders fails, named"

out=$(layers_after sed -i '0,/^#include "config.h"/s//&\n#include "mesh\/detector.h"/' services/kv.c)
grep -q '^not ok .*detector.h: not services/kv.c$' <<<"$out"
check $? "a service that includes detector.h fails, named"
exit 0
