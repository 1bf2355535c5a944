# (and prune gives the catalog pages of the rows it deleted back)
# A pack member is named after the file the content was first stored from;
# the catalog finds it by its offset in the segment, not by that name. When
# prune drops the snapshot of that file while the content lives on in
# another file, restore and verify still find the member.
. "$HW_TOP/tests/e2e/lib.sh"

export HIWATER_STORE=$PWD/store HIWATER_STATE=$PWD/state
mkdir -p store/ex.com/bob store/ex.com/amy
{ printf 'Subject: same\nMessage-ID: <same@ex.com>\n\n'; head -c 3000 /dev/urandom | base64; } \
	> store/ex.com/bob/md50000000001.msg
expect_exit 0 hw snapshot create --label s1
# the same content, now only in amy's folder under another name
cp store/ex.com/bob/md50000000001.msg store/ex.com/amy/md50000000007.msg
rm store/ex.com/bob/md50000000001.msg
expect_exit 0 hw snapshot create --label s2
[ "$(ls state/snapshots/packs | wc -l)" = 1 ] || die "s2 stored the content again"
expect_exit 0 hw snapshot prune --json --keep-last 1
grep_out '"removed":1'
# bob's folder version is gone; the content stays (one blob, found by its
# offset in the segment, whatever the member is called)
[ "$(sqlite3 state/snapshots/catalog.db "SELECT count(*) FROM snap_blob")" = 1 ] ||
	die "content not kept"
expect_exit 0 hw restore --to r2 ex.com/amy/md50000000007.msg
cmp r2/ex.com/amy/md50000000007.msg store/ex.com/amy/md50000000007.msg ||
	die "restored copy differs"
expect_exit 0 hw restore --to r3 --message-id same@ex.com
[ -f r3/ex.com/amy/md50000000007.msg ] || die "message-id restore failed"
expect_exit 0 hw snapshot verify --json
grep_out '"verdict":"ok"'
# the pack stays extractable with standard tools under that name
mkdir x && bsdtar -xf state/snapshots/packs/pack-*.tar.zst -C x
cmp x/ex.com/bob/md50000000001.msg store/ex.com/amy/md50000000007.msg || die "pack member differs"

# a folder of 600 messages, snapshotted, then gone: pruning the snapshot
# that held them frees most of the catalog, and prune compacts it
mkdir -p store/ex.com/tmp
i=100
while [ $i -lt 700 ]; do
	printf 'Subject: s%s with some words\nFrom: a%s@ex.com\nMessage-ID: <t%s@ex.com>\n\n%s\n' \
		$i $i $i $i > store/ex.com/tmp/md50000000$i.msg
	i=$((i + 1))
done
expect_exit 0 hw snapshot create --label many
rm -r store/ex.com/tmp
expect_exit 0 hw snapshot create --label few
pages_before=$(sqlite3 state/snapshots/catalog.db "PRAGMA page_count")
expect_exit 0 hw snapshot prune --json --keep-last 1
free=$(sqlite3 state/snapshots/catalog.db "PRAGMA freelist_count")
pages=$(sqlite3 state/snapshots/catalog.db "PRAGMA page_count")
echo "catalog: $pages_before pages before prune, $pages after, $free free" >&2
[ $((free * 4)) -lt "$pages" ] && [ "$pages" -lt "$pages_before" ] ||
	die "catalog not compacted: $free of $pages pages free ($pages_before before)"
expect_exit 0 hw restore --to r4 ex.com/amy/md50000000007.msg
cmp r4/ex.com/amy/md50000000007.msg store/ex.com/amy/md50000000007.msg || die "lost after vacuum"

# A backslash is an ordinary character in a Linux file name. The pack
# member is written with "%5C" in its place (every tar reader, ours too,
# refuses a member name with a backslash, and with it its whole segment);
# the folder and its files come back under their own names.
mkdir -p 'store/ex.com/bob/a\b.IMAP'
printf 'Subject: back\\slash\nMessage-ID: <bs@ex.com>\n\n%s\n' "$(head -c 2000 /dev/urandom | base64)" \
	> 'store/ex.com/bob/a\b.IMAP/md50000000001.msg'
printf 'notes\n' > 'store/ex.com/bob/notes\x.txt'
expect_exit 0 hw snapshot create --label backslash
expect_exit 0 hw snapshot verify --json --sample 100
grep_out '"verdict":"ok"'
expect_exit 0 hw restore --to r5 'ex.com/bob'
cmp 'r5/ex.com/bob/a\b.IMAP/md50000000001.msg' 'store/ex.com/bob/a\b.IMAP/md50000000001.msg' ||
	die "message in a backslash folder not restored"
cmp 'r5/ex.com/bob/notes\x.txt' 'store/ex.com/bob/notes\x.txt' || die "backslash file not restored"
mkdir x2 && bsdtar -xf "$(ls -t state/snapshots/packs/pack-*.tar.zst | head -1)" -C x2
[ -f 'x2/ex.com/bob/a%5Cb.IMAP/md50000000001.msg' ] || die "member not named with %5C"
# and back into the live store, folder and all
rm -r 'store/ex.com/bob/a\b.IMAP'
expect_exit 0 hw restore 'ex.com/bob/a\b.IMAP'
[ "$(ls 'store/ex.com/bob/a\b.IMAP' | grep -c '\.msg$')" = 1 ] || die "folder not recreated"
