#!/bin/bash
# wire_seeds.sh: every payload kind of the wire (WIRE_MESSAGES, printed by wire_kinds) has
# a seed in tests/fuzz/corpus/wire/, and refresh_wire_seeds.sh, the way doc/fuzzing.md
# refreshes them, writes one for each: a new kind without a sample, or a codec test left
# out of the refresh, fails here. Speaks TAP.
set -uo pipefail
: "${LCR_SRCDIR:?}" "${LCR_BUILDDIR:?}"
corpus=$LCR_SRCDIR/tests/fuzz/corpus/wire
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

if ! "$LCR_BUILDDIR/tests/fuzz/wire_kinds" >"$scratch/kinds" || [ ! -s "$scratch/kinds" ]; then
	echo "Bail out! tests/fuzz/wire_kinds printed no wire kind"
	exit 1
fi
LCR_BUILDDIR=$LCR_BUILDDIR "$LCR_SRCDIR/tests/fuzz/refresh_wire_seeds.sh" "$scratch/seeds"
refreshed=$?
echo "1..3"
missing=$(while read -r kind; do [ -f "$corpus/$kind" ] || echo "$kind"; done <"$scratch/kinds")
if [ -z "$missing" ]; then
	echo "ok 1 - every one of the $(wc -l <"$scratch/kinds") wire kinds has a seed in tests/fuzz/corpus/wire"
else
	echo "not ok 1 - every wire kind has a seed in tests/fuzz/corpus/wire; missing:" $missing
fi
if [ "$refreshed" -eq 0 ]; then
	echo "ok 2 - refresh_wire_seeds.sh runs"
else
	echo "not ok 2 - refresh_wire_seeds.sh runs"
fi
unwritten=$(while read -r kind; do [ -f "$scratch/seeds/$kind" ] || echo "$kind"; done <"$scratch/kinds")
if [ -z "$unwritten" ]; then
	echo "ok 3 - refresh_wire_seeds.sh writes a seed for every wire kind"
else
	echo "not ok 3 - refresh_wire_seeds.sh writes a seed for every wire kind; not written:" $unwritten
fi
