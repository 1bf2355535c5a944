# SIGKILL during create or prune leaves the repository consistent: no
# half-visible snapshot, no pack the catalog refers to is missing, leftovers
# are collected, and the next create succeeds
. "$HW_TOP/tests/e2e/lib.sh"

export HIWATER_STORE=$PWD/store HIWATER_STATE=$PWD/state
mkdir -p store/ex.com
for m in 1 2 3 4 5 6; do
	d=store/ex.com/u$m; mkdir -p "$d"
	for i in 1 2 3 4 5 6 7 8 9; do
		{ printf 'Subject: %s-%s\n\n' $m $i; head -c 200000 /dev/urandom | base64; } > "$d/md5000000000$i.msg"
	done
done
DB=state/snapshots/catalog.db
consistent() {
	# every pack the catalog names exists, every blob has its segment
	sqlite3 "$DB" "SELECT name FROM snap_pack" | while read -r n; do
		[ -f "state/snapshots/packs/$n" ] || die "catalog names missing pack $n"
	done
	[ "$(sqlite3 "$DB" "SELECT count(*) FROM snap_blob WHERE segment_id NOT IN (SELECT id FROM snap_segment)")" = 0 ] ||
		die "blob without segment"
	[ "$(sqlite3 "$DB" "PRAGMA integrity_check")" = ok ] || die "catalog damaged"
}
# the first snapshot (an empty repository: rollback journal, indexes built
# at the end) killed at any point leaves a repository the next run uses
for delay in 0.05 0.15 0.3; do
	"$HIWATER" snapshot create -q >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	kill -9 $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	if [ -f "$DB" ]; then
		consistent
		[ "$(sqlite3 "$DB" "SELECT count(*) FROM snap_snapshot WHERE files = 0")" = 0 ] ||
			die "a half-made first snapshot is visible"
	fi
	expect_exit 0 hw snapshot create -q
	consistent
	[ "$(sqlite3 "$DB" "SELECT count(*) FROM snap_snapshot")" -ge 1 ] || die "no snapshot"
	expect_exit 0 hw restore --to "r$delay" ex.com/u2
	diff -r store/ex.com/u2 "r$delay/ex.com/u2" || die "restore after a killed first run differs"
	rm -rf state/snapshots "r$delay"
done
expect_exit 0 hw snapshot create --label base
[ "$(sqlite3 "$DB" "PRAGMA journal_mode")" = wal ] || die "the catalog stayed out of WAL"
for delay in 0.05 0.1 0.2 0.3; do
	# new content so that create has work to do
	for m in 1 2 3; do
		{ printf 'Subject: new %s\n\n' "$delay"; head -c 300000 /dev/urandom | base64; } \
			> "store/ex.com/u$m/md5000000010$m.msg"
		mv "store/ex.com/u$m/md5000000010$m.msg" "store/ex.com/u$m/md50000$(date +%N | cut -c1-5)$m.msg"
	done
	before=$(sqlite3 "$DB" "SELECT count(*) FROM snap_snapshot")
	"$HIWATER" snapshot create --full -q >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	kill -9 $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	consistent
	after=$(sqlite3 "$DB" "SELECT count(*) FROM snap_snapshot")
	[ "$after" -ge "$before" ] || die "a snapshot vanished"
	# every snapshot that exists is complete
	[ "$(sqlite3 "$DB" "SELECT count(*) FROM snap_snapshot WHERE files = 0")" = 0 ] ||
		die "a half-made snapshot is visible"
	expect_exit 0 hw snapshot create --json
	consistent
	# leftovers (unreferenced packs, temp files) were collected
	for p in state/snapshots/packs/*; do
		n=$(basename "$p")
		[ "$(sqlite3 "$DB" "SELECT count(*) FROM snap_pack WHERE name='$n'")" = 1 ] ||
			die "leftover $n after the next create"
	done
done
# the same for prune (with a repack to do)
for delay in 0.02 0.05 0.1; do
	"$HIWATER" snapshot prune -q --keep-last 2 >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	kill -9 $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	consistent
	expect_exit 0 hw snapshot create
	consistent
done
expect_exit 0 hw snapshot verify --json
grep_out '"verdict":"ok"'
expect_exit 0 hw restore --to out ex.com
diff -r store out || die "restore after kills differs"
