# cases/35_ckpt_trust.sh: a second user (lcrtest2) on the same nodes can neither block the
# first user's steps nor plant checkpoints for them to restore. With the default checkpoint
# directory (in the user's home), a /tmp/lcr that lcrtest2 made first changes nothing; with a
# directory under a shared sticky root, a level that lcrtest2 made first is refused, naming
# it, before anything is read from it, for --lcr-restore=auto and --lcr-restore=PATH alike.

TRUST_PLANTED=$BASE/ckpt/planted-for-$TEST_USER

# Run "$@" with the cluster's plugstack.conf without its ckpt_dir=, so the default applies.
with_default_ckpt_dir() {
	local saved status
	saved=$(cat "$PLUGSTACK")
	sed -i "/spank_lcr.so/ s| ckpt_dir=[^ ]*||" "$PLUGSTACK"
	"$@" && status=0 || status=$?
	printf '%s\n' "$saved" >"$PLUGSTACK"
	return $status
}

# The job's checkpoint directory as the task sees it (LCR_CKPT_DIR), with /tmp/lcr made
# first by the second user, mode 0700, as in the attack.
trust_default_dir_of_a_step() {
	local made=0 out status
	if [ ! -e /tmp/lcr ]; then
		as_other_user mkdir -m 0700 /tmp/lcr
		made=1
	fi
	out=$(as_user srun -N1 -w n1 --lcr printenv LCR_CKPT_DIR 2>&1) && status=0 || status=$?
	[ $made = 0 ] || rm -rf /tmp/lcr
	echo "$out"
	return $status
}

test_ckpt_default_dir_is_private_and_cannot_be_blocked() {
	local out home
	home=$(getent passwd "$TEST_USER" | cut -d: -f6)
	out=$(with_default_ckpt_dir trust_default_dir_of_a_step) ||
		fail "a /tmp/lcr of another user stopped the step: $out"
	grep -qx "$home/.lcr/checkpoints/[0-9]*" <<<"$out" ||
		fail "the default checkpoint directory is not in $home: $out"
}

# The second user's planted checkpoint: a step directory with a manifest, readable by all.
trust_plant() {
	rm -rf "$TRUST_PLANTED"
	as_other_user bash -c "mkdir -p $TRUST_PLANTED/step-5 && echo 'step: 5' >$TRUST_PLANTED/step-5/manifest.yaml &&
		chmod -R a+rX $TRUST_PLANTED"
}

# trust_refused OPTIONS...: a one-node step with OPTIONS fails, naming the planted level and
# its owner.
trust_refused() {
	local out other
	other=$(id -u lcrtest2)
	out=$(as_user srun -N1 -w n1 --lcr "$@" true 2>&1) && fail "srun $* ran from a planted checkpoint: $out"
	grep -q "$TRUST_PLANTED is owned by uid $other, neither you" <<<"$out" ||
		fail "srun $*: the refusal does not name the planted level and its owner: $out"
	diag "$(grep -m 1 "owned by uid $other" <<<"$out")"
}

test_ckpt_planted_by_another_user_is_refused() {
	trust_plant
	trust_refused --lcr-ckpt-dir="$TRUST_PLANTED" --lcr-restore=auto
	trust_refused --lcr-restore="$TRUST_PLANTED/step-5"
	rm -rf "$TRUST_PLANTED"
}
