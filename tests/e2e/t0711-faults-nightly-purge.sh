# hiwater nightly and purge under injected I/O faults
# (tests/crash/crash.sh --faults: each write, fsync, rename, fallocate and
# unlink fails in turn with ENOSPC and EIO, and writes come up short: the
# run exits 2 or 74 naming the operation and the path, or recovers and says
# so; the store is intact and complete as after a kill; a rerun without the
# fault finishes as a clean run does)
. "$HW_TOP/tests/e2e/lib.sh"
CRASHCHECK=${CRASHCHECK:-$(dirname "$HIWATER")/tests/crashcheck}
[ -x "$CRASHCHECK" ] || die "no $CRASHCHECK: make $(basename "$(dirname "$HIWATER")")/tests/crashcheck"
export CRASHCHECK
sh "$HW_TOP/tests/crash/crash.sh" --faults --only nightly,purge || die "fault injection failed (see above)"
