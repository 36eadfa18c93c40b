#!/bin/bash
# ckpt_failures.sh: failures while a checkpoint is written. A full disk (a 4 MiB tmpfs)
# abandons the checkpoint with an error naming the file, removes its temporary directory
# and leaves the earlier checkpoint intact. A helper SIGKILLed in the middle of writing
# 1 GiB leaves no step directory, only a temporary one that lcrctl lists as incomplete and
# the next checkpoint removes; the earlier checkpoint stays intact and restorable.
. "$(dirname "$0")/lib.sh"
CKPT_CLIENT=$LCR_BUILDDIR/tests/helper/ckpt_client
uid=$(id -u)
make_root "$WORK/root" "$uid"
SMALL=$WORK/small
trap 'umount "$SMALL" 2>/dev/null; cleanup' EXIT

mkdir -p "$SMALL"
if [ "$uid" -eq 0 ] && mount -t tmpfs -o size=4m lcr-test "$SMALL" 2>"$WORK/mount"; then
	CKPT=$SMALL/50
	start_lcrd a --job-id=50 --node-name=n1 --ranks=0,1 --runtime-dir="$WORK/root/$uid" --ckpt-dir="$CKPT"
	ok $? "lcrd starts with its checkpoints on a 4 MiB tmpfs"
	"$CKPT_CLIENT" fill 0 w 1M 11 1 >/dev/null && "$CKPT_CLIENT" fill 1 w 1M 12 1 >/dev/null &&
		"$LCRCTL" --socket="$LCR_SOCKET" ckpt now >/dev/null
	ok $? "a 2 MiB checkpoint of step 1 fits"
	"$CKPT_CLIENT" fill 0 big 3M 13 2 >/dev/null && "$CKPT_CLIENT" fill 1 big 3M 14 2 >/dev/null
	ok $? "the ranks grow their state to 8 MiB and commit step 2"
	"$LCRCTL" --socket="$LCR_SOCKET" ckpt now >"$WORK/full" 2>&1
	ok_exit 1 $? "the checkpoint of step 2 fails: the disk is full"
	diag <"$WORK/full"
	grep -q "checkpoint of step 2 abandoned: cannot write $CKPT/step-2.tmp/s0-big at offset 0: No space left on device" "$WORK/full"
	ok $? "... with an error naming the file and the offset"
	[ ! -e "$CKPT/step-2.tmp" ] && [ ! -e "$CKPT/step-2" ]; ok $? "... its temporary directory is removed"
	"$LCRCTL" --ckpt-dir="$CKPT" ckpt verify 1 >/dev/null; ok $? "... and step 1 is intact"
	grep -q "checkpoint (asked by pid [0-9]*) failed: checkpoint of step 2 abandoned: cannot write" "$WORK/a.log"
	ok $? "... and lcrd logs it as an error"
	stop_lcrd
	umount "$SMALL"
else
	for what in "lcrd on a 4 MiB tmpfs" "step 1 fits" "state grows" "disk full fails" \
		"error names file and offset" "temporary directory removed" "step 1 intact" "logged"; do
		skip "$what" "cannot mount a tmpfs: $(cat "$WORK/mount" 2>/dev/null) (needs root)"
	done
fi

CKPT=$WORK/ckpt/51
start_lcrd b --job-id=51 --node-name=n1 --ranks=0,1 --runtime-dir="$WORK/root/$uid" --ckpt-dir="$CKPT"
ok $? "lcrd starts"
"$CKPT_CLIENT" fill 0 w 1M 11 1 >/dev/null && "$CKPT_CLIENT" fill 1 w 1M 12 1 >/dev/null &&
	"$LCRCTL" --socket="$LCR_SOCKET" ckpt now >/dev/null
ok $? "step 1 is saved"
"$CKPT_CLIENT" fill 0 w 1M 11 2 >/dev/null && "$CKPT_CLIENT" fill 1 w 1M 12 2 >/dev/null &&
	"$CKPT_CLIENT" fill 0 big 1G 13 2 >/dev/null && "$CKPT_CLIENT" commit 1 2 >/dev/null
ok $? "rank 0 grows a 1 GiB region and both commit step 2"
"$LCRCTL" --socket="$LCR_SOCKET" ckpt now >"$WORK/killed" 2>&1 &
ctl=$!
for i in $(seq 2000); do
	[ -e "$CKPT/step-2.tmp/s0-big" ] && break
	sleep 0.005
done
kill -9 "$LCRD_PID"
wait "$LCRD_PID" 2>/dev/null
ok_exit 137 $? "lcrd is SIGKILLed while it writes step 2"
wait "$ctl"
ok_exit 1 $? "... lcrctl ckpt now fails"
diag <"$WORK/killed"
[ -d "$CKPT/step-2.tmp" ] && [ ! -e "$CKPT/step-2" ]; ok $? "... no step-2 exists, only step-2.tmp"
"$LCRCTL" --ckpt-dir="$CKPT" ckpt list >"$WORK/list"
diag <"$WORK/list"
grep -Eq "^  2 +incomplete" "$WORK/list"; ok $? "lcrctl ckpt list shows step 2 as incomplete"
"$LCRCTL" --ckpt-dir="$CKPT" ckpt verify 1 >/dev/null; ok $? "step 1 is intact"

start_lcrd c --job-id=51 --node-name=n1 --ranks=0,1 --runtime-dir="$WORK/root/$uid" --ckpt-dir="$CKPT" --restore=auto
ok $? "a new lcrd restores from step 1, passing over the incomplete step 2"
"$CKPT_CLIENT" restore 1 w 1M 12 >"$WORK/r1" && grep -q "resume step 1" "$WORK/r1"
ok $? "... rank 1 gets step 1 back"
"$CKPT_CLIENT" restore 0 w 1M 11 >/dev/null && "$CKPT_CLIENT" commit 0 3 >/dev/null &&
	"$CKPT_CLIENT" commit 1 3 >/dev/null && "$LCRCTL" --socket="$LCR_SOCKET" ckpt now >/dev/null
ok $? "the ranks go on to step 3, which is saved"
[ ! -e "$CKPT/step-2.tmp" ] && [ -d "$CKPT/step-3" ]; ok $? "... and the leftover step-2.tmp is removed"
grep -q "removing $CKPT/step-2.tmp, left by an earlier checkpoint" "$WORK/c.log"; ok $? "... which lcrd logs"
if [ "$uid" -eq 0 ]; then
	chown 65534 "$CKPT"
	"$CKPT_CLIENT" commit 0 4 >/dev/null && "$CKPT_CLIENT" commit 1 4 >/dev/null
	"$LCRCTL" --socket="$LCR_SOCKET" ckpt now >"$WORK/theirs" 2>&1
	grep -q "checkpoint directory $CKPT: $CKPT is owned by uid 65534, neither you (uid 0) nor root" "$WORK/theirs"
	ok $? "a checkpoint directory that another user owns is refused"
else
	skip "a checkpoint directory that another user owns is refused" "needs root"
fi
stop_lcrd
finish
