# restore and verify take the shared pack lock before they read the catalog:
# a prune that repacks meanwhile (new pack durable, catalog switched and
# committed, then the old pack unlinked under the exclusive lock) cannot
# pull the pack named by what they read from under them. Here the repack is
# done by hand while holding the exclusive lock, with restore and verify
# started after the lock is taken.
. "$HW_TOP/tests/e2e/lib.sh"

command -v flock >/dev/null 2>&1 && command -v sqlite3 >/dev/null 2>&1 ||
	{ echo "skipped: needs flock and sqlite3"; exit 0; }
export HIWATER_STORE=$PWD/store HIWATER_STATE=$PWD/state
mkdir -p store/ex.com/bob
{ printf 'Subject: kept\nMessage-ID: <kept@ex.com>\n\n'; head -c 3000 /dev/urandom | base64; } \
	> store/ex.com/bob/md50000000001.msg
expect_exit 0 hw snapshot create
repo=state/snapshots
old=$(ls $repo/packs)
new=pack-ffffffffffffffff.tar.zst
[ "$old" != "$new" ] || die "unexpected pack name"

# repack: what prune does, in its order, while holding the exclusive lock
repack() {
	(
		flock -x 9
		: > held
		sleep 1
		cp "$repo/packs/$old" "$repo/packs/$new.tmp" && sync &&
			mv "$repo/packs/$new.tmp" "$repo/packs/$new" &&
			sqlite3 "$repo/catalog.db" "UPDATE snap_pack SET name = '$new' WHERE name = '$old'" &&
			rm "$repo/packs/$old"
	) 9> "$repo/packs.lock" &
	while [ ! -e held ]; do sleep 0.05; done
}
repack
expect_exit 0 hw restore --to r1 ex.com/bob/md50000000001.msg
wait
cmp r1/ex.com/bob/md50000000001.msg store/ex.com/bob/md50000000001.msg || die "restored copy differs"

rm -f held; old=$new; new=pack-eeeeeeeeeeeeeeee.tar.zst
repack
expect_exit 0 hw snapshot verify --json
wait
grep_out '"verdict":"ok"'
