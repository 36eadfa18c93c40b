#!/bin/bash
# store.sh: lcr.torch.Store (the helper's key-value store) against PyTorch's TCPStore in the
# same run, at 4 and at 128 clients (store_bench.py): operations per second and the p50 and
# p99 latency of one operation. Starts its own foreground lcrd. Needs python3 with torch
# (Debian: python3-torch). Usage: contrib/bench/store.sh [BUILDDIR]
set -euo pipefail
SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILDDIR=$(cd "${1:-.}" && pwd)
PY=${LCR_PYTHON:-/usr/bin/python3}
"$PY" -c 'import torch' 2>/dev/null || { echo "store.sh: $PY has no torch (apt-get install python3-torch)" >&2; exit 1; }
work=$(mktemp -d /tmp/lcr-store-bench.XXXXXX)
chmod 755 "$work"
mkdir -m 700 "$work/$(id -u)"
"$BUILDDIR/helper/lcrd" --foreground --job-id=1 --runtime-dir="$work/$(id -u)" >"$work/lcrd.out" 2>"$work/lcrd.log" &
lcrd=$!
trap 'kill "$lcrd" 2>/dev/null; wait "$lcrd" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do
	LCR_SOCKET=$(sed -n 's/^LCR_SOCKET=//p' "$work/lcrd.out")
	[ -n "$LCR_SOCKET" ] && break
	sleep 0.05
done
[ -n "$LCR_SOCKET" ] || { echo "store.sh: lcrd did not start:" >&2; cat "$work/lcrd.log" >&2; exit 1; }
export LCR_SOCKET LCR_BUILDDIR=$BUILDDIR PYTHONPATH=$SRCDIR/contrib/python
"$PY" "$SRCDIR/contrib/bench/store_bench.py" 4 600
"$PY" "$SRCDIR/contrib/bench/store_bench.py" 128 60
