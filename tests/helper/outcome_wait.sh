#!/bin/bash
# outcome_wait.sh: `lcrctl wait` against outcome files written by hand (the format of
# lcrd(8), OUTCOME): it exits with the training's status, picks the job's highest step by
# default, waits for a running step, gives up in time, and refuses a file that is no
# outcome, naming the line, and one another user could have chosen: a symbolic link at the
# outcome's name, a file or a directory level another user owns (these need root). The
# helpers' side is tested on the cluster (tests/integration/cases/50_outcome.sh).
. "$(dirname "$0")/lib.sh"
DIR=$WORK/ckpt
mkdir -p "$DIR"

# outcome STEP STATE STATUS RANK MESSAGE: writes outcome.7.STEP for job 7.
outcome() {
	cat >"$DIR/outcome.7.$1.tmp" <<-EOF
	# LCR outcome of a job step, written by its leading lcrd; see lcrd(8)
	version: 1
	job: 7
	step: $1
	state: $2
	status: $3
	rank: $4
	generation: 5
	failures_recovered: 1
	ranks: 4
	batch_host_died: none
	message: "$5"
	EOF
	mv "$DIR/outcome.7.$1.tmp" "$DIR/outcome.7.$1"
}

outcome 0 finished 0 none 'job 7 step 0 finished: all 4 ranks exited 0 (1 recovered node failure)'
out=$("$LCRCTL" --job=7 --ckpt-dir="$DIR" wait --step=0)
ok_exit 0 $? "a finished step whose ranks all exited 0: exit 0"
[ "$out" = "job 7 step 0 finished: all 4 ranks exited 0 (1 recovered node failure)" ]
ok $? "... and its sentence is printed"

outcome 2 finished 3 2 'job 7 step 2 failed: rank 2 exited with status 3 (0 recovered node failures)'
SLURM_JOB_ID=7 LCR_CKPT_DIR=$DIR "$LCRCTL" wait >"$WORK/o2"
ok_exit 3 $? "without --step, the job's highest step (2), which failed with 3: exit 3"
grep -q '"\?job 7 step 2 failed' "$WORK/o2"; ok $? "... and says which rank failed"

outcome 3 running 0 none 'job 7 step 3 is running'
(sleep 1; outcome 3 finished 75 1 'job 7 step 3 failed: rank 1 exited with status 75') &
SLURM_JOB_ID=7 "$LCRCTL" --ckpt-dir="$DIR" wait --step=3 --timeout=20 >/dev/null
ok_exit 75 $? "a running step is waited for until it finishes"
wait

outcome 4 running 0 none 'job 7 step 4 is running'
start=$SECONDS
"$LCRCTL" --job=7 --ckpt-dir="$DIR" wait --step=4 --timeout=1 2>"$WORK/e4"
ok_exit 124 $? "a step still running at --timeout: exit 124"
grep -q "has not finished after 1 s" "$WORK/e4"; ok $? "... saying it has not finished"
[ $((SECONDS - start)) -le 3 ]; ok $? "... within the timeout"

"$LCRCTL" --job=7 --ckpt-dir="$DIR" wait --step=9 --timeout=1 2>"$WORK/e5"
ok_exit 124 $? "no outcome file at all: exit 124"
grep -q "no outcome of job 7 step 9 in $DIR" "$WORK/e5"; ok $? "... naming the job, step and directory"

outcome 5 finished 0 none 'x'
sed -i 's/^status: 0/status: 300/' "$DIR/outcome.7.5"
"$LCRCTL" --job=7 --ckpt-dir="$DIR" wait --step=5 2>"$WORK/e6"
ok_exit 1 $? "a status out of range is refused: exit 1"
grep -q "line 6: status: '300': expected an exit status from 0 to 255" "$WORK/e6"
ok $? "... naming the line and what was expected"
outcome 5 finished 0 none 'x'
echo "extra: 1" >>"$DIR/outcome.7.5"
"$LCRCTL" --job=7 --ckpt-dir="$DIR" wait --step=5 2>"$WORK/e7"
grep -q "unknown key 'extra'" "$WORK/e7"; ok $? "an unknown key is refused"
outcome 5 finished 0 none 'x'
sed -i '/^ranks:/d' "$DIR/outcome.7.5"
"$LCRCTL" --job=7 --ckpt-dir="$DIR" wait --step=5 2>"$WORK/e8"
grep -q "'ranks' is missing" "$WORK/e8"; ok $? "a missing key is refused"
outcome 6 finished 0 none 'x'
mv "$DIR/outcome.7.6" "$DIR/outcome.8.6"
"$LCRCTL" --job=8 --ckpt-dir="$DIR" wait --step=6 2>"$WORK/e9"
grep -q "names job 7 step 6" "$WORK/e9"; ok $? "a file that names another job is refused"

outcome 10 finished 0 none 'planted'
mv "$DIR/outcome.7.10" "$WORK/planted"
ln -s "$WORK/planted" "$DIR/outcome.7.10"
"$LCRCTL" --job=7 --ckpt-dir="$DIR" wait --step=10 >"$WORK/o13" 2>"$WORK/e13"
ok_exit 1 $? "a symbolic link at the outcome's name is refused: exit 1"
grep -q "cannot open $DIR/outcome.7.10: it is a symbolic link" "$WORK/e13" && [ ! -s "$WORK/o13" ]
ok $? "... saying so, and what it leads to is not printed"
if [ "$(id -u)" -eq 0 ]; then
	outcome 11 finished 0 none 'theirs'
	chown 65534 "$DIR/outcome.7.11"
	"$LCRCTL" --job=7 --ckpt-dir="$DIR" wait --step=11 2>"$WORK/e14"
	ok_exit 1 $? "an outcome another user owns is refused: exit 1"
	grep -q "$DIR/outcome.7.11 is owned by uid 65534, not by you" "$WORK/e14"; ok $? "... saying so"
	mkdir -p "$WORK/theirs/7"
	cp "$DIR/outcome.7.0" "$WORK/theirs/7/"
	chown 65534 "$WORK/theirs"
	"$LCRCTL" --job=7 --ckpt-dir="$WORK/theirs/7" wait --step=0 2>"$WORK/e15"
	ok_exit 1 $? "a directory level another user owns is refused: exit 1"
	grep -q "$WORK/theirs is owned by uid 65534, neither you (uid 0) nor root" "$WORK/e15"
	ok $? "... naming the level"
	# An administrator waits for a user's step: the user's own directory and outcome.
	mkdir -p "$WORK/user/7"
	cp "$DIR/outcome.7.0" "$WORK/user/7/"
	chown -R 65534 "$WORK/user"
	out=$("$LCRCTL" --job=7 --ckpt-dir="$WORK/user/7" wait --step=0 2>"$WORK/e16")
	ok_exit 0 $? "root waits for a step in a directory its user owns: exit 0"
	[ "$out" = "job 7 step 0 finished: all 4 ranks exited 0 (1 recovered node failure)" ]
	ok $? "... and prints its sentence"
else
	for what in "file of another user" "... said" "level of another user" "... named" \
		"root waits in a user's directory" "... printed"; do
		skip "$what" "needs root"
	done
fi

(cd "$WORK" && "$LCRCTL" --job=7 --ckpt-dir=ckpt wait --step=0 >/dev/null)
ok_exit 0 $? "a relative --ckpt-dir is the directory under the current one"

env -u SLURM_JOB_ID "$LCRCTL" --ckpt-dir="$DIR" wait 2>"$WORK/e10"
ok_exit 2 $? "no job: a usage error"
env -u LCR_CKPT_DIR "$LCRCTL" --job=7 wait 2>"$WORK/e11"
grep -q "no checkpoint directory" "$WORK/e11"; ok $? "no checkpoint directory: said"
mkdir -p "$WORK/u-$(id -un)/j7"
cp "$DIR/outcome.7.0" "$WORK/u-$(id -un)/j7/"
"$LCRCTL" --job=7 --ckpt-dir="$WORK/u-%u/j%j" wait --step=0 >/dev/null
ok_exit 0 $? "%u and %j are expanded in the directory"
"$LCRCTL" --job=7 --timeout=3 status 2>"$WORK/e12"
ok_exit 2 $? "--timeout belongs to wait"

finish
