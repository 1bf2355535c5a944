#!/bin/sh
# Run each Check unit-test binary; print its summary; fail if any failed.
# CK_FORK stays on (the default): a crash in one test fails that test only.
rc=0
for t in "$@"; do
	echo "== $(basename "$t")"
	"$t" || rc=1
done
exit $rc
