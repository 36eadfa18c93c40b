#!/bin/bash
# mesh_scale.sh: the mesh at scale on one machine. 128 lcrd helpers in foreground mode (as
# on 128 nodes) form one mesh; one is killed, another stopped; every survivor must learn
# each within the timeout + 1 s. And the mesh messages one helper sends and receives per
# second must not grow with the number of helpers: the same figure is measured on 8.
# Prints the figures as RESULT lines (in TAP comments). MESH_SCALE_NODES changes 128.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mesh_lib.sh"
BIG=${MESH_SCALE_NODES:-128}
SMALL=8
TIMEOUT=2
LIMIT_MS=$(((TIMEOUT + 1) * 1000))
WINDOW=10
start_munged

# counters ID: "<ms> <messages sent + received>" of helper ID, from lcrctl events.
counters() {
	local t
	t=$(now_ms)
	"$LCRCTL" --socket="$(socket_of "$1")" events |
		awk -v t="$t" '$1 == "node" { for (i = 1; i < NF; i++) { if ($i == "sent") s = $(i + 1); if ($i == "received") r = $(i + 1) } print t, s + r; exit }'
}

# message_rate COUNT: mean mesh messages (sent + received) per second per helper over
# WINDOW seconds, and the largest, as "MEAN MAX".
message_rate() {
	local count=$1 i
	declare -a t0 c0
	for ((i = 0; i < count; i++)); do read -r "t0[$i]" "c0[$i]" < <(counters "$i"); done
	sleep "$WINDOW"
	for ((i = 0; i < count; i++)); do
		read -r t c < <(counters "$i")
		echo "$(((c - c0[i]) * 1000)) $((t - t0[i]))"
	done | awk '{ r = $1 / $2; s += r; if (r > m) m = r } END { printf "%.2f %.2f\n", s / NR, m }'
}

# detection_ms VICTIM T0 COUNT: for every live helper but the victim, the time from T0 to
# when it applied NODE_DOWN of the victim, one number per line ("none" when it did not).
detection_ms() {
	local victim=$1 t0=$2 count=$3 i stamp
	for ((i = 0; i < count; i++)); do
		[ "$i" = "$victim" ] || ! process_gone "${MESH_PIDS[$i]}" || continue
		[ "$i" = "$victim" ] && continue
		stamp=$("$LCRCTL" --socket="$(socket_of "$i")" events |
			awk -v v="$victim" '$4 == "NODE_DOWN" && $5 == "node" && $6 == v { print $1; exit }')
		if [ -n "$stamp" ]; then echo $(($(date -d "$stamp" +%s%3N) - t0)); else echo none; fi
	done
}

# summary: "p50 p99 max" of numbers on stdin, or "none" when one is missing.
summary() {
	sort -n | awk '/none/ { bad = 1 } { v[NR] = $1 } END {
		if (bad || NR == 0) { print "none"; exit }
		p50 = v[int((NR - 1) * 0.50) + 1]; p99 = v[int((NR - 1) * 0.99) + 1]
		print p50, p99, v[NR] }'
}

# result NAME MS: a detection time against the timeout.
result() {
	awk -v n="$1" -v v="$2" -v b=$((TIMEOUT * 1000)) \
		'BEGIN { printf "RESULT name=%s value=%s unit=ms baseline=%d ratio=%.3f\n", n, v, b, v / b }' | diag
}

all_within_limit() { [ "$1" != none ] && [ "$(awk '{print $3}' <<<"$1")" -le "$LIMIT_MS" ]; }

stop_mesh() {
	local pid
	for pid in "${MESH_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${MESH_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
	MESH_PIDS=()
}

# --- a small mesh, for the message rate to compare with ---
MESH_PREFIX=s
start_mesh "$SMALL" --detect-timeout=$TIMEOUT
ok $? "$SMALL helpers form a mesh"
read -r small_rate small_max < <(message_rate "$SMALL")
echo "RESULT name=mesh_messages_per_s_per_helper_n$SMALL value=$small_rate unit=msg/s baseline=$small_rate ratio=1.00" | diag
stop_mesh

# --- the big mesh ---
MESH_PREFIX=h
t_start=$(now_ms)
start_mesh "$BIG" --detect-timeout=$TIMEOUT
ok $? "$BIG helpers form a mesh"
echo "the mesh of $BIG helpers formed in $(($(now_ms) - t_start)) ms" | diag
read -r big_rate big_max < <(message_rate "$BIG")
ratio=$(awk -v a="$big_rate" -v b="$small_rate" 'BEGIN { printf "%.2f", a / b }')
echo "RESULT name=mesh_messages_per_s_per_helper_n$BIG value=$big_rate unit=msg/s baseline=$small_rate ratio=$ratio" | diag
echo "largest rate of one helper: $big_max msg/s at $BIG helpers, $small_max at $SMALL" | diag
awk -v a="$big_max" -v b="$small_max" 'BEGIN { exit !(a <= 1.5 * b + 1) }'
ok $? "one helper's message rate does not grow with the number of helpers ($big_max vs $small_max msg/s)"

victim=77
t0=$(now_ms)
reap -9 "${MESH_PIDS[$victim]}"
sleep $((TIMEOUT + 1))
killed=$(detection_ms "$victim" "$t0" "$BIG" | summary)
result detect_killed_helper_p99_n$BIG "$(awk '{print $2}' <<<"$killed")"
echo "killed helper: detection p50 p99 max = $killed ms" | diag
all_within_limit "$killed"
ok $? "every survivor learns of a killed helper within the timeout + 1 s"

victim=33
t0=$(now_ms)
kill -STOP "${MESH_PIDS[$victim]}"
sleep $((TIMEOUT + 1))
stopped=$(detection_ms "$victim" "$t0" "$BIG" | summary)
result detect_stopped_helper_p99_n$BIG "$(awk '{print $2}' <<<"$stopped")"
echo "stopped helper: detection p50 p99 max = $stopped ms" | diag
all_within_limit "$stopped"
ok $? "every survivor learns of a stopped helper within the timeout + 1 s"
kill -CONT "${MESH_PIDS[$victim]}"
stop_mesh
finish
