#!/bin/bash
# ckpt_dir_trust.sh: lcrd itself keeps checkpoints and the step's outcome where the site and
# the user meant them, whatever the plugin checked. The site's ckpt_roots (--ckpt-roots)
# are checked on the path with every link resolved: a --ckpt-dir that is a link under an
# allowed root leading outside it is refused, naming the path and where it leads, and
# nothing is written outside; a --restore=PATH outside the roots, lexically or through such
# a link, is refused and lcrd does not start. The outcome file (lcrd(8), OUTCOME) goes
# through the same walk as checkpoints: a directory level another user owns, or a link
# another user owns on the way, is refused with a message naming it and nothing is written
# below or through it. The cases that give a file to another user need root.
. "$(dirname "$0")/lib.sh"
CKPT_CLIENT=$LCR_BUILDDIR/tests/helper/ckpt_client
uid=$(id -u)
make_root "$WORK/root" "$uid"
ALLOWED=$WORK/allowed
OUTSIDE=$WORK/outside
mkdir -p "$ALLOWED" "$OUTSIDE/60" "$OUTSIDE/61"
ln -s "$OUTSIDE/60" "$ALLOWED/60"
ln -s "$OUTSIDE/61" "$ALLOWED/61"

# ckpt_now_ranks NAME JOB CKPT_DIR ARGS...: lcrd with ranks 0 and 1 at step 1; asks for a
# checkpoint, whose output goes to $WORK/NAME.now; the status is lcrctl's.
ckpt_now_ranks() {
	local name=$1 job=$2 dir=$3
	shift 3
	start_lcrd "$name" --job-id="$job" --node-name=n1 --ranks=0,1 \
		--runtime-dir="$WORK/root/$uid" --ckpt-dir="$dir" "$@" || return 1
	"$CKPT_CLIENT" fill 0 w 1M 11 1 >/dev/null && "$CKPT_CLIENT" fill 1 w 1M 12 1 >/dev/null &&
		"$LCRCTL" --socket="$LCR_SOCKET" ckpt now >"$WORK/$name.now" 2>&1
}

ckpt_now_ranks a 60 "$ALLOWED/60" --ckpt-roots="$ALLOWED"
ok_exit 1 $? "a --ckpt-dir linked from an allowed root to outside it: the checkpoint fails"
stop_lcrd
diag <"$WORK/a.now"
grep -q "checkpoint directory $ALLOWED/60 ($OUTSIDE/60): '$OUTSIDE/60' is not under an allowed checkpoint root (accepted: $ALLOWED)" "$WORK/a.now"
ok $? "... naming the path, where it leads, and the accepted roots"
[ -z "$(ls -A "$OUTSIDE/60")" ]; ok $? "... and nothing is written outside the roots"

ckpt_now_ranks b 61 "$OUTSIDE/61"
ok $? "a checkpoint of step 1 is saved outside any root when the site sets none"
stop_lcrd
[ -d "$OUTSIDE/61/step-1" ]; ok $? "... in $OUTSIDE/61/step-1"

restore_refused() { # restore_refused NAME PATH DESCRIPTION
	start_lcrd "$1" --job-id=61 --node-name=n1 --ranks=0,1 --runtime-dir="$WORK/root/$uid" \
		--ckpt-roots="$ALLOWED" --restore="$2"
	[ $? -ne 0 ] && ! kill -0 "$LCRD_PID" 2>/dev/null
	ok $? "$3: lcrd does not start"
	diag <"$WORK/$1.log"
}
restore_refused c "$OUTSIDE/61/step-1" "--restore=PATH outside the roots"
grep -q "cannot restore: checkpoint $OUTSIDE/61/step-1 ($OUTSIDE/61/step-1): '$OUTSIDE/61/step-1' is not under an allowed checkpoint root" "$WORK/c.log"
ok $? "... and says the checkpoint is not under an allowed root"
restore_refused d "$ALLOWED/61/step-1" "--restore=PATH through a link from an allowed root to outside it"
grep -q "cannot restore: checkpoint $ALLOWED/61/step-1 ($OUTSIDE/61/step-1): '$OUTSIDE/61/step-1' is not under an allowed checkpoint root" "$WORK/d.log"
ok $? "... and names the path and where it leads"
start_lcrd e --job-id=61 --node-name=n1 --ranks=0,1 --runtime-dir="$WORK/root/$uid" \
	--ckpt-roots="$ALLOWED:$OUTSIDE" --restore="$ALLOWED/61/step-1"
ok $? "the same --restore=PATH when a root also holds where it leads: lcrd starts"
"$CKPT_CLIENT" restore 1 w 1M 12 >"$WORK/e1" && grep -q "resume step 1" "$WORK/e1"
ok $? "... and restores step 1"
stop_lcrd

# outcome_refused NAME JOB CKPT_DIR WHY: a rank that ends makes lcrd write the outcome; it
# is refused with WHY in the log.
outcome_refused() {
	start_lcrd "$1" --job-id="$2" --node-name=n1 --ranks=0 --runtime-dir="$WORK/root/$uid" \
		--ckpt-dir="$3"
	"$CKPT_CLIENT" fill 0 w 1M 11 1 >/dev/null
	wait_for "$WORK/$1.log" "cannot report the step's outcome"
	ok $? "a step whose outcome cannot be written where asked: lcrd says so"
	grep -q "cannot report the step's outcome: checkpoint directory $3: $4" "$WORK/$1.log"
	ok $? "... naming the level: $4"
	diag <"$WORK/$1.log"
	stop_lcrd
}
if [ "$uid" -eq 0 ]; then
	mkdir -m 0755 "$WORK/theirs"
	chown 65534 "$WORK/theirs"
	outcome_refused f 62 "$WORK/theirs/62" "$WORK/theirs is owned by uid 65534, neither you (uid 0) nor root"
	[ -z "$(ls -A "$WORK/theirs")" ]; ok $? "... and nothing is made below that level"

	mkdir -m 0755 "$WORK/mine" "$WORK/victim"
	ln -s "$WORK/victim" "$WORK/mine/63"
	chown -h 65534 "$WORK/mine/63"
	outcome_refused g 63 "$WORK/mine/63" "$WORK/mine/63 is a symbolic link owned by uid 65534"
	[ -z "$(ls -A "$WORK/victim")" ]; ok $? "... and nothing is written where that link leads"
else
	for what in "level owned by another user: said" "... naming it" "... nothing made" \
		"link owned by another user: said" "... naming it" "... nothing written through it"; do
		skip "$what" "needs root"
	done
fi
finish
