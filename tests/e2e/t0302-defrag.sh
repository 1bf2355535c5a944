# hiwater defrag and --relayout: bytes, names, modes, mtimes and IMAP.MRK
# unchanged; hard links skipped; -n changes nothing; a budget stops cleanly
# and the next run continues; a kill leaves every file intact
. "$HW_TOP/tests/e2e/lib.sh"
. "$HW_TOP/tests/e2e/layout-lib.sh"
export HIWATER_DEFRAG_QUIET_SECS=0
B="store/example.com/bob"

make_fragmented "$B" 12 16
make_fragmented "$B/Sent Items.IMAP" 6 8
hw --store store --state st index >/dev/null 2>&1 || die "index failed"
chmod 0600 "$B/md50000000003.msg"
snapshot_files store > before.txt

# -n: says what and why, changes nothing
expect_exit 0 hw --store store --state st defrag -n
grep_out "would rewrite: [0-9]* fragments"
snapshot_files store > now.txt
cmp -s before.txt now.txt || die "dry run changed the store"

# defrag: every file whole, nothing else changed
expect_exit 0 hw --store store --state st defrag --json
out | tail -n 1 | grep -q '"rewritten":18' || { out >&2; die "18 files rewritten expected"; }
out | tail -n 1 | grep -q '"frag_per_file_after":1.00' || die "not whole after defrag"
snapshot_files store > now.txt
cmp -s before.txt now.txt || { diff before.txt now.txt >&2; die "defrag changed bytes, names, modes or mtimes"; }
expect_exit 0 hw --store store --state st frag
# a second run has nothing to do
expect_exit 0 hw --store store --state st defrag --json
out | tail -n 1 | grep -q '"rewritten":0' || die "second run rewrote files"

# relayout in UID order: one sweep, same bytes
rm -rf store st && make_fragmented "$B" 12 16
hw --store store --state st index >/dev/null 2>&1 || die "index failed"
snapshot_files store > before.txt
expect_exit 0 hw --store store --state st defrag --relayout --json
out | tail -n 1 | grep -q '"layout_after":1.00' || { out >&2; die "relayout did not give layout 1.00"; }
snapshot_files store > now.txt
cmp -s before.txt now.txt || die "relayout changed the store"

# a hard-linked file is skipped (exit 1, reason given)
rm -rf store st && make_fragmented "$B" 4 8
ln "$B/md50000000002.msg" hardlink.msg
expect_exit 1 hw --store store --state st defrag
grep_out "hard-linked"
[ "$(filefrag "$B/md50000000002.msg" | sed 's/.*: \([0-9]*\) extents\{0,1\} found/\1/')" -gt 1 ] ||
	die "hard-linked file was rewritten"
rm hardlink.msg

# a budget: stops cleanly, says where, the next run continues there
rm -rf store st && make_fragmented "$B" 10 16 && make_fragmented "store/example.com/carol" 10 16
snapshot_files store > before.txt
expect_exit 1 hw --store store --state st defrag --max-rate 1 --budget 1s --json
out | tail -n 1 | grep -q '"stopped":true' || { out >&2; die "budget did not stop the run"; }
grep_err "the next run continues there"
expect_exit 0 hw --store store --state st defrag --json
grep_err "continuing at example.com/"
out | tail -n 1 | grep -q '"stopped":false' || die "second run stopped"
expect_exit 0 hw --store store --state st frag
snapshot_files store > now.txt
cmp -s before.txt now.txt || die "budgeted runs changed the store"

# a kill in the middle: every file intact, leftovers removed by the next run
rm -rf store st && make_fragmented "$B" 16 16
snapshot_files store > before.txt
"$HIWATER" --store store --state st defrag --max-rate 0.5 >/dev/null 2>&1 &
pid=$!
sleep 1
kill -9 $pid
wait $pid 2>/dev/null || true
snapshot_files store > now.txt
cmp -s before.txt now.txt || die "a kill damaged a file"
expect_exit 0 hw --store store --state st defrag
[ -z "$(find store -name '.hiwater-tmp.*')" ] || die "temp files left after the rerun"
snapshot_files store > now.txt
cmp -s before.txt now.txt || die "rerun changed the store"
expect_exit 0 hw --store store --state st frag

# folders in parallel (-j 3): every folder's lines together, the totals
# those of one folder at a time, the same bytes
rm -rf store st
for f in bob carol dave "bob/Sent Items.IMAP"; do make_fragmented "store/example.com/$f" 6 8; done
snapshot_files store > before.txt
expect_exit 0 hw --store store --state st -j 3 defrag --json
out | tail -n 1 | grep -q '"rewritten":24' || { out >&2; die "24 files rewritten expected with -j 3"; }
out | tail -n 1 | grep -q '"frag_per_file_after":1.00' || die "not whole after defrag -j 3"
out | sed -n 's/^{"folder":"\([^"]*\)".*/\1/p' | uniq | sort | uniq -d | grep -q . &&
	{ out >&2; die "a folder's lines are split by another's"; }
snapshot_files store > now.txt
cmp -s before.txt now.txt || die "defrag -j 3 changed the store"
expect_exit 0 hw --store store --state st -j 3 defrag --json
out | tail -n 1 | grep -q '"rewritten":0' || die "second run with -j 3 rewrote files"

# --max-rate is for the run: shared by the folders rewritten at the same
# time, not by workers that have no folder to rewrite (2 folders, -j 8)
rm -rf store st
for f in bob carol; do make_fragmented "store/example.com/$f" 4 8; done
expect_exit 0 hw --store store --state st -j 8 defrag --max-rate 8
grep_err "4.00 MB/s for each of 2 folders"

# usage
expect_exit 64 hw --store store --state st defrag --budget 1h --until 10:00
expect_exit 64 hw --store store --state st defrag --until 25:00
expect_exit 64 hw --store store --state st defrag --max-rate fast
