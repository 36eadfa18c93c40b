# mesh_lib.sh: shared by the foreground mesh tests (sourced after lib.sh, not run). A
# private munged, a rendezvous server and a group of lcrd helpers in foreground mode that
# form one step's mesh on this machine, as the plugin would start them on N nodes.

PEER=$LCR_BUILDDIR/tests/integration/progs/lcr_mesh_peer
WATCH=$LCR_BUILDDIR/tests/integration/progs/lcr_event_watch
PROBE=$LCR_BUILDDIR/tests/helper/comm_build_probe
MESH_JOB=${MESH_JOB:-4242}
export LCR_RENDEZVOUS_TOKEN=${LCR_RENDEZVOUS_TOKEN:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}
MUNGE_SOCKET=$WORK/munge/munge.socket
MESH_PREFIX=${MESH_PREFIX:-h}  # node names: h0, h1, ...
MESH_PIDS=()

# start_munged: a munged of our own (its socket in $MUNGE_SOCKET), or exit 77 when munged
# cannot run here.
start_munged() {
	command -v munged >/dev/null || { echo "1..0 # SKIP munged is not installed"; exit 0; }
	mkdir -p "$WORK/munge"
	chmod 755 "$WORK/munge"
	dd if=/dev/urandom of="$WORK/munge/munge.key" bs=1024 count=1 status=none
	chmod 400 "$WORK/munge/munge.key"
	munged --force --socket="$MUNGE_SOCKET" --key-file="$WORK/munge/munge.key" \
		--pid-file="$WORK/munge/munged.pid" --log-file="$WORK/munge/munged.log" \
		--seed-file="$WORK/munge/munged.seed" --num-threads=4 ||
		{ echo "1..0 # SKIP munged does not start here"; exit 0; }
	LCR_PIDS+=("$(cat "$WORK/munge/munged.pid")")
}

# use_fake_launcher JOB_NODES REPLACE_TIMEOUT: helpers with --replace=spare whose srun is
# fake_launcher.sh (a spare's helper joins with the same options and --detect-timeout of
# $TIMEOUT); sets RECOVERY_ARGS (for start_mesh_node) and UID_ROOT, the runtime directory.
use_fake_launcher() {
	UID_ROOT=$WORK/root/$(id -u)
	export SLURM_SUBMIT_DIR=$WORK
	export FAKE_LAUNCHER_DIR=$WORK/launcher
	export FAKE_LAUNCHER_LCRD=$LCRD
	mkdir -p "$FAKE_LAUNCHER_DIR"
	RECOVERY_ARGS=(--replace=spare "--job-nodes=$1" --replace-timeout="$2"
		"--launcher=$LCR_SRCDIR/tests/helper/fake_launcher.sh")
	export FAKE_LAUNCHER_LCRD_ARGS="--runtime-dir=$UID_ROOT --munge-socket=$MUNGE_SOCKET \
--detect-timeout=$TIMEOUT --log-level=verbose ${RECOVERY_ARGS[*]}"
}

# start_rendezvous NAME ARGS...: a rendezvous server on 127.0.0.1; sets RDV_PORT, RDV_PID.
start_rendezvous() {
	local name=$1 i
	shift
	"$LCRD" --rendezvous-server --job-id="$MESH_JOB" --step-id=0 --listen=127.0.0.1:0 \
		--munge-socket="$MUNGE_SOCKET" "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
	RDV_PID=$!
	LCR_PIDS+=("$RDV_PID")
	for i in $(seq 100); do
		RDV_PORT=$(sed -n 's/^LCR_RENDEZVOUS=//p' "$WORK/$name.out")
		[ -n "$RDV_PORT" ] && return 0
		sleep 0.05
	done
	return 1
}

# start_mesh_node ID COUNT ARGS...: lcrd of node ID (named $MESH_PREFIX<ID>) joining the
# rendezvous. Its log is $WORK/<name>.log, its socket $WORK/root/<uid>/<job>.0.<name>/lcrd.sock.
start_mesh_node() {
	local id=$1 count=$2 name=$MESH_PREFIX$1
	shift 2
	"$LCRD" --foreground --job-id="$MESH_JOB" --step-id=0 --node-id="$id" \
		--node-count="$count" --node-name="$name" --runtime-dir="$WORK/root/$(id -u)" \
		--rendezvous="127.0.0.1:$RDV_PORT" --munge-socket="$MUNGE_SOCKET" "$@" \
		>"$WORK/$name.out" 2>"$WORK/$name.log" &
	MESH_PIDS[$id]=$!
	LCR_PIDS+=("$!")
}

socket_of() { echo "$WORK/root/$(id -u)/$MESH_JOB.0.$MESH_PREFIX$1/lcrd.sock"; }

# sock NAME: the control socket of the helper named NAME (a node's, or a spare's).
sock() { echo "$WORK/root/$(id -u)/$MESH_JOB.0.$1/lcrd.sock"; }
events_of() { "$LCRCTL" --socket="$(sock "$1")" events 2>/dev/null; }

# wait_events NAME PATTERN SECONDS: until `lcrctl events` of helper NAME matches PATTERN.
wait_events() {
	local i
	for i in $(seq $(($3 * 10))); do
		events_of "$1" | grep -q "$2" && return 0
		sleep 0.1
	done
	return 1
}

# all_events PATTERN SECONDS NAMES...: wait_events on every helper named.
all_events() {
	local pattern=$1 seconds=$2 name rc=0
	shift 2
	for name in "$@"; do wait_events "$name" "$pattern" "$seconds" || rc=1; done
	return $rc
}

# start_mesh COUNT ARGS...: the rendezvous and COUNT helpers; waits until every helper says
# the mesh is up (up to 60 s).
start_mesh() {
	local count=$1 i
	shift
	make_root "$WORK/root" "$(id -u)"
	start_rendezvous "rdv-$MESH_PREFIX" || return 1
	for ((i = 0; i < count; i++)); do start_mesh_node "$i" "$count" "$@"; done
	wait_mesh_up "$count"
}

# wait_mesh_up COUNT: until COUNT helpers say the mesh is up (up to 60 s).
wait_mesh_up() {
	local i
	for i in $(seq 600); do
		[ "$(grep -l "the mesh of $1 helpers is up" "$WORK/$MESH_PREFIX"[0-9]*.log 2>/dev/null |
			wc -l)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# start_recovery_mesh PROGRAM ARGS...: four helpers with RECOVERY_ARGS (use_fake_launcher),
# ranks 2i and 2i+1 on node i, PROGRAM the step's; waits until the mesh is up.
start_recovery_mesh() {
	local i
	make_root "$WORK/root" "$(id -u)"
	start_rendezvous "rdv-$MESH_PREFIX" || return 1
	for i in 0 1 2 3; do
		start_mesh_node "$i" 4 --ranks=$((2 * i)),$((2 * i + 1)) --detect-timeout="$TIMEOUT" \
			--log-level=verbose "${RECOVERY_ARGS[@]}" -- "$@"
	done
	wait_mesh_up 4
}

# start_watcher ID: an lcr_event_watch rank on node ID's helper, rank ID, output in
# $WORK/w<ID>; sets WATCH_PID[ID].
start_watcher() {
	LCR_SOCKET=$(socket_of "$1") "$WATCH" 120 "$1" >"$WORK/w$1" 2>&1 &
	WATCH_PID[$1]=$!
	LCR_PIDS+=("$!")
	wait_for "$WORK/w$1" "^ready"
}

now_ms() { date +%s%3N; }

# reap SIGNAL PID: signals one of our background processes and collects it, quietly.
reap() {
	kill "$1" "$2"
	wait "$2" 2>/dev/null
	return 0
}

# event_time_ms FILE TYPE FIELD=VALUE: the arrival time of the first matching event, or "".
event_time_ms() {
	awk -v type="$2" -v field=" $3 " '$1 == "event" && $3 == type && index($0, field) { print $2; exit }' "$1"
}

# wait_event FILE TYPE FIELD=VALUE SECONDS: until that event is in FILE.
wait_event() {
	local i
	for i in $(seq $(($4 * 20))); do
		[ -n "$(event_time_ms "$1" "$2" "$3")" ] && return 0
		sleep 0.05
	done
	return 1
}

# process_gone PID: the process ended (a zombie counts as ended).
process_gone() {
	local state
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
	[ "$state" = Z ] || [ "$state" = X ]
}
