#!/bin/sh
# Run every end-to-end test tests/e2e/tNNNN-*.sh, each in its own temporary
# directory (kept on failure, as git's t/ does). Needs $HIWATER and $MKSTORE.
# Prints "N passed, N failed" at the end; exits 1 if any failed.
# T=PATTERN runs only the tests whose name matches.
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
: "${HIWATER:?set HIWATER to the hiwater binary}"
export HIWATER MKSTORE
export HW_TOP="$top"
export HW_SHARED="${HW_SHARED:-$top/../shared}"
pass=0 fail=0 failed=""
for t in "$here"/t[0-9]*.sh; do
	name=$(basename "$t" .sh)
	case "$name" in *${T:-}*) ;; *) continue ;; esac
	dir=$(mktemp -d "${TMPDIR:-/tmp}/hiwater-$name.XXXXXX")
	start=$(date +%s)
	if (cd "$dir" && HW_TEST_DIR="$dir" sh "$t") >"$dir/.log" 2>&1; then
		pass=$((pass + 1))
		echo "ok   $name ($(( $(date +%s) - start ))s)"
		rm -rf "$dir"
	else
		fail=$((fail + 1))
		failed="$failed $name"
		echo "FAIL $name (kept in $dir)"
		tail -n 30 "$dir/.log" | sed 's/^/     | /'
	fi
done
echo "e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
