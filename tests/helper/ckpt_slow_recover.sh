#!/bin/bash
# ckpt_slow_recover.sh: a node's replacement does not wait for the disk (issue 14). The
# failure's just-in-time checkpoint goes to a directory that is slow or full on purpose,
# and the spare is still filled from the surviving replicas at once; the checkpoint's end
# (published late, or failed) is reported, never fatal.
# Each case: foreground helpers with --replace=spare, ranks 2i and 2i+1 on node i (shard
# key "shard<rank % 2>": every shard has a replica on each node), the job's spare s1 run
# by the fake srun (fake_launcher.sh). A node is killed with step 7 committed everywhere.
#   slow: the checkpoint directory is an ext4 on a loop device whose writes the helpers'
#         blkio cgroup throttles to 64 KiB/s (the 2 x 4 MiB of step 7 would take two
#         minutes to sync; the kernel's flusher, which the cgroup does not throttle, writes
#         them back after about 30 s). With 2 and with 3 helpers (a lone survivor chooses
#         its checkpoint's step at once, before its failure is queued for replacement; two
#         survivors after a round trip): the spare is launched, joins and holds
#         ranks 2 and 3's step 7 from the replicas while the checkpoint is still being
#         written; the leader's recovery timeline says so. Once the throttle is lifted, the
#         checkpoint of step 7 is published and verifies.
#   full: the checkpoint directory is a 1 MiB tmpfs: the checkpoint fails with ENOSPC while
#         it writes; the leader says the replacement still fills from the replicas, every
#         helper's CHECKPOINT event carries the error, nothing is published, and the spare
#         holds step 7 from the replicas.
# Needs root (a loop device, mounts, a blkio cgroup v1): skipped otherwise.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
MESH_JOB=4346
TIMEOUT=1
CKPT_CLIENT=$LCR_BUILDDIR/tests/helper/ckpt_client
REGION=4M
BLKIO_ROOT=/sys/fs/cgroup/blkio

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root: a loop device, mounts and a blkio cgroup"; exit 0; }
[ -w "$BLKIO_ROOT/cgroup.procs" ] || { echo "1..0 # SKIP no blkio cgroup (v1) at $BLKIO_ROOT"; exit 0; }
command -v losetup >/dev/null && command -v mkfs.ext4 >/dev/null ||
	{ echo "1..0 # SKIP losetup or mkfs.ext4 is missing"; exit 0; }

MOUNTS=()
LOOPS=()
CGROUPS=()
# The helpers (and the spares they launch, which hold the restore directory open) end
# before their directories are unmounted.
cleanup_disks() {
	local pid dir
	for pid in "$WORK"/launcher*/*.pid; do
		[ -f "$pid" ] && kill -9 "$(cat "$pid")" 2>/dev/null
	done
	for pid in "${LCR_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
	wait 2>/dev/null
	sleep 0.2
	for dir in "${MOUNTS[@]}"; do umount "$dir" 2>/dev/null || umount -l "$dir"; done
	for dir in "${LOOPS[@]}"; do losetup -d "$dir"; done
	for dir in "${CGROUPS[@]}"; do rmdir "$dir" 2>/dev/null; done
	cleanup
}
trap cleanup_disks EXIT

# slow_disk DIR: an ext4 on a loop device mounted at DIR, and a blkio cgroup that limits
# writes to it to 64 KiB/s; sets SLOW_DEV (major:minor) and SLOW_CGROUP.
slow_disk() {
	local loop
	truncate -s 64M "$WORK/disk.img" && loop=$(losetup -f --show "$WORK/disk.img") || return 1
	LOOPS+=("$loop")
	mkfs.ext4 -q "$loop" && mkdir -p "$1" && mount "$loop" "$1" || return 1
	MOUNTS+=("$1")
	SLOW_DEV=$(printf '%d:%d' "0x$(stat -c %t "$loop")" "0x$(stat -c %T "$loop")")
	SLOW_CGROUP=$BLKIO_ROOT/lcr-test-$$
	mkdir "$SLOW_CGROUP" || return 1
	CGROUPS+=("$SLOW_CGROUP")
	echo "$SLOW_DEV 65536" >"$SLOW_CGROUP/blkio.throttle.write_bps_device"
}

# start_helpers COUNT ARGS...: COUNT helpers named $MESH_PREFIX<i>, ranks 2i and 2i+1 on
# node i, with --replace=spare (use_fake_launcher first) and ARGS; each fills its ranks'
# region 'w' (REGION, seed 41 or 42 by shard) and commits step 7. Each shard has COUNT
# replicas (CKPT_CLIENT_DP_SIZE, for every rank of the case).
start_helpers() {
	local count=$1 i r
	shift
	export CKPT_CLIENT_DP_SIZE=$count
	make_root "$WORK/root" "$(id -u)"
	start_rendezvous "rdv-$MESH_PREFIX" || return 1
	for ((i = 0; i < count; i++)); do
		start_mesh_node "$i" "$count" --ranks=$((2 * i)),$((2 * i + 1)) --detect-timeout="$TIMEOUT" \
			--log-level=verbose "${RECOVERY_ARGS[@]}" "$@" -- /bin/train
	done
	wait_mesh_up "$count" || return 1
	for ((r = 0; r < 2 * count; r++)); do
		LCR_SOCKET=$(socket_of $((r / 2))) "$CKPT_CLIENT" fill "$r" w "$REGION" $((41 + r % 2)) 7 \
			>"$WORK/$MESH_PREFIX-fill$r" 2>&1 || return 1
	done
}

# spare_holds_step_7 NAME: the replacement NAME holds ranks 2 and 3's step 7 (filled from
# the replicas when the ranks allocate their regions there).
spare_holds_step_7() {
	local r
	for r in 2 3; do
		LCR_SOCKET=$(sock "$1") "$CKPT_CLIENT" restore "$r" w "$REGION" $((41 + r % 2)) \
			>"$WORK/$1-restore$r" 2>&1 &&
			grep -qx "restored w intact, resume step 7" "$WORK/$1-restore$r" ||
			{ echo "# rank $r on $1: $(cat "$WORK/$1-restore$r")"; return 1; }
	done
}

# stop_helpers: ends this case's helpers and its spare.
stop_helpers() {
	local pid
	pid=$(cat "$FAKE_LAUNCHER_DIR"/*.pid 2>/dev/null) && reap -TERM "$pid"
	for pid in "${MESH_PIDS[@]}"; do reap -TERM "$pid"; done
	MESH_PIDS=()
}

# slow_case COUNT PREFIX SPARE: the slow directory with COUNT helpers.
slow_case() {
	local count=$1 spare=$3 ckpt=$WORK/slow/ckpt-$2 t0 filled pid
	MESH_PREFIX=$2
	use_fake_launcher "$2[0-$((count - 1))],$spare" 30
	export FAKE_LAUNCHER_DIR=$WORK/launcher-$2
	mkdir -p "$FAKE_LAUNCHER_DIR"
	echo "$SLOW_DEV 65536" >"$SLOW_CGROUP/blkio.throttle.write_bps_device"
	start_helpers "$count" --ckpt-dir="$ckpt"
	ok $? "$count helpers with --replace=spare and a checkpoint directory on the throttled disk hold step 7"
	for pid in "${MESH_PIDS[@]}"; do echo "$pid" >"$SLOW_CGROUP/cgroup.procs"; done
	t0=$(now_ms)
	reap -9 "${MESH_PIDS[1]}"
	wait_events "${2}0" "REPLACING node 1 .*replacing node ${2}1 (1) with spare $spare" 20
	ok $? "node 1 killed: the leader launches spare $spare"
	grep -q "the checkpoint of step 7 for node ${2}1 (1) is written while it is replaced" "$WORK/${2}0.log"
	ok $? "... while the checkpoint of step 7 is written"
	wait_events "${2}0" "NODE_JOINED node 1 " 20 && spare_holds_step_7 "$spare"
	ok $? "the spare joins and holds ranks 2 and 3's step 7, from the replicas"
	filled=$(($(now_ms) - t0))
	grep -q "rank 2: region 'w' restored from the replicas (step 7)" \
		"$WORK/lcr-$MESH_JOB.0.replacement-1.out"
	ok $? "... which the replacement logs"
	[ ! -e "$ckpt/step-7" ] && [ -d "$ckpt/step-7.tmp" ] &&
		! events_of "${2}0" | grep -q " CHECKPOINT "
	ok $? "... $filled ms after the kill, while the checkpoint is still being written"
	grep -q "recovery of node ${2}1 (1) from its NODE_DOWN: .*; the checkpoint is still being written" "$WORK/${2}0.log"
	ok $? "the leader's recovery timeline says the checkpoint was still being written at the join"
	grep -h "recovery of node\|is written while\|queued for replacement" "$WORK/${2}0.log" | diag
	echo "$SLOW_DEV 0" >"$SLOW_CGROUP/blkio.throttle.write_bps_device"
	wait_events "${2}0" " CHECKPOINT .*checkpoint of step 7 published" 60 && [ -f "$ckpt/step-7/manifest.yaml" ] &&
		"$LCRCTL" --ckpt-dir="$ckpt" ckpt verify 7 >/dev/null
	ok $? "the throttle lifted, the checkpoint of step 7 is published and verifies"
	events_of "${2}0" | grep " CHECKPOINT " | diag
	stop_helpers
}

start_munged
slow_disk "$WORK/slow"
ok $? "an ext4 on a loop device, its writes throttled to 64 KiB/s in a blkio cgroup"
slow_case 2 h s1
slow_case 3 g t1

# --- full: a 1 MiB tmpfs ---
MESH_PREFIX=f
use_fake_launcher "f[0-1],u1" 30
export FAKE_LAUNCHER_DIR=$WORK/launcher-f
mkdir -p "$FAKE_LAUNCHER_DIR" "$WORK/full"
mount -t tmpfs -o size=1m,mode=0755 lcr-test-full "$WORK/full" && MOUNTS+=("$WORK/full")
ok $? "a 1 MiB tmpfs for the checkpoint directory"
start_helpers 2 --ckpt-dir="$WORK/full/ckpt"
ok $? "2 helpers with the full directory hold step 7"
reap -9 "${MESH_PIDS[1]}"
wait_events f0 " CHECKPOINT .*No space left on device" 30
ok $? "f1 killed: the checkpoint fails, and the leader's CHECKPOINT event says why: $(events_of f0 | grep -o 'CHECKPOINT.*' | head -n 1)"
grep -q "the checkpoint for node f1 (1) failed (.*No space left on device.*): its replacement still fills from the replicas" "$WORK/f0.log"
ok $? "the leader logs that the replacement still fills from the replicas"
wait_events f0 "NODE_JOINED node 1 " 30 && spare_holds_step_7 u1
ok $? "the spare joins and holds ranks 2 and 3's step 7, from the replicas"
! compgen -G "$WORK/full/ckpt/step-*" >/dev/null
ok $? "nothing is published, and no .tmp directory is left"
stop_helpers
finish
