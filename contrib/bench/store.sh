#!/bin/bash
# store.sh: the job-wide store (lcr.torch.Store, scope "job": lcr_store_*) against PyTorch's
# TCPStore in the same run, at 4 and at 128 clients (store_bench.py): operations per second
# and the p50 and p99 latency of one operation. Three helpers in the foreground form one
# step's mesh (a private munged and rendezvous, as the tests use), so every write is
# replicated on three helpers before it is answered, as on three nodes; the clients' four
# processes spread over the three helpers. Needs python3 with torch (Debian:
# python3-torch) and munged. Prints RESULT lines.
#
# Usage: contrib/bench/store.sh [BUILDDIR]
set -e
LCR_BUILDDIR=$(cd "${1:-.}" && pwd)
LCR_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=${LCR_PYTHON:-/usr/bin/python3}
MESH_PREFIX=b
"$PY" -c 'import torch' 2>/dev/null || { echo "store.sh: $PY has no torch (apt-get install python3-torch)" >&2; exit 1; }
. "$LCR_SRCDIR/tests/helper/lib.sh"
. "$LCR_SRCDIR/tests/helper/mesh_lib.sh"
set +e
[ -x "$LCRD" ] || { echo "store.sh: $LCRD is not built" >&2; exit 2; }
start_munged >/dev/null
start_mesh 3 || { echo "store.sh: the mesh of three helpers is not up" >&2; exit 1; }
export LCR_SOCKET LCR_BUILDDIR PYTHONPATH=$LCR_SRCDIR/contrib/python
LCR_SOCKET=$(socket_of 0)
LCR_BENCH_SOCKETS=$(socket_of 0):$(socket_of 1):$(socket_of 2)
export LCR_BENCH_SOCKETS
"$PY" "$LCR_SRCDIR/contrib/bench/store_bench.py" 4 600 || exit 1
"$PY" "$LCR_SRCDIR/contrib/bench/store_bench.py" 128 60 || exit 1
