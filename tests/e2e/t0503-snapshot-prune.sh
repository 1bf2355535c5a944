# prune keeps exactly what the rules say; dead packs go, mostly-dead packs are
# rewritten; every kept snapshot still restores byte for byte
. "$HW_TOP/tests/e2e/lib.sh"

export HIWATER_STORE=$PWD/store HIWATER_STATE=$PWD/state
B=store/ex.com/bob
mkdir -p "$B" store/ex.com/amy
big() { head -c 20000 /dev/urandom | base64; }
for i in 1 2 3 4 5 6 7 8 9; do
	{ printf 'Subject: m%s\nMessage-ID: <m%s@ex.com>\n\n' $i $i; big; } > "$B/md5000000000$i.msg"
done
expect_exit 0 hw snapshot create --label s1
# most of pack 1 dies: only m9 lives on
rm "$B"/md5000000000[1-8].msg
for n in 2 3 4 5; do
	{ printf 'Subject: a%s\nMessage-ID: <a%s@ex.com>\n\n' $n $n; big; } > "store/ex.com/amy/md5000000000$n.msg"
	expect_exit 0 hw snapshot create --label s$n
done
rm store/ex.com/amy/md50000000002.msg
expect_exit 0 hw snapshot create --label s6
npacks=$(ls state/snapshots/packs | wc -l)
# s6 stored nothing new (a deletion only): no pack
[ "$npacks" = 5 ] || die "five packs expected, got $npacks"

expect_exit 64 hw snapshot prune
expect_exit 0 hw snapshot prune -n --json --keep-last 2
[ "$(out | grep -c '"action":"remove"')" = 4 ] || die "dry run: four to remove"
[ "$(out | grep -c '"rule":"last"')" = 2 ] || die "dry run: two kept by last"
expect_exit 0 hw snapshot list --json
[ "$(out | wc -l)" = 6 ] || die "dry run removed snapshots"
# all six were made today: daily 1 keeps the newest, weekly 1 the same one
expect_exit 0 hw snapshot prune -n --json --keep-daily 1 --keep-weekly 1
[ "$(out | grep -c '"action":"keep"')" = 1 ] || die "daily 1: one kept"
out | grep '"id":6' | grep -q '"rule":"daily"' || die "the newest is kept by daily"
expect_exit 0 hw snapshot prune -n --json --keep-within 1h
[ "$(out | grep -c '"rule":"within"')" = 6 ] || die "within 1h keeps all"

expect_exit 0 hw snapshot prune --json --keep-last 2
grep_out '"kept":2,"removed":4'
grep_out '"packs_rewritten":1'
expect_exit 0 hw snapshot list --json
[ "$(out | wc -l)" = 2 ] || die "two snapshots left"
grep_out '"id":5'
grep_out '"id":6'
# m9 lived in the rewritten pack; a2 only in s5
expect_exit 0 hw restore --to r6 --snapshot 6 ex.com
diff -r store r6 || die "snapshot 6 differs from the store"
expect_exit 0 hw restore --to r5 --snapshot 5 ex.com/amy
[ -f r5/ex.com/amy/md50000000002.msg ] || die "a2 lost by prune"
expect_exit 0 hw snapshot verify --json
grep_out '"verdict":"ok"'
# a removed snapshot is gone for good
expect_exit 65 hw restore --to r1 --snapshot 1 ex.com/bob
# nothing unreferenced is left behind
for p in state/snapshots/packs/*; do
	n=$(basename "$p")
	[ "$(sqlite3 state/snapshots/catalog.db "SELECT count(*) FROM snap_pack WHERE name='$n'")" = 1 ] ||
		die "$n not in the catalog"
done

# no --keep option: the policy's retention applies (and its snapshot_dir)
printf 'snapshots: {last: 1}\n' > keep1.yaml
expect_exit 0 hw -c keep1.yaml snapshot prune -n --json
[ "$(out | grep -c '"rule":"last"')" = 1 ] || die "policy last: 1 keeps one"
[ "$(out | grep -c '"action":"remove"')" = 1 ] || die "policy last: 1 removes the other"
printf 'store: %s\nsnapshots: {verify_sample: 5%%}\n' "$PWD/store" > nokeep.yaml
expect_exit 64 hw -c nokeep.yaml snapshot prune
expect_exit 0 hw snapshot list --json
[ "$(out | wc -l)" = 2 ] || die "a refused prune removed snapshots"
mv state/snapshots elsewhere
printf 'snapshot_dir: %s\nsnapshots: {last: 1}\n' "$PWD/elsewhere" > dir.yaml
expect_exit 0 hw -c dir.yaml snapshot prune --json
grep_out '"kept":1,"removed":1'
expect_exit 0 hw -c dir.yaml snapshot list --json
[ "$(out | wc -l)" = 1 ] || die "policy snapshot_dir not used"
