#!/bin/bash
# layers.sh: the files of helper/ form layers (doc/architecture.md), and a file includes
# headers of its own layer or of lower ones only. Reads every `#include "x.h"` line of
# helper/*.c and helper/*.h whose header is in helper/, and fails on a file that is in no
# layer, and on any include of a higher layer's header: a lower layer reaches a higher one
# only through what the higher one registered with it. And struct mesh is the mesh layer's:
# a file outside mesh_internal_users (below) that includes mesh_internal.h fails; services
# read the membership through mesh.h. Likewise the detector is the mesh's: a file outside
# detector_users that includes detector.h fails. LAYERS_DIR checks another copy of
# helper/. Speaks TAP.
set -uo pipefail
: "${LCR_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
dir=${LAYERS_DIR:-$LCR_SRCDIR/helper}

# Layer of each module (x.c and x.h), lowest first.
declare -A layer=()
add() { local n=$1 m; shift; for m in "$@"; do layer[$m]=$n; done; }
layer_names=(- "loop/connection" "mesh" "services" "control" "main")
add 1 loop log worker listener conn_gate auth_queue mesh_auth conn_seal mesh_conn pidfd_watch options \
	runtime_dir regions backend backend_host backend_cuda job_env slurm_query command_async slurm_nodes outcome_file \
	ckpt_dir control lcrd
add 2 mesh mesh_internal mesh_view mesh_events mesh_hooks mesh_join mesh_dialer rendezvous_client quorum detector
add 3 tasks kv jobkv jobkv_internal jobkv_replica jobkv_state fence ckpt ckpt_write ckpt_restore mesh_ckpt recovery recovery_track recovery_orphan recovery_timeline outcome transfer \
	transfer_client transfer_server rendezvous_server snapshot snapshot_store snapshot_erasure snapshot_rebuild
add 4 requests pmix_events plugin_channel
add 5 main lcrctl lcrctl_ckpt lcrctl_wait

# The files that may include mesh_internal.h: the mesh layer's own (doc/architecture.md,
# issue 15); every service uses mesh.h's accessors. This list only shrinks.
mesh_internal_users=" mesh.c mesh_view.c mesh_events.c mesh_hooks.c mesh_join.c mesh_dialer.c
	rendezvous_client.c detector.c "
mesh_internal_users=$(echo $mesh_internal_users)
# The files that may include detector.h: the mesh files that create, feed and tell the
# detector (doc/architecture.md), and the detector itself. This list only shrinks.
detector_users=" mesh.c mesh_events.c detector.c "

n=0
check() { # check OK DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}

files=$(cd "$dir" && ls ./*.c ./*.h | sed 's|^\./||' | sort)
echo "1..$(($(wc -l <<<"$files") + 2))"
for f in $files; do
	mod=${f%.*}
	if [ -z "${layer[$mod]:-}" ]; then
		check 1 "$f is in a layer (add it to the table in tests/build/layers.sh and doc/architecture.md)"
		continue
	fi
	bad=""
	for h in $(sed -n 's/^#include "\([^"/]*\.h\)".*/\1/p' "$dir/$f"); do
		[ -e "$dir/$h" ] || continue
		hl=${layer[${h%.h}]:-0}
		[ "$hl" -le "${layer[$mod]}" ] && continue
		bad+=" $h (${layer_names[$hl]})"
	done
	if [ -n "$bad" ]; then
		check 1 "$f (${layer_names[${layer[$mod]}]}) includes no header of a higher layer: it includes$bad"
	else
		check 0 "$f (${layer_names[${layer[$mod]}]}) includes no header of a higher layer"
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

intruders=$(intruders mesh_internal.h "$mesh_internal_users")
[ -z "$intruders" ]
check $? "only the mesh layer's own files include mesh_internal.h${intruders:+: not$intruders}"
intruders=$(intruders detector.h "$detector_users")
[ -z "$intruders" ]
check $? "only the mesh files that drive the detector include detector.h${intruders:+: not$intruders}"
exit 0
