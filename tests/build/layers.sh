#!/bin/bash
# layers.sh: helper/'s files form layers, one folder each (doc/architecture.md), and a file
# includes headers of its own layer or of lower ones only. A header of helper/ is named
# with its folder (`#include "mesh/mesh.h"`), so a file's layer and each included header's
# are read from their folders: loop/ (1), mesh/ (2), services/ (3), requests/ (4), and
# main.c (5) at the top. Fails on a file of helper/ in no layer's folder, on an include of
# a higher layer's header (a lower layer reaches a higher one only through what the higher
# one registered with it), on an include of a helper header without its folder, and on a
# file outside mesh_internal_users (below) that includes mesh/mesh_internal.h: struct mesh
# is the mesh layer's, services read the membership through mesh.h. Likewise the detector
# is the mesh's: a file outside detector_users that includes mesh/detector.h fails.
# LAYERS_DIR checks another copy of helper/. Speaks TAP.
set -uo pipefail
: "${LCR_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
dir=${LAYERS_DIR:-$LCR_SRCDIR/helper}

declare -A layer=([loop]=1 [mesh]=2 [services]=3 [requests]=4 [.]=5)
layer_names=(- "loop/connection" "mesh" "services" "requests" "main")

# The files that may include mesh/mesh_internal.h: the mesh layer's own (doc/architecture.md,
# issue 15); every service uses mesh.h's accessors. This list only shrinks.
mesh_internal_users=" mesh/mesh.c mesh/mesh_view.c mesh/mesh_events.c mesh/mesh_hooks.c
	mesh/mesh_join.c mesh/mesh_dialer.c mesh/rendezvous_client.c mesh/detector.c "
mesh_internal_users=$(echo $mesh_internal_users)
# The files that may include mesh/detector.h: the mesh files that create, feed and tell the
# detector (doc/architecture.md), and the detector itself. This list only shrinks.
detector_users=" mesh/mesh.c mesh/mesh_events.c mesh/detector.c "

n=0
check() { # check OK DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}

files=$(cd "$dir" && find . -name '*.[ch]' | sed 's|^\./||' | sort)
echo "1..$(($(wc -l <<<"$files") + 2))"
for f in $files; do
	folder=$(dirname "$f")
	fl=${layer[$folder]:-0}
	if [ "$fl" = 0 ] || { [ "$folder" = . ] && [ "$f" != main.c ]; }; then
		check 1 "$f is in a layer's folder (loop, mesh, services, requests; main.c alone on top)"
		continue
	fi
	bad=""
	for h in $(sed -n 's/^#include "\([^"]*\.h\)".*/\1/p' "$dir/$f"); do
		if [[ $h != */* ]]; then
			[ -n "$(cd "$dir" && find . -name "$h")" ] && bad+=" $h (without its folder)"
			continue
		fi
		[ -e "$dir/$h" ] || continue
		hl=${layer[$(dirname "$h")]:-0}
		[ "$hl" -le "$fl" ] && continue
		bad+=" $h (${layer_names[$hl]})"
	done
	if [ -n "$bad" ]; then
		check 1 "$f (${layer_names[$fl]}) includes no header of a higher layer: it includes$bad"
	else
		check 0 "$f (${layer_names[$fl]}) includes no header of a higher layer"
	fi
done

# Files that include header but are not in the list users: " a.c b.c" or "".
intruders() { # intruders HEADER USERS
	local f out=""
	for f in $files; do
		grep -q "^#include \"$1\"" "$dir/$f" || continue
		[[ " $2 " == *" $f "* ]] || out+=" $f"
	done
	echo "$out"
}

intruders=$(intruders mesh/mesh_internal.h "$mesh_internal_users")
[ -z "$intruders" ]
check $? "only the mesh layer's own files include mesh/mesh_internal.h${intruders:+: not$intruders}"
intruders=$(intruders mesh/detector.h "$detector_users")
[ -z "$intruders" ]
check $? "only the mesh files that drive the detector include mesh/detector.h${intruders:+: not$intruders}"
exit 0
