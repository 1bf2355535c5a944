# delete a message, find --deleted, restore with a new UID; delete a folder,
# restore it; --at picks the older state; nothing else changes
. "$HW_TOP/tests/e2e/lib.sh"

export HIWATER_STORE=$PWD/store HIWATER_STATE=$PWD/state
B=store/ex.com/bob
mkdir -p "$B/Projects.IMAP/Sub.IMAP"
for i in 1 2 3; do
	printf 'From: Alice <alice@ex.com>\nSubject: note %s\nMessage-ID: <n%s@ex.com>\nDate: Tue, 3 Nov 2026 1%s:00:00 +0000\n\nbody %s\n' \
		$i $i $i $i > "$B/md5000000000$i.msg"
	printf 'Subject: proj %s\nMessage-ID: <p%s@ex.com>\n\nproject %s\n' $i $i $i > "$B/Projects.IMAP/md5000000001$i.msg"
done
printf 'Subject: deep\nMessage-ID: <deep@ex.com>\n\ndeep\n' > "$B/Projects.IMAP/Sub.IMAP/md50000000100.msg"
expect_exit 0 hw index
expect_exit 0 hw snapshot create --label before
t1=$(date +%s)
sleep 1.1

rm "$B/md50000000002.msg"
expect_exit 0 hw index
expect_exit 0 hw snapshot create --label after
expect_exit 0 hw find --json --deleted
[ "$(out | wc -l)" = 1 ] || die "one deleted message expected"
grep_out '"message_id":"<n2@ex.com>"'
grep_out '"first_snapshot":1,"last_snapshot":1'
grep_out '"present":false'
expect_exit 0 hw find --json --subject NOTE --from alice
[ "$(out | wc -l)" = 3 ] || die "three notes expected"

before=$(tree_hash store)
expect_exit 0 hw restore -n --message-id n2@ex.com
grep_out "would restore"
[ "$(tree_hash store)" = "$before" ] || die "dry run changed the store"
expect_exit 0 hw ls --json ex.com/bob
maxuid=$(out | sed -n 's/.*"uid":\([0-9]*\).*/\1/p' | sort -n | tail -1)
expect_exit 0 hw restore --json --message-id '<n2@ex.com>'
grep_out '"action":"restored"'
newfile=$(out | sed -n 's/.*"new_file":"\([^"]*\)".*/\1/p')
newuid=$(out | sed -n 's/.*"uid":\([0-9]*\).*/\1/p')
[ -n "$newfile" ] && [ -n "$newuid" ] || die "no new file or uid"
[ "$newuid" -gt "$maxuid" ] || die "new UID $newuid not above $maxuid"
grep -q "note 2" "$B/$newfile" || die "restored content wrong"
[ "$newfile" = md50000000004.msg ] || die "next free name expected, got $newfile"
expect_exit 0 hw index --check
expect_exit 0 hw ls --json ex.com/bob
grep_out "\"uid\":$newuid"
# again: already present, nothing written
expect_exit 0 hw restore --json --message-id n2@ex.com
grep_out '"action":"present"'
[ "$(ls "$B"/*.msg | wc -l)" = 3 ] || die "a duplicate was written"
expect_exit 0 hw find --json --deleted
[ "$(out | wc -l)" = 0 ] || die "restored message still shown as deleted"

# a removed folder comes back with its sub-folder and all messages, subscribed
cp -r "$B/Projects.IMAP" saved
rm -rf "$B/Projects.IMAP"
expect_exit 0 hw restore ex.com/bob/Projects.IMAP
for f in saved/md5000000001*.msg saved/Sub.IMAP/*.msg; do
	rel=${f#saved/}; d=$(dirname "$rel"); [ "$d" = . ] && d= || d="/$d"
	found=0
	for g in "$B/Projects.IMAP$d"/*.msg; do cmp -s "$f" "$g" && found=1; done
	[ $found = 1 ] || die "$rel not restored"
done
grep -q '^Projects=1' "$B/HIWATER.MRK" || die "folder not subscribed"
expect_exit 0 hw index --check

# --at between the two snapshots gives the older state (message 2 present)
expect_exit 0 hw restore --to old --at "@$t1" ex.com/bob
[ -f old/ex.com/bob/md50000000002.msg ] || die "--at did not pick the older snapshot"
expect_exit 0 hw restore --to new ex.com/bob
[ ! -e new/ex.com/bob/md50000000002.msg ] || die "newest snapshot should lack message 2"
# unknown targets are reported, not guessed
expect_exit 65 hw restore --message-id nosuch@ex.com
expect_exit 64 hw restore

# find searches the live store too (through the index): a message in no
# snapshot is shown, present, with null snapshots; restored copies are not
# shown twice; --deleted never shows live messages
printf 'From: Carol <carol@ex.com>\nSubject: fresh one\nMessage-ID: <fresh@ex.com>\n\nfresh\n' \
	> "$B/md50000000050.msg"
printf 'Subject: not indexed yet\nMessage-ID: <late@ex.com>\n\nlate\n' > "$B/md50000000051.msg"
expect_exit 0 hw find --json --message-id fresh@ex.com
[ "$(out | wc -l)" = 0 ] || die "an unindexed message cannot be found yet"
expect_exit 0 hw index
rm "$B/md50000000051.msg"
expect_exit 0 hw find --json --message-id fresh@ex.com
[ "$(out | wc -l)" = 1 ] || die "the live-only message expected once"
grep_out '"first_snapshot":null,"last_snapshot":null'
grep_out '"folder":"ex.com/bob","file":"md50000000050.msg"'
grep_out '"present":true'
expect_exit 0 hw find --json --message-id late@ex.com
[ "$(out | wc -l)" = 0 ] || die "a message gone since the index run was shown"
expect_exit 0 hw find --json --subject note
[ "$(out | wc -l)" = 3 ] || die "restored note shown twice (or a note missing)"
expect_exit 0 hw find --json --from carol --deleted
[ "$(out | wc -l)" = 0 ] || die "--deleted showed a live message"
# no repository at all: the live store is still searched
expect_exit 0 hw find --json --repo "$PWD/norepo" --from carol
grep_out '"message_id":"<fresh@ex.com>"'
