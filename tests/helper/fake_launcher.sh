#!/bin/bash
# fake_launcher.sh: stands in for srun when tests/helper/mesh_rejoin.sh makes lcrd replace a
# dead node. lcrd runs it as
#     fake_launcher.sh --jobid=J --overlap --nodes=1 --ntasks=N --nodelist=SPARE --lcr \
#         [--lcr-OPTION=VALUE...] -- PROGRAM...
# with LCR_REJOIN_* in its environment. What it does on SPARE is read from the file
# $FAKE_LAUNCHER_DIR/SPARE ("join" when there is none):
#   join  exec a foreground lcrd --rejoin=$LCR_REJOIN_PEER as node $LCR_REJOIN_NODE_ID named
#         SPARE (so the launcher's exit is that lcrd's), with $FAKE_LAUNCHER_LCRD_ARGS and,
#         when $LCR_REJOIN_CKPT is not empty, --restore=$LCR_REJOIN_CKPT (as the plugin does);
#   fail  exit 1 at once;
#   hang  sleep until killed.
# It writes its arguments (the --lcr-* options on a line "lcr_options=...") and the
# LCR_REJOIN_* variables to $FAKE_LAUNCHER_DIR/SPARE.launch
# and its pid to $FAKE_LAUNCHER_DIR/SPARE.pid, for the test to check.
set -u
nodelist= ntasks= jobid= lcr=no lcr_options=
while [ $# -gt 0 ]; do
	case $1 in
	--nodelist=*) nodelist=${1#--nodelist=} ;;
	--ntasks=*) ntasks=${1#--ntasks=} ;;
	--jobid=*) jobid=${1#--jobid=} ;;
	--lcr) lcr=yes ;;
	--lcr-*) lcr_options="$lcr_options${lcr_options:+ }$1" ;;
	--) shift; break ;;
	esac
	shift
done
[ -n "$nodelist" ] && [ -n "$ntasks" ] || { echo "fake_launcher: no --nodelist or --ntasks" >&2; exit 2; }
{
	echo "jobid=$jobid ntasks=$ntasks nodelist=$nodelist lcr=$lcr program=$*"
	echo "lcr_options=$lcr_options"
	env | grep '^LCR_REJOIN_' | sort
} >"$FAKE_LAUNCHER_DIR/$nodelist.launch"
echo $$ >"$FAKE_LAUNCHER_DIR/$nodelist.pid"
mode=join
[ -f "$FAKE_LAUNCHER_DIR/$nodelist" ] && mode=$(cat "$FAKE_LAUNCHER_DIR/$nodelist")
case $mode in
fail) echo "fake_launcher: failing on $nodelist as told" >&2; exit 1 ;;
hang) echo "fake_launcher: hanging on $nodelist as told" >&2; exec sleep 100000 ;;
esac
restore=()
[ -n "${LCR_REJOIN_CKPT:-}" ] && restore=("--restore=$LCR_REJOIN_CKPT")
# shellcheck disable=SC2086 # FAKE_LAUNCHER_LCRD_ARGS is a list of words
exec "$FAKE_LAUNCHER_LCRD" --foreground "${restore[@]}" --job-id="$jobid" --step-id="$LCR_REJOIN_STEP" \
	--node-id="$LCR_REJOIN_NODE_ID" --node-count="$LCR_REJOIN_NODE_COUNT" --node-name="$nodelist" \
	--ranks="$LCR_REJOIN_RANKS" --rejoin="$LCR_REJOIN_PEER" $FAKE_LAUNCHER_LCRD_ARGS -- "$@"
