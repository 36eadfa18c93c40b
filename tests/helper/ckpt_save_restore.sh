#!/bin/bash
# ckpt_save_restore.sh: a just-in-time checkpoint of a one-node step and its restore. Ranks
# write patterns and commit step 7; `lcrctl ckpt now` publishes step-7/ with its manifest;
# lcrctl lists, shows and verifies it without a helper; a new lcrd with --restore=auto (or
# PATH) gives new ranks their patterns back and the resume step 7; a layout that differs
# from the checkpoint's is refused with a clear error and nothing is overwritten; a flipped
# byte and a truncated file are reported by `lcrctl ckpt verify` with file and offset and
# refused at restore; retention keeps the newest N; SIGUSR1 and lcr_checkpoint save too.
# The regions are host regions, or CUDA ones under ckpt_save_restore_cuda.sh.
. "$(dirname "$0")/lib.sh"
CKPT_CLIENT=$LCR_BUILDDIR/tests/helper/ckpt_client
KIND=${CKPT_CLIENT_REGION_KIND:-host} # the regions' kind, as lcrctl names it
uid=$(id -u)
make_root "$WORK/root" "$uid"
CKPT=$WORK/ckpt/30
ROOT_ARGS=(--job-id=30 --node-name=n1 --ranks=0-3 --runtime-dir="$WORK/root/$uid")

# fill_all STEP: every rank writes its shard's patterns and commits STEP (replicas 0 and 2
# hold shard0, 1 and 3 shard1, each with the same bytes).
fill_all() {
	local r
	for r in 0 1 2 3; do
		"$CKPT_CLIENT" fill $r model.weights 3M $((11 + r % 2)) "$1" >/dev/null &&
			"$CKPT_CLIENT" fill $r optim.exp_avg 5000003 $((21 + r % 2)) "$1" >/dev/null ||
			return 1
	done
}

start_lcrd a "${ROOT_ARGS[@]}" --ckpt-dir="$CKPT" --log-level=verbose
ok $? "lcrd starts with a checkpoint directory"
fill_all 7; ok $? "four ranks write their state and commit step 7"

"$LCRCTL" --socket="$LCR_SOCKET" ckpt now >"$WORK/now" 2>&1
ok $? "lcrctl ckpt now"
diag <"$WORK/now"
grep -q "^node n1 job 30 step 0 checkpoint step 7 path $CKPT/step-7 bytes 15.5MiB" "$WORK/now"
ok $? "... saves step 7 into $CKPT/step-7"
[ -f "$CKPT/step-7/manifest.yaml" ] && [ ! -e "$CKPT/step-7.tmp" ]
ok $? "... a complete directory with its manifest, no temporary one left"
ls "$CKPT/step-7" | diag
[ "$(ls "$CKPT/step-7" | wc -l)" -eq 5 ]; ok $? "... four data files (two shards of two regions) and the manifest"
grep -q "^step: 7$" "$CKPT/step-7/manifest.yaml" && grep -q "^ranks: 4$" "$CKPT/step-7/manifest.yaml"
ok $? "... the manifest names the step and the rank count"
grep -q 'checkpoint of step 7 published in .*step-7: 15.5 MiB from 1 writer in' "$WORK/a.log"; ok $? "... and lcrd logs the size and time"

"$LCRCTL" --socket="$LCR_SOCKET" ckpt now >"$WORK/again" 2>&1
ok $? "asking again without a new step succeeds"
grep -q "step 7 is saved already in $CKPT/step-7" "$WORK/a.log"; ok $? "... and leaves step-7 as it is"

LCR_CKPT_DIR= "$LCRCTL" --ckpt-dir="$CKPT" ckpt list >"$WORK/list"
ok $? "lcrctl ckpt list reads the directory without a helper"
diag <"$WORK/list"
grep -Eq "^  7 +complete +30 +4 +2 +15.5 MiB" "$WORK/list"; ok $? "... step 7 complete, job 30, 4 ranks, 2 shards"
LCR_CKPT_DIR="$CKPT" "$LCRCTL" ckpt show 7 >"$WORK/show"
ok $? "lcrctl ckpt show 7 (directory from LCR_CKPT_DIR)"
diag <"$WORK/show"
grep -q "^  shard shard0 ranks 0,2 dp_size 2 regions 2$" "$WORK/show" &&
	grep -q "^    region model.weights $KIND 3 MiB file s0-model.weights ranges 1 written by n1$" "$WORK/show"
ok $? "... shows shards, ranks, regions, files and writers"
"$LCRCTL" --socket="$LCR_SOCKET" ckpt verify 7 >"$WORK/verify"
ok $? "lcrctl ckpt verify 7 (directory from the helper)"
grep -q "is intact: 15.5 MiB read and checked" "$WORK/verify"; ok $? "... reads and checks every byte"

stop_lcrd; ok $? "the first lcrd ends"

start_lcrd b "${ROOT_ARGS[@]}" --ckpt-dir="$CKPT" --restore=auto --ckpt-keep=2
ok $? "a new lcrd starts with --restore=auto"
grep -q "restoring from $CKPT/step-7: step 7 of job 30, 4 ranks in 2 shards" "$WORK/b.log"
ok $? "... and chooses the newest complete checkpoint"
"$CKPT_CLIENT" restore 0 model.weights 3M 11 >"$WORK/r0"
ok $? "a new rank 0 gets its pattern back"
grep -q "restored model.weights intact, resume step 7" "$WORK/r0"; ok $? "... and learns it resumes from step 7"
ok_r=0
for r in 0 1 2 3; do
	"$CKPT_CLIENT" restore $r optim.exp_avg 5000003 $((21 + r % 2)) >/dev/null || ok_r=1
	[ $r -eq 0 ] || "$CKPT_CLIENT" restore $r model.weights 3M $((11 + r % 2)) >/dev/null || ok_r=1
done
ok $ok_r "every rank gets every region back"
"$LCRCTL" --socket="$LCR_SOCKET" regions | grep -Eq "^  model.weights +3 MiB +$KIND +2 +shard0 +7 +committed"
ok $? "restored ranks show step 7 committed"

"$CKPT_CLIENT" alloc 1 extra 1M >"$WORK/m1"
grep -q "error alloc: .*(-131): checkpoint $CKPT/step-7 holds no region 'extra' for rank 1 (shard 'shard1' holds: model.weights, optim.exp_avg)" "$WORK/m1"
ok $? "a region the checkpoint does not hold is refused (ENOTRECOVERABLE), naming what it holds"
"$CKPT_CLIENT" register 1 shard9 2 >"$WORK/m2"
grep -q "rank 1 registers with shard key 'shard9', but checkpoint $CKPT/step-7 saved it with 'shard1'" "$WORK/m2"
ok $? "another shard key is refused at registration"
"$CKPT_CLIENT" register 3 shard1 4 >"$WORK/m3"
grep -q "rank 3 registers with data-parallel size 4, but checkpoint $CKPT/step-7 was saved with 2" "$WORK/m3"
ok $? "another data-parallel size (rank count) is refused"
"$LCRCTL" --ckpt-dir="$CKPT" ckpt verify 7 >/dev/null; ok $? "... and the checkpoint is untouched"

fill_all 8 && "$LCRCTL" --socket="$LCR_SOCKET" ckpt now >/dev/null
ok $? "the restored ranks go on to step 8, which is saved"
kill -USR1 "$LCRD_PID"
wait_for "$WORK/b.log" "checkpoint (SIGUSR1): step 8 is saved already"; ok $? "SIGUSR1 asks for a checkpoint"
"$CKPT_CLIENT" signal 2 >"$WORK/sig"
ok $? "a rank with lcr_checkpoint_on_signal survives SIGUSR1"
for i in $(seq 100); do
	[ "$(grep -c "checkpoint (SIGUSR1): step 8 is saved already" "$WORK/b.log")" -eq 2 ] && break
	sleep 0.05
done
[ "$(grep -c "checkpoint (SIGUSR1): step 8 is saved already" "$WORK/b.log")" -eq 2 ]
ok $? "... and its SIGUSR1 reaches lcrd as a checkpoint request"
"$CKPT_CLIENT" commit 0 9 >/dev/null && "$CKPT_CLIENT" commit 2 9 >/dev/null &&
	"$CKPT_CLIENT" commit 1 9 >/dev/null && "$CKPT_CLIENT" commit 3 9 >/dev/null
"$CKPT_CLIENT" checkpoint 0 >"$WORK/c9"
grep -q "checkpoint of step 9 saved" "$WORK/c9"; ok $? "lcr_checkpoint from a rank saves step 9"
"$LCRCTL" --ckpt-dir="$CKPT" ckpt list >"$WORK/kept"
diag <"$WORK/kept"
grep -q "^checkpoints in $CKPT: 2$" "$WORK/kept" && ! [ -e "$CKPT/step-7" ] &&
	[ -d "$CKPT/step-8" ] && [ -d "$CKPT/step-9" ]
ok $? "--ckpt-keep=2 keeps step 8 and 9 and removes step 7"
grep -q "removed $CKPT/step-7: only the newest 2 checkpoints are kept" "$WORK/b.log"; ok $? "... and says so"
stop_lcrd

start_lcrd c "${ROOT_ARGS[@]}" --restore="$CKPT/step-8"
ok $? "--restore=PATH picks one checkpoint"
"$CKPT_CLIENT" restore 1 model.weights 3M 12 >"$WORK/p1"
grep -q "restored model.weights intact, resume step 8" "$WORK/p1"; ok $? "... whose step the rank resumes from"
"$LCRCTL" --socket="$LCR_SOCKET" ckpt now >"$WORK/nodir" 2>&1
ok_exit 1 $? "ckpt now fails on a helper without a checkpoint directory"
grep -q "this lcrd has no checkpoint directory (--ckpt-dir)" "$WORK/nodir"; ok $? "... and says why"
stop_lcrd

# A damaged copy of step 9.
mkdir -p "$WORK/bad" && cp -r "$CKPT/step-9" "$WORK/bad/step-9"
printf '\x5a' | dd of="$WORK/bad/step-9/s0-model.weights" bs=1 seek=1000000 conv=notrunc 2>/dev/null
"$LCRCTL" ckpt verify "$WORK/bad/step-9" >"$WORK/flip"
ok_exit 1 $? "lcrctl ckpt verify fails on a flipped byte"
diag <"$WORK/flip"
grep -q "^  file s0-model.weights: offset 0: 3145728 bytes written by n1 do not match their XXH3 hash" "$WORK/flip"
ok $? "... naming the file and the offset of the damaged range"
start_lcrd d "${ROOT_ARGS[@]}" --restore="$WORK/bad/step-9"
"$CKPT_CLIENT" restore 2 model.weights 3M 11 >"$WORK/rflip"
grep -q "error alloc: .*(-117): checkpoint $WORK/bad/step-9 is damaged: file s0-model.weights: offset 0" "$WORK/rflip"
ok $? "restoring the damaged region is refused (EUCLEAN) with file and offset"
"$LCRCTL" --socket="$LCR_SOCKET" regions | grep -q "model.weights"
ok_exit 1 $? "... and the rank gets no half-restored region"
"$CKPT_CLIENT" restore 2 optim.exp_avg 5000003 21 >/dev/null; ok $? "... while its intact regions restore"
stop_lcrd

truncate -s 2000000 "$WORK/bad/step-9/s1-optim.exp_avg"
"$LCRCTL" ckpt verify "$WORK/bad/step-9" >"$WORK/trunc"
grep -q "^  file s1-optim.exp_avg: truncated at offset 2000000: 2000000 of 5000003 bytes" "$WORK/trunc"
ok $? "lcrctl ckpt verify reports a truncated file with the offset where it ends"
"$LCRD" --foreground "${ROOT_ARGS[@]}" --restore="$WORK/bad/step-9" >/dev/null 2>"$WORK/e.log"
ok_exit 1 $? "lcrd refuses to start from a checkpoint with a truncated file"
grep -q "refusing to restore from $WORK/bad/step-9: 1 of its data files is damaged" "$WORK/e.log" &&
	grep -q "s1-optim.exp_avg: truncated at offset 2000000" "$WORK/e.log"
ok $? "... and says which file and where"
diag <"$WORK/e.log"
finish
