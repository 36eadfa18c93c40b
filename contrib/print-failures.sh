#!/bin/bash
# print-failures.sh: after a failed `make check`, each failed test's own reasons, where a log
# cut to its tail (CI's) still shows them: a TAP test's failed cases with the lines that
# follow them (in the cluster suites, the last lines of the case's helper logs too), any
# other test's last lines. Run in the build directory (contrib/check.sh, .ci/run's
# sanitizer stage).
grep -rlE '^:test-result: (FAIL|ERROR|XPASS)' --include='*.trs' . | while read -r trs; do
	log=${trs%.trs}.log
	echo "check: failed: ${log#./}"
	if grep -q '^not ok' "$log"; then
		grep -A 40 '^not ok' "$log" | head -n 160
	else
		tail -n 30 "$log"
	fi
done
